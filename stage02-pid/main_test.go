package main

import (
	"os"
	"testing"

	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	if stagetest.IsStage() {
		main()
		return
	}
	os.Exit(stagetest.Main(m, stagetest.Options{}))
}

// The tests that are the same in every stage that has what they test are
// written once, in internal/stagetest (utstest.go from stage 01 on,
// pidtest.go from 02, mounttest.go from 03, ipctest.go from 04), and run
// here against this stage as one-line tests of the same names; the tests
// of what changes from stage to stage stay here in full.
func TestHostnameInside(t *testing.T) { stagetest.HostnameInside(t) }

func TestDefaultHostnameIsAnID(t *testing.T) { stagetest.DefaultHostnameIsAnID(t) }

// From outside, the container's UTS and PID namespaces differ from ours and
// the others are shared; from inside, the container names the same UTS
// namespace the host sees.
func TestNamespacesInsideAndOutside(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.Start(t, "--hostname", "box2", "sh", "-c",
		"readlink /proc/self/ns/uts; echo ready; read _")
	inside := p.NextLine(t)
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)

	outside := stagetest.NS(t, pid, "uts")
	require.Equal(t, outside, inside)
	for _, kind := range []string{"uts", "pid"} {
		require.NotEqual(t, stagetest.NS(t, "self", kind), stagetest.NS(t, pid, kind), "container shares the host's %s namespace", kind)
	}
	for _, kind := range []string{"mnt", "net", "ipc", "user"} {
		require.Equal(t, stagetest.NS(t, "self", kind), stagetest.NS(t, pid, kind), "stage 02 must not create a %s namespace yet", kind)
	}

	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
}

func TestPIDOneInsideOrdinaryPIDOutside(t *testing.T) { stagetest.PIDOneInsideOrdinaryPIDOutside(t) }

func TestOrphanedZombieIsReaped(t *testing.T) { stagetest.OrphanedZombieIsReaped(t) }

func TestInteractiveShellOnATerminal(t *testing.T) { stagetest.InteractiveShellOnATerminal(t) }

func TestExitStatus(t *testing.T) { stagetest.ExitStatus(t) }

func TestSIGTERMReachesTheCommand(t *testing.T) { stagetest.SIGTERMReachesTheCommand(t) }

func TestBadInputCreatesNothing(t *testing.T) { stagetest.BadInputCreatesNothing(t, false) }

func TestHelp(t *testing.T) { stagetest.Help(t, "stage02-pid") }
