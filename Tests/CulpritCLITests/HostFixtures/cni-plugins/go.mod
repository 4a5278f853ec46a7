module github.com/containernetworking/plugins

go 1.19

require github.com/vishvananda/netlink v1.3.0
