package idmap

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSubordinate(t *testing.T) {
	f := filepath.Join(t.TempDir(), "subuid")
	require.NoError(t, os.WriteFile(f, []byte("alice:100000:65536\n# comment\nroot:200000:1000\nroot:300000:5\n"), 0o644))
	require.Equal(t, Map{ContainerID: 0, HostID: 200000, Size: 1000}, Subordinate(f, "root", 0))
	require.Equal(t, Map{ContainerID: 0, HostID: 100000, Size: 65536}, Subordinate(f, "alice", 1000))
	require.Equal(t, Default, Subordinate(f, "bob", 1001))
	require.Equal(t, Default, Subordinate(filepath.Join(t.TempDir(), "none"), "root", 0))

	m := Map{HostID: 100000, Size: 65536}
	require.Equal(t, 100000, Shift(0, m))
	require.Equal(t, 101000, Shift(1000, m))
	require.Equal(t, 165535, Shift(70000, m), "IDs beyond the range land on its last ID")
	u, g := Shifter(m, Map{HostID: 200000, Size: 10})(5, 20)
	require.Equal(t, []int{100005, 200009}, []int{u, g})
}

func TestForAnOrdinaryUser(t *testing.T) {
	uids, gids := For(false)
	require.Equal(t, Map{HostID: os.Getuid(), Size: 1}, uids)
	require.Equal(t, Map{HostID: os.Getgid(), Size: 1}, gids)
}
