package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if stagetest.IsStage() {
		main()
		return
	}
	if stagetest.IsHelper() {
		os.Exit(helper(os.Args[1:]))
	}
	// NetNS: every stage these tests start runs in a network namespace
	// made for the package, so cfs0, veths and nft rules never touch the
	// host's own network. The network tests (net_test.go) build worlds of
	// their own.
	os.Exit(stagetest.Main(m, stagetest.Options{Rootfs: true, NetNS: true}))
}

func TestHostnameInside(t *testing.T) {
	stagetest.RequireRoot(t)
	hostBefore, err := os.Hostname()
	require.NoError(t, err)

	r := stagetest.Run(t, "", "--hostname", "box1", "hostname")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "box1\n", r.Stdout)

	hostAfter, err := os.Hostname()
	require.NoError(t, err)
	require.Equal(t, hostBefore, hostAfter, "the host's hostname changed")
}

func TestDefaultHostnameIsAnID(t *testing.T) {
	stagetest.RequireRoot(t)
	r := stagetest.Run(t, "", "hostname")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{12}\n$`), r.Stdout)
	r2 := stagetest.Run(t, "", "hostname")
	require.NotEqual(t, r.Stdout, r2.Stdout, "two containers got the same generated name")
}

// From outside, all the container's namespaces, its user namespace too,
// differ from ours, and its user namespace owns the others; from inside,
// the container names the same UTS namespace the host sees.
func TestNamespacesInsideAndOutside(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.Start(t, "--hostname", "box2", "sh", "-c",
		"readlink /proc/self/ns/uts; echo ready; read _")
	inside := p.NextLine(t)
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)

	outside := stagetest.NS(t, pid, "uts")
	require.Equal(t, outside, inside)
	for _, kind := range []string{"user", "uts", "pid", "mnt", "ipc", "net"} {
		require.NotEqual(t, stagetest.NS(t, "self", kind), stagetest.NS(t, pid, kind), "container shares the host's %s namespace", kind)
	}
	// The stage itself runs in the tests' network namespace; the container
	// has one of its own.
	require.NotEqual(t, stagetest.NS(t, p.Cmd.Process.Pid, "net"), stagetest.NS(t, pid, "net"))
	// Every other namespace of the container belongs to its user
	// namespace: the kernel reports the owner of a namespace with the
	// NS_GET_USERNS ioctl.
	for _, kind := range []string{"uts", "pid", "mnt", "ipc", "net"} {
		require.Equal(t, stagetest.NS(t, pid, "user"), stagetest.OwnerUserNS(t, pid, kind), "the container's %s namespace is not owned by its user namespace", kind)
	}

	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
}

// Inside, the stage's init is PID 1 and the command is its child. Outside,
// the same processes have ordinary host PIDs, and the kernel lists both
// numbers of each in NSpid. (The command is not PID 2: the Go runtime's
// threads of PID 1 took the numbers in between.)
func TestPIDOneInsideOrdinaryPIDOutside(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.Start(t, "sh", "-c", "echo $PPID; echo $$; echo ready; read _")
	require.Equal(t, "1", p.NextLine(t), "the command's parent is not PID 1")
	commandInside := p.NextLine(t)
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)
	require.NotEqual(t, 1, pid)
	require.Equal(t, []string{strconv.Itoa(pid), "1"}, nspid(t, pid))
	require.NotEqual(t, stagetest.NS(t, "self", "pid"), stagetest.NS(t, pid, "pid"))

	kids := stagetest.Children(pid)
	require.Len(t, kids, 1)
	require.Equal(t, []string{strconv.Itoa(kids[0]), commandInside}, nspid(t, kids[0]))

	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
}

// A process whose parent exits is handed to PID 1; when it exits in turn,
// only PID 1 can collect it. The orphan here writes its PID and exits at
// once, after its parent has gone.
func TestOrphanedZombieIsReaped(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.Start(t, "sh", "-c", `sh -c 'sh -c "echo orphan \$\$" &'; echo ready; read _`)
	// The orphan may print before or after "ready". Wait for both: until the
	// orphan has run there is no zombie to look for, and the check below
	// would pass for any init (on a slow VM the orphan had not yet run).
	orphan := ""
	for ready := false; !ready || orphan == ""; {
		line := p.NextLine(t)
		ready = ready || line == "ready"
		if n, ok := strings.CutPrefix(line, "orphan "); ok {
			orphan = n
		}
	}
	pid := p.ContainerPID(t)

	// The orphan exits asynchronously, so wait until its PID is gone from
	// the namespace: not running, and not a zombie either. A non-reaping
	// init keeps the zombie forever and fails here.
	require.Eventually(t, func() bool { return !inContainer(pid, orphan) },
		10*time.Second, 10*time.Millisecond, "the orphan %s is still there (zombies under PID 1: %v)", orphan, zombieChildren(pid))

	_, _ = p.Stdin.Write([]byte("\n"))
	r := p.Wait(t)
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "orphan ", "the orphan never ran")
}

// nspid returns a process's PIDs from the host's namespace inwards.
func nspid(t *testing.T, pid int) []string {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^NSpid:\s+(.*)$`).FindStringSubmatch(string(status))
	require.NotNil(t, m, "no NSpid in /proc/%d/status", pid)
	return strings.Fields(m[1])
}

// inContainer reports whether a process of the container whose init has
// host PID init has PID inner in the container's numbering, zombies
// included. /proc/PID/status lists a process's PIDs from the host's
// namespace inwards (NSpid) and lasts until the process is reaped.
func inContainer(init int, inner string) bool {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", init))
	if err != nil {
		return false
	}
	files, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		m := regexp.MustCompile(`(?m)^NSpid:\s+(.*)$`).FindStringSubmatch(string(data))
		if m == nil {
			continue
		}
		ids := strings.Fields(m[1])
		if len(ids) < 2 || ids[len(ids)-1] != inner {
			continue
		}
		// A zombie has no namespaces to read; its parent, the init, does.
		if own, err := os.Readlink(filepath.Join(filepath.Dir(f), "ns/pid")); err == nil && own != ns {
			continue
		}
		return true
	}
	return false
}

// zombieChildren lists host PIDs whose parent is ppid and whose state is Z.
func zombieChildren(ppid int) []string {
	var z []string
	files, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(data)
		if strings.Contains(s, fmt.Sprintf("\nPPid:\t%d\n", ppid)) && strings.Contains(s, "\nState:\tZ") {
			z = append(z, f)
		}
	}
	return z
}

// On a terminal, the default command is an interactive shell; it must get
// the terminal, run what is typed, and exit with the status it is given.
func TestInteractiveShellOnATerminal(t *testing.T) {
	stagetest.RequireRoot(t)
	r := stagetest.RunTerminal(t, "echo hi-$((40+2))\nexit 5\n", "--hostname", "tty-box")
	require.Contains(t, r.Stdout, "hi-42")
	require.NotContains(t, r.Stdout, "process group")
	require.Equal(t, 5, r.Code, r.Stdout)
}

func TestExitStatus(t *testing.T) {
	stagetest.RequireRoot(t)
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"success", []string{"true"}, 0},
		{"exit 3", []string{"sh", "-c", "exit 3"}, 3},
		{"not found", []string{"no-such-command-cfs"}, 127},
		{"not executable", []string{"/etc/hostname"}, 126},
		{"killed by SIGKILL", []string{"sh", "-c", "kill -9 $$"}, 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := stagetest.Run(t, "", tc.args...)
			require.Equal(t, tc.want, r.Code, r.Stderr)
		})
	}
}

func TestSIGTERMReachesTheCommand(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.Start(t, "sh", "-c", "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done")
	p.WaitLine(t, "ready")
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	r := p.Wait(t)
	require.Contains(t, r.Stdout, "got TERM")
	require.Equal(t, 7, r.Code)
}

func TestBadInputCreatesNothing(t *testing.T) {
	stagetest.RequireRoot(t)
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"empty hostname", []string{"--hostname", "", "true"}, "must not be empty"},
		{"long hostname", []string{"--hostname", strings.Repeat("a", 65), "true"}, "at most 64"},
		{"underscore", []string{"--hostname", "bad_name", "true"}, "invalid character"},
		{"leading hyphen", []string{"--hostname", "-x", "true"}, "must not start"},
		{"unknown flag", []string{"--no-such-flag", "true"}, "flag provided but not defined"},
		{"missing rootfs", []string{"--rootfs", "/nonexistent-cfs-rootfs", "true"}, "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := stagetest.Run(t, "", tc.args...)
			require.Equal(t, 2, r.Code)
			require.Contains(t, r.Stderr, tc.msg)
			require.Contains(t, r.Stderr, "--help")
			require.Empty(t, r.Stdout)
		})
	}
}

func TestHelp(t *testing.T) {
	r := stagetest.Run(t, "", "--help")
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "Usage: stage08-layers")
	require.Contains(t, r.Stdout, "-p HOSTPORT:CTRPORT[/tcp|/udp]")
	require.Contains(t, r.Stdout, "Example:")
}

// With its own /proc, the container lists only its own processes: PID 1
// and the shell.
func TestProcShowsOnlyTheContainer(t *testing.T) {
	stagetest.RequireRoot(t)
	r := stagetest.Run(t, "", "sh", "-c", "echo /proc/$$; echo /proc/[0-9]*")
	require.Equal(t, 0, r.Code, r.Stderr)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	require.Len(t, lines, 2)
	require.Equal(t, "/proc/1 "+lines[0], lines[1], "the container sees processes that are not its own")

	r = stagetest.Run(t, "", "ps")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.LessOrEqual(t, len(strings.Split(strings.TrimSpace(r.Stdout), "\n")), 4, r.Stdout)
}

// A mount made inside stays inside: the container's mountinfo shows it, the
// namespace the stage ran in does not. Run twice: on the host as it is, and
// in a mount namespace whose / is shared as systemd makes it, where only
// the stage's make-rprivate keeps the mount from propagating back.
func TestMountsStayInside(t *testing.T) {
	stagetest.RequireRoot(t)
	for _, tc := range []struct {
		name    string
		wrapper []string
	}{
		{"host", nil},
		{"shared root", []string{"unshare", "--mount", "--propagation", "shared"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := stagetest.StartWrapped(t, tc.wrapper, "sh", "-c",
				"mount -t tmpfs cfs-test-inside /mnt && echo ready; read _")
			p.WaitLine(t, "ready")
			stagePID := p.Cmd.Process.Pid
			pid := p.ContainerPID(t)

			inside := readFile(t, fmt.Sprintf("/proc/%d/mountinfo", pid))
			require.Contains(t, inside, "cfs-test-inside")
			require.NotContains(t, readFile(t, fmt.Sprintf("/proc/%d/mountinfo", stagePID)), "cfs-test-inside")
			require.NotContains(t, readFile(t, "/proc/self/mountinfo"), "cfs-test-inside")

			_, _ = p.Stdin.Write([]byte("\n"))
			require.Equal(t, 0, p.Wait(t).Code)
		})
	}
}

// The host's table of mounts is the same before and after a run.
func TestHostMountsUnchanged(t *testing.T) {
	stagetest.RequireRoot(t)
	before := mountPoints(t)
	r := stagetest.Run(t, "", "sh", "-c", "mount -t tmpfs cfs-test-tmpfs /mnt && cat /proc/mounts")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, before, mountPoints(t))
}

// Inside, / is the root filesystem, with a fresh proc, a tmpfs /dev holding
// only the standard nodes, a read-only sysfs, and the container's own
// /etc/hosts, /etc/hostname and /etc/resolv.conf bound over the shared ones.
func TestRootProcDevSys(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.Start(t, "sh", "-c", `echo x > /dev/null && head -c 4 /dev/zero | wc -c && ls /dev && echo ready; read _
		touch /sys/cfs-test 2>/dev/null && echo sys-writable; exit 0`)
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)
	mi := readFile(t, fmt.Sprintf("/proc/%d/mountinfo", pid))
	var points []string
	for _, line := range strings.Split(strings.TrimSpace(mi), "\n") {
		// The cgroup views: one cgroup2 mount, or a tmpfs of v1 hierarchies.
		if p := strings.Fields(line)[4]; !strings.HasPrefix(p, "/sys/fs/cgroup/") {
			points = append(points, p)
		}
	}
	require.ElementsMatch(t, []string{"/", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup",
		"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}, points,
		"the container's mounts are not exactly the new root, its kernel views and the bound device nodes (is the old root still mounted?)")
	require.Regexp(t, `(?m) /sys/fs/cgroup ro,[^\n]*- (cgroup2|tmpfs) `, mi)
	require.Regexp(t, `(?m) /proc [^\n]*- proc `, mi)
	require.Regexp(t, `(?m) /dev [^\n]*- tmpfs `, mi)
	require.Regexp(t, `(?m) /dev/pts [^\n]*- devpts `, mi)
	require.Regexp(t, `(?m) /dev/shm [^\n]*- tmpfs `, mi)
	require.Regexp(t, `(?m) /dev/mqueue [^\n]*- mqueue `, mi)
	require.Regexp(t, `(?m) /sys ro,[^\n]*- sysfs `, mi)

	_, _ = p.Stdin.Write([]byte("\n"))
	r := p.Wait(t)
	require.Equal(t, 0, r.Code, r.Stderr)
	require.NotContains(t, r.Stdout, "sys-writable")
	dev := strings.Fields(r.Stdout)
	require.Equal(t, "4", dev[0])
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx", "fd", "stdin", "stdout", "stderr"} {
		require.Contains(t, dev, name)
	}
	require.NotContains(t, dev, "sda")
	require.NotContains(t, dev, "vda")
}

// The classic chroot escape: chroot into a subdirectory without moving the
// working directory, walk up with "..", chroot there. It reaches the real
// root from a chroot(2) jail, and must not from a pivot_root container.
func TestChrootEscapeFails(t *testing.T) {
	stagetest.RequireRoot(t)
	root := stagetest.RootfsWithHelper(t)
	marker := filepath.Join(t.TempDir(), "host-only-marker")
	require.NoError(t, os.WriteFile(marker, []byte("host"), 0o644))

	// The test can fail: the same program escapes a plain chroot.
	jail := exec.Command("/cfs-helper", "chroot-escape", marker)
	jail.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	out, err := jail.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "escaped\n", string(out))

	r := stagetest.Run(t, "", "--rootfs", root, "/cfs-helper", "chroot-escape", marker)
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "contained\n", r.Stdout)
}

// --rootfs runs any directory as the root.
func TestRootfsFlag(t *testing.T) {
	stagetest.RequireRoot(t)
	root := stagetest.RootfsWithHelper(t)
	require.NoError(t, os.WriteFile(filepath.Join(root, "only-here"), []byte("yes\n"), 0o644))
	r := stagetest.Run(t, "", "--rootfs", root, "cat", "/only-here")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "yes\n", r.Stdout)
}

// System V objects made on the host are not in the container's tables, and
// objects made in the container are in neither the host's tables nor, after
// it exits, anywhere: they die with the namespace.
func TestIPCObjectsAreSeparate(t *testing.T) {
	stagetest.RequireRoot(t)
	hostKey := ipcKey()
	shm, msq := createSysV(t, hostKey)
	t.Cleanup(func() {
		_, _ = unix.SysvShmCtl(shm, unix.IPC_RMID, nil)
		_, _, _ = unix.Syscall(unix.SYS_MSGCTL, uintptr(msq), unix.IPC_RMID, 0)
	})
	require.True(t, sysvHas(readFile(t, "/proc/sysvipc/shm"), hostKey))

	root := stagetest.RootfsWithHelper(t)
	ctrKey := ipcKey()
	p := stagetest.Start(t, "--rootfs", root, "sh", "-c", fmt.Sprintf(
		"cat /proc/sysvipc/shm /proc/sysvipc/msg; /cfs-helper ipc-create %d && ls /dev/mqueue && echo ready; read _", ctrKey))
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)

	// From outside: the container's objects are in its namespace only.
	for _, table := range []string{"shm", "msg"} {
		require.False(t, sysvHas(readFile(t, "/proc/sysvipc/"+table), ctrKey), "the host sees the container's %s", table)
		require.True(t, sysvHas(readInIPCNamespace(t, pid, "/proc/sysvipc/"+table), ctrKey), "the container's %s is not in its namespace", table)
	}
	_, err := mqOpen("cfs-test-mq")
	require.ErrorIs(t, err, unix.ENOENT, "the host sees the container's POSIX message queue")

	_, _ = p.Stdin.Write([]byte("\n"))
	r := p.Wait(t)
	require.Equal(t, 0, r.Code, r.Stderr)
	// From inside: the host's objects were not listed, the queue was.
	require.False(t, sysvHas(r.Stdout, hostKey), "the container sees the host's objects:\n%s", r.Stdout)
	require.Contains(t, strings.Fields(r.Stdout), "cfs-test-mq")
	// Gone with the namespace: nothing of the container's reached the host.
	require.False(t, sysvHas(readFile(t, "/proc/sysvipc/shm"), ctrKey))
	require.False(t, sysvHas(readFile(t, "/proc/sysvipc/msg"), ctrKey))
}

// ipcKey returns a random key that no test on this host will repeat.
func ipcKey() int {
	return int(time.Now().UnixNano()&0x3fffffff) | 0x40000000
}

func createSysV(t *testing.T, key int) (shm, msq int) {
	t.Helper()
	shm, err := unix.SysvShmGet(key, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	require.NoError(t, err)
	m, _, errno := unix.Syscall(unix.SYS_MSGGET, uintptr(key), unix.IPC_CREAT|unix.IPC_EXCL|0o600, 0)
	require.Zero(t, errno)
	return shm, int(m)
}

// sysvHas reports whether a /proc/sysvipc table lists key (its first column).
func sysvHas(table string, key int) bool {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == strconv.Itoa(key) {
			return true
		}
	}
	return false
}

// readInIPCNamespace reads a file from a thread that has joined the IPC
// namespace of pid: /proc/sysvipc shows the reader's namespace.
func readInIPCNamespace(t *testing.T, pid int, path string) string {
	t.Helper()
	type result struct {
		data string
		err  error
	}
	c := make(chan result)
	go func() {
		// This thread changes namespace and must never run other goroutines:
		// leaving it locked makes the runtime end it with the goroutine.
		runtime.LockOSThread()
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/ipc", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWIPC)
			unix.Close(fd)
		}
		if err != nil {
			c <- result{err: err}
			return
		}
		data, err := os.ReadFile(path)
		c <- result{string(data), err}
	}()
	r := <-c
	require.NoError(t, r.err)
	return r.data
}

// mqOpen opens an existing POSIX message queue (glibc's mq_open without the
// leading slash, as the system call takes it).
func mqOpen(name string) (int, error) {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return -1, err
	}
	fd, _, errno := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(p)), unix.O_RDONLY, 0, 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// helper runs inside a container as /cfs-helper.
func helper(args []string) int {
	if status, ok := stagetest.NetHelper(args); ok {
		return status
	}
	switch args[0] {
	case "hog": // hog MiB: allocate and touch MiB mebibytes
		n, _ := strconv.Atoi(args[1])
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
	case "spin": // spin MS: keep every CPU busy for MS milliseconds of wall time
		ms, _ := strconv.Atoi(args[1])
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
	case "ipc-create":
		key, _ := strconv.Atoi(args[1])
		if _, err := unix.SysvShmGet(key, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600); err != nil {
			fmt.Println("shmget:", err)
			return 1
		}
		if _, _, errno := unix.Syscall(unix.SYS_MSGGET, uintptr(key), unix.IPC_CREAT|unix.IPC_EXCL|0o600, 0); errno != 0 {
			fmt.Println("msgget:", errno)
			return 1
		}
		name, _ := unix.BytePtrFromString("cfs-test-mq")
		fd, _, errno := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(name)), unix.O_CREAT|unix.O_RDWR, 0o600, 0, 0, 0)
		if errno != 0 {
			fmt.Println("mq_open:", errno)
			return 1
		}
		unix.Close(int(fd))
		return 0
	case "chroot-escape":
		if err := os.MkdirAll("/tmp/jail", 0o755); err != nil {
			fmt.Println(err)
			return 1
		}
		if err := unix.Chroot("/tmp/jail"); err != nil {
			fmt.Println(err)
			return 1
		}
		for i := 0; i < 64; i++ {
			_ = unix.Chdir("..")
		}
		if err := unix.Chroot("."); err != nil {
			fmt.Println(err)
			return 1
		}
		if _, err := os.Stat(args[1]); err == nil {
			fmt.Println("escaped")
		} else {
			fmt.Println("contained")
		}
		return 0
	}
	fmt.Println("unknown helper", args)
	return 1
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

// mountPoints lists the host's mount points with their types.
func mountPoints(t *testing.T) []string {
	var out []string
	for _, line := range strings.Split(readFile(t, "/proc/self/mountinfo"), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			out = append(out, f[4])
		}
	}
	return out
}
