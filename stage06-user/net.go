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
// use themselves; the comments name the command that does the same.

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	bridgeName = "cfs0"
	vethPrefix = "cfs" // + the first 8 hex digits of the container ID
	tableName  = "cfs" // the nft table "ip cfs"
	// forwardComment marks the rules this stage adds to other programs'
	// forward chains (docker's FORWARD), so it can find and remove them.
	forwardComment = "cfs: containers on " + bridgeName
)

// hostNet is one container's place in the network, seen from the host.
type hostNet struct {
	id     string
	mode   string // "bridge" or "none"
	etcDir string
	veth   string // host end of the veth pair
	subnet netip.Prefix
	ip     netip.Addr
	leased bool // the ledger holds an address for this container
}

// setupHost prepares everything on the host before the container exists:
// in bridge mode an address lease, the bridge and the nft rules; in both
// modes the container's /etc files. It fails, with nothing left behind,
// when a published port is taken or the subnet collides with a route.
func setupHost(cfg *config) (*hostNet, error) {
	sweepEtc() // /etc files of containers whose stage was killed
	n := &hostNet{
		id:     cfg.ID,
		mode:   cfg.Net.Mode,
		etcDir: filepath.Join(stateDir, cfg.ID),
		veth:   vethPrefix + cfg.ID[:8],
	}
	cfg.EtcDir = n.etcDir
	if n.mode == "bridge" {
		if err := n.lease(cfg.Net); err != nil {
			return nil, err
		}
	}
	if err := writeEtc(n.etcDir, cfg.Hostname, n.ip); err != nil {
		n.release()
		return nil, err
	}
	return n, nil
}

// lease takes an address for the container in the ledger and brings the
// bridge and the rules in line with the ledger, under its lock.
func (n *hostNet) lease(f netFlags) (retErr error) {
	done := false // set at the end: a panic (Ctrl-C at a --step pause) undoes the lease too
	l, err := openLedger()
	if err != nil {
		return err
	}
	defer l.close()
	// Leases of stages that died without releasing them are dropped here;
	// settle then removes their rules and ports along with them.
	l.reap()
	defer func() {
		if !done {
			l.release(n.id)
			n.leased = false
			if err := settle(l); err != nil {
				fmt.Fprintf(os.Stderr, "%s: clean up: %v\n", stage, err)
			}
		}
	}()

	if len(l.Leases) > 0 {
		// The bridge already serves running containers: one bridge, one
		// subnet.
		if f.Subnet.IsValid() && f.Subnet != l.Subnet {
			return fmt.Errorf("--subnet %s: %s already serves %s for %d running container(s); use that subnet, or stop them first",
				f.Subnet, bridgeName, l.Subnet, len(l.Leases))
		}
	} else {
		routes, err := hostRoutes()
		if err != nil {
			return err
		}
		if l.Subnet, err = chooseSubnet(f.Subnet, routes); err != nil {
			return err
		}
	}

	for _, p := range f.Ports {
		if o := l.portOwner(p); o != nil {
			return fmt.Errorf("-p %s: host port %d/%s is already published by container %s (stage PID %d); choose another HOSTPORT",
				p, p.Host, p.Proto, o.ID, o.Owner.PID)
		}
		if err := checkPortFree(p); err != nil {
			return err
		}
	}

	if n.ip, err = l.allocate(n.id, self(), f.Ports); err != nil {
		return err
	}
	n.subnet, n.leased = l.Subnet, true
	if err := settle(l); err != nil {
		return err
	}
	done = true
	return nil
}

// checkPortFree fails when a program on the host listens on the port: its
// connections would silently go to the container instead, since DNAT
// happens before the host looks for a listening socket. Binding the port
// is the question "is it free?" asked of the kernel itself.
func checkPortFree(p portMap) error {
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

// hostRoutes lists the main routing table, without the routes of cfs0.
// Same as `ip -4 route show table main`.
func hostRoutes() ([]hostRoute, error) {
	routes, err := retryDump(func() ([]netlink.Route, error) { return netlink.RouteList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("list the host's routes (ip route): %w", err)
	}
	brIndex := -1
	if br, err := netlink.LinkByName(bridgeName); err == nil {
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

// attach plugs the container, whose first process is pid, into the
// bridge. The process is blocked reading its config, so its network is
// complete before the command runs.
func (n *hostNet) attach(pid int) error {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return fmt.Errorf("open the container's network namespace /proc/%d/ns/net: %w", pid, err)
	}
	defer ns.Close()
	// Requests sent on a netlink socket opened inside the container's
	// namespace act there: this handle does what `nsenter --net=/proc/PID/ns/net ip ...`
	// would, without moving this process. Links, addresses and routes are
	// all NETLINK_ROUTE; asking for no other kind of socket spares a
	// kernel without, say, IPsec's netlink module.
	in, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("open netlink in the container's network namespace: %w", err)
	}
	defer in.Close()

	// The new namespace's loopback is down: 127.0.0.1 does not work until
	// it is up, not even for a server and client inside the container.
	// Same as `ip link set lo up` inside.
	tr.Step(fmt.Sprintf("netlink RTM_NEWLINK(lo up) in /proc/%d/ns/net", pid), fmt.Sprintf("nsenter -t %d -n ip link set lo up", pid))
	lo, err := in.LinkByName("lo")
	if err == nil {
		err = in.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("set lo up in the container: %w", err)
	}
	if n.mode == "none" {
		return nil
	}

	br, err := netlink.LinkByName(bridgeName)
	if err != nil {
		return fmt.Errorf("look up bridge %s: %w", bridgeName, err)
	}
	// A veth pair is a virtual cable: a frame sent into one end comes out
	// of the other. The kernel can create the second end directly in the
	// container's namespace, named eth0 there; a device belongs to exactly
	// one namespace, so the container sees only its end. Same as
	// `ip link add cfsXXXXXXXX type veth peer name eth0 netns PID`.
	la := netlink.NewLinkAttrs()
	la.Name = n.veth
	tr.Step(fmt.Sprintf("netlink RTM_NEWLINK(%s type veth peer eth0 netns /proc/%d/ns/net)", n.veth, pid),
		fmt.Sprintf("ip link add %s type veth peer name eth0 netns %d", n.veth, pid))
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns)}); err != nil {
		return fmt.Errorf("create veth pair %s (host) / eth0 (container) (ip link add %s type veth peer name eth0 netns %d): %w",
			n.veth, n.veth, pid, err)
	}
	host, err := netlink.LinkByName(n.veth)
	if err != nil {
		return fmt.Errorf("look up %s: %w", n.veth, err)
	}
	// Enslaved to the bridge, the host end becomes a switch port: frames
	// from the container reach cfs0 (the gateway) and the other ports (the
	// other containers). Same as `ip link set cfsXXXXXXXX master cfs0 up`.
	tr.Step(fmt.Sprintf("netlink RTM_NEWLINK(%s master %s up)", n.veth, bridgeName), fmt.Sprintf("ip link set %s master %s up", n.veth, bridgeName))
	if err := netlink.LinkSetMaster(host, br); err != nil {
		return fmt.Errorf("attach %s to bridge %s (ip link set %s master %s): %w", n.veth, bridgeName, n.veth, bridgeName, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("set %s up: %w", n.veth, err)
	}

	// Inside: the leased address on eth0, which also makes the kernel add
	// a route to the subnet through eth0, and a default route through the
	// gateway for everything else. Same as, inside,
	// `ip addr add 172.29.0.2/24 dev eth0; ip link set eth0 up;
	// ip route add default via 172.29.0.1`.
	eth0, err := in.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("look up eth0 in the container: %w", err)
	}
	addr := &netlink.Addr{IPNet: ipNet(n.ip, n.subnet.Bits())}
	tr.Step(fmt.Sprintf("netlink RTM_NEWADDR(%s dev eth0), RTM_NEWLINK(eth0 up) in /proc/%d/ns/net", addr.IPNet, pid),
		fmt.Sprintf("nsenter -t %d -n sh -c 'ip addr add %s dev eth0; ip link set eth0 up'", pid, addr.IPNet))
	if err := in.AddrAdd(eth0, addr); err != nil {
		return fmt.Errorf("add address %s to eth0 in the container: %w", addr.IPNet, err)
	}
	if err := in.LinkSetUp(eth0); err != nil {
		return fmt.Errorf("set eth0 up in the container: %w", err)
	}
	gw := gateway(n.subnet)
	tr.Step(fmt.Sprintf("netlink RTM_NEWROUTE(default via %s dev eth0) in /proc/%d/ns/net", gw, pid),
		fmt.Sprintf("nsenter -t %d -n ip route add default via %s", pid, gw))
	if err := in.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: gw.AsSlice()}); err != nil {
		return fmt.Errorf("add default route via %s in the container: %w", gw, err)
	}
	return nil
}

// release undoes setupHost and attach: the veth, the lease with its
// published ports, the /etc files; and with the last container, the bridge
// and the nft table. It runs when the container ends, on every error path
// after setupHost, and after Ctrl-C or SIGTERM (the stage catches them and
// waits for the container). It must not fail half-way: it reports each
// problem and goes on.
func (n *hostNet) release() {
	warn := func(err error) {
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: clean up: %v\n", stage, err)
		}
	}
	if n.mode == "bridge" {
		// Deleting either end of a veth pair deletes both. The kernel
		// would do it too once the container's namespace is gone, but it
		// frees namespaces later, in the background: deleting it here
		// leaves no stray cfsXXXXXXXX behind when the stage exits.
		// Same as `ip link del cfsXXXXXXXX`.
		if l, err := netlink.LinkByName(n.veth); err == nil {
			tr.Step(fmt.Sprintf("netlink RTM_DELLINK(%s)", n.veth), "ip link del "+n.veth)
			if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				warn(fmt.Errorf("delete %s: %w", n.veth, err))
			}
		}
		if n.leased {
			l, err := openLedger()
			if err != nil {
				warn(err)
			} else {
				l.reap()
				l.release(n.id)
				warn(settle(l))
				l.close()
			}
		}
	}
	if n.etcDir != "" {
		warn(os.RemoveAll(n.etcDir))
	}
}

// ---------------------------------------------------------------------------
// Bringing the host in line with the ledger. All under the ledger's lock.

// settle makes the bridge, the rules and the ledger file match the
// ledger's leases. Because it rebuilds from the ledger, it also repairs
// what a killed stage left: its rules vanish with its lease, a missing
// bridge or table is made again.
func settle(l *ledger) error {
	err := reconcile(l)
	return errors.Join(err, l.save())
}

// reconcile is the host-side part of settle. With no containers left it
// removes the bridge and the rules: the host is as it was before the first
// container. (IPv4 forwarding stays on: see enableForwarding.)
func reconcile(l *ledger) error {
	if len(l.Leases) == 0 {
		return errors.Join(removeRules(), deleteBridge(), sweepVeths(l))
	}
	if err := ensureBridge(l.Subnet); err != nil {
		return err
	}
	if err := enableForwarding(); err != nil {
		return err
	}
	if err := applyRules(l); err != nil {
		return err
	}
	return sweepVeths(l)
}

// ensureBridge makes cfs0 exist, hold the gateway address, and be up.
func ensureBridge(subnet netip.Prefix) error {
	br, err := netlink.LinkByName(bridgeName)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		// A bridge is a switch in software: it forwards frames between
		// its ports by MAC address, and as a device of its own with an
		// address it is also the host's interface on that switch: the
		// containers' gateway. Same as `ip link add cfs0 type bridge`.
		//
		// Left to itself, a bridge takes the lowest MAC address of its
		// ports as its own, and changes it when that port leaves: the
		// containers' cached gateway address then points nowhere for
		// seconds. Giving it an address of its own keeps it fixed.
		la := netlink.NewLinkAttrs()
		la.Name = bridgeName
		la.HardwareAddr = randomMAC()
		tr.Step(fmt.Sprintf("netlink RTM_NEWLINK(%s type bridge address %s)", bridgeName, la.HardwareAddr), "ip link add "+bridgeName+" type bridge")
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
			return fmt.Errorf("create bridge %s (ip link add %s type bridge): %w%s", bridgeName, bridgeName, err, kernelHint(err, "bridge"))
		}
		br, err = netlink.LinkByName(bridgeName)
	}
	if err != nil {
		return fmt.Errorf("look up bridge %s: %w", bridgeName, err)
	}
	if br.Type() != "bridge" {
		return fmt.Errorf("a %s device named %s exists, and it is not this stage's bridge: remove it (ip link del %s)", br.Type(), bridgeName, bridgeName)
	}

	// The gateway address, and only it: a bridge left by a run with
	// another --subnet gets its address replaced.
	// Same as `ip addr add 172.29.0.1/24 dev cfs0`.
	want := ipNet(gateway(subnet), subnet.Bits())
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(br, netlink.FAMILY_V4) })
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", bridgeName, err)
	}
	have := false
	for _, a := range addrs {
		if a.IPNet.String() == want.String() {
			have = true
			continue
		}
		tr.Step(fmt.Sprintf("netlink RTM_DELADDR(%s dev %s)", a.IPNet, bridgeName), fmt.Sprintf("ip addr del %s dev %s", a.IPNet, bridgeName))
		if err := netlink.AddrDel(br, &a); err != nil {
			return fmt.Errorf("remove old address %s from %s: %w", a.IPNet, bridgeName, err)
		}
	}
	if !have {
		tr.Step(fmt.Sprintf("netlink RTM_NEWADDR(%s dev %s)", want, bridgeName), fmt.Sprintf("ip addr add %s dev %s", want, bridgeName))
		if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: want}); err != nil {
			return fmt.Errorf("add address %s to %s (ip addr add %s dev %s): %w", want, bridgeName, want, bridgeName, err)
		}
	}

	// Published ports reached from the host as localhost:HOSTPORT are
	// sent to a container with the source 127.0.0.1, which the kernel
	// otherwise refuses to route out of a real interface ("martian").
	// route_localnet allows it on cfs0 only; the postrouting chain then
	// rewrites the source to the gateway. It goes away with the bridge.
	// Same as `sysctl -w net.ipv4.conf.cfs0.route_localnet=1`.
	if err := writeSysctl("net/ipv4/conf/"+bridgeName+"/route_localnet", "1"); err != nil {
		return err
	}
	// Same as `ip link set cfs0 up`.
	if br.Attrs().Flags&net.FlagUp == 0 {
		tr.Step(fmt.Sprintf("netlink RTM_NEWLINK(%s up)", bridgeName), "ip link set "+bridgeName+" up")
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("set %s up: %w", bridgeName, err)
	}
	return nil
}

// deleteBridge removes cfs0. Same as `ip link del cfs0`.
func deleteBridge() error {
	br, err := netlink.LinkByName(bridgeName)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up bridge %s: %w", bridgeName, err)
	}
	if br.Type() != "bridge" {
		return nil // not ours
	}
	tr.Step(fmt.Sprintf("netlink RTM_DELLINK(%s)", bridgeName), "ip link del "+bridgeName)
	if err := netlink.LinkDel(br); err != nil {
		return fmt.Errorf("delete bridge %s (ip link del %s): %w", bridgeName, bridgeName, err)
	}
	return nil
}

// sweepVeths deletes host veth ends that no lease accounts for: left, for
// example, by a stage killed between creating its veth and its container
// namespace's end. (A killed container's namespace takes its veth with it.)
func sweepVeths(l *ledger) error {
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	live := map[string]bool{}
	for _, ls := range l.Leases {
		live[vethPrefix+ls.ID[:8]] = true
	}
	var errs []error
	for _, link := range links {
		name := link.Attrs().Name
		if link.Type() != "veth" || !isVethName(name) || live[name] {
			continue
		}
		if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("delete stale %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func isVethName(name string) bool {
	hex := strings.TrimPrefix(name, vethPrefix)
	if len(hex) != 8 || hex == name {
		return false
	}
	return strings.Trim(hex, "0123456789abcdef") == ""
}

// enableForwarding turns on IPv4 forwarding: without it the host drops
// packets that are not addressed to itself instead of routing them on,
// from cfs0 to the way out and back. It is one switch for the whole
// network namespace, and other programs (docker, libvirt, a VPN) rely on
// it too, so the stage leaves it on, as they do: turning it off when the
// last container leaves could cut them off. Same as
// `sysctl -w net.ipv4.ip_forward=1`.
func enableForwarding() error {
	cur, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err == nil && strings.TrimSpace(string(cur)) == "1" {
		return nil
	}
	return writeSysctl("net/ipv4/ip_forward", "1")
}

func writeSysctl(name, value string) error {
	path := "/proc/sys/" + name
	tr.Step(fmt.Sprintf("write(%s, %q)", path, value), fmt.Sprintf("sysctl -w %s=%s", strings.ReplaceAll(name, "/", "."), value))
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl -w %s=%s: %w", strings.ReplaceAll(name, "/", "."), value, err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// The nft rules: NAT and published ports in the table "ip cfs", and, where
// another program's forward chain drops by default (docker sets its
// FORWARD policy to DROP), accept rules for cfs0 in that chain.

// applyRules replaces the table "ip cfs" with one built from the ledger,
// and puts accept rules for cfs0 first in every forward chain whose policy
// is drop, in one batch: the kernel applies all of it or none, so no
// packet ever meets half a ruleset. Same as `nft -f` with the ruleset
// printed in docs/05-net.md.
func applyRules(l *ledger) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables: %w", err)
	}

	// A packet is forwarded only if every base chain on the forward hook
	// accepts it: an accept in our table does not undo a drop in docker's.
	// So the accepts must go into the dropping chain itself, as docker
	// does for its own bridges. Ours are replaced on every change, which
	// also repairs them if someone flushed that chain.
	chains, err := foreignForwardChains(c)
	if err != nil {
		return err
	}
	var nft script // the batch as nft(8) text, for --trace
	for _, ch := range chains {
		if ch.Policy == nil || *ch.Policy != nftables.ChainPolicyDrop {
			continue
		}
		if err := delOurForwardRules(c, ch); err != nil {
			return err
		}
		for _, key := range []expr.MetaKey{expr.MetaKeyOIFNAME, expr.MetaKeyIIFNAME} {
			// Same as `iptables -I FORWARD -i cfs0 -j ACCEPT` and `-o cfs0`:
			// written the way iptables-nft writes them, so that `iptables -L`
			// and docker can still read the chain.
			nft.add("insert rule %s %s %s %s %q counter accept comment %q", familyName(ch.Table.Family), ch.Table.Name, ch.Name,
				map[expr.MetaKey]string{expr.MetaKeyOIFNAME: "oifname", expr.MetaKeyIIFNAME: "iifname"}[key], bridgeName, forwardComment)
			c.InsertRule(&nftables.Rule{Table: ch.Table, Chain: ch, UserData: comment(forwardComment), Exprs: []expr.Any{
				&expr.Meta{Key: key, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(bridgeName)},
				&expr.Counter{},
				&expr.Verdict{Kind: expr.VerdictAccept},
			}})
		}
	}

	// Adding the table first makes deleting it valid whether or not it
	// exists; the new one then replaces it whole.
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: tableName}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	nft.add("add table ip %s", tableName)
	nft.add("delete table ip %s", tableName)
	nft.add("add table ip %s", tableName)
	addNATChains(c, t, l, &nft)
	addForwardChain(c, t, &nft)

	tr.Step("netlink NFNL_MSG_BATCH_BEGIN … NFNL_MSG_BATCH_END (one transaction)", "nft -f - <<'EOF'", append(nft, "EOF")...)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("load the nft table ip %s: %w%s", tableName, err, kernelHint(err, "nf_tables"))
	}
	return nil
}

// addNATChains adds the address translation: published ports (DNAT) and
// masquerade for what leaves.
func addNATChains(c *nftables.Conn, t *nftables.Table, l *ledger, nft *script) {
	// Published ports. A connection to any of the host's own addresses
	// ("fib daddr type local") on HOSTPORT has its destination rewritten
	// to the container's address and port, at the first packet; conntrack
	// remembers the mapping and applies it to the rest of the connection
	// and, reversed, to the replies. From another host the packet passes
	// prerouting; from the host itself it never does, as it is made
	// locally, so output needs the same jump.
	published := c.AddChain(&nftables.Chain{Name: "published", Table: t})
	nft.add("add chain ip %s published", tableName)
	for _, hook := range []struct {
		name string
		num  *nftables.ChainHook
		prio string // as nft(8) writes it
	}{{"prerouting", nftables.ChainHookPrerouting, "dstnat"}, {"output", nftables.ChainHookOutput, "-100"}} {
		ch := c.AddChain(&nftables.Chain{Name: hook.name, Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: hook.num, Priority: nftables.ChainPriorityNATDest})
		nft.add("add chain ip %s %s { type nat hook %s priority %s; }", tableName, hook.name, hook.name, hook.prio)
		nft.add("add rule ip %s %s fib daddr type local jump published", tableName, hook.name)
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
			&expr.Verdict{Kind: expr.VerdictJump, Chain: published.Name},
		}})
	}
	for _, ls := range l.Leases {
		for _, p := range ls.Ports {
			proto := byte(unix.IPPROTO_TCP)
			if p.Proto == "udp" {
				proto = unix.IPPROTO_UDP
			}
			ip := ls.IP.As4()
			nft.add("add rule ip %s published %s dport %d counter dnat to %s:%d comment %q", tableName, p.Proto, p.Host, ls.IP, p.Ctr, "container "+ls.ID)
			c.AddRule(&nftables.Rule{Table: t, Chain: published, UserData: comment("container " + ls.ID), Exprs: []expr.Any{
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}, // destination port
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.Host)},
				&expr.Counter{},
				&expr.Immediate{Register: 1, Data: ip[:]},
				&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.Ctr)},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
			}})
		}
	}

	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	nft.add("add chain ip %s postrouting { type nat hook postrouting priority srcnat; }", tableName)
	// Container addresses are private: a reply to one could never find its
	// way back from the internet. Masquerade rewrites the source of what
	// leaves through any other interface to that interface's address, and
	// conntrack rewrites the replies' destination back.
	nft.add("add rule ip %s postrouting ip saddr %s oifname != %q counter masquerade comment %q", tableName, l.Subnet, bridgeName, "containers to the outside")
	c.AddRule(&nftables.Rule{Table: t, Chain: post, UserData: comment("containers to the outside"), Exprs: concat(
		matchSaddr(l.Subnet),
		matchIfname(expr.MetaKeyOIFNAME, expr.CmpOpNeq),
		[]expr.Any{&expr.Counter{}, &expr.Masq{}},
	)})
	// A published port reached from the host's localhost arrives from
	// 127.0.0.1, an address the container would answer on its own
	// loopback; and a container reaching a published port of a container
	// on the same bridge would get the reply straight from that container,
	// not from the address it called. Both get the gateway as source.
	nft.add("add rule ip %s postrouting oifname %q ip saddr 127.0.0.0/8 counter masquerade comment %q", tableName, bridgeName, "published ports from the host's localhost")
	c.AddRule(&nftables.Rule{Table: t, Chain: post, UserData: comment("published ports from the host's localhost"), Exprs: concat(
		matchIfname(expr.MetaKeyOIFNAME, expr.CmpOpEq),
		matchSaddr(netip.MustParsePrefix("127.0.0.0/8")),
		[]expr.Any{&expr.Counter{}, &expr.Masq{}},
	)})
	nft.add("add rule ip %s postrouting oifname %q ip saddr %s ct status dnat counter masquerade comment %q", tableName, bridgeName, l.Subnet, "published ports from containers on the bridge")
	c.AddRule(&nftables.Rule{Table: t, Chain: post, UserData: comment("published ports from containers on the bridge"), Exprs: concat(
		matchIfname(expr.MetaKeyOIFNAME, expr.CmpOpEq),
		matchSaddr(l.Subnet),
		matchCtBits(expr.CtKeySTATUS, 1<<5), // IPS_DST_NAT: the connection was DNATed
		[]expr.Any{&expr.Counter{}, &expr.Masq{}},
	)})
}

// addForwardChain keeps the outside from reaching containers directly:
// whoever routes the subnet to this host could otherwise connect to any
// container port. Only replies, published ports and traffic between
// containers pass.
func addForwardChain(c *nftables.Conn, t *nftables.Table, nft *script) {
	fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
	nft.add("add chain ip %s forward { type filter hook forward priority filter; }", tableName)
	nft.add("add rule ip %s forward oifname %q ct state established,related accept", tableName, bridgeName)
	nft.add("add rule ip %s forward oifname %q ct status dnat accept", tableName, bridgeName)
	nft.add("add rule ip %s forward oifname %q iifname != %q counter drop comment %q", tableName, bridgeName, bridgeName, "only replies and published ports reach containers from outside")
	accept := []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}
	c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: concat(
		matchIfname(expr.MetaKeyOIFNAME, expr.CmpOpEq),
		matchCtBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED),
		accept,
	)})
	c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: concat(
		matchIfname(expr.MetaKeyOIFNAME, expr.CmpOpEq),
		matchCtBits(expr.CtKeySTATUS, 1<<5), // IPS_DST_NAT
		accept,
	)})
	c.AddRule(&nftables.Rule{Table: t, Chain: fwd, UserData: comment("only replies and published ports reach containers from outside"), Exprs: concat(
		matchIfname(expr.MetaKeyOIFNAME, expr.CmpOpEq),
		matchIfname(expr.MetaKeyIIFNAME, expr.CmpOpNeq),
		[]expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}},
	)})
}

// script is an nftables batch written as nft(8) would read it, for --trace.
type script []string

func (s *script) add(format string, a ...any) { *s = append(*s, fmt.Sprintf(format, a...)) }

// removeRules deletes the table "ip cfs" and this stage's rules in other
// programs' forward chains. Same as `nft delete table ip cfs`.
func removeRules() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables: %w", err)
	}
	chains, err := foreignForwardChains(c)
	if err != nil {
		return err
	}
	for _, ch := range chains {
		if err := delOurForwardRules(c, ch); err != nil {
			return err
		}
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: tableName}
	c.AddTable(t)
	c.DelTable(t)
	tr.Step("netlink NFT_MSG_DELTABLE(ip "+tableName+")", "nft delete table ip "+tableName)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("delete the nft table ip %s and the %s rules: %w", tableName, bridgeName, err)
	}
	return nil
}

// foreignForwardChains lists the base chains of other tables, IPv4 or
// inet, on the forward hook: docker's "ip filter FORWARD", a firewall's
// "inet filter forward". Same as `nft list chains`.
func foreignForwardChains(c *nftables.Conn) ([]*nftables.Chain, error) {
	all, err := c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("list nft chains: %w%s", err, kernelHint(err, "nf_tables"))
	}
	var out []*nftables.Chain
	for _, ch := range all {
		fam := ch.Table.Family
		if fam != nftables.TableFamilyIPv4 && fam != nftables.TableFamilyINet {
			continue
		}
		if fam == nftables.TableFamilyIPv4 && ch.Table.Name == tableName {
			continue
		}
		if ch.Hooknum != nil && *ch.Hooknum == *nftables.ChainHookForward && ch.Type == nftables.ChainTypeFilter {
			out = append(out, ch)
		}
	}
	return out, nil
}

// delOurForwardRules queues the deletion of the rules marked with
// forwardComment in ch.
func delOurForwardRules(c *nftables.Conn, ch *nftables.Chain) error {
	rules, err := c.GetRules(ch.Table, ch)
	if err != nil {
		return fmt.Errorf("list rules of %s %s %s: %w", familyName(ch.Table.Family), ch.Table.Name, ch.Name, err)
	}
	for _, r := range rules {
		if s, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && s == forwardComment {
			r.Table, r.Chain = ch.Table, ch
			if err := c.DelRule(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// Small builders for the expressions above. nft(8) compiles its rule
// language to the same register machine: `nft --debug=netlink add rule ...`
// prints these.

// matchIfname compares the packet's input or output device name with cfs0.
func matchIfname(key expr.MetaKey, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifname(bridgeName)},
	}
}

// matchSaddr matches an IPv4 source address within p: load 4 bytes at
// offset 12 of the IP header, mask them, compare.
func matchSaddr(p netip.Prefix) []expr.Any {
	mask := net.CIDRMask(p.Bits(), 32)
	network := p.Masked().Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: network[:]},
	}
}

// matchCtBits matches when any of bits is set in the connection's
// conntrack state or status.
func matchCtBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ifname is a device name as the kernel compares it: NUL-terminated.
func ifname(name string) []byte { return append([]byte(name), 0) }

// comment is a rule comment as nft(8) and iptables-nft store it.
func comment(s string) []byte { return userdata.AppendString(nil, userdata.TypeComment, s) }

func familyName(f nftables.TableFamily) string {
	if f == nftables.TableFamilyINet {
		return "inet"
	}
	return "ip"
}

// retryDump repeats a netlink listing that the kernel flagged as
// interrupted: a link, address or route changed while it was being read
// (another container starting, say), so the answer may be inconsistent.
func retryDump[T any](list func() ([]T, error)) ([]T, error) {
	for i := 0; ; i++ {
		v, err := list()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == 20 {
			return v, err
		}
	}
}

// randomMAC returns a random unicast address from the locally
// administered range (second-lowest bit of the first byte set), which no
// network card is sold with.
func randomMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	_, _ = rand.Read(mac)
	mac[0] = mac[0]&0xfe | 0x02
	return mac
}

func ipNet(ip netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, 32)}
}

// kernelHint adds what to do when the kernel lacks a feature.
func kernelHint(err error, module string) string {
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOENT) && module == "nf_tables" {
		return fmt.Sprintf(" (does the kernel have %s? try: sudo modprobe %s)", module, module)
	}
	return ""
}
