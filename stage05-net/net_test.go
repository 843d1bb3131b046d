package main

// Network tests. Each builds a little world of its own in network
// namespaces it creates:
//
//	"host" netns: the stage runs here (nsenter --net), makes cfs0, veths
//	              and the table ip cfs; its uplink 198.51.100.1/24 is the
//	              host's way out
//	"wan" netns:  eth0 198.51.100.2/24 at the other end of the uplink, the
//	              outside world
//
// Traffic goes only to loopback and to addresses of these namespaces
// (198.51.100.0/24 is TEST-NET-2, reserved for documentation), so the
// real host's network is never touched and the tests can run in parallel.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"cfs/internal/nftname"
	"cfs/internal/stagetest"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	hostWanIP = "198.51.100.1" // the "host"'s address on its uplink
	wanIP     = "198.51.100.2" // the outside world's
)

type world struct {
	host, wan *stagetest.NetNS
	rootfs    string // the default rootfs with /cfs-helper
}

// newWorld builds the two namespaces and the cable between them. When the
// test ends, it checks that the stage left nothing in "host".
func newWorld(t *testing.T) *world {
	t.Helper()
	stagetest.RequireRoot(t)
	w := &world{host: stagetest.NewNetNS(t, "host"), wan: stagetest.NewNetNS(t, "wan"), rootfs: stagetest.RootfsWithHelper(t)}
	h, err := w.host.Handle()
	require.NoError(t, err)
	defer h.Close()
	wanNS, err := netns.GetFromPath(w.wan.Path)
	require.NoError(t, err)
	defer wanNS.Close()
	la := netlink.NewLinkAttrs()
	la.Name = "uplink"
	require.NoError(t, h.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(wanNS)}))
	up, err := h.LinkByName("uplink")
	require.NoError(t, err)
	require.NoError(t, h.AddrAdd(up, mustAddr(hostWanIP+"/24")))
	require.NoError(t, h.LinkSetUp(up))
	wh, err := w.wan.Handle()
	require.NoError(t, err)
	defer wh.Close()
	eth0, err := wh.LinkByName("eth0")
	require.NoError(t, err)
	require.NoError(t, wh.AddrAdd(eth0, mustAddr(wanIP+"/24")))
	require.NoError(t, wh.LinkSetUp(eth0))
	// Registered after the namespaces' own clean-up, so it runs before.
	t.Cleanup(func() { w.checkClean(t) })
	return w
}

func mustAddr(s string) *netlink.Addr {
	a, err := netlink.ParseAddr(s)
	if err != nil {
		panic(err)
	}
	return a
}

// start starts the stage in the world's "host" namespace.
func (w *world) start(t *testing.T, args ...string) *stagetest.Proc {
	t.Helper()
	return stagetest.StartWrapped(t, w.host.Wrapper(), args...)
}

// run runs the stage in "host" to completion.
func (w *world) run(t *testing.T, args ...string) stagetest.Result {
	t.Helper()
	p := w.start(t, args...)
	p.Stdin.Close()
	return p.Wait(t)
}

// stop ends a running stage as `docker stop` would, with SIGTERM, which
// the stage passes on; the stage then cleans up and exits.
func stop(t *testing.T, p *stagetest.Proc) stagetest.Result {
	t.Helper()
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	return p.Wait(t)
}

// leftovers lists what the stage may leave in "host": links named cfs*,
// the table ip cfs, its rules in other forward chains, its ledger.
func (w *world) leftovers(t *testing.T) []string {
	t.Helper()
	contents, err := w.host.Contents()
	require.NoError(t, err)
	var out []string
	for _, c := range contents {
		if strings.HasPrefix(c, "link cfs") || c == "nft table ip "+tableName {
			out = append(out, c)
		}
	}
	out = append(out, w.forwardRules(t, forwardComment)...)
	if _, err := os.Stat(w.ledgerPath(t)); err == nil {
		out = append(out, "ledger "+w.ledgerPath(t))
	}
	return out
}

func (w *world) ledgerPath(t *testing.T) string {
	t.Helper()
	ino, err := w.host.Ino()
	require.NoError(t, err)
	return filepath.Join(stateDir, fmt.Sprintf("net-%d.json", ino))
}

func (w *world) requireClean(t *testing.T) {
	t.Helper()
	require.Empty(t, w.leftovers(t), "the stage left these in the test's host namespace")
}

// checkClean runs when the test ends. After a failure it only removes the
// files the namespace's end would not take with it, so that one failure
// does not show up again as a leak.
func (w *world) checkClean(t *testing.T) {
	if t.Failed() {
		_ = os.Remove(w.ledgerPath(t))
		sweepEtc()
		return
	}
	w.requireClean(t)
}

// forwardRules lists the rules with the given comment in the forward base
// chains of "host" other than ours.
func (w *world) forwardRules(t *testing.T, comment string) []string {
	t.Helper()
	c, done, err := w.host.Nft()
	require.NoError(t, err)
	defer done()
	chains, err := foreignForwardChains(c)
	require.NoError(t, err)
	var out []string
	for _, ch := range chains {
		rules, err := c.GetRules(ch.Table, ch)
		require.NoError(t, err)
		for _, r := range rules {
			if s, _ := userdata.GetString(r.UserData, userdata.TypeComment); s == comment {
				out = append(out, fmt.Sprintf("rule in %s %s: %s", nftname.Family(ch.Table.Family), ch.Name, s))
			}
		}
	}
	return out
}

// dockerForwardDrop recreates what docker does to the host's firewall
// (through iptables-nft): the table ip filter with a FORWARD chain whose
// policy is drop, entered first through the empty user chain DOCKER-USER.
func (w *world) dockerForwardDrop(t *testing.T) {
	t.Helper()
	c, done, err := w.host.Nft()
	require.NoError(t, err)
	defer done()
	filter := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "filter"})
	drop := nftables.ChainPolicyDrop
	fwd := c.AddChain(&nftables.Chain{Name: "FORWARD", Table: filter, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	user := c.AddChain(&nftables.Chain{Name: "DOCKER-USER", Table: filter})
	c.AddRule(&nftables.Rule{Table: filter, Chain: user, Exprs: []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictReturn}}})
	c.AddRule(&nftables.Rule{Table: filter, Chain: fwd, Exprs: []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictJump, Chain: "DOCKER-USER"}}})
	require.NoError(t, c.Flush())
}

// forwardChainState describes docker's FORWARD chain: its policy and the
// number of rules in it.
func (w *world) forwardChainState(t *testing.T) (policy nftables.ChainPolicy, rules int) {
	t.Helper()
	c, done, err := w.host.Nft()
	require.NoError(t, err)
	defer done()
	filter := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "filter"}
	ch, err := c.ListChain(filter, "FORWARD")
	require.NoError(t, err)
	rs, err := c.GetRules(filter, ch)
	require.NoError(t, err)
	return *ch.Policy, len(rs)
}

// echoServer answers each TCP line or UDP datagram with "MSG from PEER-IP",
// so the caller learns the source address the server saw.
func echoServer(t *testing.T, ns *stagetest.NetNS, proto, addr string) {
	t.Helper()
	var ln net.Listener
	var pc net.PacketConn
	require.NoError(t, ns.Do(func() (err error) {
		if proto == "tcp" {
			ln, err = net.Listen("tcp4", addr)
		} else {
			pc, err = net.ListenPacket("udp4", addr)
		}
		return err
	}))
	if ln != nil {
		t.Cleanup(func() { ln.Close() })
		go serveTCP(ln)
	} else {
		t.Cleanup(func() { pc.Close() })
		go serveUDP(pc)
	}
}

// callFrom sends msg from namespace ns to addr and returns the reply line.
func callFrom(ns *stagetest.NetNS, proto, addr, msg string, timeout time.Duration) (string, error) {
	var reply string
	err := ns.Do(func() (err error) {
		reply, err = exchange(proto, addr, msg, timeout)
		return err
	})
	return reply, err
}

func requireCall(t *testing.T, ns *stagetest.NetNS, proto, addr, msg, want string) {
	t.Helper()
	got, err := callFrom(ns, proto, addr, msg, 5*time.Second)
	require.NoError(t, err, "%s %s from %s", proto, addr, ns.Name)
	require.Equal(t, want, got, "%s %s from %s", proto, addr, ns.Name)
}

// The same echo server and client, as /cfs-helper inside containers:
//
//	/cfs-helper serve tcp:PORT udp:PORT...   prints "ready" once listening
//	/cfs-helper call tcp|udp ADDR MSG         prints the reply
func serve(args []string) int {
	for _, a := range args {
		proto, port, _ := strings.Cut(a, ":")
		if proto == "tcp" {
			ln, err := net.Listen("tcp4", ":"+port)
			if err != nil {
				fmt.Println(err)
				return 1
			}
			go serveTCP(ln)
		} else {
			pc, err := net.ListenPacket("udp4", ":"+port)
			if err != nil {
				fmt.Println(err)
				return 1
			}
			go serveUDP(pc)
		}
	}
	fmt.Println("ready")
	select {}
}

func call(args []string) int {
	reply, err := exchange(args[0], args[1], args[2], 5*time.Second)
	if err != nil {
		fmt.Println("call:", err)
		return 1
	}
	fmt.Println(reply)
	return 0
}

func serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return
			}
			peer := c.RemoteAddr().(*net.TCPAddr).IP
			fmt.Fprintf(c, "%s from %s\n", strings.TrimSpace(line), peer)
		}()
	}
}

func serveUDP(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		peer := from.(*net.UDPAddr).IP
		_, _ = pc.WriteTo([]byte(fmt.Sprintf("%s from %s\n", strings.TrimSpace(string(buf[:n])), peer)), from)
	}
}

func exchange(proto, addr, msg string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout(proto+"4", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(c, "%s\n", msg); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// containerNet returns the address of eth0 in the container whose first
// process is pid, read from outside through its namespace.
func containerNet(t *testing.T, pid int) netip.Prefix {
	t.Helper()
	ns, err := netns.GetFromPid(pid)
	require.NoError(t, err)
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	require.NoError(t, err)
	defer h.Close()
	eth0, err := h.LinkByName("eth0")
	require.NoError(t, err)
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(eth0, netlink.FAMILY_V4) })
	require.NoError(t, err)
	require.Len(t, addrs, 1)
	a, _ := netip.AddrFromSlice(addrs[0].IP.To4())
	ones, _ := addrs[0].Mask.Size()
	return netip.PrefixFrom(a, ones)
}

// ---------------------------------------------------------------------------

// Inside, the container has only lo and eth0, with its address and a
// default route through the gateway. Outside, its network namespace is
// neither the test's nor the stage's, and the other end of its eth0 is a
// port of cfs0 in the namespace the stage runs in.
func TestNetworkInsideAndOutside(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := w.start(t, "sh", "-c", "ip -o link; ip route; echo ready; read _")
	var inside []string
	for {
		line := p.NextLine(t)
		if line == "ready" {
			break
		}
		inside = append(inside, line)
	}
	pid := p.ContainerPID(t)

	// A host that has loaded tunnel modules (ipip, sit, gre...) gets their
	// fallback devices, always down, in every new namespace: not ours.
	fallback := map[string]bool{"tunl0": true, "sit0": true, "ip6tnl0": true, "gre0": true, "gretap0": true,
		"erspan0": true, "ip6gre0": true, "ip_vti0": true, "ip6_vti0": true}
	var names []string
	for _, l := range inside {
		if m := regexp.MustCompile(`^\d+: ([^:@]+)[:@]`).FindStringSubmatch(l); m != nil && !fallback[m[1]] {
			names = append(names, m[1])
		}
	}
	require.Equal(t, []string{"lo", "eth0"}, names, "ip -o link inside:\n%s", strings.Join(inside, "\n"))
	addr := containerNet(t, pid)
	gw := gateway(addr.Masked())
	require.Contains(t, inside, "default via "+gw.String()+" dev eth0 ")

	require.NotEqual(t, stagetest.NS(t, "self", "net"), stagetest.NS(t, pid, "net"))
	require.NotEqual(t, stagetest.NS(t, p.Cmd.Process.Pid, "net"), stagetest.NS(t, pid, "net"))

	h, err := w.host.Handle()
	require.NoError(t, err)
	defer h.Close()
	br, err := h.LinkByName(bridgeName)
	require.NoError(t, err)
	require.Equal(t, "bridge", br.Type())
	brAddrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(br, netlink.FAMILY_V4) })
	require.NoError(t, err)
	require.Len(t, brAddrs, 1)
	require.Equal(t, gw.String(), brAddrs[0].IP.String())
	links, err := retryDump(h.LinkList)
	require.NoError(t, err)
	var ports []netlink.Link
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			ports = append(ports, l)
		}
	}
	require.Len(t, ports, 1, "cfs0 should have exactly one port: the container's veth")
	require.Equal(t, "veth", ports[0].Type())
	require.True(t, isVethName(ports[0].Attrs().Name), ports[0].Attrs().Name)

	ns, err := netns.GetFromPid(pid)
	require.NoError(t, err)
	defer ns.Close()
	in, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	require.NoError(t, err)
	defer in.Close()
	eth0, err := in.LinkByName("eth0")
	require.NoError(t, err)
	require.Equal(t, "veth", eth0.Type())
	// A veth's link index names its peer: each end points at the other.
	require.Equal(t, ports[0].Attrs().Index, eth0.Attrs().ParentIndex)
	require.Equal(t, eth0.Attrs().Index, ports[0].Attrs().ParentIndex)

	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
}

// Everything a container's network must do, checked on a plain host and
// on one where docker has set the FORWARD policy to drop.
func TestNetworking(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		dockerDrop bool
	}{{"plain host", false}, {"docker FORWARD policy drop", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testNetworking(t, tc.dockerDrop)
		})
	}
}

func testNetworking(t *testing.T, dockerDrop bool) {
	w := newWorld(t)
	if dockerDrop {
		w.dockerForwardDrop(t)
	}
	echoServer(t, w.host, "tcp", ":9001")      // a server on the host, for the gateway test
	echoServer(t, w.wan, "tcp", wanIP+":9000") // a server out in the world

	// Container A serves TCP 7000 and UDP 7001, published as 18080/18081.
	a := w.start(t, "--rootfs", w.rootfs, "-p", "18080:7000", "-p", "18081:7001/udp",
		"/cfs-helper", "serve", "tcp:7000", "udp:7001")
	a.WaitLine(t, "ready")
	aNet := containerNet(t, a.ContainerPID(t))
	aIP, gw := aNet.Addr().String(), gateway(aNet.Masked()).String()
	if dockerDrop {
		require.Len(t, w.forwardRules(t, forwardComment), 2, "the accepts for cfs0 are not in docker's FORWARD chain")
	}

	// Container B calls the gateway, A (TCP and UDP) and the world.
	r := w.run(t, "--rootfs", w.rootfs, "sh", "-c", fmt.Sprintf(
		`ip -o -4 addr show eth0 | sed 's|.* inet \([0-9.]*\)/.*|\1|'
		/cfs-helper call tcp %s:9001 gateway
		/cfs-helper call tcp %s:7000 peer-tcp
		/cfs-helper call udp %s:7001 peer-udp
		/cfs-helper call tcp %s:9000 world`, gw, aIP, aIP, wanIP))
	require.Equal(t, 0, r.Code, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	require.Len(t, lines, 5, r.Stdout)
	bIP := lines[0]
	require.True(t, aNet.Masked().Contains(netip.MustParseAddr(bIP)), "B's address %s is not in %s", bIP, aNet.Masked())
	require.NotEqual(t, aIP, bIP)
	require.Equal(t, []string{
		"gateway from " + bIP,     // the host sees the container's own address
		"peer-tcp from " + bIP,    // so does another container on the bridge
		"peer-udp from " + bIP,    //
		"world from " + hostWanIP, // the world sees the host's: masquerade
	}, lines[1:])

	// Published ports: from the world, the container sees the caller's own
	// address; from the host through its uplink address, the host's; from
	// the host's localhost, the gateway (masqueraded, see net.go).
	for _, proto := range []string{"tcp", "udp"} {
		port := map[string]string{"tcp": "18080", "udp": "18081"}[proto]
		requireCall(t, w.wan, proto, hostWanIP+":"+port, "from-world", "from-world from "+wanIP)
		requireCall(t, w.host, proto, hostWanIP+":"+port, "from-host", "from-host from "+hostWanIP)
		requireCall(t, w.host, proto, "127.0.0.1:"+port, "from-localhost", "from-localhost from "+gw)
	}

	// Only published ports reach a container from outside: a world that
	// routes the container subnet to the host still cannot connect to A.
	wh, err := w.wan.Handle()
	require.NoError(t, err)
	defer wh.Close()
	_, subnet, _ := net.ParseCIDR(aNet.Masked().String())
	require.NoError(t, wh.RouteAdd(&netlink.Route{Dst: subnet, Gw: net.ParseIP(hostWanIP)}))
	_, err = callFrom(w.wan, "tcp", aIP+":7000", "direct", time.Second)
	require.Error(t, err, "the world reached a container port that was not published")

	r = stop(t, a)
	require.Equal(t, 128+int(syscall.SIGTERM), r.Code, r.Stderr)
	if dockerDrop {
		policy, rules := w.forwardChainState(t)
		require.Equal(t, nftables.ChainPolicyDrop, policy)
		require.Equal(t, 1, rules, "docker's FORWARD chain should be as docker left it: one jump to DOCKER-USER")
	}
}

// Twenty containers started at once get twenty different addresses, and
// each reaches the gateway with its own. Each stays up until all have
// answered, so no address is released and handed out again in between.
func TestConcurrentContainersGetDistinctAddresses(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	subnet := netip.MustParsePrefix("10.77.0.0/24")
	gw := gateway(subnet)
	echoServer(t, w.host, "tcp", ":9001")

	const n = 20
	procs := make([]*stagetest.Proc, n)
	for i := range procs {
		procs[i] = w.start(t, "--rootfs", w.rootfs, "--subnet", subnet.String(), "sh", "-c",
			fmt.Sprintf("/cfs-helper call tcp %s:9001 c%d && read _; true", gw, i))
	}
	seen := map[string]int{}
	for i, p := range procs {
		line := p.NextLine(t)
		var msg, ip string
		_, err := fmt.Sscanf(line, "%s from %s", &msg, &ip)
		require.NoError(t, err, "container %d: %q", i, line)
		require.Equal(t, fmt.Sprint("c", i), msg)
		require.True(t, subnet.Contains(netip.MustParseAddr(ip)), ip)
		require.NotEqual(t, gw.String(), ip)
		if j, dup := seen[ip]; dup {
			t.Fatalf("containers %d and %d both got %s", j, i, ip)
		}
		seen[ip] = i
	}
	require.Len(t, seen, n)
	for i, p := range procs {
		p.Stdin.Close()
		r := p.Wait(t)
		require.Equal(t, 0, r.Code, "container %d: %s", i, r.Stderr)
	}
}

// Bad input fails clearly, exits non-zero and leaves nothing behind.
func TestBadNetworkInput(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-p", "70000:80"}, "host port 70000 is out of range 1-65535"},
		{[]string{"-p", "8080:0"}, "container port 0 is out of range"},
		{[]string{"-p", "abc"}, "want HOSTPORT:CTRPORT[/tcp|/udp]"},
		{[]string{"-p", "abc:80"}, `host port "abc" is not a number`},
		{[]string{"-p", "8080:80/sctp"}, `protocol "sctp": want tcp or udp`},
		{[]string{"-p", "8080:80", "-p", "8080:81"}, "already published by -p 8080:80/tcp"},
		{[]string{"--subnet", "10.0.0.5/24"}, "did you mean 10.0.0.0/24?"},
		{[]string{"--subnet", "bogus"}, "want an IPv4 network in CIDR notation"},
		{[]string{"--subnet", "10.0.0.0/31"}, "prefix length must be 8 to 30"},
		{[]string{"--subnet", "127.0.0.0/24"}, "not a unicast range"},
		{[]string{"--net", "host"}, "want bridge or none"},
		{[]string{"--net", "none", "-p", "80:80"}, "cannot be used with --net none"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := w.run(t, append(tc.args, "true")...)
			require.Equal(t, 2, r.Code, r.Stderr)
			require.Contains(t, r.Stderr, tc.msg)
			require.Contains(t, r.Stderr, "--help")
			w.requireClean(t)
		})
	}

	// The host's state refuses what the syntax allows: exit 125, as docker
	// does for a port that is taken.
	h, err := w.host.Handle()
	require.NoError(t, err)
	defer h.Close()
	up, err := h.LinkByName("uplink")
	require.NoError(t, err)
	_, route, _ := net.ParseCIDR("10.123.0.0/16")
	require.NoError(t, h.RouteAdd(&netlink.Route{LinkIndex: up.Attrs().Index, Dst: route}))
	echoServer(t, w.host, "tcp", ":18090")
	echoServer(t, w.host, "udp", ":18091")
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"tcp port in use", []string{"-p", "18090:80"}, "host port 18090/tcp is in use by a program on the host"},
		{"udp port in use", []string{"-p", "18091:53/udp"}, "host port 18091/udp is in use by a program on the host"},
		{"subnet overlaps a route", []string{"--subnet", "10.123.4.0/24"}, "--subnet 10.123.4.0/24 overlaps the host's route 10.123.0.0/16 dev uplink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := w.run(t, append(tc.args, "true")...)
			require.Equal(t, 125, r.Code, r.Stderr)
			require.Contains(t, r.Stderr, tc.msg)
			w.requireClean(t)
		})
	}

	// A host port published by a running container is taken too; the
	// refusal leaves that container's rules alone.
	a := w.start(t, "--rootfs", w.rootfs, "-p", "18092:7000", "/cfs-helper", "serve", "tcp:7000")
	a.WaitLine(t, "ready")
	r := w.run(t, "-p", "18092:80", "true")
	require.Equal(t, 125, r.Code, r.Stderr)
	require.Contains(t, r.Stderr, "host port 18092/tcp is already published by container")
	requireCall(t, w.wan, "tcp", hostWanIP+":18092", "still", "still from "+wanIP)
	// So is a different subnet while the bridge serves containers.
	r = w.run(t, "--subnet", "10.66.0.0/24", "true")
	require.Equal(t, 125, r.Code, r.Stderr)
	require.Contains(t, r.Stderr, "already serves")
	stop(t, a)
}

// A container that fails after the network was plugged in (here its root
// filesystem has a file where /proc should be mounted) exits 125 and takes
// its veth, lease, rules and bridge with it.
func TestFailureInsideCleansUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	require.NoError(t, os.RemoveAll(filepath.Join(w.rootfs, "proc")))
	require.NoError(t, os.WriteFile(filepath.Join(w.rootfs, "proc"), nil, 0o644))
	r := w.run(t, "--rootfs", w.rootfs, "-p", "18080:80", "true")
	require.Equal(t, 125, r.Code, r.Stderr)
	require.Regexp(t, `create mount point \S*/rootfs/proc`, r.Stderr)
	w.requireClean(t)
}

// The default subnet steers clear of the host's routes, and the stage
// says which routes are in the way when every candidate is taken.
func TestDefaultSubnetAvoidsHostRoutes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	h, err := w.host.Handle()
	require.NoError(t, err)
	defer h.Close()
	up, err := h.LinkByName("uplink")
	require.NoError(t, err)
	addRoute := func(cidr string) {
		_, dst, _ := net.ParseCIDR(cidr)
		require.NoError(t, h.RouteAdd(&netlink.Route{LinkIndex: up.Attrs().Index, Dst: dst}))
	}

	addRoute("172.16.0.0/12") // as a VPN or another container engine might
	r := w.run(t, "sh", "-c", "ip -o -4 addr show eth0")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, " inet "+subnetCandidates[1].Addr().Next().Next().String()+"/24 ")

	addRoute("10.0.0.0/8")
	addRoute("192.168.0.0/16")
	r = w.run(t, "true")
	require.Equal(t, 125, r.Code)
	for _, want := range []string{
		"172.29.0.0/24 overlaps route 172.16.0.0/12 dev uplink",
		"10.29.0.0/24 overlaps route 10.0.0.0/8 dev uplink",
		"192.168.229.0/24 overlaps route 192.168.0.0/16 dev uplink",
		"pass --subnet CIDR",
	} {
		require.Contains(t, r.Stderr, want)
	}
}

// A stage killed with SIGKILL cannot clean up: its lease, rules and /etc
// files stay (its container and veth die with it). The next run drops
// them, can publish the same port again, and cleans up after itself.
func TestNextRunCleansUpAfterSIGKILL(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.start(t, "--rootfs", w.rootfs, "-p", "18080:7000", "sh", "-c", "hostname; exec /cfs-helper serve tcp:7000")
	id := a.NextLine(t)
	a.WaitLine(t, "ready")
	pid := a.ContainerPID(t)
	require.NoError(t, a.Cmd.Process.Kill())
	a.Wait(t)
	stagetest.WaitGone(pid)

	left := w.leftovers(t)
	require.Contains(t, left, "nft table ip cfs")
	require.Contains(t, left, "link cfs0")
	require.Contains(t, left, "ledger "+w.ledgerPath(t))
	// (The killed container's /etc files in /run/cfs/ID may already be
	// gone: a stage that another parallel test starts sweeps them too.)

	b := w.start(t, "--rootfs", w.rootfs, "-p", "18080:7000", "/cfs-helper", "serve", "tcp:7000")
	b.WaitLine(t, "ready")
	require.NoDirExists(t, filepath.Join(stateDir, id), "the killed container's /etc files are still there")
	var l ledger
	data, err := os.ReadFile(w.ledgerPath(t))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &l))
	require.Len(t, l.Leases, 1, "the killed container's lease was not dropped")
	require.NotEqual(t, id, l.Leases[0].ID)
	requireCall(t, w.wan, "tcp", hostWanIP+":18080", "again", "again from "+wanIP)
	stop(t, b)
	// checkClean, at the end of the test, finds nothing left.
}

// Ctrl-C (SIGINT) and SIGTERM reach the command; when it exits, the stage
// removes everything it made.
func TestSignalsCleanUp(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			p := w.start(t, "-p", "18080:80", "sh", "-c", "echo ready; exec sleep 1000")
			p.WaitLine(t, "ready")
			require.NotEmpty(t, w.leftovers(t))
			require.NoError(t, p.Cmd.Process.Signal(sig))
			r := p.Wait(t)
			require.Equal(t, 128+int(sig), r.Code, r.Stderr)
			w.requireClean(t)
		})
	}
}

// --net none: a network namespace with loopback only, and nothing on the
// host.
func TestNetNone(t *testing.T) {
	stagetest.RequireRoot(t)
	before, err := stagetest.PackageNetNS().Contents()
	require.NoError(t, err)
	r := stagetest.Run(t, "", "--net", "none", "sh", "-c", "ip -o link; ip -o -4 addr; cat /etc/hosts; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo-works")
	require.Equal(t, 0, r.Code, r.Stderr)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	require.Regexp(t, `^1: lo: <LOOPBACK,UP,LOWER_UP>`, lines[0])
	require.Regexp(t, `^1: lo +inet 127\.0\.0\.1/8`, lines[1])
	require.NotContains(t, r.Stdout, "eth0")
	require.Contains(t, r.Stdout, "lo-works")
	after, err := stagetest.PackageNetNS().Contents()
	require.NoError(t, err)
	require.Equal(t, before, after, "--net none changed the network of the namespace the stage runs in")
}

// Each container sees its own /etc/hosts, /etc/hostname and
// /etc/resolv.conf; the shared root filesystem does not change, and the
// files under /run/cfs go when the container does.
func TestEtcFiles(t *testing.T) {
	stagetest.RequireRoot(t)
	root := stagetest.RootfsWithHelper(t)
	before := readFile(t, filepath.Join(root, "etc/hosts"))
	p := stagetest.Start(t, "--rootfs", root, "--hostname", "web1", "sh", "-c",
		"cat /etc/hostname; ip -o -4 addr show eth0; cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ready; read _")
	require.Equal(t, "web1", p.NextLine(t))
	addr := strings.Fields(p.NextLine(t))[3]
	ip, _, _ := strings.Cut(addr, "/")
	p.WaitLine(t, "ready")
	dirs, _ := filepath.Glob(filepath.Join(stateDir, "*", "hostname"))
	var mine string
	for _, d := range dirs {
		if data, _ := os.ReadFile(d); string(data) == "web1\n" {
			mine = filepath.Dir(d)
		}
	}
	require.NotEmpty(t, mine, "no /run/cfs/ID holds this container's hostname")
	_, _ = p.Stdin.Write([]byte("\n"))
	r := p.Wait(t)
	require.Equal(t, 0, r.Code, r.Stderr)

	hosts, resolv, _ := strings.Cut(r.Stdout, "---\n")
	require.Contains(t, hosts, "127.0.0.1\tlocalhost\n")
	require.Contains(t, hosts, ip+"\tweb1\n")
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	systemdResolv, _ := os.ReadFile("/run/systemd/resolve/resolv.conf")
	require.Equal(t, resolvConf(hostResolv, systemdResolv), strings.TrimSuffix(resolv, "ready\n"))
	require.Equal(t, before, readFile(t, filepath.Join(root, "etc/hosts")), "the shared rootfs changed")
	require.NoDirExists(t, mine)
}

// ---------------------------------------------------------------------------
// Unit tests: no root needed.

func TestParsePort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want portMap
		err  string
	}{
		{"8080:80", portMap{8080, 80, "tcp"}, ""},
		{"53:5353/udp", portMap{53, 5353, "udp"}, ""},
		{"1:65535/tcp", portMap{1, 65535, "tcp"}, ""},
		{"70000:80", portMap{}, "host port 70000 is out of range"},
		{"80", portMap{}, "want HOSTPORT:CTRPORT"},
		{":80", portMap{}, `host port "" is not a number`},
		{"80:80/icmp", portMap{}, `protocol "icmp"`},
		{"-1:80", portMap{}, "out of range"},
	} {
		got, err := parsePort(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got)
	}
}

func TestChooseSubnet(t *testing.T) {
	route := func(cidr, dev string) hostRoute { return hostRoute{netip.MustParsePrefix(cidr), dev} }
	p, err := chooseSubnet(netip.Prefix{}, []hostRoute{route("0.0.0.0/0", "eth0"), route("192.0.2.0/24", "eth0")})
	require.NoError(t, err)
	require.Equal(t, subnetCandidates[0], p, "the default route must not count as a collision")
	p, err = chooseSubnet(netip.Prefix{}, []hostRoute{route("172.29.0.128/25", "docker0")})
	require.NoError(t, err)
	require.Equal(t, subnetCandidates[1], p)
	_, err = chooseSubnet(netip.MustParsePrefix("10.1.0.0/16"), []hostRoute{route("10.1.2.0/24", "wg0")})
	require.EqualError(t, err, "--subnet 10.1.0.0/16 overlaps the host's route 10.1.2.0/24 dev wg0: pick a range the host does not use (see: ip route)")
}

func TestAllocate(t *testing.T) {
	l := &ledger{Subnet: netip.MustParsePrefix("10.9.0.0/30")} // gateway .1, one container .2
	ip, err := l.allocate("aaaaaaaaaaaa", self(), nil)
	require.NoError(t, err)
	require.Equal(t, "10.9.0.2", ip.String())
	_, err = l.allocate("bbbbbbbbbbbb", self(), nil)
	require.ErrorContains(t, err, "no free address in 10.9.0.0/30")
	l.release("aaaaaaaaaaaa")
	require.False(t, l.Subnet.IsValid(), "with no lease left, the next run chooses the subnet afresh")

	// A lease of a stage that is gone is reaped, and its address reused.
	dead := lease{ID: "deaddeaddead", IP: netip.MustParseAddr("10.9.0.2"), Owner: owner{PID: os.Getpid(), Start: 1}}
	live := lease{ID: "eeeeeeeeeeee", IP: netip.MustParseAddr("10.9.0.3"), Owner: self()}
	l.Subnet, l.Leases = netip.MustParsePrefix("10.9.0.0/24"), []lease{dead, live}
	require.Equal(t, []lease{dead}, l.reap())
	ip, err = l.allocate("cccccccccccc", self(), nil)
	require.NoError(t, err)
	require.Equal(t, "10.9.0.2", ip.String())
	ip, err = l.allocate("dddddddddddd", self(), nil)
	require.NoError(t, err)
	require.Equal(t, "10.9.0.4", ip.String())
	require.Empty(t, l.reap())
}

func TestResolvConf(t *testing.T) {
	stub := []byte("# This is /run/systemd/resolve/stub-resolv.conf\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n")
	upstream := []byte("nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch lan\n")
	require.Equal(t, "nameserver 192.0.2.53\nsearch lan\n", resolvConf(stub, upstream))
	require.Equal(t, "nameserver 198.51.100.53\n", resolvConf([]byte("nameserver 198.51.100.53\n"), upstream))
	require.Equal(t, "# cfs: the host names no name server a container can reach; using docker's defaults\n"+
		"nameserver 8.8.8.8\nnameserver 8.8.4.4\noptions edns0 trust-ad\nsearch lan\n", resolvConf(stub, nil))
}

func TestVethName(t *testing.T) {
	require.True(t, isVethName("cfs0123abcd"))
	require.False(t, isVethName("cfs0"))
	require.False(t, isVethName("cfs0123abcz"))
	require.False(t, isVethName("eth0123abcd"))
}
