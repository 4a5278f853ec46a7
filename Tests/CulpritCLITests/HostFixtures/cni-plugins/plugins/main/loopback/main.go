// A stand-in for the plugins' loopback main package under its real import path: without
// CNI_COMMAND it prints its "about" line, as skel does, and exits 0.
package main

import (
	"fmt"
	"os"

	"github.com/containernetworking/plugins/pkg/utils/buildversion"
)

func main() {
	if os.Getenv("CNI_COMMAND") == "" {
		fmt.Fprintln(os.Stderr, buildversion.BuildString("loopback"))
		return
	}
	if _, err := addrList(os.Getenv("CULPRIT_INTERRUPTED") != ""); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
