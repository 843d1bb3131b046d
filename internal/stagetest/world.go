package stagetest

// A little world of network namespaces for the network tests of stages 05
// and later:
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
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"cfs/internal/hostnet"
	"cfs/internal/layout"
	"cfs/internal/nft"
	"cfs/internal/nftname"

	"github.com/google/nftables"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	HostWanIP = "198.51.100.1" // the "host"'s address on its uplink
	WanIP     = "198.51.100.2" // the outside world's
)

// World is a host namespace with an uplink to a wan namespace.
type World struct {
	Host, Wan *NetNS
	Rootfs    string // a copy of the default rootfs with /cfs-helper
}

// NewWorld builds the two namespaces and the cable between them. When the
// test ends, it checks that the stage left nothing in "host".
func NewWorld(t *testing.T) *World {
	t.Helper()
	RequireRoot(t)
	w := &World{Host: NewNetNS(t, "host"), Wan: NewNetNS(t, "wan"), Rootfs: RootfsWithHelper(t)}
	h, err := w.Host.Handle()
	require.NoError(t, err)
	defer h.Close()
	wanNS, err := netns.GetFromPath(w.Wan.Path)
	require.NoError(t, err)
	defer wanNS.Close()
	la := netlink.NewLinkAttrs()
	la.Name = "uplink"
	require.NoError(t, h.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(wanNS)}))
	up, err := h.LinkByName("uplink")
	require.NoError(t, err)
	require.NoError(t, h.AddrAdd(up, mustAddr(HostWanIP+"/24")))
	require.NoError(t, h.LinkSetUp(up))
	wh, err := w.Wan.Handle()
	require.NoError(t, err)
	defer wh.Close()
	eth0, err := wh.LinkByName("eth0")
	require.NoError(t, err)
	require.NoError(t, wh.AddrAdd(eth0, mustAddr(WanIP+"/24")))
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

// Start starts the stage in the world's "host" namespace.
func (w *World) Start(t *testing.T, args ...string) *Proc {
	t.Helper()
	return StartWrapped(t, w.Host.Wrapper(), args...)
}

// Run runs the stage in "host" to completion.
func (w *World) Run(t *testing.T, args ...string) Result {
	t.Helper()
	p := w.Start(t, args...)
	p.Stdin.Close()
	return p.Wait(t)
}

// Stop ends a running stage as `docker stop` would, with SIGTERM, which
// the stage passes on; the stage then cleans up and exits.
func Stop(t *testing.T, p *Proc) Result {
	t.Helper()
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	return p.Wait(t)
}

// Route adds a route to cidr through the uplink of "host".
func (w *World) Route(t *testing.T, cidr string) {
	t.Helper()
	h, err := w.Host.Handle()
	require.NoError(t, err)
	defer h.Close()
	up, err := h.LinkByName("uplink")
	require.NoError(t, err)
	_, dst, err := net.ParseCIDR(cidr)
	require.NoError(t, err)
	require.NoError(t, h.RouteAdd(&netlink.Route{LinkIndex: up.Attrs().Index, Dst: dst}))
}

// Leftovers lists what the stage may leave in "host": links named cfs*,
// the table ip cfs, its rules in other forward chains, its ledger.
func (w *World) Leftovers(t *testing.T) []string {
	t.Helper()
	contents, err := w.Host.Contents()
	require.NoError(t, err)
	var out []string
	for _, c := range contents {
		if strings.HasPrefix(c, "link cfs") || c == "nft table ip "+layout.NftTable {
			out = append(out, c)
		}
	}
	out = append(out, w.ForwardRules(t, layout.ForwardComment)...)
	if _, err := os.Stat(w.LedgerPath(t)); err == nil {
		out = append(out, "ledger "+w.LedgerPath(t))
	}
	return out
}

// LedgerPath is the address ledger of "host".
func (w *World) LedgerPath(t *testing.T) string {
	t.Helper()
	ino, err := w.Host.Ino()
	require.NoError(t, err)
	return layout.LedgerPath(ino)
}

// RequireClean fails the test if the stage left something in "host".
func (w *World) RequireClean(t *testing.T) {
	t.Helper()
	require.Empty(t, w.Leftovers(t), "the stage left these in the test's host namespace")
}

// checkClean runs when the test ends. After a failure it only removes the
// files the namespace's end would not take with it, so that one failure
// does not show up again as a leak.
func (w *World) checkClean(t *testing.T) {
	if t.Failed() {
		_ = os.Remove(w.LedgerPath(t))
		hostnet.SweepEtc()
		return
	}
	w.RequireClean(t)
}

// ForwardRules lists the rules with the given comment in the forward base
// chains of "host" other than the stage's.
func (w *World) ForwardRules(t *testing.T, comment string) []string {
	t.Helper()
	c, done, err := w.Host.Nft()
	require.NoError(t, err)
	defer done()
	chains, err := hostnet.ForwardChains(c)
	require.NoError(t, err)
	var out []string
	for _, ch := range chains {
		rules, err := c.GetRules(ch.Table, ch)
		require.NoError(t, err)
		for _, r := range rules {
			if s := nft.Comment(r); s == comment {
				out = append(out, fmt.Sprintf("rule in %s %s: %s", nftname.Family(ch.Table.Family), ch.Name, s))
			}
		}
	}
	return out
}

// DockerForwardDrop recreates what docker does to the host's firewall
// (through iptables-nft): the table ip filter with a FORWARD chain whose
// policy is drop, entered first through the empty user chain DOCKER-USER.
func (w *World) DockerForwardDrop(t *testing.T) {
	t.Helper()
	c, done, err := w.Host.Nft()
	require.NoError(t, err)
	defer done()
	var b nft.Batch
	b.Add("add table ip filter")
	b.Add("add chain ip filter FORWARD { type filter hook forward priority filter; policy drop; }")
	b.Add("add chain ip filter DOCKER-USER")
	b.Add("add rule ip filter DOCKER-USER counter return")
	b.Add("add rule ip filter FORWARD counter jump DOCKER-USER")
	require.NoError(t, b.Run(nil, c))
}

// ForwardChainState describes docker's FORWARD chain: its policy and the
// number of rules in it.
func (w *World) ForwardChainState(t *testing.T) (policy nftables.ChainPolicy, rules int) {
	t.Helper()
	c, done, err := w.Host.Nft()
	require.NoError(t, err)
	defer done()
	filter := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "filter"}
	ch, err := c.ListChain(filter, "FORWARD")
	require.NoError(t, err)
	rs, err := c.GetRules(filter, ch)
	require.NoError(t, err)
	return *ch.Policy, len(rs)
}

// EchoServer answers each TCP line or UDP datagram with "MSG from PEER-IP",
// so the caller learns the source address the server saw.
func EchoServer(t *testing.T, ns *NetNS, proto, addr string) {
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

// CallFrom sends msg from namespace ns to addr and returns the reply line.
func CallFrom(ns *NetNS, proto, addr, msg string, timeout time.Duration) (string, error) {
	var reply string
	err := ns.Do(func() (err error) {
		reply, err = exchange(proto, addr, msg, timeout)
		return err
	})
	return reply, err
}

// callTimeout bounds a call that should be answered: a guard against a
// hang, long enough for the VM lane's slow starts (see readyTimeout).
const callTimeout = 30 * time.Second

// RequireCall calls addr from ns and requires the reply want.
func RequireCall(t *testing.T, ns *NetNS, proto, addr, msg, want string) {
	t.Helper()
	got, err := CallFrom(ns, proto, addr, msg, callTimeout)
	require.NoError(t, err, "%s %s from %s", proto, addr, ns.Name)
	require.Equal(t, want, got, "%s %s from %s", proto, addr, ns.Name)
}

// NetHelper runs the network programs of /cfs-helper inside containers,
// and reports whether args named one:
//
//	/cfs-helper serve tcp:PORT udp:PORT...   prints "ready" once listening
//	/cfs-helper call tcp|udp ADDR MSG         prints the reply
func NetHelper(args []string) (status int, ok bool) {
	switch args[0] {
	case "serve":
		return serve(args[1:]), true
	case "call":
		reply, err := exchange(args[1], args[2], args[3], callTimeout)
		if err != nil {
			fmt.Println("call:", err)
			return 1, true
		}
		fmt.Println(reply)
		return 0, true
	}
	return 0, false
}

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

func serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(callTimeout))
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

// NetlinkOf returns a netlink handle whose requests act in the network
// namespace of process pid; it is closed when the test ends.
func NetlinkOf(t *testing.T, pid int) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPid(pid)
	require.NoError(t, err)
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	require.NoError(t, err)
	t.Cleanup(h.Close)
	return h
}

// ContainerNet returns the address of eth0 in the container whose first
// process is pid, read from outside through its namespace.
func ContainerNet(t *testing.T, pid int) netip.Prefix {
	t.Helper()
	h := NetlinkOf(t, pid)
	eth0, err := h.LinkByName("eth0")
	require.NoError(t, err)
	addrs, err := hostnet.RetryDump(func() ([]netlink.Addr, error) { return h.AddrList(eth0, netlink.FAMILY_V4) })
	require.NoError(t, err)
	require.Len(t, addrs, 1)
	a, _ := netip.AddrFromSlice(addrs[0].IP.To4())
	ones, _ := addrs[0].Mask.Size()
	return netip.PrefixFrom(a, ones)
}
