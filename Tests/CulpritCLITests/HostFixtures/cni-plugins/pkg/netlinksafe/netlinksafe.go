// Package netlinksafe stands in for the plugins' pkg/netlinksafe (v1.7.0): netlink calls
// retried while the dump is interrupted.
package netlinksafe

import (
	"errors"
	"syscall"

	"github.com/vishvananda/netlink"
)

//go:noinline
func AddrList(interrupted bool) ([]string, error) {
	var err error
	for try := 0; try < 5; try++ {
		var addrs []string
		addrs, err = netlink.AddrList(interrupted && try == 0)
		if !errors.Is(err, syscall.EINTR) {
			return addrs, err
		}
	}
	return nil, err
}
