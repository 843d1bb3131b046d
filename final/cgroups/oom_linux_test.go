package cgroups

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The v2 watch on a file of its own, without root: inotify watches any
// file, so a memory.events written by the test stands in for the
// kernel's. Kills before the watch are not reported; each change wakes
// poll(2), and Read reports by how much oom_kill grew, once.
func TestWatchOOMKills(t *testing.T) {
	file := filepath.Join(t.TempDir(), "memory.events")
	events := func(kills string) {
		require.NoError(t, os.WriteFile(file, []byte("low 0\nhigh 0\nmax 3\noom 1\noom_kill "+kills+"\n"), 0o644))
	}
	events("1")
	w, err := watchOOMKills(file)
	require.NoError(t, err)
	defer w.Close()
	n, err := w.Read()
	require.NoError(t, err)
	require.Equal(t, 0, n, "a kill before the watch began is not news")

	readable := func() bool {
		fds := []unix.PollFd{{Fd: int32(w.Fd()), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		require.NoError(t, err)
		return n == 1
	}
	require.False(t, readable())
	events("3")
	require.True(t, readable(), "a change to memory.events wakes poll")
	n, err = w.Read()
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.False(t, readable(), "Read drained the watch")
	n, err = w.Read()
	require.NoError(t, err)
	require.Equal(t, 0, n)

	require.NoError(t, os.Remove(file))
	n, err = w.Read()
	require.NoError(t, err)
	require.Equal(t, 0, n, "a cgroup removed has no news")

	_, err = watchOOMKills(file)
	require.ErrorContains(t, err, "memory controller enabled")
}
