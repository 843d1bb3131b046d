package stagetest

// The tests of what every stage does from stage 01 on (the hostname, the
// exit status, signals, a terminal, bad input), written once: each stage's
// main_test.go runs them as top-level tests of the same names
// (func TestExitStatus(t *testing.T) { stagetest.ExitStatus(t) }), against
// its own binary (the test binary acting as the stage, see Start).

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// HostnameInside: --hostname names the container, and the host's own
// hostname does not change.
func HostnameInside(t *testing.T) {
	RequireRoot(t)
	hostBefore, err := os.Hostname()
	require.NoError(t, err)

	r := Run(t, "", "--hostname", "box1", "hostname")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "box1\n", r.Stdout)

	hostAfter, err := os.Hostname()
	require.NoError(t, err)
	require.Equal(t, hostBefore, hostAfter, "the host's hostname changed")
}

// DefaultHostnameIsAnID: without --hostname, a container is named by a
// generated 12-hex-digit ID, a new one each run.
func DefaultHostnameIsAnID(t *testing.T) {
	RequireRoot(t)
	r := Run(t, "", "hostname")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{12}\n$`), r.Stdout)
	r2 := Run(t, "", "hostname")
	require.NotEqual(t, r.Stdout, r2.Stdout, "two containers got the same generated name")
}

// On a terminal, the default command is an interactive shell; it must get
// the terminal, run what is typed, and exit with the status it is given.
func InteractiveShellOnATerminal(t *testing.T) {
	RequireRoot(t)
	r := RunTerminal(t, "echo hi-$((40+2))\nexit 5\n", "--hostname", "tty-box")
	require.Contains(t, r.Stdout, "hi-42")
	require.NotContains(t, r.Stdout, "process group")
	require.Equal(t, 5, r.Code, r.Stdout)
}

// ExitStatus: the stage exits with its command's status, and with the
// shell's 126, 127 and 128+signal where the command could not run or was
// killed; a command that could not run is named once, with why.
func ExitStatus(t *testing.T) {
	RequireRoot(t)
	for _, tc := range []struct {
		name string
		args []string
		want int
		why  string // what stderr says after `container: exec "NAME": `
	}{
		{"success", []string{"true"}, 0, ""},
		{"exit 3", []string{"sh", "-c", "exit 3"}, 3, ""},
		{"not found", []string{"no-such-command-cfs"}, 127, "executable file not found in $PATH (/usr/local/sbin:"},
		{"no such file", []string{"/no-such-file-cfs"}, 127, "no such file or directory"},
		{"not executable", []string{"/etc/hostname"}, 126, ""}, // 0644 or 0755: permission denied or exec format error
		{"a directory", []string{"/etc"}, 126, "is a directory"},
		{"killed by SIGKILL", []string{"sh", "-c", "kill -9 $$"}, 137, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Run(t, "", tc.args...)
			require.Equal(t, tc.want, r.Code, r.Stderr)
			if tc.why != "" {
				require.Contains(t, r.Stderr, fmt.Sprintf("container: exec %q: %s", tc.args[0], tc.why))
				require.Equal(t, 1, strings.Count(r.Stderr, tc.args[0]), "the command named once: %s", r.Stderr)
			}
		})
	}
}

// SIGTERMReachesTheCommand: a SIGTERM sent to the stage is passed on to
// the command, whose status the stage then returns.
func SIGTERMReachesTheCommand(t *testing.T) {
	RequireRoot(t)
	p := Start(t, "sh", "-c", "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done")
	p.WaitLine(t, "ready")
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	r := p.Wait(t)
	require.Contains(t, r.Stdout, "got TERM")
	require.Equal(t, 7, r.Code)
}

// BadInputCreatesNothing: bad flags fail with exit 2, a message and a
// pointer to --help, and run nothing. hasRootfs: the stage has --rootfs
// (stage 03 on), so a missing root filesystem is bad input too.
func BadInputCreatesNothing(t *testing.T, hasRootfs bool) {
	RequireRoot(t)
	type badInput struct {
		name string
		args []string
		msg  string
	}
	cases := []badInput{
		{"empty hostname", []string{"--hostname", "", "true"}, "must not be empty"},
		{"long hostname", []string{"--hostname", strings.Repeat("a", 65), "true"}, "at most 64"},
		{"underscore", []string{"--hostname", "bad_name", "true"}, "invalid character"},
		{"leading hyphen", []string{"--hostname", "-x", "true"}, "must not start"},
		{"unknown flag", []string{"--no-such-flag", "true"}, "flag provided but not defined"},
	}
	if hasRootfs {
		cases = append(cases, badInput{"missing rootfs", []string{"--rootfs", "/nonexistent-cfs-rootfs", "true"}, "not a directory"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Run(t, "", tc.args...)
			require.Equal(t, 2, r.Code)
			require.Contains(t, r.Stderr, tc.msg)
			require.Contains(t, r.Stderr, "--help")
			require.Empty(t, r.Stdout)
		})
	}
}

// Help: --help prints the usage, which names the stage (name), has an
// example and mentions each of want, and exits 0.
func Help(t *testing.T, name string, want ...string) {
	r := Run(t, "", "--help")
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "Usage: "+name)
	for _, w := range want {
		require.Contains(t, r.Stdout, w)
	}
	require.Contains(t, r.Stdout, "Example:")
}
