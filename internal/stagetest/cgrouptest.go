package stagetest

// The cgroup tests of stages 07 and later, written once: each such stage
// runs them, unchanged, from its cgroup_test.go (TestCgroups), against its
// own binary (the test binary acting as the stage, see Start). Run one
// with -run 'TestCgroups/NAME', e.g. -run 'TestCgroups/CPULimit$'.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cfs/internal/cgroups"

	"github.com/stretchr/testify/require"
)

// Cgroups runs the cgroup tests as subtests, under their names of old
// (TestCPULimit is now TestCgroups/CPULimit), one after the other as
// before.
func Cgroups(t *testing.T) {
	t.Run("LimitsInsideAndOutside", testLimitsInsideAndOutside)
	t.Run("MemoryHogIsOOMKilled", testMemoryHogIsOOMKilled)
	t.Run("ForkBombStopsAtPids", testForkBombStopsAtPids)
	t.Run("CPULimit", testCPULimit)
	t.Run("BadLimits", testBadLimits)
	t.Run("NextRunRemovesAKilledRunsCgroup", testNextRunRemovesAKilledRunsCgroup)
}

// hostCgroup finds, from the host, the cgroup a process is in. The tests
// read the same limits and counters on cgroup v1 and v2 through it.
type hostCgroup struct {
	v2   bool
	dirs map[string]string // controller → directory; "" on v2
}

func cgroupOf(t *testing.T, pid int) hostCgroup {
	t.Helper()
	v2, err := cgroups.Version(cgroups.Root)
	require.NoError(t, err)
	cg := hostCgroup{v2: v2, dirs: map[string]string{}}
	mounts, err := cgroups.V1Mounts("/proc/self/mountinfo")
	require.NoError(t, err)
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	require.NoError(t, err)
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && v2 {
			cg.dirs[""] = filepath.Join(cgroups.Root, parts[2])
		}
		for _, c := range strings.Split(parts[1], ",") {
			if mnt, ok := mounts[c]; ok && !v2 && strings.Contains(" memory cpu cpuacct pids ", " "+c+" ") {
				cg.dirs[c] = filepath.Join(mnt, parts[2])
			}
		}
	}
	return cg
}

// file returns the path of a control file: the v1 name in the
// controller's hierarchy, or the v2 name in the one directory.
func (cg hostCgroup) file(controller, v1, v2 string) string {
	if cg.v2 {
		return filepath.Join(cg.dirs[""], v2)
	}
	return filepath.Join(cg.dirs[controller], v1)
}

func (cg hostCgroup) read(t *testing.T, controller, v1, v2 string) string {
	t.Helper()
	return strings.TrimSpace(ReadFile(t, cg.file(controller, v1, v2)))
}

// field returns the number after key in a "key value" file (memory.events,
// cpu.stat, memory.oom_control, pids.events).
func field(t *testing.T, content, key string) int64 {
	t.Helper()
	for _, line := range strings.Split(content, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			n, err := strconv.ParseInt(f[1], 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no %q in:\n%s", key, content)
	return 0
}

// The limits are in the host's cgroup files, the container is in that
// cgroup, and inside it sees the same limits with its cgroup at "/".
func testLimitsInsideAndOutside(t *testing.T) {
	RequireRoot(t)
	p := Start(t, "--memory", "64m", "--cpus", "0.5", "--pids", "50", "sh", "-c", `
		grep -E '^0::|memory' /proc/self/cgroup | head -1
		if [ -f /sys/fs/cgroup/memory.max ]; then
			cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; cut -d' ' -f1 /sys/fs/cgroup/cpu.max
		else
			cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu*/cpu.cfs_quota_us | head -3
		fi
		echo ready; read _`)
	own := p.NextLine(t)
	inside := []string{p.NextLine(t), p.NextLine(t), p.NextLine(t)}
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)

	cg := cgroupOf(t, pid)
	for c, dir := range cg.dirs {
		require.Contains(t, dir, "/cfs/", "controller %q: the container is not in a cfs cgroup", c)
	}
	require.Equal(t, "67108864", cg.read(t, "memory", "memory.limit_in_bytes", "memory.max"))
	require.Equal(t, "50", cg.read(t, "pids", "pids.max", "pids.max"))
	if cg.v2 {
		require.Equal(t, "50000 100000", cg.read(t, "cpu", "", "cpu.max"))
	} else {
		require.Equal(t, "50000", cg.read(t, "cpu", "cpu.cfs_quota_us", ""))
		require.Equal(t, "100000", cg.read(t, "cpu", "cpu.cfs_period_us", ""))
	}
	require.Contains(t, strings.Fields(cg.read(t, "pids", "cgroup.procs", "cgroup.procs")), strconv.Itoa(pid))

	require.Equal(t, []string{"67108864", "50", "50000"}, inside)
	require.Regexp(t, `^(0::/|\d+:memory:/)$`, own, "inside, the container's cgroup is not its root")
	require.NotEqual(t, NS(t, "self", "cgroup"), NS(t, pid, "cgroup"))

	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
	for _, dir := range cg.dirs {
		require.NoDirExists(t, dir, "the cgroup outlived the container")
	}
}

// A process that wants more memory than --memory is killed by the kernel's
// OOM killer: as the command, the stage exits 137 (128+SIGKILL); under a
// shell, the host's OOM counter for the cgroup says so.
func testMemoryHogIsOOMKilled(t *testing.T) {
	RequireRoot(t)
	root := RootfsWithHelper(t)
	r := Run(t, "", "--rootfs", root, "--memory", "32m", "/cfs-helper", "hog", "256")
	require.Equal(t, 137, r.Code, "stdout %q stderr %q", r.Stdout, r.Stderr)
	require.NotContains(t, r.Stdout, "survived")

	p := Start(t, "--rootfs", root, "--memory", "32m", "sh", "-c", "/cfs-helper hog 256; echo hog=$?; echo ready; read _")
	require.Equal(t, "hog=137", p.NextLine(t))
	p.WaitLine(t, "ready")
	cg := cgroupOf(t, p.ContainerPID(t))
	var kills int64
	if cg.v2 {
		kills = field(t, cg.read(t, "memory", "", "memory.events"), "oom_kill")
	} else {
		kills = field(t, cg.read(t, "memory", "memory.oom_control", ""), "oom_kill")
	}
	require.GreaterOrEqual(t, kills, int64(1), "the cgroup's OOM counter did not count the kill")
	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code, "the shell and the container survive the hog")
}

// A fork bomb stops at --pids: forks fail, the count stays at the limit,
// and every process of the container is gone after it exits.
func testForkBombStopsAtPids(t *testing.T) {
	RequireRoot(t)
	p := Start(t, "--pids", "20", "sh", "-c",
		"(for i in $(seq 100); do sleep 300 & done) 2>/dev/null; echo ready; read _")
	p.WaitLine(t, "ready")
	cg := cgroupOf(t, p.ContainerPID(t))

	current, err := strconv.Atoi(cg.read(t, "pids", "pids.current", "pids.current"))
	require.NoError(t, err)
	require.LessOrEqual(t, current, 20)
	require.GreaterOrEqual(t, field(t, cg.read(t, "pids", "pids.events", "pids.events"), "max"), int64(1), "no fork was refused")
	procs := strings.Fields(cg.read(t, "pids", "cgroup.procs", "cgroup.procs"))
	require.Greater(t, len(procs), 3, "the bomb did not fork at all")

	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
	for _, s := range procs {
		pid, _ := strconv.Atoi(s)
		require.Error(t, syscall.Kill(pid, 0), "process %d of the container is still alive", pid)
	}
	require.NoDirExists(t, cg.file("pids", "", ""))
}

// A busy loop on every CPU for two seconds of wall time gets about
// --cpus × 2 s of CPU time, as the cgroup's own usage counter measures,
// far below the NumCPU × 2 s it would get unlimited. The kernel enforces
// the quota at scheduler ticks, so the tolerance is wide above: under
// emulation (the qemu lane) ticks come late and the group overshoots.
func testCPULimit(t *testing.T) {
	RequireRoot(t)
	root := RootfsWithHelper(t)
	const wall = 2 * time.Second
	p := Start(t, "--rootfs", root, "--cpus", "0.25", "sh", "-c",
		fmt.Sprintf("/cfs-helper spin %d && echo ready; read _", wall.Milliseconds()))
	p.WaitLine(t, "ready")
	cg := cgroupOf(t, p.ContainerPID(t))

	var used time.Duration
	if cg.v2 {
		used = time.Duration(field(t, cg.read(t, "cpu", "", "cpu.stat"), "usage_usec")) * time.Microsecond
	} else {
		ns, err := strconv.ParseInt(cg.read(t, "cpuacct", "cpuacct.usage", ""), 10, 64)
		require.NoError(t, err)
		used = time.Duration(ns)
	}
	want := time.Duration(0.25 * float64(wall))
	unlimited := time.Duration(runtime.NumCPU()) * wall
	t.Logf("CPU time used in %v of wall time at --cpus 0.25: %v (want about %v; unlimited would be %v)", wall, used, want, unlimited)
	require.GreaterOrEqual(t, used, want/2, "the container got less than half its quota")
	require.LessOrEqual(t, used, 3*want, "CPU time %v is not about --cpus × wall", used)
	require.Greater(t, field(t, cg.read(t, "cpu", "cpu.stat", "cpu.stat"), "nr_throttled"), int64(0), "the kernel never throttled the group")

	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
}

func testBadLimits(t *testing.T) {
	RequireRoot(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--memory", "12zz"}, "not a size"},
		{[]string{"--memory", "1k"}, "below the minimum"},
		{[]string{"--cpus", "0"}, "at least 0.01"},
		{[]string{"--cpus", "1000"}, "this host has only"},
		{[]string{"--pids", "0"}, "at least 10"},
		{[]string{"--pids", "9"}, "at least 10"},
		{[]string{"--pids", "-3"}, "at least 10"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := Run(t, "", append(tc.args, "true")...)
			require.Equal(t, 2, r.Code, r.Stderr)
			require.Contains(t, r.Stderr, tc.msg)
		})
	}
}

// A stage killed with SIGKILL cannot remove its cgroup; the next run does.
func testNextRunRemovesAKilledRunsCgroup(t *testing.T) {
	RequireRoot(t)
	p := Start(t, "--pids", "30", "sh", "-c", "echo ready; read _")
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)
	cg := cgroupOf(t, pid)
	require.NoError(t, p.Cmd.Process.Kill())
	_ = p.Cmd.Wait()
	WaitGone(pid)
	for _, dir := range cg.dirs {
		require.DirExists(t, dir, "nothing was left to clean up")
	}

	r := Run(t, "", "true")
	require.Equal(t, 0, r.Code, r.Stderr)
	for _, dir := range cg.dirs {
		require.NoDirExists(t, dir, "the next run did not remove the stale cgroup")
	}
}

// hog is /cfs-helper hog MiB: allocates and touches MiB mebibytes, and
// says "survived" if the kernel let it.
func hog(arg string) int {
	n, _ := strconv.Atoi(arg)
	var keep [][]byte
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	fmt.Println("survived", len(keep))
	return 0
}

// spin is /cfs-helper spin MS: keeps every CPU busy for MS milliseconds of
// wall time.
func spin(arg string) int {
	ms, _ := strconv.Atoi(arg)
	end := time.Now().Add(time.Duration(ms) * time.Millisecond)
	done := make(chan bool)
	for i := 0; i < runtime.NumCPU(); i++ {
		go func() {
			for time.Now().Before(end) {
			}
			done <- true
		}()
	}
	for i := 0; i < runtime.NumCPU(); i++ {
		<-done
	}
	return 0
}
