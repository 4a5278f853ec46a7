//go:build netlinksafe

package main

import "github.com/containernetworking/plugins/pkg/netlinksafe"

// v1.7.0: through pkg/netlinksafe.
func addrList(interrupted bool) ([]string, error) { return netlinksafe.AddrList(interrupted) }
