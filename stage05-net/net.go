package main

// The host's side of the container's network. A new network namespace has
// nothing in it but a loopback device; the stage gives it a cable to the
// host, as docker's default bridge network does:
//
//	container netns              host netns
//	  eth0 172.29.0.2  <-veth->  cfsXXXXXXXX --port of-- cfs0 172.29.0.1
//	                                                       | routing, NAT
//	                                                     eth0 (the way out)
//
// Every container's veth is a port of one bridge, cfs0, which holds the
// gateway address. The host routes between cfs0 and its other interfaces
// (IPv4 forwarding), rewrites container traffic that leaves to come from
// the host (masquerade), and sends connections to published host ports on
// to containers (DNAT), with rules in the nft table "ip cfs".
//
// Everything is done over netlink, the socket interface ip(8) and nft(8)
// use themselves; the comments name the command that does the same. The
// books (which address each container holds, which subnet is free, what a
// killed run left behind) are kept by internal/hostnet.

import (
	"errors"
	"fmt"
	"net/netip"

	"cfs/internal/cli"
	"cfs/internal/hostnet"
	"cfs/internal/kernel"
	"cfs/internal/layout"
	"cfs/internal/nft"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	bridge = layout.Bridge   // cfs0
	table  = layout.NftTable // the nft table "ip cfs"
)

// hostNet is one container's place in the network, seen from the host.
type hostNet struct {
	id   string
	mode string // "bridge" or "none"
	veth string // host end of the veth pair
	addr hostnet.Address
}

// setupHost prepares the host before the container exists: in bridge mode
// an address, the network and the published ports; in both modes the /etc
// files. A port taken or a subnet in use fails it, with nothing left.
func setupHost(cfg *config) (n *hostNet, err error) {
	n = &hostNet{id: cfg.ID, mode: cfg.Net.Mode, veth: layout.VethName(cfg.ID)}
	if n.mode == "bridge" {
		err = n.join(cfg.Net)
	}
	if err == nil {
		cfg.EtcDir, err = hostnet.WriteEtc(cfg.ID, cfg.Hostname, n.addr.IP)
	}
	if err != nil {
		n.release()
	}
	return n, err
}

// join takes an address, makes the network for the first container and
// publishes the ports, all under the ledger's lock (internal/hostnet), so
// that containers starting and stopping at once find the network whole.
func (n *hostNet) join(f hostnet.Flags) (err error) {
	n.addr, err = hostnet.Join(n.id, f, func(a hostnet.Address) (err error) {
		if a.First {
			err = makeBridge(a)
		}
		// IPv4 forwarding: without it the host drops packets that are not
		// addressed to itself instead of routing them on, from cfs0 to the
		// way out and back. It is one switch for the whole network
		// namespace, which other programs (docker, libvirt, a VPN) rely on
		// too, so the stage leaves it on, as they do. Same as
		// `sysctl -w net.ipv4.ip_forward=1`.
		if err == nil {
			err = kernel.Sysctl(tr, "net/ipv4/ip_forward", "1")
		}
		if err == nil {
			err = addRules(a, n.id, f.Ports)
		}
		return err
	})
	return err
}

// makeBridge makes cfs0 for the first container. A bridge is a switch in
// software: it forwards frames between its ports by MAC address, and as a
// device of its own with an address it is also the host's interface on
// that switch: the containers' gateway. Same as
// `ip link add cfs0 type bridge; ip addr add 172.29.0.1/24 dev cfs0; ip link set cfs0 up`.
func makeBridge(a hostnet.Address) error {
	// Left to itself, a bridge takes the lowest MAC address of its ports
	// as its own, and changes it when that port leaves: the containers'
	// cached gateway address then points nowhere for seconds. Giving it an
	// address of its own keeps it fixed.
	la := netlink.NewLinkAttrs()
	la.Name = bridge
	la.HardwareAddr = hostnet.RandomMAC()
	br := &netlink.Bridge{LinkAttrs: la}
	err := kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWLINK(%s type bridge address %s)", bridge, la.HardwareAddr),
		"ip link add "+bridge+" type bridge", func() error { return netlink.LinkAdd(br) })
	if gw := a.GatewayNet(); err == nil {
		err = kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWADDR(%s dev %s)", gw, bridge), fmt.Sprintf("ip addr add %s dev %s", gw, bridge),
			func() error { return netlink.AddrAdd(br, &netlink.Addr{IPNet: gw}) })
	}
	// Published ports reached from the host as localhost:HOSTPORT are
	// sent to a container with the source 127.0.0.1, which the kernel
	// otherwise refuses to route out of a real interface ("martian").
	// route_localnet allows it on cfs0 only; the postrouting chain then
	// rewrites the source to the gateway. It goes away with the bridge.
	// Same as `sysctl -w net.ipv4.conf.cfs0.route_localnet=1`.
	if err == nil {
		err = kernel.Sysctl(tr, "net/ipv4/conf/"+bridge+"/route_localnet", "1")
	}
	if err != nil {
		return err
	}
	return kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWLINK(%s up)", bridge), "ip link set "+bridge+" up",
		func() error { return netlink.LinkSetUp(br) })
}

// addRules loads the rules in one nft batch, which the kernel applies whole
// or not at all: the table ip cfs with the first container, then this
// container's published ports. Each rule is written as nft(8) prints it;
// internal/nft compiles it to the kernel's expressions, and --trace shows
// these lines. Same as `nft -f` with them.
func addRules(a hostnet.Address, id string, ports []hostnet.Port) error {
	var b nft.Batch
	// Where another program's forward chain drops by default (docker sets
	// its FORWARD policy to DROP), the containers' traffic needs accept
	// rules in that chain too: see hostnet.ForwardAccepts.
	if err := hostnet.ForwardAccepts(&b); err != nil {
		return err
	}
	if a.First {
		addTable(&b, a.Subnet)
	}
	// Each -p HOSTPORT:CTRPORT: a connection to HOSTPORT on one of the
	// host's addresses gets the container's address and CTRPORT as its
	// destination (DNAT), at its first packet; conntrack remembers the
	// mapping and applies it to the rest of the connection and, reversed,
	// to the replies.
	for _, p := range ports {
		b.Add("add rule ip %s published %s dport %d counter dnat to %s:%d comment %q", table, p.Proto, p.Host, a.IP, p.Ctr, layout.PortsComment(id))
	}
	return b.Run(tr, nil)
}

// addTable adds the table ip cfs, made with the first container and
// removed with the last: address translation and the filter of forwarded
// traffic.
func addTable(b *nft.Batch, subnet netip.Prefix) {
	b.Add("add table ip %s", table)

	// Published ports. A connection to any of the host's own addresses
	// ("fib daddr type local") jumps to the chain published, which holds
	// one DNAT rule per published port. From another host the packet
	// passes prerouting; from the host itself it never does, as it is made
	// locally, so output needs the same jump.
	b.Add("add chain ip %s published", table)
	b.Add("add chain ip %s prerouting { type nat hook prerouting priority dstnat; }", table)
	b.Add("add rule ip %s prerouting fib daddr type local jump published", table)
	b.Add("add chain ip %s output { type nat hook output priority -100; }", table)
	b.Add("add rule ip %s output fib daddr type local jump published", table)

	// Container addresses are private: a reply to one could never find its
	// way back from the internet. Masquerade rewrites the source of what
	// leaves through any other interface to that interface's address, and
	// conntrack rewrites the replies' destination back.
	b.Add("add chain ip %s postrouting { type nat hook postrouting priority srcnat; }", table)
	b.Add("add rule ip %s postrouting ip saddr %s oifname != %q counter masquerade comment %q", table, subnet, bridge, "containers to the outside")
	// A published port reached from the host's localhost arrives from
	// 127.0.0.1, an address the container would answer on its own
	// loopback; and a container reaching a published port of a container
	// on the same bridge would get the reply straight from that container,
	// not from the address it called. Both get the gateway as source.
	b.Add("add rule ip %s postrouting oifname %q ip saddr 127.0.0.0/8 counter masquerade comment %q", table, bridge, "published ports from the host's localhost")
	b.Add("add rule ip %s postrouting oifname %q ip saddr %s ct status dnat counter masquerade comment %q", table, bridge, subnet, "published ports from containers on the bridge")

	// The outside must not reach containers directly: whoever routes the
	// subnet to this host could otherwise connect to any container port.
	// Only replies, published ports and traffic between containers pass.
	b.Add("add chain ip %s forward { type filter hook forward priority filter; }", table)
	b.Add("add rule ip %s forward oifname %q ct state established,related accept", table, bridge)
	b.Add("add rule ip %s forward oifname %q ct status dnat accept", table, bridge)
	b.Add("add rule ip %s forward oifname %q iifname != %q counter drop comment %q", table, bridge, bridge, "only replies and published ports reach containers from outside")
}

// attach plugs the container, whose first process is pid, in. The process
// is blocked reading its config, so its network is complete before the
// command runs.
func (n *hostNet) attach(pid int) error {
	// The host reaches the container's network namespace by its PID.
	// Requests sent on a netlink socket opened inside it act there: this
	// handle does what `nsenter --net=/proc/PID/ns/net ip ...` would,
	// without moving this process (hostnet.HandleAt).
	ns, in, err := hostnet.HandleAt(pid)
	if err != nil {
		return err
	}
	defer ns.Close()
	defer in.Close()
	inside, nsenter := fmt.Sprintf(" in /proc/%d/ns/net", pid), fmt.Sprintf("nsenter -t %d -n ", pid)

	// The new namespace's loopback is down: 127.0.0.1 does not work until
	// it is up, not even for a server and client inside the container.
	// Same as `ip link set lo up` inside.
	err = kernel.Do(tr, "netlink RTM_NEWLINK(lo up)"+inside, nsenter+"ip link set lo up", func() error { return in.LinkSetUp(hostnet.Link("lo")) })
	if err != nil || n.mode == "none" {
		return err
	}

	// A veth pair is a virtual cable: a frame sent into one end comes out
	// of the other. The kernel can create the second end directly in the
	// container's namespace, named eth0 there; a device belongs to exactly
	// one namespace, so the container sees only its end. Same as
	// `ip link add cfsXXXXXXXX type veth peer name eth0 netns PID`.
	la := netlink.NewLinkAttrs()
	la.Name = n.veth
	veth := &netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns)}
	err = kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWLINK(%s type veth peer eth0 netns /proc/%d/ns/net)", n.veth, pid),
		fmt.Sprintf("ip link add %s type veth peer name eth0 netns %d", n.veth, pid), func() error { return netlink.LinkAdd(veth) })
	// Enslaved to the bridge, the host end becomes a switch port: frames
	// from the container reach cfs0 (the gateway) and the other ports (the
	// other containers). Same as `ip link set cfsXXXXXXXX master cfs0 up`.
	if err == nil {
		err = kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWLINK(%s master %s up)", n.veth, bridge), fmt.Sprintf("ip link set %s master %s up", n.veth, bridge),
			func() error { return netlink.LinkSetMaster(veth, hostnet.Link(bridge)) }, func() error { return netlink.LinkSetUp(veth) })
	}
	// Inside: the leased address on eth0, which also makes the kernel add
	// a route to the subnet through eth0, and a default route through the
	// gateway for everything else. Same as, inside, `ip addr add
	// 172.29.0.2/24 dev eth0; ip link set eth0 up; ip route add default via 172.29.0.1`.
	eth0, addr, gw := hostnet.Link("eth0"), n.addr.IPNet(), n.addr.Gateway()
	if err == nil {
		err = kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWADDR(%s dev eth0), RTM_NEWLINK(eth0 up)%s", addr, inside),
			fmt.Sprintf("%ssh -c 'ip addr add %s dev eth0; ip link set eth0 up'", nsenter, addr),
			func() error { return in.AddrAdd(eth0, &netlink.Addr{IPNet: addr}) }, func() error { return in.LinkSetUp(eth0) })
	}
	if err == nil {
		err = kernel.Do(tr, fmt.Sprintf("netlink RTM_NEWROUTE(default via %s dev eth0)%s", gw, inside), fmt.Sprintf("%sip route add default via %s", nsenter, gw),
			func() error { return in.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: gw.AsSlice()}) })
	}
	return err
}

// release undoes setupHost and attach: the veth, the lease and its ports,
// the /etc files, and with the last container the bridge and the table.
// It runs however the container ends, and must not stop half-way: it
// reports each problem and goes on.
func (n *hostNet) release() {
	if n.mode == "bridge" {
		// Deleting either end of a veth pair deletes both. The kernel
		// would do it too once the container's namespace is gone, but it
		// frees namespaces later, in the background: deleting it here
		// leaves no stray cfsXXXXXXXX behind when the stage exits.
		// Same as `ip link del cfsXXXXXXXX`.
		if veth, err := netlink.LinkByName(n.veth); err == nil {
			err := kernel.Do(tr, fmt.Sprintf("netlink RTM_DELLINK(%s)", n.veth), "ip link del "+n.veth, func() error { return netlink.LinkDel(veth) })
			if !errors.Is(err, unix.ENODEV) {
				cli.CleanupFailed(stage, err)
			}
		}
		// The address goes back, the published ports' rules go, and with
		// the last container the table and the bridge (internal/hostnet).
		cli.CleanupFailed(stage, hostnet.Leave(tr, n.id))
	}
	cli.CleanupFailed(stage, hostnet.RemoveEtc(n.id))
}
