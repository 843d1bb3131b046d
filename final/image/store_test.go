package image

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"cfs/final/image/imagetest"
	"cfs/final/registry"
	"cfs/internal/stagetest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if os.Getenv(pullerEnv) != "" {
		os.Exit(puller())
	}
	os.Exit(stagetest.Main(m, stagetest.Options{Rootfs: true}))
}

// newStore opens a store in a temporary directory, whose registry client
// reaches only loopback.
func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "images"))
	require.NoError(t, err)
	s.Registry = &registry.Client{Transport: loopbackOnly{}}
	return s
}

// loopbackOnly is a transport that refuses any address but loopback, so
// that no test can reach Docker Hub, even by mistake (a mirror's
// fallback).
type loopbackOnly struct{}

func (loopbackOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Hostname()
	if host != "127.0.0.1" && host != "localhost" && host != "::1" {
		return nil, errors.New("test transport: " + host + " is not loopback: refused")
	}
	return http.DefaultTransport.RoundTrip(req)
}

func digestsOf(t *testing.T, img v1.Image) (manifest, config v1.Hash, layers []v1.Hash) {
	t.Helper()
	manifest, err := img.Digest()
	require.NoError(t, err)
	config, err = img.ConfigName()
	require.NoError(t, err)
	ls, err := img.Layers()
	require.NoError(t, err)
	for _, l := range ls {
		d, err := l.Digest()
		require.NoError(t, err)
		layers = append(layers, d)
	}
	return manifest, config, layers
}

// tmpEmpty checks that no command's work is left in tmp/.
func tmpEmpty(t *testing.T, s *Store) {
	t.Helper()
	entries, err := os.ReadDir(s.path("tmp"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Empty(t, names, "tmp/ holds what a command left")
}

// The store's directory is its own (0700), but the one it is made in is
// /var/lib/cfs, which stage 06's user namespaces pass through: a first
// `cfs images` on a new host must not close it.
func TestOpenLeavesTheStateDirOpen(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	_, err := Open(filepath.Join(state, "images"))
	require.NoError(t, err)
	fi, err := os.Stat(state)
	require.NoError(t, err)
	require.NotZero(t, fi.Mode().Perm()&0o001, "others may pass through %s: %v", state, fi.Mode())
	fi, err = os.Stat(filepath.Join(state, "images"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
}

func TestPullUnpacksEveryKindOfEntry(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	want := imagetest.TestImage(t, "linux/"+runtime.GOARCH)
	reg.Push(t, "test/layers:v1", want)
	s := newStore(t)

	var events []Event
	var mu sync.Mutex
	res, err := s.Pull(context.Background(), reg.Ref("test/layers:v1"), PullOptions{Progress: func(e Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	require.NoError(t, err)
	manifest, config, layers := digestsOf(t, want)
	img := res.Image
	require.Equal(t, config, img.ID, "the image's ID is its config's digest")
	require.Equal(t, manifest, img.Manifest.Digest)
	require.Equal(t, manifest, res.Digest)
	require.Equal(t, []string{reg.Host + "/test/layers:v1"}, img.RepoTags)
	require.Equal(t, []string{reg.Host + "/test/layers@" + manifest.String()}, img.RepoDigests)
	require.Len(t, img.Layers, 3)
	for i, l := range img.Layers {
		require.Equal(t, layers[i], l.Digest)
		require.DirExists(t, l.Dir)
		require.Equal(t, s.path("layers", l.ChainID.Hex, "diff"), l.Dir)
	}
	require.Equal(t, img.Layers[0].DiffID, img.Layers[0].ChainID, "the bottom layer's chain ID is its diff ID")
	require.NotEqual(t, img.Layers[1].DiffID, img.Layers[1].ChainID)
	require.Equal(t, []string{img.Layers[2].Dir, img.Layers[1].Dir, img.Layers[0].Dir}, img.LowerDirs())
	require.Greater(t, img.Size, int64(0))
	tmpEmpty(t, s)

	l0, l1, l2 := img.Layers[0].Dir, img.Layers[1].Dir, img.Layers[2].Dir
	read := func(p string) string {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		return string(b)
	}
	// Layer 0: files, modes, links, devices.
	fi, err := os.Stat(filepath.Join(l0, "bin/tool"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755)|os.ModeSetuid, fi.Mode()&(os.ModePerm|os.ModeSetuid), "set-user-ID kept")
	var a, b unix.Stat_t
	require.NoError(t, unix.Lstat(filepath.Join(l0, "bin/tool"), &a))
	require.NoError(t, unix.Lstat(filepath.Join(l0, "bin/tool-hard"), &b))
	require.Equal(t, a.Ino, b.Ino, "a hard link is the same inode")
	link, err := os.Readlink(filepath.Join(l0, "etc/motd.link"))
	require.NoError(t, err)
	require.Equal(t, "/etc/motd", link, "a symlink keeps its target, never followed")
	require.Equal(t, "hello from layer 0\n", read(filepath.Join(l0, "etc/motd")))
	require.NoError(t, unix.Lstat(filepath.Join(l0, "dev/pipe"), &a))
	require.Equal(t, uint32(unix.S_IFIFO), a.Mode&unix.S_IFMT)
	if os.Geteuid() == 0 {
		require.NoError(t, unix.Lstat(filepath.Join(l0, "dev/null"), &a))
		require.Equal(t, uint32(unix.S_IFCHR), a.Mode&unix.S_IFMT, "device nodes are kept")
		require.Equal(t, uint64(unix.Mkdev(1, 3)), a.Rdev)
		require.NoError(t, unix.Lstat(filepath.Join(l0, "home/user/notes"), &a))
		require.Equal(t, uint32(1000), a.Uid, "owners are kept")
		require.Equal(t, uint32(1000), a.Gid)
	}
	if v, err := getXattr(filepath.Join(l0, "usr/bin/ping"), "user.cfs.test"); err == nil {
		require.Equal(t, "kept", string(v), "xattrs are kept")
	}
	// Layer 1: a whiteout and an opaque directory, in overlay's form.
	require.NoError(t, unix.Lstat(filepath.Join(l1, "etc/passwd"), &a))
	require.Equal(t, uint32(unix.S_IFCHR), a.Mode&unix.S_IFMT, ".wh.passwd became a character device")
	require.Zero(t, a.Rdev, "… 0/0: overlay's whiteout")
	require.NoFileExists(t, filepath.Join(l1, "etc/.wh.passwd"))
	opq, err := getXattr(filepath.Join(l1, "var/lib/data"), "user.overlay.opaque")
	if os.Geteuid() == 0 {
		opq, err = getXattr(filepath.Join(l1, "var/lib/data"), "trusted.overlay.opaque")
	}
	require.NoError(t, err)
	require.Equal(t, "y", string(opq), ".wh..wh..opq became overlay's opaque mark")
	require.NoFileExists(t, filepath.Join(l1, "var/lib/data/.wh..wh..opq"))
	require.Equal(t, "new\n", read(filepath.Join(l1, "var/lib/data/new")))
	// Layer 2, zstd.
	require.Equal(t, "app in a zstd layer\n", read(filepath.Join(l2, "opt/app")))

	// Progress: every layer started and completed.
	mu.Lock()
	statuses := map[string][]string{}
	for _, e := range events {
		statuses[e.ID] = append(statuses[e.ID], e.Status)
	}
	mu.Unlock()
	for _, l := range layers {
		st := statuses[l.Hex[:12]]
		require.Equal(t, "Pulling fs layer", st[0])
		require.Equal(t, "Pull complete", st[len(st)-1])
		require.Contains(t, st, "Download complete")
	}

	// A second pull finds the image up to date and downloads no layer.
	before := len(reg.Requests())
	res, err = s.Pull(context.Background(), reg.Ref("test/layers:v1"), PullOptions{})
	require.NoError(t, err)
	require.True(t, res.UpToDate)
	for _, r := range reg.Requests()[before:] {
		for _, l := range layers {
			require.NotContains(t, r, l.String(), "a layer already here was downloaded again")
		}
	}
}

// The layers, stacked by the kernel's overlayfs, show what the image
// means: the deleted file gone, the opaque directory's old files hidden,
// the top layer's version of a file.
func TestPulledLayersStackInOverlay(t *testing.T) {
	stagetest.RequireRoot(t)
	reg := imagetest.NewRegistry(t)
	reg.Push(t, "test/layers:v1", imagetest.TestImage(t, "linux/"+runtime.GOARCH))
	s := newStore(t)
	res, err := s.Pull(context.Background(), reg.Ref("test/layers:v1"), PullOptions{})
	require.NoError(t, err)
	merged := mountLowers(t, res.Image.LowerDirs())

	_, err = os.Lstat(filepath.Join(merged, "etc/passwd"))
	require.ErrorIs(t, err, os.ErrNotExist, "the whiteout deletes etc/passwd")
	entries, err := os.ReadDir(filepath.Join(merged, "var/lib/data"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "the opaque directory hides layer 0's files")
	require.Equal(t, "new", entries[0].Name())
	motd, err := os.ReadFile(filepath.Join(merged, "etc/motd"))
	require.NoError(t, err)
	require.Equal(t, "hello from layer 1\n", string(motd))
	app, err := os.ReadFile(filepath.Join(merged, "opt/app"))
	require.NoError(t, err)
	require.Equal(t, "app in a zstd layer\n", string(app))
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(filepath.Join(merged, "dev/null"), &st))
	require.Equal(t, uint64(unix.Mkdev(1, 3)), st.Rdev)
}

// mountLowers mounts a read-only overlay of dirs (top first) and returns
// where; the test's cleanup unmounts it.
func mountLowers(t *testing.T, dirs []string) string {
	t.Helper()
	merged := t.TempDir()
	opts := "lowerdir=" + strings.Join(dirs, ":")
	require.NoError(t, unix.Mount("overlay", merged, "overlay", unix.MS_RDONLY, opts), "mount -t overlay -o %s", opts)
	t.Cleanup(func() { _ = unix.Unmount(merged, unix.MNT_DETACH) })
	return merged
}

func TestPullPicksThePlatformFromAManifestList(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	reg.PushIndex(t, "test/multi:v1", imagetest.Index(t, "linux/"+runtime.GOARCH, "linux/"+other))
	s := newStore(t)
	archOf := func(img *Image) string {
		b, err := os.ReadFile(filepath.Join(img.Layers[0].Dir, "arch"))
		require.NoError(t, err)
		return strings.TrimSpace(string(b))
	}

	res, err := s.Pull(context.Background(), reg.Ref("test/multi:v1"), PullOptions{})
	require.NoError(t, err)
	require.Equal(t, "linux/"+runtime.GOARCH, archOf(res.Image), "this machine's platform by default")
	require.NotEqual(t, res.Digest, res.Image.Manifest.Digest, "the repo digest is the list's, the image's manifest is the platform's")
	require.Equal(t, []string{reg.Host + "/test/multi@" + res.Digest.String()}, res.Image.RepoDigests)

	res, err = s.Pull(context.Background(), reg.Ref("test/multi:v1"), PullOptions{Platform: &v1.Platform{OS: "linux", Architecture: other}})
	require.NoError(t, err)
	require.Equal(t, "linux/"+other, archOf(res.Image), "--platform")
	require.Equal(t, "linux/"+other, res.Image.Platform())

	_, err = s.Pull(context.Background(), reg.Ref("test/multi:v1"), PullOptions{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}})
	require.ErrorContains(t, err, "no matching manifest for linux/s390x in the manifest list entries (it has: linux/")
	require.ErrorContains(t, err, "choose one with --platform")
}

func TestTamperedBlobIsRefused(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	img := imagetest.TestImage(t, "linux/"+runtime.GOARCH)
	reg.Push(t, "test/layers:v1", img)
	_, _, layers := digestsOf(t, img)
	reg.Tamper(layers[1])
	s := newStore(t)

	_, err := s.Pull(context.Background(), reg.Ref("test/layers:v1"), PullOptions{})
	require.Error(t, err)
	var de *DigestError
	require.ErrorAs(t, err, &de, "%v", err)
	require.Equal(t, layers[1], de.Want)
	require.Contains(t, err.Error(), "tampered or corrupted")
	require.Contains(t, err.Error(), "nothing of it was kept")
	require.False(t, s.hasBlob(layers[1]), "the tampered blob is not in the store")
	imgs, err := s.List()
	require.NoError(t, err)
	require.Empty(t, imgs, "no name points at a half image")
	tmpEmpty(t, s)
	_, err = s.GC()
	require.NoError(t, err)
	entries, _ := os.ReadDir(s.path("layers"))
	require.Empty(t, entries, "after gc, nothing of the failed pull is left")

	reg.Heal()
	_, err = s.Pull(context.Background(), reg.Ref("test/layers:v1"), PullOptions{})
	require.NoError(t, err, "the next pull, from a registry that behaves, works")
}

func TestDroppedConnectionLeavesACleanStore(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	img := imagetest.BigImage(t, 2, 2<<20)
	reg.Push(t, "test/big:v1", img)
	_, _, layers := digestsOf(t, img)
	reg.Drop(layers[1])
	s := newStore(t)

	_, err := s.Pull(context.Background(), reg.Ref("test/big:v1"), PullOptions{Jobs: 1})
	require.Error(t, err)
	var te *TransferError
	require.ErrorAs(t, err, &te, "%v", err)
	require.Contains(t, err.Error(), "the download broke off after ")
	require.Contains(t, err.Error(), "run the command again")
	require.False(t, s.hasBlob(layers[1]))
	tmpEmpty(t, s)
	imgs, err := s.List()
	require.NoError(t, err)
	require.Empty(t, imgs)

	reg.Heal()
	before := len(reg.Requests())
	_, err = s.Pull(context.Background(), reg.Ref("test/big:v1"), PullOptions{Jobs: 1})
	require.NoError(t, err)
	got := strings.Join(reg.Requests()[before:], "\n")
	require.NotContains(t, got, layers[0].String(), "the layer that arrived whole is kept and not fetched again")
	require.Contains(t, got, layers[1].String())
}

func TestTwoPullsAtOnce(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	img := imagetest.TestImage(t, "linux/"+runtime.GOARCH)
	reg.Push(t, "test/layers:v1", img)
	_, _, layers := digestsOf(t, img)
	release := reg.Block(layers[2]) // both pulls wait on the same layer
	s := newStore(t)

	var wg sync.WaitGroup
	results := make([]*PullResult, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Pull(context.Background(), reg.Ref("test/layers:v1"), PullOptions{})
		}()
	}
	waitFor(t, func() bool { return gets(reg, layers[2]) == 2 })
	release()
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Equal(t, results[0].Image.ID, results[1].Image.ID)
	entries, err := os.ReadDir(s.path("layers"))
	require.NoError(t, err)
	require.Len(t, entries, 3, "each layer once")
	for _, l := range results[0].Image.Layers {
		require.FileExists(t, filepath.Join(filepath.Dir(l.Dir), "layer.json"))
	}
	tmpEmpty(t, s)
	idx, err := s.index()
	require.NoError(t, err)
	require.Len(t, idx.Manifests, 1, "one name, one entry")
}

// A gc (run by rmi of another image) while a pull is half-way keeps what
// the pull has written: its lease protects it.
func TestRmiWhileAPullRuns(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	img := imagetest.TestImage(t, "linux/"+runtime.GOARCH)
	reg.Push(t, "test/layers:v1", img)
	reg.Push(t, "test/other:v1", imagetest.Image(t, "linux/"+runtime.GOARCH, imagetest.Layer(t, imagetest.Tar(t, imagetest.Entry{Name: "other", Body: "x\n"}), "gzip")))
	_, _, layers := digestsOf(t, img)
	s := newStore(t)
	_, err := s.Pull(context.Background(), reg.Ref("test/other:v1"), PullOptions{})
	require.NoError(t, err)

	release := reg.Block(layers[2])
	done := make(chan error, 1)
	go func() {
		_, err := s.Pull(context.Background(), reg.Ref("test/layers:v1"), PullOptions{})
		done <- err
	}()
	waitFor(t, func() bool { c := ChainIDs(mustDiffIDs(t, img)); return s.hasLayer(c[0]) && s.hasLayer(c[1]) })
	rm, err := s.Remove(reg.Ref("test/other:v1"), false)
	require.NoError(t, err)
	require.NotEmpty(t, rm.Deleted, "rmi deleted the other image and ran gc")
	require.True(t, s.hasLayer(ChainIDs(mustDiffIDs(t, img))[0]), "gc kept the pull's finished layers")
	release()
	require.NoError(t, <-done)
	got, err := s.Get(reg.Ref("test/layers:v1"))
	require.NoError(t, err)
	for _, l := range got.Layers {
		require.DirExists(t, l.Dir)
	}
	tmpEmpty(t, s)
}

// waitFor waits until cond holds (a condition another goroutine makes
// true: a request that arrives, a layer that appears).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustDiffIDs(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	return cf.RootFS.DiffIDs
}

// gets counts the downloads of blob h the registry has seen.
func gets(reg *imagetest.Registry, h v1.Hash) int {
	n := 0
	for _, r := range reg.Requests() {
		if strings.HasPrefix(r, "GET ") && strings.HasSuffix(r, "/blobs/"+h.String()) {
			n++
		}
	}
	return n
}
