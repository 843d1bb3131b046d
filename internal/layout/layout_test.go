package layout

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and a ')' of its own, as a process may
	// give itself (prctl PR_SET_NAME).
	st, err := ParseProcStat([]byte("4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"))
	require.NoError(t, err)
	require.Equal(t, Stat{State: 'S', PPID: 17, Start: 987654}, st)

	_, err = ParseProcStat([]byte("4242 (a) S 17"))
	require.Error(t, err)
	_, err = ParseProcStat([]byte("no parenthesis"))
	require.Error(t, err)
}

func TestOwnerAlive(t *testing.T) {
	self := Self()
	require.Equal(t, os.Getpid(), self.PID)
	require.True(t, self.Alive())
	require.False(t, Owner{PID: self.PID, Start: self.Start + 1}.Alive(), "same PID, other start time: a reused PID")
	require.False(t, Owner{}.Alive())

	// A child that has exited but is not yet reaped is a zombie: gone.
	cmd := exec.Command("true")
	require.NoError(t, cmd.Start())
	_, start, err := ProcStat(cmd.Process.Pid)
	require.NoError(t, err)
	// Wait for the exit without collecting it (WNOWAIT): the zombie stays.
	var info unix.Siginfo
	require.NoError(t, unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil))
	require.False(t, Owner{PID: cmd.Process.Pid, Start: start}.Alive())
	require.NoError(t, cmd.Wait())
}

func TestOwnerRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "owner")
	require.NoError(t, WriteOwner(path))
	o, err := ReadOwner(path)
	require.NoError(t, err)
	require.Equal(t, Self(), o)

	require.NoError(t, os.WriteFile(path, []byte("{}"), 0o644))
	_, err = ReadOwner(path)
	require.Error(t, err)
}

func TestNames(t *testing.T) {
	id := "0123456789ab"
	require.True(t, IsID(id))
	require.False(t, IsID("0123456789AB"))
	require.Equal(t, "cfs01234567", VethName(id))
	require.LessOrEqual(t, len(VethName(id)), 15, "IFNAMSIZ")
	p, ok := IsVethName(VethName(id))
	require.True(t, ok)
	require.Equal(t, "01234567", p)
	_, ok = IsVethName(Bridge)
	require.False(t, ok)
}
