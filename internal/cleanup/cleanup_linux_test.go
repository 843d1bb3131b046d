package cleanup

// Privileged tests: leftovers made by hand as the stages leave them, and
// by real stages killed with SIGKILL, are removed; what is not the
// project's stays.
//
// Other runs may use this host at the same time (another package's tests,
// a student's container), so every Run here passes Options.Only: it acts
// on the resources of the test's own containers, and on the bridge and
// nft rules of the test's own network namespace, where it runs. Only a
// dry run looks at everything.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cfs/internal/cgroups"
	"cfs/internal/layout"
	"cfs/internal/stagetest"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// world is what one test makes: its network namespace, the IDs of its
// containers and the processes it started.
type world struct {
	t      *testing.T
	ns     *stagetest.NetNS
	ino    uint64
	before stagetest.State
	ids    []string
	pids   []int
	names  []string // parts of resource names that are the test's own
}

func newWorld(t *testing.T) *world {
	t.Helper()
	stagetest.RequireRoot(t)
	w := &world{t: t, before: stagetest.Snapshot(), ns: stagetest.NewNetNS(t, "host")}
	ino, err := w.ns.Ino()
	require.NoError(t, err)
	w.ino = ino
	w.names = append(w.names, w.ledger())
	// Whatever a failed test leaves of its own goes when it ends, with
	// the test's network namespace.
	t.Cleanup(func() {
		_ = w.ns.Do(func() error { _, err := Run(Options{All: true, Only: w.only}); return err })
	})
	return w
}

func (w *world) ledger() string { return filepath.Join(RunDir, fmt.Sprintf("net-%d.json", w.ino)) }

// only is the Options.Only of the test's runs.
func (w *world) only(r Resource) bool {
	if r.Container != "" {
		return slices.ContainsFunc(w.ids, func(id string) bool { return strings.HasPrefix(id, r.Container) })
	}
	switch r.Kind {
	case KindLink, KindNft:
		return true // in the test's namespace, where Run runs
	case KindCgroup:
		return true // cfs/ itself, which Run removes only when empty
	}
	for _, n := range w.names {
		if strings.Contains(r.Name, n) {
			return true
		}
	}
	return false
}

// run runs cleanup in the test's network namespace and fails the test if
// anything could not be removed.
func (w *world) run(opt Options) *Report {
	w.t.Helper()
	var out bytes.Buffer
	opt.Only, opt.Out = w.only, &out
	var rep *Report
	require.NoError(w.t, w.ns.Do(func() error {
		var err error
		rep, err = Run(opt)
		return err
	}))
	w.t.Logf("cleanup (dry-run %v, all %v):\n%s%s", opt.DryRun, opt.All, out.String(), rep.Summary())
	require.Empty(w.t, rep.Failed)
	return rep
}

// leaks lists what the package's leak check would find of the test's.
func (w *world) leaks() []string {
	w.t.Helper()
	var out []string
	for _, s := range stagetest.Snapshot().NewSince(w.before) {
		if w.mine(s) {
			out = append(out, s)
		}
	}
	return out
}

// mineOf lists the entries of a snapshot that are the test's.
func (w *world) mineOf(st stagetest.State) []string {
	var out []string
	for s := range st {
		if w.mine(s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func (w *world) mine(s string) bool {
	for _, id := range w.ids {
		if strings.Contains(s, id) {
			return true
		}
	}
	for _, n := range w.names {
		if strings.Contains(s, n) {
			return true
		}
	}
	for _, pid := range w.pids {
		if strings.HasPrefix(s, fmt.Sprintf("process %d ", pid)) {
			return true
		}
	}
	// cfs/ itself: the test's if empty, or if one of its containers is in it.
	if dir, ok := strings.CutPrefix(s, "cgroup "); ok && filepath.Base(dir) == CgroupParent {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() && slices.Contains(w.ids, e.Name()) {
				return true
			}
		}
		return !slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.IsDir() })
	}
	return false
}

// requireListed checks that a report names a resource, if it is still
// there (another run's stage may sweep a stale one meanwhile).
func requireListed(t *testing.T, rs []Resource, kind, name string, there bool) {
	t.Helper()
	if !there {
		return
	}
	require.True(t, slices.ContainsFunc(rs, func(r Resource) bool { return r.Kind == kind && r.Name == name }),
		"%s %s is not in %v", kind, name, rs)
}

func requireNotListed(t *testing.T, rs []Resource, id string) {
	t.Helper()
	for _, r := range rs {
		require.NotContains(t, r.Name+" "+r.Container, id, "%v", r)
	}
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// deadOwner returns an owner record of a process that has exited.
func deadOwner(t *testing.T) owner {
	t.Helper()
	cmd := exec.Command("true")
	require.NoError(t, cmd.Start())
	_, start, err := layout.ProcStat(cmd.Process.Pid)
	if err != nil {
		start = 1 // exited before we looked: no process starts at tick 1
	}
	require.NoError(t, cmd.Wait())
	return owner{PID: cmd.Process.Pid, Start: start}
}

// startProc starts a process named arg0 that waits to be killed (the test
// binary, which TestMain sends to sleep: a `sleep` from busybox would take
// its name for the applet to run), and kills it when the test ends; a
// goroutine reaps it as soon as it exits.
func (w *world) startProc(arg0 string) (*exec.Cmd, owner) {
	w.t.Helper()
	self, err := os.Executable()
	require.NoError(w.t, err)
	cmd := &exec.Cmd{Path: self, Args: []string{arg0}, Env: append(os.Environ(), sleepEnv+"=1")}
	require.NoError(w.t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	w.t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	w.pids = append(w.pids, cmd.Process.Pid)
	_, start, err := layout.ProcStat(cmd.Process.Pid)
	require.NoError(w.t, err)
	return cmd, owner{PID: cmd.Process.Pid, Start: start}
}

func gone(pid int, start uint64) bool {
	_, now, err := layout.ProcStat(pid)
	if err != nil || now != start {
		return true
	}
	// A killed child of the test is a zombie until its goroutine reaps it.
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := bytes.LastIndexByte(data, ')')
	return i > 0 && i+2 < len(data) && data[i+2] == 'Z'
}

// containerCgroupRoots returns where a stage would make a container's
// cgroups: the v2 root, or the v1 hierarchies of the controllers it uses.
func containerCgroupRoots(t *testing.T) []string {
	t.Helper()
	ms, err := readMountinfo()
	require.NoError(t, err)
	var out []string
	for _, m := range ms {
		switch {
		case m.FSType == "cgroup2" && m.Point == "/sys/fs/cgroup":
			return []string{m.Point}
		case m.FSType == "cgroup":
			for _, c := range strings.Split(m.SuperOpts, ",") {
				if (c == "memory" || c == "pids") && !slices.Contains(out, m.Point) {
					out = append(out, m.Point)
				}
			}
		}
	}
	require.NotEmpty(t, out, "no cgroup hierarchy found")
	return out
}

// ---------------------------------------------------------------------------
// Leftovers made by hand.

// fake is a container made by hand as a stage from 07 on would leave it.
type fake struct {
	id      string
	owner   owner
	stage   *exec.Cmd // the "stage" (a sleep), when running
	init    owner     // its cfs-init (a sleep named cfs-init)
	dir     string
	etc     string
	cgroups []string
	mounts  []string // deepest last
}

// fakeContainer makes a container's directory with a tmpfs on merged and
// one more inside it, its /etc files, its cgroups with a cfs-init in them,
// and, when running, a live stage as its owner.
func (w *world) fakeContainer(running bool) *fake {
	t := w.t
	t.Helper()
	f := &fake{id: randomHex(12)}
	w.ids = append(w.ids, f.id)
	if running {
		f.stage, f.owner = w.startProc("cfs-test-stage")
	} else {
		f.owner = deadOwner(t)
	}
	ownerJSON, _ := json.Marshal(f.owner)

	f.dir = filepath.Join(ContainersDir, f.id)
	for _, d := range []string{"upper", "work", "merged"} {
		require.NoError(t, os.MkdirAll(filepath.Join(f.dir, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "owner"), ownerJSON, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "upper", "written"), []byte("x"), 0o644))
	merged := filepath.Join(f.dir, "merged")
	require.NoError(t, unix.Mount("tmpfs", merged, "tmpfs", 0, "size=1m"))
	sub := filepath.Join(merged, "proc")
	require.NoError(t, os.Mkdir(sub, 0o755))
	require.NoError(t, unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"))
	f.mounts = []string{merged, sub}

	f.etc = filepath.Join(RunDir, f.id)
	require.NoError(t, os.MkdirAll(f.etc, 0o755))
	for name, content := range map[string]string{"owner": string(ownerJSON) + "\n", "hostname": f.id + "\n", "hosts": "127.0.0.1\tlocalhost\n", "resolv.conf": "nameserver 192.0.2.53\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(f.etc, name), []byte(content), 0o644))
	}

	_, f.init = w.startProc(InitName)
	for _, root := range containerCgroupRoots(t) {
		dir := filepath.Join(root, CgroupParent, f.id)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		f.cgroups = append(f.cgroups, dir)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(fmt.Sprint(f.init.PID)), 0))
	}
	t.Cleanup(func() { // in case the test failed before cleanup did its work
		for i := len(f.mounts) - 1; i >= 0; i-- {
			_ = unix.Unmount(f.mounts[i], unix.MNT_DETACH)
		}
		_ = os.RemoveAll(f.dir)
		_ = os.RemoveAll(f.etc)
		for _, d := range f.cgroups {
			_ = cgroups.Empty(d, killTimeout)
			_ = unix.Rmdir(d)
			_ = unix.Rmdir(filepath.Dir(d))
		}
	})
	return f
}

func (f *fake) requireGone(t *testing.T) {
	t.Helper()
	require.True(t, gone(f.init.PID, f.init.Start), "cfs-init %d of %s still runs", f.init.PID, f.id)
	require.NoDirExists(t, f.dir)
	require.NoDirExists(t, f.etc)
	for _, d := range f.cgroups {
		require.NoDirExists(t, d)
	}
	for _, m := range f.mounts {
		require.NotContains(t, readFile(t, "/proc/self/mountinfo"), " "+m+" ")
	}
}

func (f *fake) requireThere(t *testing.T) {
	t.Helper()
	require.False(t, gone(f.init.PID, f.init.Start), "cfs-init %d of %s was killed", f.init.PID, f.id)
	if f.stage != nil {
		require.False(t, gone(f.owner.PID, f.owner.Start), "the stage of %s was killed", f.id)
	}
	require.FileExists(t, filepath.Join(f.dir, "upper", "written"))
	require.FileExists(t, filepath.Join(f.etc, "hosts"))
	for _, d := range f.cgroups {
		require.DirExists(t, d)
	}
	for _, m := range f.mounts {
		require.Contains(t, readFile(t, "/proc/self/mountinfo"), " "+m+" ")
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(data)
}

// fakeNetwork makes, in the test's namespace, what stage 05 makes for
// containers on cfs0: their leases, the bridge, a veth each, the table ip
// cfs with a published port each, and its accept rules in a Docker-like
// forward chain of another table, which must stay with its own rule.
func (w *world) fakeNetwork(ctrs ...*fake) {
	t := w.t
	t.Helper()
	type port struct {
		Host  int    `json:"host"`
		Ctr   int    `json:"ctr"`
		Proto string `json:"proto"`
	}
	type lease struct {
		ID    string `json:"id"`
		IP    string `json:"ip"`
		Owner owner  `json:"owner"`
		Ports []port `json:"ports"`
	}
	var leases []lease
	for i, f := range ctrs {
		leases = append(leases, lease{ID: f.id, IP: fmt.Sprintf("172.29.0.%d", i+2), Owner: f.owner, Ports: []port{{18080 + i, 80, "tcp"}}})
	}
	data, err := json.MarshalIndent(map[string]any{"subnet": "172.29.0.0/24", "leases": leases}, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(RunDir, 0o755))
	require.NoError(t, os.WriteFile(w.ledger(), data, 0o644))
	t.Cleanup(func() { _ = os.Remove(w.ledger()) })

	h, err := w.ns.Handle()
	require.NoError(t, err)
	defer h.Close()
	la := netlink.NewLinkAttrs()
	la.Name = BridgeName
	require.NoError(t, h.LinkAdd(&netlink.Bridge{LinkAttrs: la}))
	br, err := h.LinkByName(BridgeName)
	require.NoError(t, err)
	for _, f := range ctrs {
		la := netlink.NewLinkAttrs()
		la.Name, la.MasterIndex = VethPrefix+f.id[:8], br.Attrs().Index
		require.NoError(t, h.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "p" + f.id[:8]}))
	}

	w.forwardDropChain()
	c, done, err := w.ns.Nft()
	require.NoError(t, err)
	defer done()
	tbl := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: TableName})
	published := c.AddChain(&nftables.Chain{Name: "published", Table: tbl})
	for _, f := range ctrs {
		c.AddRule(&nftables.Rule{Table: tbl, Chain: published, UserData: comment("container " + f.id), Exprs: []expr.Any{&expr.Counter{}}})
	}
	fwd := &nftables.Chain{Name: "FORWARD", Table: &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "notcfs"}}
	for _, key := range []expr.MetaKey{expr.MetaKeyOIFNAME, expr.MetaKeyIIFNAME} {
		c.InsertRule(&nftables.Rule{Table: fwd.Table, Chain: fwd, UserData: comment(ForwardComment), Exprs: []expr.Any{
			&expr.Meta{Key: key, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: append([]byte(BridgeName), 0)},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictAccept},
		}})
	}
	require.NoError(t, c.Flush())
}

func comment(s string) []byte { return userdata.AppendString(nil, userdata.TypeComment, s) }

// forwardDropChain makes the table ip notcfs with a forward chain whose
// policy is drop, as Docker's FORWARD, and one rule of its own.
func (w *world) forwardDropChain() {
	t := w.t
	t.Helper()
	c, done, err := w.ns.Nft()
	require.NoError(t, err)
	defer done()
	tbl := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "notcfs"})
	drop := nftables.ChainPolicyDrop
	fwd := c.AddChain(&nftables.Chain{Name: "FORWARD", Table: tbl, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	c.AddRule(&nftables.Rule{Table: tbl, Chain: fwd, UserData: comment("notcfs: its own"), Exprs: []expr.Any{&expr.Counter{}}})
	require.NoError(t, c.Flush())
}

// nftComments lists the comments of the rules of a chain in the test's
// namespace.
func (w *world) nftComments(table, chain string) []string {
	w.t.Helper()
	c, done, err := w.ns.Nft()
	require.NoError(w.t, err)
	defer done()
	rules, err := c.GetRules(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: table}, &nftables.Chain{Name: chain})
	require.NoError(w.t, err)
	out := []string{}
	for _, r := range rules {
		s, _ := userdata.GetString(r.UserData, userdata.TypeComment)
		out = append(out, s)
	}
	return out
}

func (w *world) links() []string { return w.contents("link ") }

func (w *world) tables() []string { return w.contents("nft table ") }

// contents lists the links or nft tables in the test's namespace.
func (w *world) contents(prefix string) []string {
	w.t.Helper()
	contents, err := w.ns.Contents()
	require.NoError(w.t, err)
	var out []string
	for _, s := range contents {
		if l, ok := strings.CutPrefix(s, prefix); ok {
			out = append(out, l)
		}
	}
	return out
}

func (w *world) leaseIDs() []string {
	data, err := os.ReadFile(w.ledger())
	if err != nil {
		return nil
	}
	var l struct{ Leases []lease }
	require.NoError(w.t, json.Unmarshal(data, &l))
	var ids []string
	for _, ls := range l.Leases {
		ids = append(ids, ls.ID)
	}
	return ids
}

// notProject makes one of each kind of resource that is not the project's
// but sits where the project's do, or is named like them: Run must leave
// them all. They are removed when the test ends.
type notProject struct {
	owner   *exec.Cmd
	mount   string
	cgroups []string
	dirs    []string
	links   []string
}

func (w *world) notProject() *notProject {
	t := w.t
	t.Helper()
	n := &notProject{}
	suffix := randomHex(6)

	n.mount = filepath.Join(t.TempDir(), "mnt")
	require.NoError(t, os.Mkdir(n.mount, 0o755))
	require.NoError(t, unix.Mount("tmpfs", n.mount, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { _ = unix.Unmount(n.mount, unix.MNT_DETACH) })

	// A dummy link, and one named like a veth of the project's (a bridge
	// where the kernel has no dummy driver).
	h, err := w.ns.Handle()
	require.NoError(t, err)
	defer h.Close()
	for _, name := range []string{"keepme0", VethPrefix + randomHex(8)} {
		la := netlink.NewLinkAttrs()
		la.Name = name
		if err := h.LinkAdd(&netlink.Dummy{LinkAttrs: la}); err != nil {
			t.Logf("no dummy link (%v): %s is a bridge", err, name)
			require.NoError(t, h.LinkAdd(&netlink.Bridge{LinkAttrs: la}))
		}
		n.links = append(n.links, name)
	}
	slices.Sort(n.links)

	ms, err := readMountinfo()
	require.NoError(t, err)
	for _, root := range cgroupRoots(ms) {
		dir := filepath.Join(root, "notcfs-"+suffix)
		if os.Mkdir(dir, 0o755) == nil {
			n.cgroups = append(n.cgroups, dir)
		}
	}
	require.NotEmpty(t, n.cgroups)
	t.Cleanup(func() {
		for _, d := range n.cgroups {
			_ = unix.Rmdir(d)
		}
	})

	// Directories like a container's, with an owner, whose names are not
	// container IDs. (The owner runs, or a stage's own sweep, which is
	// less strict, would remove them; had --all taken them for the
	// project's, it would kill the owner.)
	var o owner
	n.owner, o = w.startProc("keepme-owner")
	ownerJSON, _ := json.Marshal(o)
	for _, d := range []string{filepath.Join(ContainersDir, "keepme-"+suffix), filepath.Join(RunDir, "keepme-"+suffix)} {
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, "owner"), ownerJSON, 0o644))
		n.dirs = append(n.dirs, d)
	}
	t.Cleanup(func() {
		for _, d := range n.dirs {
			_ = os.RemoveAll(d)
		}
	})
	return n
}

func (n *notProject) requireThere(t *testing.T, w *world) {
	t.Helper()
	require.Contains(t, readFile(t, "/proc/self/mountinfo"), " "+n.mount+" ")
	for _, d := range append(slices.Clone(n.cgroups), n.dirs...) {
		require.DirExists(t, d)
	}
	for _, l := range n.links {
		require.Contains(t, w.links(), l)
	}
	require.Contains(t, w.nftComments("notcfs", "FORWARD"), "notcfs: its own", "the table ip notcfs or its own rule went")
	_, start, err := layout.ProcStat(n.owner.Process.Pid)
	require.NoError(t, err)
	require.False(t, gone(n.owner.Process.Pid, start), "the owner of %v was killed", n.dirs)
}

// staleNetns makes two named network namespaces of the kind Run removes:
// a test's whose test is gone, and another cfs* one with no process in it.
func (w *world) staleNetns() []string {
	t := w.t
	t.Helper()
	suffix := randomHex(6)
	names := []string{fmt.Sprintf("cfs-test-%d-1-gone%s", deadOwner(t).PID, suffix), "cfs-demo-" + suffix}
	require.NoError(t, os.MkdirAll(NetnsDir, 0o755))
	for _, name := range names {
		// A child process makes the namespace and the name is a bind
		// mount of it, as `ip netns add` does; the child is gone
		// afterwards. (Not from a thread of this process, which Go may
		// keep alive, and with it the namespace in use. Nor with ip(8),
		// which may turn /run/netns into a mount of its own.)
		self, err := os.Executable()
		require.NoError(t, err)
		child := &exec.Cmd{Path: self, Args: []string{"netns-holder"}, Env: append(os.Environ(), sleepEnv+"=1"),
			SysProcAttr: &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET}}
		require.NoError(t, child.Start())
		path := filepath.Join(NetnsDir, name)
		require.NoError(t, os.WriteFile(path, nil, 0o444))
		err = unix.Mount(fmt.Sprintf("/proc/%d/ns/net", child.Process.Pid), path, "", unix.MS_BIND, "")
		_ = child.Process.Kill()
		_ = child.Wait()
		require.NoError(t, err)
		w.names = append(w.names, name)
		t.Cleanup(func() { _ = netns.DeleteNamed(name) })
	}
	return names
}

// staleTemporaries makes what a killed root filesystem build and a killed
// doctor leave in /var/lib/cfs.
func (w *world) staleTemporaries() []string {
	t := w.t
	t.Helper()
	suffix := randomHex(8)
	var dirs []string
	for _, name := range []string{rootfsBuildPrefix + suffix, doctorTrialPrefix + suffix} {
		d := filepath.Join(StateDir, name)
		require.NoError(t, os.MkdirAll(filepath.Join(d, "upper"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, "upper", "file"), []byte("x"), 0o644))
		old := time.Now().Add(-time.Hour)
		require.NoError(t, os.Chtimes(d, old, old))
		dirs = append(dirs, d)
		w.names = append(w.names, name)
		t.Cleanup(func() { _ = os.RemoveAll(d) })
	}
	return dirs
}

func TestLeftoversGoAndNothingElse(t *testing.T) {
	w := newWorld(t)
	keep := w.notProject()
	stale := w.fakeContainer(false)
	running := w.fakeContainer(true)
	w.fakeNetwork(stale, running)
	staleNetns := w.staleNetns()
	temporaries := w.staleTemporaries()

	// A dry run lists what goes and changes nothing. (A stage that
	// another run starts meanwhile may sweep the stale container's
	// directories and cgroups itself, as stages do: those are checked only
	// while they are there. Its mounts, veth, lease and the namespaces no
	// stage touches.)
	before := w.mineOf(stagetest.Snapshot())
	rep := w.run(Options{DryRun: true})
	require.Subset(t, before, w.mineOf(stagetest.Snapshot()), "a dry run made something")
	running.requireThere(t)
	for _, r := range []struct {
		kind, name string
		there      bool
	}{
		{KindProcess, fmt.Sprint(stale.init.PID), !gone(stale.init.PID, stale.init.Start)},
		{KindMount, stale.mounts[0], true},
		{KindMount, stale.mounts[1], true},
		{KindState, stale.dir, exists(stale.dir)},
		{KindState, stale.etc, exists(stale.etc)},
		{KindLink, VethPrefix + stale.id[:8], true},
		{KindLease, "172.29.0.2 in " + w.ledger(), true},
		{KindNetns, filepath.Join(NetnsDir, staleNetns[0]), true},
		{KindNetns, filepath.Join(NetnsDir, staleNetns[1]), true},
		{KindState, temporaries[0], true},
		{KindState, temporaries[1], true},
	} {
		requireListed(t, rep.Removed, r.kind, r.name, r.there)
	}
	for _, d := range stale.cgroups {
		requireListed(t, rep.Removed, KindCgroup, d, exists(d))
	}
	mountinfo := readFile(t, "/proc/self/mountinfo")
	for _, m := range stale.mounts {
		require.Contains(t, mountinfo, " "+m+" ", "the dry run unmounted %s", m)
	}
	require.Contains(t, w.links(), VethPrefix+stale.id[:8], "the dry run removed a veth")
	require.ElementsMatch(t, []string{stale.id, running.id}, w.leaseIDs(), "the dry run changed the ledger")
	for _, n := range staleNetns {
		require.FileExists(t, filepath.Join(NetnsDir, n), "the dry run removed a namespace")
	}
	for _, d := range temporaries {
		require.DirExists(t, d, "the dry run removed a directory")
	}
	requireNotListed(t, rep.Removed, running.id)
	requireListed(t, rep.Kept, KindContainer, running.id, true)
	// The unrestricted dry run lists nothing of what is not the project's.
	var out bytes.Buffer
	require.NoError(t, w.ns.Do(func() error { _, err := Run(Options{DryRun: true, Out: &out}); return err }))
	for _, s := range append(append([]string{keep.mount, "keepme", "table ip notcfs"}, keep.links...), keep.cgroups...) {
		require.NotContains(t, out.String(), s)
	}

	// Without --all: the stale container goes, with its veth, lease and
	// published port; the running one keeps its own, and the bridge and
	// table it uses.
	w.run(Options{})
	stale.requireGone(t)
	running.requireThere(t)
	keep.requireThere(t, w)
	for _, n := range staleNetns {
		require.NoFileExists(t, filepath.Join(NetnsDir, n))
	}
	for _, d := range temporaries {
		require.NoDirExists(t, d)
	}
	require.Equal(t, []string{BridgeName, VethPrefix + running.id[:8], "p" + running.id[:8]}, without(w.links(), keep.links))
	require.Equal(t, []string{running.id}, w.leaseIDs())
	require.Equal(t, []string{"container " + running.id}, w.nftComments(TableName, "published"))
	require.Equal(t, []string{ForwardComment, ForwardComment, "notcfs: its own"}, w.nftComments("notcfs", "FORWARD"))

	// --all, dry: the running container's stage and cfs-init would go.
	rep = w.run(Options{DryRun: true, All: true})
	requireListed(t, rep.Removed, KindProcess, fmt.Sprint(running.owner.PID), true)
	requireListed(t, rep.Removed, KindProcess, fmt.Sprint(running.init.PID), true)
	requireListed(t, rep.Removed, KindLink, BridgeName, true)
	requireListed(t, rep.Removed, KindNft, "table ip "+TableName, true)
	running.requireThere(t)

	// --all: everything goes, the bridge and the rules for it too.
	w.run(Options{All: true})
	running.requireGone(t)
	require.True(t, gone(running.owner.PID, running.owner.Start), "the running container's stage was not killed")
	keep.requireThere(t, w)
	require.Empty(t, without(w.links(), keep.links))
	require.NoFileExists(t, w.ledger())
	require.Equal(t, []string{"ip notcfs"}, w.tables())
	require.Equal(t, []string{"notcfs: its own"}, w.nftComments("notcfs", "FORWARD"))
	require.Empty(t, w.leaks())

	// A second run finds nothing of the test's.
	rep = w.run(Options{All: true})
	require.Empty(t, rep.Removed)
}

func without(all, drop []string) []string {
	out := []string{}
	for _, s := range all {
		if !slices.Contains(drop, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// ---------------------------------------------------------------------------
// Real stages, killed.

var stageBuild struct {
	once sync.Once
	dir  string
	err  error
}

// stageBinaries builds the stages the test runs (as the user who ran sudo,
// like stagetest.GoCommand).
func stageBinaries(t *testing.T) string {
	t.Helper()
	goTool, err := stagetest.GoTool()
	if err != nil {
		t.Fatalf("building the stages needs the go toolchain: %v", err)
	}
	stageBuild.once.Do(func() {
		root, err := filepath.Abs("../..")
		if err != nil {
			stageBuild.err = err
			return
		}
		if stageBuild.dir, stageBuild.err = os.MkdirTemp("", "cfs-cleanup-stages-"); stageBuild.err != nil {
			return
		}
		// go builds as the user who ran sudo (stagetest.GoCommand).
		inv := stagetest.SudoInvoker()
		if inv != nil {
			_ = os.Chmod(stageBuild.dir, 0o755)
			_ = os.Chown(stageBuild.dir, inv.Uid, inv.Gid)
		}
		cmd := exec.Command(goTool, "build", "-o", stageBuild.dir+"/", "./stage05-net", "./stage07-cgroups", "./stage08-layers")
		cmd.Env = stagetest.GoEnv(goTool, inv)
		if inv != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: inv.Credential()}
		}
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			stageBuild.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, stageBuild.err)
	return stageBuild.dir
}

func removeStageBinaries() {
	if stageBuild.dir != "" {
		os.RemoveAll(stageBuild.dir)
	}
}

// stage is a stage process the test started, with its container running
// `sleep`.
type stage struct {
	cmd    *exec.Cmd
	id     string
	init   owner
	stderr bytes.Buffer
	done   chan struct{}
}

// startStage starts a stage binary, in the test's network namespace when
// inNetns, and waits until its container runs.
func (w *world) startStage(bin string, inNetns bool, args ...string) *stage {
	t := w.t
	t.Helper()
	argv := []string{bin}
	if inNetns {
		argv = append(w.ns.Wrapper(), bin)
	}
	argv = append(append(argv, args...), "sh", "-c", "echo ready; exec sleep 1000")
	s := &stage{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	s.cmd.Stderr = &s.stderr
	out, err := s.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, s.cmd.Start())
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		stagetest.WaitGone(s.init.PID)
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if sc.Text() == "ready" && !found {
				found = true
				ready <- true
			}
		}
		if !found {
			ready <- false
		}
	}()
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	select {
	case ok := <-ready:
		require.True(t, ok, "%s ended before its container ran; stderr:\n%s", filepath.Base(bin), s.stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("%s: no container after a minute", filepath.Base(bin))
	}

	// The stage writes its owner file in /run/cfs/ID before the container
	// starts: that is how to learn the ID.
	owners, _ := filepath.Glob(filepath.Join(RunDir, "*", "owner"))
	for _, p := range owners {
		if o, ok := readOwner(p); ok && o.PID == s.cmd.Process.Pid {
			s.id = filepath.Base(filepath.Dir(p))
		}
	}
	require.True(t, IsID(s.id), "no owner file of stage %d in %s", s.cmd.Process.Pid, RunDir)
	kids := stagetest.Children(s.cmd.Process.Pid)
	require.Len(t, kids, 1)
	_, start, err := layout.ProcStat(kids[0])
	require.NoError(t, err)
	s.init = owner{PID: kids[0], Start: start}
	w.ids = append(w.ids, s.id)
	w.pids = append(w.pids, s.cmd.Process.Pid, kids[0])
	return s
}

// kill kills the stage with SIGKILL, as `kill -9` does: the kernel kills
// its container (Pdeathsig), and what the stage made on the host stays.
func (s *stage) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Kill())
	<-s.done
	stagetest.WaitGone(s.init.PID)
}

func (s *stage) running() bool {
	select {
	case <-s.done:
		return false
	default:
		return !gone(s.init.PID, s.init.Start)
	}
}

// leftovers lists the paths a container of id leaves outside the network.
func leftovers(id string) []string {
	var out []string
	for _, p := range []string{filepath.Join(RunDir, id), filepath.Join(ContainersDir, id)} {
		if exists(p) {
			out = append(out, p)
		}
	}
	for _, pattern := range []string{"/sys/fs/cgroup/" + CgroupParent + "/" + id, "/sys/fs/cgroup/*/" + CgroupParent + "/" + id} {
		m, _ := filepath.Glob(pattern)
		out = append(out, m...)
	}
	return out
}

func TestKilledStagesLeaveNothingAfterCleanup(t *testing.T) {
	stagetest.RequireRoot(t)
	bins := stageBinaries(t)
	w := newWorld(t)
	keep := w.notProject()
	w.forwardDropChain() // stage 05 puts its accept rules in it

	// Stage 05 in the test's network namespace (cfs0, veths, ip cfs, its
	// rules in ip notcfs FORWARD); 07 and 08 with --net none on the
	// host's, which they do not touch. One of each 05 and 08 keeps
	// running.
	net5 := w.startStage(filepath.Join(bins, "stage05-net"), true, "-p", "18080:80")
	run5 := w.startStage(filepath.Join(bins, "stage05-net"), true, "-p", "18081:80")
	cg7 := w.startStage(filepath.Join(bins, "stage07-cgroups"), false, "--net", "none", "--pids", "50")
	ly8 := w.startStage(filepath.Join(bins, "stage08-layers"), false, "--net", "none")
	run8 := w.startStage(filepath.Join(bins, "stage08-layers"), false, "--net", "none", "--memory", "64m")
	require.ElementsMatch(t, []string{net5.id, run5.id}, w.leaseIDs())

	killed := []*stage{net5, cg7, ly8}
	var left []string
	for _, s := range killed {
		s.kill(t)
		left = append(left, leftovers(s.id)...)
	}
	require.NotEmpty(t, left, "the killed stages left nothing to clean up")
	t.Logf("the killed stages left: %v", left)

	rep := w.run(Options{DryRun: true})
	for _, p := range left {
		kind := KindState
		if strings.HasPrefix(p, "/sys/") {
			kind = KindCgroup
		}
		requireListed(t, rep.Removed, kind, p, exists(p))
	}
	requireNotListed(t, rep.Removed, run5.id)
	requireNotListed(t, rep.Removed, run8.id)

	// Without --all: the killed ones' leftovers go; the running ones stay,
	// and so do cfs0 and the table that run5 uses.
	rep = w.run(Options{})
	for _, s := range killed {
		require.Empty(t, leftovers(s.id), "left by %s", s.id)
	}
	require.Equal(t, []string{run5.id}, w.leaseIDs())
	require.Equal(t, []string{"container " + run5.id}, w.nftComments(TableName, "published"))
	require.Contains(t, w.links(), BridgeName)
	for _, s := range []*stage{run5, run8} {
		require.True(t, s.running(), "running container %s was stopped", s.id)
		require.NotEmpty(t, leftovers(s.id))
		requireListed(t, rep.Kept, KindContainer, s.id, true)
	}
	keep.requireThere(t, w)

	// --all: the running ones are killed and removed too.
	w.run(Options{All: true})
	for _, s := range []*stage{run5, run8} {
		require.Eventually(t, func() bool { return !s.running() }, 10*time.Second, 10*time.Millisecond, "%s still runs", s.id)
		require.Empty(t, leftovers(s.id))
	}
	require.Empty(t, without(w.links(), keep.links))
	require.NoFileExists(t, w.ledger())
	require.Equal(t, []string{"ip notcfs"}, w.tables())
	require.Equal(t, []string{"notcfs: its own"}, w.nftComments("notcfs", "FORWARD"))
	keep.requireThere(t, w)
	require.Empty(t, w.leaks())
}

// A pull killed half-way leaves its work directory in the image store's
// tmp/, with its owner record: cleanup removes it once the owner is
// gone, and leaves a running pull's alone.
func TestKilledImageCommandsWork(t *testing.T) {
	stagetest.RequireRoot(t)
	require.NoError(t, os.MkdirAll(ImagesTmpDir, 0o700))
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	_, start, _ := layout.ProcStat(os.Getpid())
	stale := filepath.Join(ImagesTmpDir, "test-"+randomHex(8))
	live := filepath.Join(ImagesTmpDir, "test-"+randomHex(8))
	for dir, owner := range map[string]layout.Owner{stale: {PID: dead.Process.Pid, Start: start}, live: layout.Self()} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "layer-x", "diff"), 0o755))
		data, err := json.Marshal(owner)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "owner"), data, 0o644))
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
	}
	mine := func(r Resource) bool { return r.Name == stale || r.Name == live }
	var out bytes.Buffer
	rep, err := Run(Options{Only: mine, Out: &out})
	require.NoError(t, err)
	require.NoDirExists(t, stale, out.String())
	require.DirExists(t, live, "a command at work keeps its directory")
	require.Contains(t, out.String(), "removed state "+stale+" (an image command's work, left when it was killed)")
	require.Empty(t, rep.Failed)
}

// A create killed between giving its name and moving its work into place
// leaves a name that points at no container: cleanup removes it, and
// leaves the names of a container and of a create at work.
func TestKilledCreateLeavesNoName(t *testing.T) {
	stagetest.RequireRoot(t)
	names := filepath.Join(layout.EngineDir, "names")
	require.NoError(t, os.MkdirAll(names, 0o700))
	at := func(sub string) string { return filepath.Join(layout.EngineDir, sub) }
	stale, working, made := randomHex(64), randomHex(64), randomHex(64)
	require.NoError(t, os.MkdirAll(filepath.Join(at("tmp"), working), 0o700))
	require.NoError(t, os.MkdirAll(filepath.Join(at("containers"), made), 0o700))
	lock, err := os.Open(filepath.Join(at("tmp"), working))
	require.NoError(t, err)
	require.NoError(t, unix.Flock(int(lock.Fd()), unix.LOCK_EX)) // a create at work holds it
	link := map[string]string{}
	for _, id := range []string{stale, working, made} {
		link[id] = filepath.Join(names, "test-"+id[:12])
		require.NoError(t, os.Symlink(id, link[id]))
	}
	t.Cleanup(func() {
		lock.Close()
		for _, id := range []string{stale, working, made} {
			_ = os.Remove(link[id])
			_ = os.RemoveAll(filepath.Join(at("tmp"), id))
			_ = os.RemoveAll(filepath.Join(at("containers"), id))
		}
	})
	mine := func(r Resource) bool { return strings.HasPrefix(filepath.Base(r.Name), "test-") }
	var out bytes.Buffer
	rep, err := Run(Options{Only: mine, Out: &out})
	require.NoError(t, err)
	_, err = os.Lstat(link[stale])
	require.ErrorIs(t, err, os.ErrNotExist, out.String())
	require.Contains(t, out.String(), "removed state "+link[stale]+" (the name of a container never made)")
	for _, id := range []string{working, made} {
		_, err := os.Lstat(link[id])
		require.NoError(t, err, "the name of %s stays", id)
	}
	require.Empty(t, rep.Failed)
}

// The anonymous volumes of a --rm container whose monitor was killed, and
// of a create killed half-way, go with them, unless another container
// mounts one; a volume directory without its record goes; a volume with
// its record that no gone container made stays (the user's data).
func TestEngineVolumesGoWithTheirContainers(t *testing.T) {
	stagetest.RequireRoot(t)
	at := func(parts ...string) string { return filepath.Join(append([]string{layout.EngineDir}, parts...)...) }
	for _, d := range []string{"containers", "tmp", "volumes"} {
		require.NoError(t, os.MkdirAll(at(d), 0o700))
	}
	if !exists(at("engine.lock")) {
		require.NoError(t, os.WriteFile(at("engine.lock"), nil, 0o600))
		t.Cleanup(func() { _ = os.Remove(at("engine.lock")) })
	}
	stale, stopped, killed := randomHex(64), randomHex(64), randomHex(64)
	vol := func(what string) string { return "test-" + what + "-" + randomHex(8) }
	anon, shared, ofCreate, cutShort, named := vol("anon"), vol("shared"), vol("create"), vol("cut"), vol("named")
	record := func(dir string, r map[string]any) {
		require.NoError(t, os.MkdirAll(dir, 0o700))
		data, err := json.Marshal(r)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "container.json"), data, 0o600))
	}
	record(at("containers", stale), map[string]any{"id": stale, "name": "test-" + stale[:12],
		"state":      map[string]any{"status": "running", "monitor": deadOwner(t)},
		"hostConfig": map[string]any{"AutoRemove": true}, "volumes": map[string]string{"/a": anon, "/s": shared}})
	record(at("containers", stopped), map[string]any{"id": stopped, "name": "test-" + stopped[:12],
		"state": map[string]any{"status": "exited"}, "hostConfig": map[string]any{"Binds": []string{shared + ":/s:ro"}}})
	record(at("tmp", killed), map[string]any{"id": killed, "volumes": map[string]string{"/c": ofCreate}})
	for _, v := range []string{anon, shared, ofCreate, cutShort, named} {
		require.NoError(t, os.MkdirAll(at("volumes", v, "_data"), 0o755))
		if v != cutShort {
			require.NoError(t, os.WriteFile(at("volumes", v, "volume.json"), []byte(`{"name":"`+v+`"}`), 0o600))
		}
	}
	t.Cleanup(func() {
		for _, p := range []string{at("containers", stale), at("containers", stopped), at("tmp", killed)} {
			_ = os.RemoveAll(p)
		}
		for _, v := range []string{anon, shared, ofCreate, cutShort, named} {
			_ = os.RemoveAll(at("volumes", v))
		}
	})
	mine := func(r Resource) bool {
		return slices.Contains([]string{stale, killed}, r.Container) || strings.Contains(r.Name, "/test-") ||
			strings.Contains(r.Name, stale) || strings.Contains(r.Name, killed)
	}
	for _, dry := range []bool{true, false} {
		var out bytes.Buffer
		rep, err := Run(Options{Only: mine, Out: &out, DryRun: dry})
		require.NoError(t, err)
		require.Empty(t, rep.Failed)
		for _, gone := range []string{anon, ofCreate, cutShort} {
			require.Contains(t, out.String(), at("volumes", gone), "dry run %v", dry)
			require.Equal(t, dry, exists(at("volumes", gone)), out.String())
		}
		for _, stays := range []string{shared, named} {
			require.NotContains(t, out.String(), at("volumes", stays))
			require.True(t, exists(at("volumes", stays)), out.String())
		}
		require.Equal(t, dry, exists(at("containers", stale)), out.String())
		require.Equal(t, dry, exists(at("tmp", killed)), out.String())
	}
}
