package main

import (
	"os"
	"regexp"
	"strings"
	"syscall"
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

// From outside, only the UTS namespace of the container differs from ours;
// from inside, the container names the same namespace the host sees.
func TestUTSNamespaceInsideAndOutside(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.Start(t, "--hostname", "box2", "sh", "-c",
		"readlink /proc/self/ns/uts; echo ready; read _")
	inside := p.NextLine(t)
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)

	outside := stagetest.NS(t, pid, "uts")
	require.Equal(t, outside, inside)
	require.NotEqual(t, stagetest.NS(t, "self", "uts"), outside, "container shares the host's UTS namespace")
	for _, kind := range []string{"pid", "mnt", "net", "ipc", "user"} {
		require.Equal(t, stagetest.NS(t, "self", kind), stagetest.NS(t, pid, kind), "stage 01 must create only a UTS namespace, but %s differs", kind)
	}

	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
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
	require.Contains(t, r.Stdout, "Usage: stage01-uts")
	require.Contains(t, r.Stdout, "Example:")
}
