package doctor

import (
	"cfs/internal/hint"
	"cfs/internal/kernel"

	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cfs/internal/stagetest"

	"github.com/google/nftables"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func resultOf(t *testing.T, results []Result, name string) Result {
	t.Helper()
	for _, r := range results {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no check named %q", name)
	return Result{}
}

// On this host, as any user, the file-reading checks agree with what the
// test reads for itself.
func TestRealHostReads(t *testing.T) {
	results := System().Checks()
	require.Len(t, results, len(checks))
	for _, r := range results {
		require.Contains(t, []Status{OK, Warn, Fail}, r.Status, r.Name)
		if r.Status != OK {
			require.NotEmpty(t, r.Fix, "%s: %s", r.Name, r.Detail)
		}
	}

	var uts unix.Utsname
	require.NoError(t, unix.Uname(&uts))
	require.Equal(t, "Linux "+unix.ByteSliceToString(uts.Release[:]), resultOf(t, results, "kernel").Detail)

	fwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	require.NoError(t, err)
	require.Equal(t, strings.TrimSpace(string(fwd)) == "1", resultOf(t, results, "ip-forward").Status == OK)

	_, dockerenv := os.Stat("/.dockerenv")
	if dockerenv == nil {
		require.Equal(t, Warn, resultOf(t, results, "container").Status)
	}

	var st unix.Statfs_t
	require.NoError(t, unix.Statfs("/sys/fs/cgroup", &st))
	cg := resultOf(t, results, "cgroups").Detail
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		require.True(t, strings.HasPrefix(cg, "cgroup v2"), cg)
	} else {
		require.NotContains(t, cg, "cgroup v2:", "/sys/fs/cgroup is not a cgroup2 mount")
	}
}

// As root, the trials run: a namespace of each kind, and a real overlay
// mount in the state directory that leaves nothing behind.
func TestRealHostTrials(t *testing.T) {
	stagetest.RequireRoot(t)
	h := System()
	before, _ := filepath.Glob(filepath.Join(h.probeDir(), ".cfs-doctor-overlay-*"))
	results := h.Checks()

	ns := resultOf(t, results, "namespaces")
	require.Equal(t, OK, ns.Status, ns.Detail)
	require.Contains(t, ns.Detail, "root can create them")

	fstype, err := hint.FSType(h.probeDir())
	require.NoError(t, err)
	if fstype != "overlay" && fstype != "9p" {
		ov := resultOf(t, results, "overlay")
		require.Equal(t, OK, ov.Status, ov.Detail)
		require.Contains(t, ov.Detail, "("+fstype+")")
	}
	after, _ := filepath.Glob(filepath.Join(h.probeDir(), ".cfs-doctor-overlay-*"))
	require.Equal(t, before, after, "the trial overlay's directory was left behind")
}

// A simulated Docker host: the state directory lies inside an overlay
// mount, where the kernel refuses another overlay's upper directory.
func TestOverlayUpperOnOverlay(t *testing.T) {
	stagetest.RequireRoot(t)
	dir := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, d), 0o755))
	}
	merged := filepath.Join(dir, "merged")
	opts := "lowerdir=" + filepath.Join(dir, "lower") + ",upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work")
	require.NoError(t, unix.Mount("overlay", merged, "overlay", 0, opts))
	t.Cleanup(func() { require.NoError(t, unix.Unmount(merged, unix.MNT_DETACH)) })
	state := filepath.Join(merged, "var/lib/cfs")
	require.NoError(t, os.MkdirAll(state, 0o755))

	h := System()
	h.StateDir = state
	r := checkOverlay(h)
	require.Equal(t, Fail, r.Status, r.Detail)
	require.Contains(t, r.Detail, state+" (overlay)")
	require.Contains(t, r.Detail, "invalid argument")
	require.Contains(t, r.Fix, "docker run -v cfs-state:"+state)
	require.True(t, r.Failed())

	entries, err := os.ReadDir(state)
	require.NoError(t, err)
	require.Empty(t, entries, "the failed trial left its directory behind")

	// A stage's failed overlay mount there gets the same cause as a hint.
	hh := hint.System()
	hh.StateDir = state
	require.Contains(t, hh.For(&kernel.Error{Op: "mount", Arg: "overlay", What: "mount overlay", Err: unix.EINVAL}), "is itself an overlay")
}

// A simulated Docker firewall: in a network namespace of the test's own, a
// table ip filter whose FORWARD chain drops by default, as Docker's
// iptables-nft leaves it. The network checks, run on a thread inside that
// namespace, see it; the host's own network is never touched.
func TestForwardDropInNetNS(t *testing.T) {
	stagetest.RequireRoot(t)
	hostBefore := checkForwardDrop(System())

	n := stagetest.NewNetNS(t, "doctor")
	inNetNS := func(check func(*Host) Result) Result {
		var r Result
		require.NoError(t, n.Do(func() error { r = check(System()); return nil }))
		return r
	}
	clean := inNetNS(checkForwardDrop)
	require.Equal(t, OK, clean.Status, clean.Detail)

	c, done, err := n.Nft()
	require.NoError(t, err)
	defer done()
	filter := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "filter"})
	drop := nftables.ChainPolicyDrop
	c.AddChain(&nftables.Chain{
		Name: "FORWARD", Table: filter, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop,
	})
	require.NoError(t, c.Flush())

	r := inNetNS(checkForwardDrop)
	require.Equal(t, Warn, r.Status, r.Detail)
	require.Contains(t, r.Detail, "policy drop in ip filter FORWARD (Docker sets this policy): stage05-net inserts accept rules for cfs0")
	if _, err := exec.LookPath("iptables"); err == nil {
		require.Contains(t, r.Fix, "sudo iptables -I FORWARD -i cfs0 -j ACCEPT")
	} else {
		require.Contains(t, r.Fix, "sudo nft insert rule ip filter FORWARD iifname cfs0 accept")
	}
	require.Contains(t, inNetNS(checkIptables).Detail, "nftables tables: ip filter")
	// br_netfilter sends frames between containers through that chain
	// too, where stage05-net's accept rules for cfs0 let them pass.
	br := inNetNS(checkBrNetfilter)
	require.Equal(t, OK, br.Status, br.Detail)

	// A chain of the bridge family is one stage05-net leaves alone.
	bridge := c.AddTable(&nftables.Table{Family: nftables.TableFamilyBridge, Name: "cfsdoctor"})
	c.AddChain(&nftables.Chain{
		Name: "forward", Table: bridge, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop,
	})
	require.NoError(t, c.Flush())
	r = inNetNS(checkForwardDrop)
	require.Equal(t, Warn, r.Status, r.Detail)
	require.Contains(t, r.Detail, "policy drop in bridge cfsdoctor forward: frames between containers on cfs0 are dropped there")
	require.Contains(t, r.Fix, `sudo nft insert rule bridge cfsdoctor forward iifname "cfs*" accept`)

	require.Equal(t, hostBefore, checkForwardDrop(System()), "the host's own firewall changed")
}

// The route dump over netlink, in a test namespace: a route of the first
// default subnet makes the subnet check move on to the second, as
// stage05-net does.
func TestSubnetTakenInNetNS(t *testing.T) {
	stagetest.RequireRoot(t)
	n := stagetest.NewNetNS(t, "doctor")
	nh, err := n.Handle()
	require.NoError(t, err)
	defer nh.Close()
	lo, err := nh.LinkByName("lo")
	require.NoError(t, err)
	_, dst, err := net.ParseCIDR("172.29.0.0/16")
	require.NoError(t, err)
	require.NoError(t, nh.RouteAdd(&netlink.Route{LinkIndex: lo.Attrs().Index, Dst: dst}))

	var r Result
	var rts []Route
	require.NoError(t, n.Do(func() error {
		r = checkSubnet(System())
		rts, err = routes()
		return err
	}))
	require.Contains(t, rts, Route{Dst: netip.MustParsePrefix("172.29.0.0/16"), Dev: "lo", Table: mainTable})
	require.Equal(t, OK, r.Status, r.Detail)
	require.Contains(t, r.Detail, "stage05-net will use 10.29.0.0/24")
	require.Contains(t, r.Detail, "172.29.0.0/24 overlaps route 172.29.0.0/16 dev lo")
}
