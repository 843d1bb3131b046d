// Package network is the engine's network: one bridge, cfs0, for every
// container, an address each, published ports, NAT to the outside, and
// room for the other programs that filter a host's forwarded traffic
// (docker's FORWARD chain). It is stage 05's lesson grown up: the stage
// made the bridge, the veth cable, the address and route inside, and the
// nft rules for one container; here the same requests serve many, which
// join and leave in any order.
//
//	container netns              host netns
//	  eth0 172.29.0.2  <-veth->  cfsXXXXXXXX --port of-- cfs0 172.29.0.1
//	  eth0 172.29.0.3  <-veth->  cfsYYYYYYYY --port of--/     | routing, NAT (table ip cfs)
//	                                                        eth0 (the way out)
//
// Role: network. The engine's monitor (final/engine) calls Join before
// the container's init exists, Attach once it does (the init waits for
// Start), and Leave when it has exited. The books (which address each
// container holds, which host ports are taken, what a killed monitor
// left) are internal/hostnet's ledger, whose lease names the monitor as
// its owner: when a monitor dies, the next ledger reader takes its
// container's ports and veth away. Every request is narrated on the
// tracer, as the stage's --trace does (docs/trace.md).
package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"cfs/internal/hostnet"
	"cfs/internal/kernel"
	"cfs/internal/layout"
	"cfs/internal/nft"
	"cfs/internal/trace"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	bridge = layout.Bridge   // cfs0
	table  = layout.NftTable // the nft table "ip cfs"
)

// Modes of --network.
const (
	Bridge = "bridge" // eth0 on cfs0, NAT to the outside
	None   = "none"   // loopback only
	Host   = "host"   // the host's own network namespace
)

// Port is a published port: the host's Host to the container's Ctr.
type Port = hostnet.Port

// Endpoint is a container's place on the bridge.
type Endpoint struct {
	IP      netip.Addr   `json:"ip"`
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
	MAC     string       `json:"mac,omitempty"`
	Ports   []Port       `json:"ports,omitempty"`
}

// Join takes an address for container id on cfs0, owned by the calling
// process (the container's monitor), makes the bridge and the table for
// the first container, and publishes ports. A port whose Host is 0 gets a
// free host port, as docker's -P and -p CTRPORT do. Nothing is left when
// it fails.
func Join(tr *trace.Tracer, id string, ports []Port) (ep *Endpoint, err error) {
	l, err := hostnet.Open()
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	ports, err = choosePorts(l, ports)
	if err != nil {
		return nil, err
	}
	a, err := l.Lease(id, netip.Prefix{}, ports)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Release(tr, id))
		}
	}()
	if a.First {
		if err := makeBridge(tr, a); err != nil {
			return nil, err
		}
	}
	// IPv4 forwarding, for the whole namespace, and left on as other
	// programs leave it (stage 05). Same as `sysctl -w net.ipv4.ip_forward=1`.
	if err := kernel.Sysctl(tr, "net/ipv4/ip_forward", "1"); err != nil {
		return nil, err
	}
	if err := addRules(tr, a, id, ports); err != nil {
		return nil, err
	}
	return &Endpoint{IP: a.IP, Subnet: a.Subnet, Gateway: a.Gateway(), Ports: ports}, nil
}

// choosePorts gives each port without a host port a free one: free in
// the ledger and on the host, from the top of the ephemeral range down,
// as docker takes them from its own range.
func choosePorts(l *hostnet.Ledger, ports []Port) ([]Port, error) {
	out := append([]Port(nil), ports...)
	taken := map[Port]bool{}
	for _, ls := range l.Leases {
		for _, p := range ls.Ports {
			taken[Port{Host: p.Host, Proto: p.Proto}] = true
		}
	}
	for _, p := range out {
		taken[Port{Host: p.Host, Proto: p.Proto}] = true
	}
	for i, p := range out {
		if p.Host != 0 {
			continue
		}
		for h := uint16(60999); h >= 32768; h-- {
			if taken[Port{Host: h, Proto: p.Proto}] || !hostnet.PortFree(Port{Host: h, Ctr: p.Ctr, Proto: p.Proto}) {
				continue
			}
			out[i].Host = h
			taken[Port{Host: h, Proto: p.Proto}] = true
			break
		}
		if out[i].Host == 0 {
			return nil, fmt.Errorf("no free host port for %d/%s", p.Ctr, p.Proto)
		}
	}
	return out, nil
}

// makeBridge makes cfs0 with the gateway's address, as stage 05 does:
// `ip link add cfs0 type bridge; ip addr add 172.29.0.1/24 dev cfs0;
// sysctl net.ipv4.conf.cfs0.route_localnet=1; ip link set cfs0 up`.
func makeBridge(tr *trace.Tracer, a hostnet.Address) error {
	la := netlink.NewLinkAttrs()
	la.Name = bridge
	la.HardwareAddr = hostnet.RandomMAC() // fixed, so that it does not follow its ports
	br := &netlink.Bridge{LinkAttrs: la}
	err := kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWLINK(%s type bridge address %s)", bridge, la.HardwareAddr),
		"ip link add "+bridge+" type bridge", func() error { return netlink.LinkAdd(br) })
	if gw := a.GatewayNet(); err == nil {
		err = kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWADDR(%s dev %s)", gw, bridge), fmt.Sprintf("ip addr add %s dev %s", gw, bridge),
			func() error { return netlink.AddrAdd(br, &netlink.Addr{IPNet: gw}) })
	}
	// localhost:HOSTPORT reaches a container with the source 127.0.0.1,
	// which the kernel would not route out of cfs0 without this.
	if err == nil {
		err = kernel.Sysctl(tr, "net/ipv4/conf/"+bridge+"/route_localnet", "1")
	}
	if err != nil {
		return err
	}
	return kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWLINK(%s up)", bridge), "ip link set "+bridge+" up",
		func() error { return netlink.LinkSetUp(br) })
}

// addRules loads, in one nft batch, the accepts other forward chains need,
// the table ip cfs with the first container, and this container's DNAT
// rules, commented with its ID so that they can be taken off by it.
func addRules(tr *trace.Tracer, a hostnet.Address, id string, ports []Port) error {
	var b nft.Batch
	if err := hostnet.ForwardAccepts(&b); err != nil {
		return err
	}
	if a.First {
		addTable(&b, a.Subnet)
	}
	for _, p := range ports {
		b.Add("add rule ip %s published %s dport %d counter dnat to %s:%d comment %q", table, p.Proto, p.Host, a.IP, p.Ctr, layout.PortsComment(id))
	}
	return b.Run(tr, nil)
}

// addTable is stage 05's table: published ports (DNAT from prerouting and
// output), masquerade of what leaves, and a forward filter that lets the
// outside reach containers only through published ports.
func addTable(b *nft.Batch, subnet netip.Prefix) {
	b.Add("add table ip %s", table)
	b.Add("add chain ip %s published", table)
	b.Add("add chain ip %s prerouting { type nat hook prerouting priority dstnat; }", table)
	b.Add("add rule ip %s prerouting fib daddr type local jump published", table)
	b.Add("add chain ip %s output { type nat hook output priority -100; }", table)
	b.Add("add rule ip %s output fib daddr type local jump published", table)
	b.Add("add chain ip %s postrouting { type nat hook postrouting priority srcnat; }", table)
	b.Add("add rule ip %s postrouting ip saddr %s oifname != %q counter masquerade comment %q", table, subnet, bridge, "containers to the outside")
	b.Add("add rule ip %s postrouting oifname %q ip saddr 127.0.0.0/8 counter masquerade comment %q", table, bridge, "published ports from the host's localhost")
	b.Add("add rule ip %s postrouting oifname %q ip saddr %s ct status dnat counter masquerade comment %q", table, bridge, subnet, "published ports from containers on the bridge")
	b.Add("add chain ip %s forward { type filter hook forward priority filter; }", table)
	b.Add("add rule ip %s forward oifname %q ct state established,related accept", table, bridge)
	b.Add("add rule ip %s forward oifname %q ct status dnat accept", table, bridge)
	b.Add("add rule ip %s forward oifname %q iifname != %q counter drop comment %q", table, bridge, bridge, "only replies and published ports reach containers from outside")
}

// Attach plugs container id, whose init is pid and waits for Start, in:
// its loopback up, and with an endpoint, the veth pair with eth0 inside,
// the address and the default route. ep nil is --network none.
func Attach(tr *trace.Tracer, id string, pid int, ep *Endpoint) error {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return fmt.Errorf("open the container's network namespace /proc/%d/ns/net: %w", pid, err)
	}
	defer ns.Close()
	// A netlink socket opened inside the container's namespace acts
	// there, as `nsenter --net=/proc/PID/ns/net ip …` would.
	in, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("open netlink in the container's network namespace: %w", err)
	}
	defer in.Close()
	inside, nsenter := fmt.Sprintf(" in /proc/%d/ns/net", pid), fmt.Sprintf("nsenter -t %d -n ", pid)
	err = kernel.Do(tr, "netlink RTM_NEWLINK(lo up)"+inside, nsenter+"ip link set lo up", func() error { return in.LinkSetUp(hostnet.Link("lo")) })
	if err != nil || ep == nil {
		return err
	}
	veth := layout.VethName(id)
	la := netlink.NewLinkAttrs()
	la.Name = veth
	v := &netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns)}
	err = kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWLINK(%s type veth peer eth0 netns /proc/%d/ns/net)", veth, pid),
		fmt.Sprintf("ip link add %s type veth peer name eth0 netns %d", veth, pid), func() error { return netlink.LinkAdd(v) })
	if err == nil {
		err = kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWLINK(%s master %s up)", veth, bridge), fmt.Sprintf("ip link set %s master %s up", veth, bridge),
			func() error { return netlink.LinkSetMaster(v, hostnet.Link(bridge)) }, func() error { return netlink.LinkSetUp(v) })
	}
	addr := &net.IPNet{IP: ep.IP.AsSlice(), Mask: net.CIDRMask(ep.Subnet.Bits(), 32)}
	eth0 := hostnet.Link("eth0")
	if err == nil {
		err = kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWADDR(%s dev eth0), RTM_NEWLINK(eth0 up)%s", addr, inside),
			fmt.Sprintf("%ssh -c 'ip addr add %s dev eth0; ip link set eth0 up'", nsenter, addr),
			func() error { return in.AddrAdd(eth0, &netlink.Addr{IPNet: addr}) }, func() error { return in.LinkSetUp(eth0) })
	}
	if err == nil {
		err = kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWROUTE(default via %s dev eth0)%s", ep.Gateway, inside), fmt.Sprintf("%sip route add default via %s", nsenter, ep.Gateway),
			func() error {
				l, err := in.LinkByName("eth0")
				if err != nil {
					return err
				}
				ep.MAC = l.Attrs().HardwareAddr.String()
				return in.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: ep.Gateway.AsSlice()})
			})
	}
	return err
}

// Leave takes container id off the bridge: its veth (the kernel would,
// with its namespace, but later), its lease and published ports, and with
// the last container the bridge and the table. It is idempotent.
func Leave(tr *trace.Tracer, id string) error {
	var errs []error
	if v, err := netlink.LinkByName(layout.VethName(id)); err == nil {
		err := kernel.Do(tr, fmt.Sprintf("netlink RTM_DELLINK(%s)", v.Attrs().Name), "ip link del "+v.Attrs().Name,
			func() error { return hostnet.DeleteLink(v) })
		if !errors.Is(err, unix.ENODEV) {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, hostnet.Leave(tr, id))...)
}
