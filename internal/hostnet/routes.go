package hostnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"cfs/internal/layout"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// hostRoute is a route of the host's main table, as chooseSubnet needs it.
type hostRoute struct {
	Dst netip.Prefix
	Dev string
}

func (r hostRoute) String() string { return r.Dst.String() + " dev " + r.Dev }

// hostRoutes lists the main routing table, without the routes of cfs0.
// Same as `ip -4 route show table main`.
func hostRoutes() ([]hostRoute, error) {
	routes, err := RetryDump(func() ([]netlink.Route, error) { return netlink.RouteList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("list the host's routes (ip route): %w", err)
	}
	brIndex := -1
	if br, err := netlink.LinkByName(layout.Bridge); err == nil {
		brIndex = br.Attrs().Index
	}
	var out []hostRoute
	for _, r := range routes {
		if r.Dst == nil || r.LinkIndex == brIndex {
			continue
		}
		a, ok := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		if !ok {
			continue
		}
		dev := "?"
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		out = append(out, hostRoute{Dst: netip.PrefixFrom(a.Unmap(), ones), Dev: dev})
	}
	return out, nil
}

// chooseSubnet returns the requested subnet, or the first candidate, that
// overlaps none of the host's routes. A container address that the host
// already routes elsewhere would make replies to it go there instead. The
// default route overlaps everything and is the way out, so it does not
// count; nor do routes of cfs0 itself, which the caller leaves out.
func chooseSubnet(requested netip.Prefix, routes []hostRoute) (netip.Prefix, error) {
	overlap := func(p netip.Prefix) *hostRoute {
		for i, r := range routes {
			if r.Dst.Bits() > 0 && r.Dst.Overlaps(p) {
				return &routes[i]
			}
		}
		return nil
	}
	if requested.IsValid() {
		if r := overlap(requested); r != nil {
			return netip.Prefix{}, fmt.Errorf("--subnet %s overlaps the host's route %s: pick a range the host does not use (see: ip route)", requested, r)
		}
		return requested, nil
	}
	var taken []string
	for _, p := range SubnetCandidates {
		r := overlap(p)
		if r == nil {
			return p, nil
		}
		taken = append(taken, fmt.Sprintf("%s overlaps route %s", p, r))
	}
	return netip.Prefix{}, fmt.Errorf("no free default subnet for %s (%s): pass --subnet CIDR with a range the host does not use (see: ip route)",
		layout.Bridge, strings.Join(taken, "; "))
}

// checkPortFree fails when a program on the host listens on the port: its
// connections would silently go to the container instead, since DNAT
// happens before the host looks for a listening socket. Binding the port
// is the question "is it free?" asked of the kernel itself.
func checkPortFree(p Port) error {
	addr := fmt.Sprintf(":%d", p.Host)
	var err error
	switch p.Proto {
	case "tcp":
		var l net.Listener
		if l, err = net.Listen("tcp4", addr); err == nil {
			l.Close()
		}
	case "udp":
		var c net.PacketConn
		if c, err = net.ListenPacket("udp4", addr); err == nil {
			c.Close()
		}
	}
	if errors.Is(err, unix.EADDRINUSE) {
		flag := map[string]string{"tcp": "t", "udp": "u"}[p.Proto]
		return fmt.Errorf("-p %s: host port %d/%s is in use by a program on the host (see: ss -%slnp 'sport = :%d'); choose another HOSTPORT",
			p, p.Host, p.Proto, flag, p.Host)
	}
	if err != nil {
		return fmt.Errorf("-p %s: check that host port %d/%s is free: %w", p, p.Host, p.Proto, err)
	}
	return nil
}

// PortFree reports whether no program on the host listens on p's host
// port, for an engine choosing a host port itself (docker's -P).
func PortFree(p Port) bool { return checkPortFree(p) == nil }
