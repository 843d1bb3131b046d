package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"cfs/internal/layers"
	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

type entry struct {
	name, link, body string
	typ              byte
	mode             int64
}

func makeTar(t *testing.T, entries ...entry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if e.typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: mode, Size: int64(len(e.body))}
		require.NoError(t, tw.WriteHeader(hdr))
		if e.body != "" {
			_, err := tw.Write([]byte(e.body))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return &buf
}

// A layer tar's whiteouts become overlayfs's: a character device 0/0
// for a deleted name, the opaque xattr for a hidden directory.
func TestImportLayerFilesLinksWhiteouts(t *testing.T) {
	stagetest.RequireRoot(t) // mknod, trusted xattrs, chown
	dir := t.TempDir()
	err := layers.Untar(makeTar(t,
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/motd", typ: tar.TypeReg, body: "hello\n"},
		entry{name: "bin/tool", typ: tar.TypeReg, body: "#!/bin/sh\n", mode: 0o4755},
		entry{name: "etc/motd.link", typ: tar.TypeSymlink, link: "/etc/motd"},
		entry{name: "etc/motd.hard", typ: tar.TypeLink, link: "etc/motd"},
		entry{name: "etc/.wh.hostname", typ: tar.TypeReg},
		entry{name: "var/cache/", typ: tar.TypeDir},
		entry{name: "var/cache/.wh..wh..opq", typ: tar.TypeReg},
		entry{name: "var/cache/new", typ: tar.TypeReg, body: "n"},
		entry{name: "etc/.wh..wh.plnk", typ: tar.TypeReg},
	), dir, whiteout)
	require.NoError(t, err)

	body, err := os.ReadFile(filepath.Join(dir, "etc/motd"))
	require.NoError(t, err)
	require.Equal(t, "hello\n", string(body))
	link, err := os.Readlink(filepath.Join(dir, "etc/motd.link"))
	require.NoError(t, err)
	require.Equal(t, "/etc/motd", link)
	a, _ := os.Stat(filepath.Join(dir, "etc/motd"))
	b, _ := os.Stat(filepath.Join(dir, "etc/motd.hard"))
	require.True(t, os.SameFile(a, b), "the hard link is a copy")
	fi, err := os.Stat(filepath.Join(dir, "bin/tool"))
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeSetuid)

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
