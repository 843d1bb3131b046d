package main

import (
	"archive/tar"
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"cfs/internal/layers"
	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// A layer tar's whiteouts become overlayfs's: a character device 0/0
// for a deleted name, the opaque xattr for a hidden directory.
// (Files, links and a tar's paths out of the layer: internal/layers.)
func TestImportLayerWhiteouts(t *testing.T) {
	stagetest.RequireRoot(t) // mknod, trusted xattrs
	dir := t.TempDir()
	err := layers.Untar(stagetest.MakeTar(t,
		stagetest.TarEntry{Name: "etc/hostname", Type: tar.TypeReg, Body: "deleted again below\n"},
		stagetest.TarEntry{Name: "etc/.wh.hostname", Type: tar.TypeReg},
		stagetest.TarEntry{Name: "var/cache/", Type: tar.TypeDir},
		stagetest.TarEntry{Name: "var/cache/.wh..wh..opq", Type: tar.TypeReg},
		stagetest.TarEntry{Name: "var/cache/new", Type: tar.TypeReg, Body: "n"},
		stagetest.TarEntry{Name: "etc/.wh..wh.plnk", Type: tar.TypeReg},
	), dir, whiteout)
	require.NoError(t, err)

	var st syscall.Stat_t
	require.NoError(t, syscall.Lstat(filepath.Join(dir, "etc/hostname"), &st))
	require.Equal(t, uint32(syscall.S_IFCHR), st.Mode&syscall.S_IFMT, "whiteout is not a character device")
	require.Zero(t, st.Rdev, "whiteout is not device 0/0")
	require.NoFileExists(t, filepath.Join(dir, "etc/.wh.hostname"))

	// trusted.* always (the test runs as root); user.* too where the
	// filesystem holds user xattrs (tmpfs does only from Linux 6.6).
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		val := make([]byte, 8)
		n, err := unix.Lgetxattr(filepath.Join(dir, "var/cache"), name, val)
		if name == "user.overlay.opaque" && errors.Is(err, unix.EOPNOTSUPP) {
			t.Logf("%s: the filesystem of %s holds no user xattrs", name, dir)
			continue
		}
		require.NoError(t, err, name)
		require.Equal(t, "y", string(val[:n]), name)
	}
	require.NoFileExists(t, filepath.Join(dir, "var/cache/.wh..wh..opq"))
	require.FileExists(t, filepath.Join(dir, "var/cache/new"))
	require.NoFileExists(t, filepath.Join(dir, "etc/.wh..wh.plnk"))
	require.NoFileExists(t, filepath.Join(dir, "etc/plnk"))
}
