package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"cfs/internal/idmap"
	"cfs/internal/layers"
	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// overlayOf reads, from the host, the options of the overlay mounted as a
// container's root: its lower layers (top first) and its upper directory.
func overlayOf(t *testing.T, pid int) (lower []string, upper string) {
	t.Helper()
	mi := stagetest.ReadFile(t, fmt.Sprintf("/proc/%d/mountinfo", pid))
	m := regexp.MustCompile(`(?m)^\S+ \S+ \S+ \S+ / .* - overlay \S+ \S*lowerdir=([^,]+),upperdir=([^,]+)`).FindStringSubmatch(mi)
	require.NotNil(t, m, "the container's / is not an overlay:\n%s", mi)
	return strings.Split(m[1], ":"), m[2]
}

// treeSum is a checksum of a directory tree: names, modes, owners, contents.
func treeSum(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		fmt.Fprintf(h, "%s %v %d %d %d\n", strings.TrimPrefix(p, dir), info.Mode(), st.Uid, st.Gid, st.Rdev)
		if d.Type().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(h, f)
			return err
		}
		return nil
	}))
	return hex.EncodeToString(h.Sum(nil))
}

// The default image has two layers: the top one adds /etc/motd, shadows
// the base's /etc/os-release and deletes /home.
func TestDefaultImageHasTwoLayers(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.Start(t, "sh", "-c", "cat /etc/motd; grep ^NAME= /etc/os-release; ls /home 2>&1; echo ready; read _")
	require.Contains(t, p.NextLine(t), "cfs default image")
	require.Equal(t, `NAME="cfs default image"`, p.NextLine(t))
	require.Contains(t, p.NextLine(t), "No such file or directory")
	p.WaitLine(t, "ready")
	lower, _ := overlayOf(t, p.ContainerPID(t))
	require.Len(t, lower, 2)
	// Below, the base still has its own os-release and /home.
	require.NotContains(t, stagetest.ReadFile(t, filepath.Join(lower[1], "etc/os-release")), "cfs default image")
	require.DirExists(t, filepath.Join(lower[1], "home"))
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(filepath.Join(lower[0], "home"), &st))
	require.Equal(t, uint32(unix.S_IFCHR), st.Mode&unix.S_IFMT, "the top layer's /home is not a whiteout")
	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
}

// Writes land in the container's upper directory: a changed file is
// copied up, a deleted one leaves a whiteout, a replaced directory is
// opaque. No lower layer changes, and the upper directory goes with the
// container.
func TestWritesGoToTheUpperLayer(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.Start(t, "sh", "-c", `echo changed > /etc/motd && touch /new-file && rm /etc/passwd &&
		rm -rf /var && mkdir /var && touch /var/fresh && echo ready; read _`)
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)
	lower, upper := overlayOf(t, pid)
	before := map[string]string{}
	for _, l := range lower {
		before[l] = treeSum(t, l)
	}

	require.Equal(t, "changed\n", stagetest.ReadFile(t, filepath.Join(upper, "etc/motd")))
	require.FileExists(t, filepath.Join(upper, "new-file"))
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(filepath.Join(upper, "etc/passwd"), &st))
	require.Equal(t, uint32(unix.S_IFCHR), st.Mode&unix.S_IFMT, "no whiteout for the deleted /etc/passwd")
	require.Zero(t, st.Rdev)
	val := make([]byte, 4)
	n, err := unix.Lgetxattr(filepath.Join(upper, "var"), "user.overlay.opaque", val)
	require.NoError(t, err, "the replaced /var is not opaque")
	require.Equal(t, "y", string(val[:n]))
	require.FileExists(t, filepath.Join(lower[len(lower)-1], "etc/passwd"), "the base layer lost /etc/passwd")
	require.NotContains(t, stagetest.ReadFile(t, "/proc/self/mountinfo"), upper, "the overlay mount is visible on the host")

	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
	for _, l := range lower {
		require.Equal(t, before[l], treeSum(t, l), "layer %s changed", l)
	}
	require.NoDirExists(t, filepath.Dir(upper), "the writable layer outlived the container")
}

// Two containers of one image at once see their own writes only.
func TestContainersDoNotShareWrites(t *testing.T) {
	stagetest.RequireRoot(t)
	a := stagetest.Start(t, "sh", "-c", "echo from-a > /etc/mine && echo ready; read _; cat /etc/mine")
	a.WaitLine(t, "ready")
	b := stagetest.Start(t, "sh", "-c", "cat /etc/mine 2>/dev/null || echo b-sees-nothing; echo from-b > /etc/mine; echo ready; read _")
	require.Equal(t, "b-sees-nothing", b.NextLine(t))
	b.WaitLine(t, "ready")
	_, _ = b.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, b.Wait(t).Code)
	_, _ = a.Stdin.Write([]byte("\n"))
	r := a.Wait(t)
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "from-a\n")
	require.NotContains(t, r.Stdout, "from-b")
}

// --keep leaves the writable layer and says where; the next run keeps it
// too, and so does the leak check once the test removes it.
func TestKeep(t *testing.T) {
	stagetest.RequireRoot(t)
	r := stagetest.Run(t, "", "--keep", "sh", "-c", "echo kept > /kept-file")
	require.Equal(t, 0, r.Code, r.Stderr)
	m := regexp.MustCompile(`kept the container's writable layer: (\S+)`).FindStringSubmatch(r.Stderr)
	require.NotNil(t, m, r.Stderr)
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(m[1])) })
	require.Equal(t, "kept\n", stagetest.ReadFile(t, filepath.Join(m[1], "kept-file")))
	require.Equal(t, 0, stagetest.Run(t, "", "true").Code)
	require.DirExists(t, m[1], "the next run swept a kept layer")
}

// A stage killed with SIGKILL leaves its writable layer; the next run
// removes it. The overlay mount itself dies with the container's mount
// namespace.
func TestNextRunRemovesAKilledRunsLayer(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.Start(t, "sh", "-c", "touch /left && echo ready; read _")
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)
	_, upper := overlayOf(t, pid)
	require.NoError(t, p.Cmd.Process.Kill())
	_ = p.Cmd.Wait()
	stagetest.WaitGone(pid)
	require.FileExists(t, filepath.Join(upper, "left"))

	require.Equal(t, 0, stagetest.Run(t, "", "true").Code)
	require.NoDirExists(t, filepath.Dir(upper))
}

// --layer stacks directories and tar files, bottom first; a tar's
// whiteouts delete files of the layers below.
func TestLayerFlags(t *testing.T) {
	stagetest.RequireRoot(t)
	base := stagetest.RootfsWithHelper(t)
	dirLayer := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dirLayer, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dirLayer, "etc", "from-dir"), []byte("dir\n"), 0o644))
	tarFile := filepath.Join(t.TempDir(), "layer.tar")
	f, err := os.Create(tarFile)
	require.NoError(t, err)
	tw := tar.NewWriter(f)
	for _, h := range []*tar.Header{
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/from-tar", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4},
		{Name: "etc/.wh.from-dir", Typeflag: tar.TypeReg, Mode: 0o644},
	} {
		require.NoError(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, err := tw.Write([]byte("tar\n"))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, f.Close())

	r := stagetest.Run(t, "", "--layer", base, "--layer", dirLayer, "sh", "-c", "cat /etc/from-dir")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "dir\n", r.Stdout)
	r = stagetest.Run(t, "", "--layer", base, "--layer", dirLayer, "--layer", tarFile, "sh", "-c", "cat /etc/from-tar; cat /etc/from-dir 2>&1; true")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, "tar\n")
	require.Contains(t, r.Stdout, "No such file", "the tar's whiteout did not hide the layer below")
	// The tar was imported once, by its checksum; this test's tar is its
	// own, so remove its import.
	t.Cleanup(func() {
		data, _ := os.ReadFile(tarFile)
		sum := sha256.Sum256(data)
		imported := "/var/lib/cfs/layers/sha256-" + hex.EncodeToString(sum[:])
		uids, gids := idmap.For(true)
		os.RemoveAll(layers.ShiftedDir("/var/lib/cfs", "", imported, uids, gids))
		os.RemoveAll(imported)
	})
}

func TestBadLayerInput(t *testing.T) {
	stagetest.RequireRoot(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--layer", "/nonexistent-cfs-layer"}, "no such directory or tar file"},
		{[]string{"--rootfs", "/", "--layer", "/"}, "do not mix"},
	} {
		r := stagetest.Run(t, "", append(tc.args, "true")...)
		require.Equal(t, 2, r.Code, r.Stderr)
		require.Contains(t, r.Stderr, tc.msg)
	}
}
