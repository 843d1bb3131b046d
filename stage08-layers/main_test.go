package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
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

// The tests that are the same in every stage that has what they test are
// written once, in internal/stagetest (utstest.go from stage 01 on,
// pidtest.go from 02, mounttest.go from 03, ipctest.go from 04), and run
// here against this stage as one-line tests of the same names; the tests
// of what changes from stage to stage stay here in full.
func TestHostnameInside(t *testing.T) { stagetest.HostnameInside(t) }

func TestDefaultHostnameIsAnID(t *testing.T) { stagetest.DefaultHostnameIsAnID(t) }

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

func TestPIDOneInsideOrdinaryPIDOutside(t *testing.T) { stagetest.PIDOneInsideOrdinaryPIDOutside(t) }

func TestOrphanedZombieIsReaped(t *testing.T) { stagetest.OrphanedZombieIsReaped(t) }

func TestInteractiveShellOnATerminal(t *testing.T) { stagetest.InteractiveShellOnATerminal(t) }

func TestExitStatus(t *testing.T) { stagetest.ExitStatus(t) }

func TestSIGTERMReachesTheCommand(t *testing.T) { stagetest.SIGTERMReachesTheCommand(t) }

func TestBadInputCreatesNothing(t *testing.T) { stagetest.BadInputCreatesNothing(t, true) }

func TestHelp(t *testing.T) {
	r := stagetest.Run(t, "", "--help")
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "Usage: stage08-layers")
	require.Contains(t, r.Stdout, "-p HOSTPORT:CTRPORT[/tcp|/udp]")
	require.Contains(t, r.Stdout, "Example:")
}

func TestProcShowsOnlyTheContainer(t *testing.T) { stagetest.ProcShowsOnlyTheContainer(t) }

func TestMountsStayInside(t *testing.T) { stagetest.MountsStayInside(t) }

func TestHostMountsUnchanged(t *testing.T) { stagetest.HostMountsUnchanged(t) }

// Inside, / is the root filesystem, with a fresh proc, a tmpfs /dev holding
// only the standard nodes, a read-only sysfs, and the container's own
// /etc/hosts, /etc/hostname and /etc/resolv.conf bound over the shared ones.
func TestRootProcDevSys(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.Start(t, "sh", "-c", `echo x > /dev/null && head -c 4 /dev/zero | wc -c && ls /dev && echo ready; read _
		touch /sys/cfs-test 2>/dev/null && echo sys-writable; exit 0`)
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)
	mi := stagetest.ReadFile(t, fmt.Sprintf("/proc/%d/mountinfo", pid))
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

func TestChrootEscapeFails(t *testing.T) { stagetest.ChrootEscapeFails(t) }

func TestRootfsFlag(t *testing.T) { stagetest.RootfsFlag(t) }

func TestIPCObjectsAreSeparate(t *testing.T) { stagetest.IPCObjectsAreSeparate(t) }

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
