package cli

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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

func TestExecFailure(t *testing.T) {
	_, err := exec.LookPath("no-such-command-cfs")
	require.Equal(t, 127, ExecFailure(err))
	_, err = exec.LookPath("/etc/hostname")
	require.Equal(t, 126, ExecFailure(err))
}
