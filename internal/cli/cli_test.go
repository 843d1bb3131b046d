package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"cfs/internal/trace"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestCheckHostname(t *testing.T) {
	for _, ok := range []string{"box", "a", "web-1", "a.b.c", strings.Repeat("a", 63), strings.Repeat("a", 62) + ".b", "0abc"} {
		require.NoError(t, CheckHostname(ok), ok)
	}
	for _, bad := range []string{"", strings.Repeat("a", 65), strings.Repeat("a", 64) + ".b", "bad_name", "-x", "x-", "a..b", ".a", "a.", "spa ce", "ünï"} {
		err := CheckHostname(bad)
		require.Error(t, err, bad)
		var ue *UsageError
		require.ErrorAs(t, err, &ue, bad)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id := NewID()
		require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{12}$`), id)
		require.False(t, seen[id])
		seen[id] = true
	}
}

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   int
	}{{"exit 0", 0}, {"exit 3", 3}, {"kill -TERM $$", 143}, {"kill -KILL $$", 137}} {
		got, err := ExitStatus(exec.Command("sh", "-c", tc.script).Run())
		require.NoError(t, err)
		require.Equal(t, tc.want, got, tc.script)
	}
	_, err := ExitStatus(exec.Command("/nonexistent-cfs").Run())
	require.Error(t, err, "a process that never started has no status")
}

// notExecutable is a file that exists and has no execute bit (not
// /etc/hostname: some hosts have it 0755).
func notExecutable(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(path, []byte("data\n"), 0o644))
	return path
}

func TestExecFailure(t *testing.T) {
	_, err := exec.LookPath("no-such-command-cfs")
	require.Equal(t, 127, ExecFailure(err))
	_, err = exec.LookPath(notExecutable(t))
	require.Error(t, err)
	require.Equal(t, 126, ExecFailure(err))
}

func TestExecCause(t *testing.T) {
	t.Setenv("PATH", "/no-such-dir-cfs:/bin")
	_, err := exec.LookPath("no-such-command-cfs")
	require.EqualError(t, ExecCause(err), "executable file not found in $PATH (/no-such-dir-cfs:/bin)")
	require.ErrorIs(t, ExecCause(err), exec.ErrNotFound)
	_, err = exec.LookPath(notExecutable(t))
	require.EqualError(t, ExecCause(err), "permission denied")
	_, err = exec.LookPath("/no-such-file-cfs")
	require.EqualError(t, ExecCause(err), "no such file or directory")
	require.Equal(t, 127, ExecFailure(err))
	// exec.Cmd.Start's "fork/exec PATH: …" stays: a file with the
	// execute bit that is not a program.
	script := notExecutable(t)
	require.NoError(t, os.Chmod(script, 0o755))
	err = exec.Command(script).Start()
	require.EqualError(t, ExecCause(err), "fork/exec "+script+": exec format error")
	require.Equal(t, 126, ExecFailure(err))
}

func TestParseFillsTheContainer(t *testing.T) {
	dir := t.TempDir()
	var c Container
	var root string
	f := NewFlags("stageXX", 0, "true")
	f.RootfsVar(&root, "root `DIR`")
	require.NoError(t, f.Parse([]string{"--hostname", "box", "--rootfs", dir, "--step", "echo", "hi"}, &c))
	require.Regexp(t, `^[0-9a-f]{12}$`, c.ID)
	require.Equal(t, "box", c.Hostname)
	require.Equal(t, []string{"echo", "hi"}, c.Command)
	require.Contains(t, c.Env, "HOSTNAME=box")
	require.True(t, c.Trace && c.Step, "--step implies --trace")
	require.Equal(t, dir, root)

	c = Container{}
	require.NoError(t, NewFlags("stageXX", 0, "true").Parse(nil, &c))
	require.Equal(t, c.ID, c.Hostname, "the hostname defaults to the ID")
	require.Equal(t, []string{"/bin/sh"}, c.Command)

	f = NewFlags("stageXX", 0, "true")
	f.RootfsVar(&root, "root `DIR`")
	var ue *UsageError
	require.ErrorAs(t, f.Parse([]string{"--rootfs", dir + "/missing"}, &c), &ue)
	require.ErrorAs(t, NewFlags("stageXX", 0, "true").Parse([]string{"--hostname", "bad_name"}, &c), &ue)
}

func TestExitStatuses(t *testing.T) {
	require.Equal(t, 0, BadInput("stageXX", flag.ErrHelp))
	require.Equal(t, 2, BadInput("stageXX", Usagef("bad")))
	require.Equal(t, 7, Exit("stageXX", nil, 7, nil))
	require.Equal(t, 125, Exit("stageXX", nil, 0, errors.New("it failed")))
	require.Equal(t, 130, Exit("stageXX", nil, 0, fmt.Errorf("set-up: %w", &trace.Interrupted{Signal: unix.SIGINT})))
}
