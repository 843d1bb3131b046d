package hostnet

import (
	"crypto/rand"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Link names a device for netlink, which finds it by name.
func Link(name string) netlink.Link {
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: name}}
}

// RandomMAC returns a random unicast address from the locally
// administered range (second-lowest bit of the first byte set), which no
// network card is sold with.
func RandomMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	_, _ = rand.Read(mac)
	mac[0] = mac[0]&0xfe | 0x02
	return mac
}

// HandleAt opens the network namespace of process pid (/proc/PID/ns/net)
// and a netlink handle whose requests act in it, as `nsenter
// --net=/proc/PID/ns/net ip ...` would, without moving the caller. Links,
// addresses and routes are all NETLINK_ROUTE; asking for no other kind of
// socket spares a kernel without, say, IPsec's netlink module. The caller
// closes both.
func HandleAt(pid int) (netns.NsHandle, *netlink.Handle, error) {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return ns, nil, fmt.Errorf("open the container's network namespace /proc/%d/ns/net: %w", pid, err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return ns, nil, fmt.Errorf("open netlink in the container's network namespace: %w", err)
	}
	return ns, h, nil
}
