package hostnet

import (
	"crypto/rand"
	"net"

	"github.com/vishvananda/netlink"
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
