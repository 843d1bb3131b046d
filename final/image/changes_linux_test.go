package image

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Changes reads overlay's marks in an upper directory made by hand (a
// whiteout is a device node, an opaque mark a trusted xattr: root only),
// against an image tree, as docker's overlay driver does.
func TestChanges(t *testing.T) {
	stagetest.RequireRoot(t)
	below, upper := t.TempDir(), t.TempDir()
	mkdir := func(dir string, paths ...string) {
		for _, p := range paths {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, p), 0o755))
		}
	}
	write := func(dir string, paths ...string) {
		for _, p := range paths {
			require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(p), 0o644))
		}
	}
	mkdir(below, "etc", "var", "opt/old", "srv")
	write(below, "etc/passwd", "var/gone", "opt/old/f", "lib")

	// /etc only copied up to hold the changed passwd: the image's mode,
	// size and time (set below), so it is left out.
	mkdir(upper, "etc", "var")
	write(upper, "etc/passwd")
	// /var/gone deleted: overlay's whiteout, a character device 0/0; /var
	// is listed all the same, before it.
	require.NoError(t, unix.Mknod(filepath.Join(upper, "var/gone"), unix.S_IFCHR, 0))
	// /srv written in: its time changed.
	mkdir(upper, "srv")
	write(upper, "srv/new")
	// /opt replaced: removed, made again, opaque.
	mkdir(upper, "opt/old")
	require.NoError(t, unix.Setxattr(filepath.Join(upper, "opt"), "trusted.overlay.opaque", []byte("y"), 0))
	// /lib, a file below, is a directory now: what is in it is added,
	// never looked up below through what is not a directory.
	mkdir(upper, "lib/x")
	// /usr/local/bin: new, with its parents.
	mkdir(upper, "usr/local/bin")

	when := time.Unix(1_700_000_000, 0)
	for _, p := range []string{"etc", "var"} {
		require.NoError(t, os.Chtimes(filepath.Join(below, p), when, when))
		require.NoError(t, os.Chtimes(filepath.Join(upper, p), when, when))
	}
	dir, err := os.Open(below)
	require.NoError(t, err)
	defer dir.Close()
	changes, err := Changes(upper, dir)
	require.NoError(t, err)
	var got []string
	for _, c := range changes {
		got = append(got, c.Kind.String()+" "+c.Path)
	}
	require.Equal(t, []string{
		"C /etc/passwd",
		"C /lib", "A /lib/x",
		"D /opt", "A /opt/old",
		"C /srv", "A /srv/new",
		"A /usr", "A /usr/local", "A /usr/local/bin",
		"C /var", "D /var/gone",
	}, got)
}
