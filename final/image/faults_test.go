package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"cfs/final/image/imagetest"
	"cfs/final/registry"
	"cfs/internal/stagetest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// pullerEnv makes the test binary a puller: "STORE REF" (see
// TestKilledPull).
const pullerEnv = "CFS_IMAGE_TEST_PULLER"

func puller() int {
	root, ref, _ := strings.Cut(os.Getenv(pullerEnv), " ")
	s, err := Open(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s.Registry = &registry.Client{Transport: loopbackOnly{}}
	if _, err := s.Pull(context.Background(), ref, PullOptions{Jobs: 1}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// A pull killed with SIGKILL half-way leaves its tmp/ directory and
// complete layers, never a half layer; the next command's gc removes what
// no name uses, and the next pull completes the image.
func TestKilledPull(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	img := imagetest.TestImage(t, "linux/"+runtime.GOARCH)
	reg.Push(t, "test/layers:v1", img)
	_, _, layers := digestsOf(t, img)
	chains := ChainIDs(mustDiffIDs(t, img))
	release := reg.Block(layers[2])
	defer release()
	s := newStore(t)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), pullerEnv+"="+s.Root()+" "+reg.Ref("test/layers:v1"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	waitFor(t, func() bool { return gets(reg, layers[2]) == 1 })
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	release()

	require.True(t, s.hasLayer(chains[0]), "layers done before the kill are complete and kept: %s", out.String())
	entries, err := os.ReadDir(s.path("layers"))
	require.NoError(t, err)
	for _, e := range entries {
		require.FileExists(t, s.path("layers", e.Name(), "layer.json"), "a layer dir exists only whole")
	}
	require.False(t, s.hasLayer(chains[2]), "the layer being fetched is not in layers/")
	tmps, err := os.ReadDir(s.path("tmp"))
	require.NoError(t, err)
	require.Len(t, tmps, 1, "the killed pull's work directory")
	imgs, err := s.List()
	require.NoError(t, err)
	require.Empty(t, imgs, "no name points at the half-pulled image")

	_, err = s.GC()
	require.NoError(t, err)
	tmpEmpty(t, s)
	entries, err = os.ReadDir(s.path("layers"))
	require.NoError(t, err)
	require.Empty(t, entries, "gc removed the layers nothing names")

	_, err = s.Pull(context.Background(), reg.Ref("test/layers:v1"), PullOptions{})
	require.NoError(t, err)
}

func TestBadInput(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	reg.Push(t, "test/layers:v1", imagetest.TestImage(t, "linux/"+runtime.GOARCH))
	s := newStore(t)
	ctx := context.Background()

	_, err := s.Get("nosuch:image")
	require.ErrorIs(t, err, ErrNotFound)
	require.EqualError(t, err, "No such image: nosuch:image (see the images here with `cfs images`; get it with `cfs pull nosuch:image`)")

	for _, bad := range []string{"UPPER/case", "bad name", "a@sha256:123", "http://localhost:5000/x", ""} {
		_, err := s.Pull(ctx, bad, PullOptions{})
		require.ErrorContains(t, err, "invalid reference format", bad)
	}
	_, err = s.Pull(ctx, "Busybox", PullOptions{})
	require.EqualError(t, err, "invalid reference format: repository name (Busybox) must be lowercase")

	_, err = s.Pull(ctx, reg.Ref("test/layers:nosuchtag"), PullOptions{})
	require.ErrorContains(t, err, "manifest for "+reg.Host+"/test/layers:nosuchtag not found: manifest unknown")

	// Nothing listens on port 1.
	_, err = s.Pull(ctx, "127.0.0.1:1/test/x:v1", PullOptions{})
	require.ErrorContains(t, err, "cannot reach the registry 127.0.0.1:1")
	require.ErrorContains(t, err, "is it running, and is the port right?")

	// Credentials: none, then wrong ones from a docker config.json.
	reg.RequireAuth("student", "right")
	_, err = s.Pull(ctx, reg.Ref("test/layers:v1"), PullOptions{})
	require.ErrorContains(t, err, "pull access denied for "+reg.Host+"/test/layers")
	require.ErrorContains(t, err, "docker login "+reg.Host)
	dir := t.TempDir()
	writeDockerConfig(t, dir, reg.Host, "student", "wrong")
	t.Setenv("DOCKER_CONFIG", dir)
	s.Registry = &registry.Client{Transport: loopbackOnly{}}
	_, err = s.Pull(ctx, reg.Ref("test/layers:v1"), PullOptions{})
	require.ErrorContains(t, err, "refused the credentials in ~/.docker/config.json")
	require.ErrorContains(t, err, "log in again with `docker login "+reg.Host+"`")
	writeDockerConfig(t, dir, reg.Host, "student", "right")
	s.Registry = &registry.Client{Transport: loopbackOnly{}}
	_, err = s.Pull(ctx, reg.Ref("test/layers:v1"), PullOptions{})
	require.NoError(t, err, "the right credentials, as docker login writes them")

	_, err = s.Pull(ctx, reg.Ref("test/layers:v1"), PullOptions{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}})
	require.ErrorContains(t, err, "does not match the specified platform")
	tmpEmpty(t, s)
}

func writeDockerConfig(t *testing.T, dir, host, user, password string) {
	t.Helper()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600))
}

// A layer tar may not write outside its layer, whatever it tries.
func TestUnpackRefusesEscapes(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		entries []imagetest.Entry
		msg     string
	}{
		{"dot-dot", []imagetest.Entry{{Name: "../escaped", Body: "x"}}, "outside the layer"},
		{"deep dot-dot", []imagetest.Entry{{Name: "a/../../escaped", Body: "x"}}, "outside the layer"},
		{"absolute", []imagetest.Entry{{Name: filepath.Join(outside, "escaped"), Body: "x"}}, "absolute"},
		{"through a symlink", []imagetest.Entry{
			{Name: "evil", Type: tar.TypeSymlink, Link: outside},
			{Name: "evil/escaped", Body: "x"},
		}, "through the symlink evil"},
		{"through a relative symlink", []imagetest.Entry{
			{Name: "a/", Type: tar.TypeDir},
			{Name: "a/up", Type: tar.TypeSymlink, Link: "../../../../../../../../" + outside},
			{Name: "a/up/escaped", Body: "x"},
		}, "through the symlink a/up"},
		{"hard link out", []imagetest.Entry{{Name: "h", Type: tar.TypeLink, Link: "../../../etc/passwd"}}, "outside the layer"},
		{"hard link through a symlink", []imagetest.Entry{
			{Name: "evil", Type: tar.TypeSymlink, Link: "/etc"},
			{Name: "h", Type: tar.TypeLink, Link: "evil/passwd"},
		}, "through the symlink evil"},
		{"whiteout through a symlink", []imagetest.Entry{
			{Name: "evil", Type: tar.TypeSymlink, Link: outside},
			{Name: "evil/.wh.escaped"},
		}, "through the symlink evil"},
		{"opaque through a symlink", []imagetest.Entry{
			{Name: "evil", Type: tar.TypeSymlink, Link: outside},
			{Name: "evil/.wh..wh..opq"},
		}, "through the symlink evil"},
		{"a file written through a symlink of the same name", []imagetest.Entry{
			{Name: "f", Type: tar.TypeSymlink, Link: filepath.Join(outside, "escaped")},
			{Name: "f", Body: "x"},
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := unpack(bytes.NewReader(imagetest.Tar(t, tc.entries...)), dir, os.Geteuid() != 0)
			if tc.msg == "" {
				require.NoError(t, err)
				fi, err := os.Lstat(filepath.Join(dir, "f"))
				require.NoError(t, err)
				require.True(t, fi.Mode().IsRegular(), "the symlink was replaced, not followed")
			} else {
				require.ErrorContains(t, err, tc.msg)
			}
			left, _ := os.ReadDir(outside)
			require.Empty(t, left, "something was written outside the layer")
		})
	}
	// overlay's own marks in a tar's xattrs are dropped: only whiteout
	// entries say what is deleted.
	dir := t.TempDir()
	_, err := unpack(bytes.NewReader(imagetest.Tar(t,
		imagetest.Entry{Name: "d/", Type: tar.TypeDir, Xattrs: map[string]string{"trusted.overlay.redirect": "/etc", "user.overlay.opaque": "y"}},
	)), dir, os.Geteuid() != 0)
	require.NoError(t, err)
	names, err := listXattrs(filepath.Join(dir, "d"))
	require.NoError(t, err)
	for _, n := range names {
		require.NotContains(t, n, "overlay.")
	}
}

// A full disk: a clear error, and nothing half-written.
func TestDiskFull(t *testing.T) {
	stagetest.RequireRoot(t)
	reg := imagetest.NewRegistry(t)
	reg.Push(t, "test/big:v1", imagetest.BigImage(t, 2, 3<<20))
	small := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", small, "tmpfs", 0, "size=4m"), "mount a small tmpfs")
	t.Cleanup(func() { _ = unix.Unmount(small, unix.MNT_DETACH) })
	s, err := Open(filepath.Join(small, "images"))
	require.NoError(t, err)
	s.Registry = &registry.Client{Transport: loopbackOnly{}}

	_, err = s.Pull(context.Background(), reg.Ref("test/big:v1"), PullOptions{})
	require.ErrorContains(t, err, "the disk is full")
	require.ErrorContains(t, err, "nothing half-written is kept")
	tmpEmpty(t, s)
	imgs, err := s.List()
	require.NoError(t, err)
	require.Empty(t, imgs)
}

// Extract, docker cp's way in: into a directory that has files, never
// through a symlink already there, never a directory replaced by a file.
func TestExtract(t *testing.T) {
	outside := t.TempDir()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "link")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "old"), []byte("old"), 0o644))
	me := &[2]int{os.Getuid(), os.Getgid()}
	extract := func(opt ExtractOptions, entries ...imagetest.Entry) error {
		return Extract(bytes.NewReader(imagetest.Tar(t, entries...)), dir, opt)
	}

	require.ErrorContains(t, extract(ExtractOptions{Owner: me}, imagetest.Entry{Name: "link/escaped", Body: "x"}), "through the symlink link")
	left, _ := os.ReadDir(outside)
	require.Empty(t, left, "something was written through the symlink")
	require.ErrorContains(t, extract(ExtractOptions{Owner: me}, imagetest.Entry{Name: "d", Body: "x"}), "cannot overwrite directory d with non-directory")
	require.ErrorContains(t, extract(ExtractOptions{Owner: me}, imagetest.Entry{Name: "old/", Type: tar.TypeDir}), "cannot overwrite non-directory old with directory")

	require.NoError(t, extract(ExtractOptions{Owner: me, Rename: func(n string) string { return strings.Replace(n, "src", "dst", 1) }},
		imagetest.Entry{Name: "./", Type: tar.TypeDir, Mode: 0o700}, // the directory copied into stays as it is
		imagetest.Entry{Name: "old", Body: "new", UID: 4321},
		imagetest.Entry{Name: ".wh.old", Body: "a plain file"},
		imagetest.Entry{Name: "src/", Type: tar.TypeDir},
		imagetest.Entry{Name: "src/f", Body: "f"},
	))
	data, err := os.ReadFile(filepath.Join(dir, "old"))
	require.NoError(t, err)
	require.Equal(t, "new", string(data), "a file is replaced")
	var st unix.Stat_t
	require.NoError(t, unix.Stat(filepath.Join(dir, "old"), &st))
	require.Equal(t, uint32(os.Getuid()), st.Uid, "Owner owns every file")
	require.NoError(t, unix.Stat(dir, &st))
	require.Equal(t, uint32(0o755), st.Mode&0o777)
	data, err = os.ReadFile(filepath.Join(dir, ".wh.old"))
	require.NoError(t, err)
	require.Equal(t, "a plain file", string(data), "no whiteouts outside a layer")
	require.FileExists(t, filepath.Join(dir, "dst/f"), "Rename renames")
}
