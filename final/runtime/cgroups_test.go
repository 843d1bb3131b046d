package runtime_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"cfs/final/cgroups"
	"cfs/final/runtime"
	"cfs/internal/rootfs"
	"cfs/internal/stagetest"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
)

// Limits from linux.resources, read back from the host's cgroup files
// (as runc's check_cgroup_value does) and from inside; update changes
// them, from flags and from --resources on stdin.
func TestResources(t *testing.T) {
	r := newRT(t)
	limit, quota, period, shares := int64(64<<20), int64(50000), uint64(100000), uint64(512)
	b := bundle(t, []string{"sh", "-c", "echo ready; read x"}, func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
		s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period, Shares: &shares, Cpus: "0"}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: 40}
	})
	id := r.id()
	pr, pw, _ := os.Pipe()
	defer pw.Close()
	out := r.createPiped(b, id, pr)
	r.ok("start", id)
	require.Equal(t, "ready", readLine(t, out))
	pid := r.state(id).Pid
	p, _ := cgroups.Path("", id, false)
	read := func(ctrl, file string) string {
		dir := filepath.Join(cgroups.Root, p)
		if !cgroups.IsV2() {
			dir = filepath.Join(cgroups.Root, ctrl, p)
		}
		data, err := os.ReadFile(filepath.Join(dir, file))
		require.NoError(t, err)
		return strings.TrimSpace(string(data))
	}
	cg, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	require.Contains(t, string(cg), p, "the init is in its cgroup")
	if cgroups.IsV2() {
		require.Equal(t, "67108864", read("", "memory.max"))
		require.Equal(t, "50000 100000", read("", "cpu.max"))
		require.Equal(t, "20", read("", "cpu.weight"))
		require.Equal(t, "40", read("", "pids.max"))
		require.Equal(t, "0", read("", "cpuset.cpus"))
	} else {
		require.Equal(t, "67108864", read("memory", "memory.limit_in_bytes"))
		require.Equal(t, "50000", read("cpu", "cpu.cfs_quota_us"))
		require.Equal(t, "512", read("cpu", "cpu.shares"))
		require.Equal(t, "40", read("pids", "pids.max"))
		require.Equal(t, "0", read("cpuset", "cpuset.cpus"))
	}
	r.ok("update", "--memory", "128m", "--pids-limit", "50", id)
	cmd := r.cmd("update", "--resources", "-", id)
	cmd.Stdin = strings.NewReader(`{"cpu":{"quota":20000,"period":100000}}`)
	outb, err := cmd.CombinedOutput()
	require.NoError(t, err, string(outb))
	if cgroups.IsV2() {
		require.Equal(t, "134217728", read("", "memory.max"))
		require.Equal(t, "50", read("", "pids.max"))
		require.Equal(t, "20000 100000", read("", "cpu.max"))
	} else {
		require.Equal(t, "134217728", read("memory", "memory.limit_in_bytes"))
		require.Equal(t, "50", read("pids", "pids.max"))
		require.Equal(t, "20000", read("cpu", "cpu.cfs_quota_us"))
	}
	require.Equal(t, 2, r.run("update", "--memory", "lots", id).code)
	pw.Close()
	waitExit(t, pid)
	reap(pid)
}

// A container whose cgroup's parent exists but is not filled in yet: on
// cgroup v1 another create made the parent a moment ago and has not
// copied the cpuset's CPUs and memory nodes into it (20 containers at
// once hit this). The runtime fills every empty level, not only those it
// made, or the kernel refuses the init ("no space left on device").
func TestCgroupParentNotFilledYet(t *testing.T) {
	r := newRT(t)
	parent := "cfs-test-unfilled-" + strconv.Itoa(os.Getpid())
	dir := filepath.Join(cgroups.Root, parent)
	if !cgroups.IsV2() {
		dir = filepath.Join(cgroups.Root, "cpuset", parent)
	}
	require.NoError(t, os.Mkdir(dir, 0o755))
	t.Cleanup(func() {
		for _, d := range []string{"", "cpuset", "cpu", "memory", "pids", "freezer", "devices", "blkio", "cpu,cpuacct", "net_cls,net_prio", "perf_event", "hugetlb", "rdma", "misc"} {
			_ = os.Remove(filepath.Join(cgroups.Root, d, parent))
		}
	})
	if !cgroups.IsV2() {
		cpus, err := os.ReadFile(filepath.Join(dir, "cpuset.cpus"))
		require.NoError(t, err)
		require.Equal(t, "\n", string(cpus), "a new cpuset cgroup starts with no CPUs")
	}
	id := r.id()
	b := bundle(t, []string{"true"}, func(s *specs.Spec) { s.Linux.CgroupsPath = parent + "/" + id })
	res := r.run("run", "--bundle", b, id)
	require.Equal(t, 0, res.code, res.stderr)
}

// A namespace given by path is joined, not made: the container's network
// is a namespace the test made.
func TestJoinNamespace(t *testing.T) {
	r := newRT(t)
	ns := stagetest.NewNetNS(t, "join")
	b := bundle(t, []string{"readlink", "/proc/self/ns/net"}, func(s *specs.Spec) {
		for i, n := range s.Linux.Namespaces {
			if n.Type == specs.NetworkNamespace {
				s.Linux.Namespaces[i].Path = ns.Path
			}
		}
	})
	res := r.run("run", "--bundle", b, r.id())
	require.Equal(t, 0, res.code, res.stderr)
	ino, err := ns.Ino()
	require.NoError(t, err)
	require.Equal(t, "net:["+strconv.FormatUint(ino, 10)+"]\n", res.stdout)
}

// A user namespace with uid and gid maps (stage 06): root inside is an
// unprivileged uid outside, on a root filesystem that uid owns; exec
// enters it through nsenter(1).
func TestUserNamespace(t *testing.T) {
	r := newRT(t)
	_, shared := setup(t)
	dir := t.TempDir()
	// The container's root is host uid 100000: it must be able to reach
	// its root filesystem through the test's directories (made 0700).
	for d := dir; d != "/tmp" && d != "/"; d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	root := filepath.Join(dir, "rootfs")
	require.NoError(t, rootfs.CopyTree(shared, root, func(uid, gid int) (int, int) { return 100000 + uid, 100000 + gid }))
	b := bundle(t, []string{"sh", "-c", "id -u; cat /proc/self/uid_map; echo ready; read x"}, func(s *specs.Spec) {
		s.Root.Path = root
		s.Hostname = "userns"
		// `spec --rootless`'s namespaces and mounts: the host's network,
		// a namespace exec must not try to join from inside the user
		// namespace (it belongs to the host's), and /sys bound, not mounted.
		rl := runtime.RootlessSpec()
		s.Linux.Namespaces, s.Mounts = rl.Linux.Namespaces, rl.Mounts
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	})
	id := r.id()
	pr, pw, _ := os.Pipe()
	defer pw.Close()
	out := r.createPiped(b, id, pr)
	r.ok("start", id)
	require.Equal(t, "0", readLine(t, out), "root inside")
	require.Regexp(t, `^\s*0\s+100000\s+65536$`, readLine(t, out))
	require.Equal(t, "ready", readLine(t, out))
	pid := r.state(id).Pid
	require.Regexp(t, `^100000\s`, statusField(t, pid, "Uid"), "an unprivileged uid outside")
	require.NotEqual(t, stagetest.NS(t, "self", "user"), stagetest.NS(t, pid, "user"))

	// Exec enters the container's user namespace through nsenter(1):
	// root inside, the container's map and hostname, from inside; from
	// outside, the init's user and mount namespaces and the mapped uid.
	ex := r.cmd("exec", id, "sh", "-c", "id -u; cat /proc/self/uid_map /proc/sys/kernel/hostname; echo ready; read x; true")
	exIn, err := ex.StdinPipe()
	require.NoError(t, err)
	exOut, err := ex.StdoutPipe()
	require.NoError(t, err)
	var exErr strings.Builder
	ex.Stderr = &exErr
	require.NoError(t, ex.Start())
	lines := bufio.NewReader(exOut)
	line := func() string {
		l, err := lines.ReadString('\n')
		require.NoError(t, err, "exec's stderr: %s", exErr.String())
		return strings.TrimSpace(l)
	}
	require.Equal(t, "0", line(), "root inside")
	require.Regexp(t, `^0\s+100000\s+65536$`, line())
	require.Equal(t, "userns", line(), "the container's hostname")
	require.Equal(t, "ready", line())
	// The exec'd process is cfs-runc exec's child (its --pid-file is
	// written only after the process runs, so not read here).
	kids := stagetest.Children(ex.Process.Pid)
	require.Len(t, kids, 1)
	execPID := kids[0]
	require.Equal(t, stagetest.NS(t, pid, "user"), stagetest.NS(t, execPID, "user"))
	require.Equal(t, stagetest.NS(t, pid, "mnt"), stagetest.NS(t, execPID, "mnt"))
	require.Equal(t, stagetest.NS(t, pid, "pid"), stagetest.NS(t, execPID, "pid"))
	require.Equal(t, stagetest.NS(t, pid, "uts"), stagetest.NS(t, execPID, "uts"))
	// The network namespace is the init's, which is the one the runtime
	// ran in (the container has none of its own): not joined from inside,
	// where setns into it is refused. (Not compared with this test's
	// /proc/self/ns/net: that is the main thread's, which a locked
	// goroutine of another test may have left in a namespace of its own.)
	require.Equal(t, stagetest.NS(t, pid, "net"), stagetest.NS(t, execPID, "net"))
	require.Regexp(t, `^100000\s`, statusField(t, execPID, "Uid"), "the mapped uid outside")
	require.NoError(t, exIn.Close())
	require.NoError(t, ex.Wait(), exErr.String())

	// process.user is a uid inside the namespace: 1000 is 101000 outside.
	require.Equal(t, "1000\n", r.ok("exec", "--user", "1000:1000", id, "id", "-u"))

	// Without nsenter, exec fails and says what to install.
	noNsenter := r.cmd("exec", id, "true")
	noNsenter.Env = []string{"PATH=" + t.TempDir()}
	out2, err := noNsenter.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out2), "install util-linux")
	pw.Close()
	waitExit(t, pid)
	reap(pid)
}
