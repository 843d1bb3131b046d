package rootfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDepsOfADynamicBinary(t *testing.T) {
	sh, err := exec.LookPath("ls")
	require.NoError(t, err)
	deps, err := Deps(sh)
	require.NoError(t, err)
	require.NotEmpty(t, deps, "ls is dynamically linked on every distribution the course uses")
	hasLibc := false
	for _, d := range deps {
		require.True(t, filepath.IsAbs(d), d)
		require.FileExists(t, d)
		hasLibc = hasLibc || strings.HasPrefix(filepath.Base(d), "libc.")
	}
	require.True(t, hasLibc, "no libc among %v", deps)
}

func TestLibrarySearchDirsFollowsIncludes(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ld.so.conf"), []byte("# comment\n/opt/a\ninclude conf.d/*.conf\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "conf.d", "x.conf"), []byte("/opt/b # trailing\n"), 0o644))
	dirs := librarySearchDirs(filepath.Join(dir, "ld.so.conf"))
	require.Equal(t, []string{"/opt/a", "/opt/b"}, dirs[:2])
	require.Contains(t, dirs, "/lib64")
}

// A tree built from host binaries runs its own sh, ls and cat when
// chrooted into: the libraries DT_NEEDED names were all copied.
func TestBuildFromHostBinariesRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, Build(dir, Source{Kind: "host"}))
	require.NoError(t, Valid(dir))
	if os.Geteuid() != 0 {
		if os.Getenv("CFS_REQUIRE_PRIVILEGED") == "1" {
			t.Fatal("chroot needs root to run the built tree, and CFS_REQUIRE_PRIVILEGED=1 forbids skipping")
		}
		t.Skip("chroot needs root to run the built tree")
	}
	cmd := exec.Command("/bin/sh", "-c", "ls /bin/sh && cat /etc/hostname && id -u")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dir}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/bin"}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "/bin/sh\ncfs\n0\n", string(out))
}

func TestValidNoticesABrokenTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.Error(t, Valid(dir), "an empty directory is not a tree")
	require.NoError(t, Build(dir, Source{Kind: "host"}))
	require.NoError(t, Valid(dir))
	// What a container adds is no damage; a file of the build rewritten is.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "root/note"), []byte("written in one\n"), 0o644))
	require.NoError(t, Valid(dir))
	require.NoError(t, os.Remove(filepath.Join(dir, "etc/passwd")))
	require.ErrorContains(t, Valid(dir), "missing etc/passwd")
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, Build(dir, Source{Kind: "host"}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "etc/hosts"), []byte("1.2.3.4 x\n"), 0o644))
	require.ErrorContains(t, Valid(dir), "changed etc/hosts")
}

// A tree of host binaries built before a tool was installed is out of
// date once the host has it: the next run builds it again, with the tool.
func TestValidNoticesAToolInstalledSince(t *testing.T) {
	bin := t.TempDir()
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	require.NoError(t, os.Symlink(sh, filepath.Join(bin, "sh")))
	t.Setenv("PATH", bin) // a host with sh alone
	dir := filepath.Join(t.TempDir(), "root")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, Build(dir, Source{Kind: "host"}))
	require.NoError(t, Valid(dir))
	require.NoFileExists(t, filepath.Join(dir, "bin/cat"))
	cat, err := exec.LookPath("/bin/cat")
	require.NoError(t, err)
	require.NoError(t, os.Symlink(cat, filepath.Join(bin, "cat"))) // cat installed
	require.EqualError(t, Valid(dir), "the host has cat now, which the tree was built without")
}

// Racing runs build once; a broken cache is rebuilt in place.
func TestEnsureAtIsAtomicAndRepairs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache", "rootfs")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	logs := make([]strings.Builder, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = EnsureAt(dir, &logs[i])
		}()
	}
	wg.Wait()
	built := 0
	for i := range errs {
		require.NoError(t, errs[i])
		if strings.Contains(logs[i].String(), "building") {
			built++
		}
	}
	require.Equal(t, 1, built, "the tree was built more than once")
	require.NoError(t, Valid(dir))

	require.NoError(t, os.Remove(filepath.Join(dir, "bin/sh")))
	var log strings.Builder
	_, err := EnsureAt(dir, &log)
	require.NoError(t, err)
	require.Contains(t, log.String(), "incomplete or changed; rebuilding")
	require.NoError(t, Valid(dir))
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".rootfs-build-*"))
	require.Empty(t, left, "temporary build directories left behind")
}

func TestCopyTreeShiftsOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CFS_REQUIRE_PRIVILEGED") == "1" {
			t.Fatal("needs root to chown, and CFS_REQUIRE_PRIVILEGED=1 forbids skipping")
		}
		t.Skip("needs root to chown")
	}
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "etc", "f"), []byte("x"), 0o4755))
	require.NoError(t, os.Chmod(filepath.Join(src, "etc", "f"), 0o755|os.ModeSetuid))
	require.NoError(t, os.Symlink("etc/f", filepath.Join(src, "link")))
	require.NoError(t, os.Lchown(filepath.Join(src, "link"), 5, 6))
	dst := filepath.Join(t.TempDir(), "copy")
	require.NoError(t, CopyTree(src, dst, func(uid, gid int) (int, int) { return uid + 100000, gid + 200000 }))

	owner := func(p string) (uint32, uint32) {
		var st syscall.Stat_t
		require.NoError(t, syscall.Lstat(p, &st))
		return st.Uid, st.Gid
	}
	u, g := owner(filepath.Join(dst, "etc", "f"))
	require.Equal(t, []uint32{100000, 200000}, []uint32{u, g})
	u, g = owner(filepath.Join(dst, "link"))
	require.Equal(t, []uint32{100005, 200006}, []uint32{u, g})
	fi, err := os.Stat(filepath.Join(dst, "etc", "f"))
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeSetuid, "chown cleared set-user-ID and the copy did not restore it")
}
