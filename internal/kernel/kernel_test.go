package kernel

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"cfs/internal/trace"

	"github.com/stretchr/testify/require"
)

// Each request is narrated before it is made, and a failure is an *Error
// that names the request and keeps the errno.
func TestDoTracesAndWraps(t *testing.T) {
	var out bytes.Buffer
	tr := trace.NewTo("parent", &out)
	calls := 0
	err := Do(tr, "netlink RTM_NEWLINK(cfs0 type bridge)", "ip link add cfs0 type bridge",
		func() error { calls++; return nil },
		func() error { calls++; return syscall.EOPNOTSUPP },
		func() error { calls++; return nil })
	require.Equal(t, 2, calls, "the requests after a failure are not made")
	require.Equal(t, "[cfs parent] netlink RTM_NEWLINK(cfs0 type bridge)  ≈ ip link add cfs0 type bridge\n", out.String())
	var ke *Error
	require.ErrorAs(t, err, &ke)
	require.Equal(t, "netlink", ke.Op)
	require.ErrorIs(t, err, syscall.EOPNOTSUPP)
	require.EqualError(t, err, "ip link add cfs0 type bridge: operation not supported")
	require.NoError(t, Do(nil, "x()", "", func() error { return nil }), "a nil tracer narrates nothing")
}

func TestMountMakesItsMountPoint(t *testing.T) {
	target := filepath.Join(t.TempDir(), "a", "b")
	err := Mount(nil, "none", target, "cfs-no-such-fs", 0, "")
	require.DirExists(t, target)
	var ke *Error
	require.ErrorAs(t, err, &ke)
	require.Equal(t, "mount", ke.Op)
	require.Equal(t, "cfs-no-such-fs", ke.Arg)
	require.Contains(t, err.Error(), "mount none on "+target+" (type cfs-no-such-fs)")

	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	err = Mount(nil, "proc", filepath.Join(file, "proc"), "proc", 0, "")
	require.ErrorAs(t, err, &ke)
	require.Equal(t, "create mount point "+filepath.Join(file, "proc"), ke.What)
	require.True(t, errors.Is(err, syscall.ENOTDIR))
}
