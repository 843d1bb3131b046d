package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	if stagetest.IsStage() {
		main()
		return
	}
	if stagetest.IsHelper() {
		os.Exit(stagetest.Helper(os.Args[1:]))
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

// From outside, the container's UTS, PID, mount, IPC and network namespaces
// differ from ours and the user namespace is shared; from inside, the
// container names the same UTS namespace the host sees.
func TestNamespacesInsideAndOutside(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.Start(t, "--hostname", "box2", "sh", "-c",
		"readlink /proc/self/ns/uts; echo ready; read _")
	inside := p.NextLine(t)
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)

	outside := stagetest.NS(t, pid, "uts")
	require.Equal(t, outside, inside)
	for _, kind := range []string{"uts", "pid", "mnt", "ipc", "net"} {
		require.NotEqual(t, stagetest.NS(t, "self", kind), stagetest.NS(t, pid, kind), "container shares the host's %s namespace", kind)
	}
	// The stage itself runs in the tests' network namespace; the container
	// has one of its own.
	require.NotEqual(t, stagetest.NS(t, p.Cmd.Process.Pid, "net"), stagetest.NS(t, pid, "net"))
	require.Equal(t, stagetest.NS(t, "self", "user"), stagetest.NS(t, pid, "user"), "stage 05 must not create a user namespace yet")

	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
}

func TestPIDOneInsideOrdinaryPIDOutside(t *testing.T) { stagetest.PIDOneInsideOrdinaryPIDOutside(t) }

func TestOrphanedZombieIsReaped(t *testing.T) { stagetest.OrphanedZombieIsReaped(t) }

func TestInteractiveShellOnATerminal(t *testing.T) { stagetest.InteractiveShellOnATerminal(t) }

func TestExitStatus(t *testing.T) { stagetest.ExitStatus(t) }

func TestSIGTERMReachesTheCommand(t *testing.T) { stagetest.SIGTERMReachesTheCommand(t) }

func TestBadInputCreatesNothing(t *testing.T) { stagetest.BadInputCreatesNothing(t, true) }

func TestHelp(t *testing.T) { stagetest.Help(t, "stage05-net", "-p HOSTPORT:CTRPORT[/tcp|/udp]") }

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
		points = append(points, strings.Fields(line)[4])
	}
	require.ElementsMatch(t, []string{"/", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"}, points,
		"the container's mounts are not exactly the new root and its kernel views (is the old root still mounted?)")
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
