// Package netlink stands in for github.com/vishvananda/netlink v1.3.0 under its real module
// path and version (vendor/modules.txt), so that the Go linker records
// "dep github.com/vishvananda/netlink v1.3.0" exactly as in the CNI plugins v1.6.x builds,
// which vendor that version. It does no netlink.
package netlink

import "syscall"

// AddrList is what v1.3.0's AddrList returns on a dump the kernel flagged NLM_F_DUMP_INTR.
//
//go:noinline
func AddrList(interrupted bool) ([]string, error) {
	if interrupted {
		return nil, syscall.EINTR
	}
	return []string{"127.0.0.1/8"}, nil
}
