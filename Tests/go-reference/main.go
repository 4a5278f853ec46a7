// The reference for how Docker reads a seccomp profile's JSON: Go's encoding/json decoding
// into the types Docker 20.10 decodes into (moby profiles/seccomp/seccomp.go, the
// runtime-spec's specs-go LinuxSeccompArg and LinuxSyscall), with their field types and json
// tags copied. Reads one profile per file argument and prints, per file, "ok" or
// "error: <encoding/json's message>". Run by the Swift tests (HostileInputCLITests) beside
// culprit's own parser; needs only the Go toolchain (Debian's golang-go).
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

// specs-go (runtime-spec v1.0.2) LinuxSeccompArg.
type LinuxSeccompArg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo,omitempty"`
	Op       string `json:"op"`
}

// moby profiles/seccomp (20.10): Filter, Syscall (with specs.LinuxSyscall's fields), Architecture, Seccomp.
type Filter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

type Syscall struct {
	Names    []string           `json:"names,omitempty"`
	Action   string             `json:"action"`
	ErrnoRet *uint              `json:"errnoRet,omitempty"`
	Args     []*LinuxSeccompArg `json:"args"`
	Name     string             `json:"name,omitempty"`
	Comment  string             `json:"comment"`
	Includes Filter             `json:"includes"`
	Excludes Filter             `json:"excludes"`
}

type Architecture struct {
	Arch      string   `json:"architecture"`
	SubArches []string `json:"subArchitectures"`
}

type Seccomp struct {
	DefaultAction   string         `json:"defaultAction"`
	DefaultErrnoRet *uint          `json:"defaultErrnoRet,omitempty"`
	Architectures   []string       `json:"architectures,omitempty"`
	ArchMap         []Architecture `json:"archMap,omitempty"`
	Syscalls        []*Syscall     `json:"syscalls"`
	Flags           []string       `json:"flags,omitempty"`
}

func main() {
	for _, path := range os.Args[1:] {
		body, err := os.ReadFile(path)
		if err != nil {
			fmt.Printf("error: %v\n", err)
			continue
		}
		var profile Seccomp
		if err := json.Unmarshal(body, &profile); err != nil {
			fmt.Printf("error: %v\n", err)
			continue
		}
		fmt.Println("ok")
	}
}
