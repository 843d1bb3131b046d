package stagetest

// The network tests of stages 05 and later, written once: every stage from
// 05 on runs them, unchanged, from its net_test.go (TestNetwork), against
// its own binary (the test binary acting as the stage, see Start).
//
// Each builds a little world of its own in network namespaces (World): a
// "host" where the stage runs, with an uplink to a "wan" that plays the
// outside world. Traffic goes only to these namespaces' addresses, so the
// real host's network is never touched and the tests can run in parallel.
// Run one with -run 'TestNetwork/NAME', e.g.
// -run 'TestNetwork/ConcurrentContainersGetDistinctAddresses$'.

import (
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

	"cfs/internal/hostnet"
	"cfs/internal/layout"

	"github.com/google/nftables"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

// Network runs the network tests as subtests, under their names of old
// (TestNetNone is now TestNetwork/NetNone). Those that say t.Parallel run
// together once Network returns; the others (NetNone, EtcFiles) use the
// package's network namespace and run alone, as top-level tests did.
func Network(t *testing.T) {
	t.Run("NetworkInsideAndOutside", testNetworkInsideAndOutside)
	t.Run("Networking", testNetworking)
	t.Run("ConcurrentContainersGetDistinctAddresses", testConcurrentContainersGetDistinctAddresses)
	t.Run("BadNetworkInput", testBadNetworkInput)
	t.Run("FailureInsideCleansUp", testFailureInsideCleansUp)
	t.Run("DefaultSubnetAvoidsHostRoutes", testDefaultSubnetAvoidsHostRoutes)
	t.Run("NextRunCleansUpAfterSIGKILL", testNextRunCleansUpAfterSIGKILL)
	t.Run("SignalsCleanUp", testSignalsCleanUp)
	t.Run("NetNone", testNetNone)
	t.Run("EtcFiles", testEtcFiles)
	t.Run("ClosedStderrCleansUp", testClosedStderrCleansUp)
}

// Inside, the container has only lo and eth0, with its address and a
// default route through the gateway. Outside, its network namespace is
// neither the test's nor the stage's, and the other end of its eth0 is a
// port of cfs0 in the namespace the stage runs in.
func testNetworkInsideAndOutside(t *testing.T) {
	t.Parallel()
	w := NewWorld(t)
	p := w.Start(t, "sh", "-c", "ip -o link; ip route; echo ready; read _")
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
	addr := ContainerNet(t, pid)
	gw := hostnet.Gateway(addr.Masked())
	require.Contains(t, inside, "default via "+gw.String()+" dev eth0 ")

	require.NotEqual(t, NS(t, "self", "net"), NS(t, pid, "net"))
	require.NotEqual(t, NS(t, p.Cmd.Process.Pid, "net"), NS(t, pid, "net"))

	h, err := w.Host.Handle()
	require.NoError(t, err)
	defer h.Close()
	br, err := h.LinkByName(layout.Bridge)
	require.NoError(t, err)
	require.Equal(t, "bridge", br.Type())
	brAddrs, err := hostnet.RetryDump(func() ([]netlink.Addr, error) { return h.AddrList(br, netlink.FAMILY_V4) })
	require.NoError(t, err)
	require.Len(t, brAddrs, 1)
	require.Equal(t, gw.String(), brAddrs[0].IP.String())
	links, err := hostnet.RetryDump(h.LinkList)
	require.NoError(t, err)
	var ports []netlink.Link
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			ports = append(ports, l)
		}
	}
	require.Len(t, ports, 1, "cfs0 should have exactly one port: the container's veth")
	require.Equal(t, "veth", ports[0].Type())
	require.True(t, isVeth(ports[0].Attrs().Name), ports[0].Attrs().Name)

	eth0, err := NetlinkOf(t, pid).LinkByName("eth0")
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
func testNetworking(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		dockerDrop bool
	}{{"plain host", false}, {"docker FORWARD policy drop", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			networking(t, tc.dockerDrop)
		})
	}
}

func networking(t *testing.T, dockerDrop bool) {
	w := NewWorld(t)
	if dockerDrop {
		w.DockerForwardDrop(t)
	}
	EchoServer(t, w.Host, "tcp", ":9001")      // a server on the host, for the gateway test
	EchoServer(t, w.Wan, "tcp", WanIP+":9000") // a server out in the world

	// Container A serves TCP 7000 and UDP 7001, published as 18080/18081.
	a := w.Start(t, "--rootfs", w.Rootfs, "-p", "18080:7000", "-p", "18081:7001/udp",
		"/cfs-helper", "serve", "tcp:7000", "udp:7001")
	a.WaitLine(t, "ready")
	aNet := ContainerNet(t, a.ContainerPID(t))
	aIP, gw := aNet.Addr().String(), hostnet.Gateway(aNet.Masked()).String()
	if dockerDrop {
		require.Len(t, w.ForwardRules(t, layout.ForwardComment), 2, "the accepts for cfs0 are not in docker's FORWARD chain")
	}

	// Container B calls the gateway, A (TCP and UDP) and the world.
	r := w.Run(t, "--rootfs", w.Rootfs, "sh", "-c", fmt.Sprintf(
		`ip -o -4 addr show eth0 | sed 's|.* inet \([0-9.]*\)/.*|\1|'
		/cfs-helper call tcp %s:9001 gateway
		/cfs-helper call tcp %s:7000 peer-tcp
		/cfs-helper call udp %s:7001 peer-udp
		/cfs-helper call tcp %s:9000 world`, gw, aIP, aIP, WanIP))
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
		"world from " + HostWanIP, // the world sees the host's: masquerade
	}, lines[1:])

	// Published ports: from the world, the container sees the caller's own
	// address; from the host through its uplink address, the host's; from
	// the host's localhost, the gateway (masqueraded, see net.go).
	for _, proto := range []string{"tcp", "udp"} {
		port := map[string]string{"tcp": "18080", "udp": "18081"}[proto]
		RequireCall(t, w.Wan, proto, HostWanIP+":"+port, "from-world", "from-world from "+WanIP)
		RequireCall(t, w.Host, proto, HostWanIP+":"+port, "from-host", "from-host from "+HostWanIP)
		RequireCall(t, w.Host, proto, "127.0.0.1:"+port, "from-localhost", "from-localhost from "+gw)
	}

	// Only published ports reach a container from outside: a world that
	// routes the container subnet to the host still cannot connect to A.
	wh, err := w.Wan.Handle()
	require.NoError(t, err)
	defer wh.Close()
	_, subnet, _ := net.ParseCIDR(aNet.Masked().String())
	require.NoError(t, wh.RouteAdd(&netlink.Route{Dst: subnet, Gw: net.ParseIP(HostWanIP)}))
	_, err = CallFrom(w.Wan, "tcp", aIP+":7000", "direct", time.Second)
	require.Error(t, err, "the world reached a container port that was not published")

	r = Stop(t, a)
	require.Equal(t, 128+int(syscall.SIGTERM), r.Code, r.Stderr)
	if dockerDrop {
		policy, rules := w.ForwardChainState(t)
		require.Equal(t, nftables.ChainPolicyDrop, policy)
		require.Equal(t, 1, rules, "docker's FORWARD chain should be as docker left it: one jump to DOCKER-USER")
	}
}

// Twenty containers started at once get twenty different addresses, and
// each reaches the gateway with its own. Each stays up until all have
// answered, so no address is released and handed out again in between.
func testConcurrentContainersGetDistinctAddresses(t *testing.T) {
	t.Parallel()
	w := NewWorld(t)
	subnet := netip.MustParsePrefix("10.77.0.0/24")
	gw := hostnet.Gateway(subnet)
	EchoServer(t, w.Host, "tcp", ":9001")

	const n = 20
	procs := make([]*Proc, n)
	for i := range procs {
		procs[i] = w.Start(t, "--rootfs", w.Rootfs, "--subnet", subnet.String(), "sh", "-c",
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
func testBadNetworkInput(t *testing.T) {
	t.Parallel()
	w := NewWorld(t)
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
			r := w.Run(t, append(tc.args, "true")...)
			require.Equal(t, 2, r.Code, r.Stderr)
			require.Contains(t, r.Stderr, tc.msg)
			require.Contains(t, r.Stderr, "--help")
			w.RequireClean(t)
		})
	}

	// The host's state refuses what the syntax allows: exit 125, as docker
	// does for a port that is taken.
	h, err := w.Host.Handle()
	require.NoError(t, err)
	defer h.Close()
	up, err := h.LinkByName("uplink")
	require.NoError(t, err)
	_, route, _ := net.ParseCIDR("10.123.0.0/16")
	require.NoError(t, h.RouteAdd(&netlink.Route{LinkIndex: up.Attrs().Index, Dst: route}))
	EchoServer(t, w.Host, "tcp", ":18090")
	EchoServer(t, w.Host, "udp", ":18091")
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
			r := w.Run(t, append(tc.args, "true")...)
			require.Equal(t, 125, r.Code, r.Stderr)
			require.Contains(t, r.Stderr, tc.msg)
			w.RequireClean(t)
		})
	}

	// A host port published by a running container is taken too; the
	// refusal leaves that container's rules alone.
	a := w.Start(t, "--rootfs", w.Rootfs, "-p", "18092:7000", "/cfs-helper", "serve", "tcp:7000")
	a.WaitLine(t, "ready")
	r := w.Run(t, "-p", "18092:80", "true")
	require.Equal(t, 125, r.Code, r.Stderr)
	require.Contains(t, r.Stderr, "host port 18092/tcp is already published by container")
	RequireCall(t, w.Wan, "tcp", HostWanIP+":18092", "still", "still from "+WanIP)
	// So is a different subnet while the bridge serves containers.
	r = w.Run(t, "--subnet", "10.66.0.0/24", "true")
	require.Equal(t, 125, r.Code, r.Stderr)
	require.Contains(t, r.Stderr, "already serves")
	Stop(t, a)
}

// A container that fails after the network was plugged in (here its root
// filesystem has a file where /proc should be mounted) exits 125 and takes
// its veth, lease, rules and bridge with it.
func testFailureInsideCleansUp(t *testing.T) {
	t.Parallel()
	w := NewWorld(t)
	require.NoError(t, os.RemoveAll(filepath.Join(w.Rootfs, "proc")))
	require.NoError(t, os.WriteFile(filepath.Join(w.Rootfs, "proc"), nil, 0o644))
	r := w.Run(t, "--rootfs", w.Rootfs, "-p", "18080:80", "true")
	require.Equal(t, 125, r.Code, r.Stderr)
	// Stage 08 mounts the container's root (an overlay) at .../merged.
	require.Regexp(t, `create mount point \S*/(rootfs|merged)/proc`, r.Stderr)
	w.RequireClean(t)
}

// The default subnet steers clear of the host's routes, and the stage
// says which routes are in the way when every candidate is taken.
func testDefaultSubnetAvoidsHostRoutes(t *testing.T) {
	t.Parallel()
	w := NewWorld(t)
	h, err := w.Host.Handle()
	require.NoError(t, err)
	defer h.Close()
	up, err := h.LinkByName("uplink")
	require.NoError(t, err)
	addRoute := func(cidr string) {
		_, dst, _ := net.ParseCIDR(cidr)
		require.NoError(t, h.RouteAdd(&netlink.Route{LinkIndex: up.Attrs().Index, Dst: dst}))
	}

	addRoute("172.16.0.0/12") // as a VPN or another container engine might
	r := w.Run(t, "sh", "-c", "ip -o -4 addr show eth0")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, " inet "+hostnet.SubnetCandidates[1].Addr().Next().Next().String()+"/24 ")

	addRoute("10.0.0.0/8")
	addRoute("192.168.0.0/16")
	r = w.Run(t, "true")
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
func testNextRunCleansUpAfterSIGKILL(t *testing.T) {
	t.Parallel()
	w := NewWorld(t)
	a := w.Start(t, "--rootfs", w.Rootfs, "-p", "18080:7000", "sh", "-c", "hostname; exec /cfs-helper serve tcp:7000")
	id := a.NextLine(t)
	a.WaitLine(t, "ready")
	pid := a.ContainerPID(t)
	require.NoError(t, a.Cmd.Process.Kill())
	a.Wait(t)
	WaitGone(pid)

	left := w.Leftovers(t)
	require.Contains(t, left, "nft table ip cfs")
	require.Contains(t, left, "link cfs0")
	require.Contains(t, left, "ledger "+w.LedgerPath(t))
	// (The killed container's /etc files in /run/cfs/ID may already be
	// gone: a stage that another parallel test starts sweeps them too.)

	b := w.Start(t, "--rootfs", w.Rootfs, "-p", "18080:7000", "/cfs-helper", "serve", "tcp:7000")
	b.WaitLine(t, "ready")
	require.NoDirExists(t, layout.EtcDir(id), "the killed container's /etc files are still there")
	l, err := hostnet.ReadLedger(w.LedgerPath(t))
	require.NoError(t, err)
	require.Len(t, l.Leases, 1, "the killed container's lease was not dropped")
	require.NotEqual(t, id, l.Leases[0].ID)
	RequireCall(t, w.Wan, "tcp", HostWanIP+":18080", "again", "again from "+WanIP)
	Stop(t, b)
	// checkClean, at the end of the test, finds nothing left.
}

// Ctrl-C (SIGINT) and SIGTERM reach the command; when it exits, the stage
// removes everything it made.
func testSignalsCleanUp(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			w := NewWorld(t)
			p := w.Start(t, "-p", "18080:80", "sh", "-c", "echo ready; exec sleep 1000")
			p.WaitLine(t, "ready")
			require.NotEmpty(t, w.Leftovers(t))
			require.NoError(t, p.Cmd.Process.Signal(sig))
			r := p.Wait(t)
			require.Equal(t, 128+int(sig), r.Code, r.Stderr)
			w.RequireClean(t)
		})
	}
}

// --net none: a network namespace with loopback only, and nothing on the
// host.
func testNetNone(t *testing.T) {
	RequireRoot(t)
	before, err := PackageNetNS().Contents()
	require.NoError(t, err)
	r := Run(t, "", "--net", "none", "sh", "-c", "ip -o link; ip -o -4 addr; cat /etc/hosts; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo-works")
	require.Equal(t, 0, r.Code, r.Stderr)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	require.Regexp(t, `^1: lo: <LOOPBACK,UP,LOWER_UP>`, lines[0])
	require.Regexp(t, `^1: lo +inet 127\.0\.0\.1/8`, lines[1])
	require.NotContains(t, r.Stdout, "eth0")
	require.Contains(t, r.Stdout, "lo-works")
	after, err := PackageNetNS().Contents()
	require.NoError(t, err)
	require.Equal(t, before, after, "--net none changed the network of the namespace the stage runs in")
}

// Each container sees its own /etc/hosts, /etc/hostname and
// /etc/resolv.conf; the shared root filesystem does not change, and the
// files under /run/cfs go when the container does.
func testEtcFiles(t *testing.T) {
	RequireRoot(t)
	root := RootfsWithHelper(t)
	before := ReadFile(t, filepath.Join(root, "etc/hosts"))
	p := Start(t, "--rootfs", root, "--hostname", "web1", "sh", "-c",
		"cat /etc/hostname; ip -o -4 addr show eth0; cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ready; read _")
	require.Equal(t, "web1", p.NextLine(t))
	addr := strings.Fields(p.NextLine(t))[3]
	ip, _, _ := strings.Cut(addr, "/")
	p.WaitLine(t, "ready")
	dirs, _ := filepath.Glob(filepath.Join(layout.RunDir, "*", "hostname"))
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
	require.Equal(t, hostnet.ResolvConf(hostResolv, systemdResolv), strings.TrimSuffix(resolv, "ready\n"))
	require.Equal(t, before, ReadFile(t, filepath.Join(root, "etc/hosts")), "the shared rootfs changed")
	require.NoDirExists(t, mine)
}

// isVeth reports whether name is a container's host-side veth.
func isVeth(name string) bool {
	_, ok := layout.IsVethName(name)
	return ok
}

// A reader that goes away (`--trace 2>&1 | head -3`) does not end the
// stage half-way through its set-up: its writes to the closed pipe fail
// and are dropped, the command runs, and the stage cleans up as always.
// (Killed by SIGPIPE, it used to leave cfs0, the rules and the ledger.)
func testClosedStderrCleansUp(t *testing.T) {
	t.Parallel()
	w := NewWorld(t)
	lines, code := RunStderrHead(t, w.Host.Wrapper(), 3, "--trace", "-p", "18080:80", "sh", "-c", "echo out")
	require.Len(t, lines, 3)
	require.Contains(t, lines[0], "type bridge")
	require.Equal(t, 0, code)
	w.RequireClean(t)
}
