package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"cfs/final/image/imagetest"
	"cfs/internal/rootfs"
	"cfs/internal/stagetest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// layerEntries lists the entries of a layer's blob, by name.
func layerEntries(t *testing.T, s *Store, l Layer) map[string]*tar.Header {
	t.Helper()
	f, err := s.openBlob(l.Digest)
	require.NoError(t, err)
	defer f.Close()
	dec, closeDec, err := decompress(f)
	require.NoError(t, err)
	defer closeDec()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(dec)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out[strings.TrimSuffix(hdr.Name, "/")] = hdr
	}
}

// A container's writable layer, committed: a deleted file becomes a
// whiteout, a replaced directory an opaque one, and in the new image the
// kernel's overlay shows the file gone.
func TestCommitAContainersChanges(t *testing.T) {
	stagetest.RequireRoot(t)
	s, parent, _ := pulled(t)

	// A container: an overlay of the image's layers with a writable
	// layer on top, and changes made through it, as a program inside
	// would make them.
	upper, work, merged := t.TempDir(), t.TempDir(), t.TempDir()
	opts := "lowerdir=" + strings.Join(parent.LowerDirs(), ":") + ",upperdir=" + upper + ",workdir=" + work
	require.NoError(t, unix.Mount("overlay", merged, "overlay", 0, opts))
	mounted := true
	t.Cleanup(func() {
		if mounted {
			_ = unix.Unmount(merged, unix.MNT_DETACH)
		}
	})
	require.NoError(t, os.Remove(filepath.Join(merged, "etc/motd")))
	require.NoError(t, os.RemoveAll(filepath.Join(merged, "opt")))
	require.NoError(t, os.Mkdir(filepath.Join(merged, "opt"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(merged, "opt/fresh"), []byte("fresh\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(merged, "etc/hostname"), []byte("committed\n"), 0o644))
	require.NoError(t, unix.Unmount(merged, 0))
	mounted = false

	img, err := s.Commit(context.Background(), CommitOptions{
		Parent: parent.ID.String(), Upper: upper, Name: "committed:v1",
		Author: "a student", Message: "my changes", CreatedBy: "/bin/sh -c rm /etc/motd",
		Changes: []string{`CMD ["/bin/cat", "/etc/hostname"]`, "ENV MODE=committed"},
	})
	require.NoError(t, err)
	require.Len(t, img.Layers, len(parent.Layers)+1)
	for i := range parent.Layers {
		require.Equal(t, parent.Layers[i].Dir, img.Layers[i].Dir, "the parent's layers are shared, not copied")
	}
	require.Equal(t, []string{"committed:v1"}, img.RepoTags)
	last := img.Config.History[len(img.Config.History)-1]
	require.Equal(t, "/bin/sh -c rm /etc/motd", last.CreatedBy)
	require.Equal(t, "my changes", last.Comment)
	require.Equal(t, "a student", img.Config.Author)
	require.Equal(t, []string{"/bin/cat", "/etc/hostname"}, img.Config.Config.Cmd)
	require.Contains(t, img.Config.Config.Env, "MODE=committed")

	// The new layer's tar holds whiteouts, as any registry's would.
	top := img.Layers[len(img.Layers)-1]
	entries := layerEntries(t, s, top)
	require.Contains(t, entries, "etc/.wh.motd", "the deletion is a whiteout")
	require.Contains(t, entries, "opt/.wh..wh..opq", "the replaced directory is opaque")
	require.Contains(t, entries, "opt/fresh")
	require.Contains(t, entries, "etc/hostname")

	// Stacked by the kernel: the deleted file is gone, the rest is there.
	view := mountLowers(t, img.LowerDirs())
	_, err = os.Lstat(filepath.Join(view, "etc/motd"))
	require.ErrorIs(t, err, os.ErrNotExist, "a committed deletion is gone in the new image")
	got, err := os.ReadFile(filepath.Join(view, "etc/hostname"))
	require.NoError(t, err)
	require.Equal(t, "committed\n", string(got))
	opt, err := os.ReadDir(filepath.Join(view, "opt"))
	require.NoError(t, err)
	require.Len(t, opt, 1, "the replaced directory shows only what the container put there")
	require.Equal(t, "fresh", opt[0].Name())

	// The new image goes to another store and back, whole.
	var saved bytes.Buffer
	require.NoError(t, s.Save(&saved, []string{"committed:v1"}))
	s2, _ := loadBytes(t, saved.Bytes())
	again, err := s2.Get("committed:v1")
	require.NoError(t, err)
	require.Equal(t, img.ID, again.ID)
}

// Commit without root: overlay's marks made by hand in a directory.
func TestCommitMarksWithoutOverlay(t *testing.T) {
	s, parent, _ := pulled(t)
	upper := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(upper, "etc"), 0o755))
	require.NoError(t, unix.Mknod(filepath.Join(upper, "etc/motd"), unix.S_IFCHR, 0))
	require.NoError(t, os.Mkdir(filepath.Join(upper, "var"), 0o755))
	mark := "user.overlay.opaque" // an overlay in a user namespace
	if os.Geteuid() == 0 {
		mark = "trusted.overlay.opaque" // tmpfs holds user.* xattrs only since Linux 6.6
	}
	require.NoError(t, unix.Setxattr(filepath.Join(upper, "var"), mark, []byte("y"), 0))
	img, err := s.Commit(context.Background(), CommitOptions{Parent: parent.RepoTags[0], Upper: upper})
	require.NoError(t, err)
	require.Empty(t, img.RepoTags, "no name: a <none> image")
	entries := layerEntries(t, s, img.Layers[len(img.Layers)-1])
	require.Contains(t, entries, "etc/.wh.motd")
	require.Contains(t, entries, "var/.wh..wh..opq")
	require.NotContains(t, entries, "etc/motd")

	_, err = s.Commit(context.Background(), CommitOptions{Parent: "nosuch", Upper: upper})
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Commit(context.Background(), CommitOptions{Parent: parent.ID.String(), Upper: "/nonexistent"})
	require.ErrorContains(t, err, "not a directory")
	_, err = s.Commit(context.Background(), CommitOptions{Parent: parent.ID.String(), Upper: upper, Name: "x@sha256:" + strings.Repeat("a", 64)})
	require.ErrorContains(t, err, "a new image gets a tag, not a digest")
}

func TestImport(t *testing.T) {
	s := newStore(t)
	root := imagetest.Tar(t,
		imagetest.Entry{Name: "./", Type: tar.TypeDir},
		imagetest.Entry{Name: "./bin/", Type: tar.TypeDir},
		imagetest.Entry{Name: "./bin/hello", Body: "#!/bin/sh\necho hello\n", Mode: 0o755},
	)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(root)
	require.NoError(t, zw.Close())

	for _, in := range []struct {
		name string
		data []byte
	}{{"plain", root}, {"gzip", gz.Bytes()}} {
		t.Run(in.name, func(t *testing.T) {
			img, err := s.Import(context.Background(), bytes.NewReader(in.data), ImportOptions{Name: "imported:" + in.name, Source: "-", Changes: []string{"CMD /bin/hello"}})
			require.NoError(t, err)
			require.Len(t, img.Layers, 1)
			require.Equal(t, "Imported from -", img.Config.History[0].Comment)
			require.Equal(t, []string{"/bin/sh", "-c", "/bin/hello"}, img.Config.Config.Cmd)
			require.Equal(t, runtime.GOARCH, img.Config.Architecture)
			b, err := os.ReadFile(filepath.Join(img.Layers[0].Dir, "bin/hello"))
			require.NoError(t, err)
			require.Equal(t, "#!/bin/sh\necho hello\n", string(b))
		})
	}
	a, err := s.Get("imported:plain")
	require.NoError(t, err)
	b, err := s.Get("imported:gzip")
	require.NoError(t, err)
	require.Equal(t, a.Layers[0].DiffID, b.Layers[0].DiffID, "the same tree, however it was compressed")

	_, err = s.Import(context.Background(), strings.NewReader(strings.Repeat("not a tar", 100)), ImportOptions{Source: "junk"})
	require.ErrorContains(t, err, "import junk")
	_, err = s.Import(context.Background(), bytes.NewReader(root), ImportOptions{Changes: []string{"RUN make"}})
	require.ErrorContains(t, err, "cfs applies CMD, ENTRYPOINT")
	tmpEmpty(t, s)
}

// cfs/base is the stages' root filesystem as an image, made here.
func TestBaseImage(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin/sh"), []byte("#!shell\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, rootfsStamp), []byte("{}"), 0o644))
	img, err := s.baseFrom(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"cfs/base:latest"}, img.RepoTags)
	require.Equal(t, []string{"/bin/sh"}, img.Config.Config.Cmd)
	require.Equal(t, []string{DefaultPath}, img.Config.Config.Env)
	require.FileExists(t, filepath.Join(img.Layers[0].Dir, "bin/sh"))
	require.NoFileExists(t, filepath.Join(img.Layers[0].Dir, rootfsStamp), "the rootfs's bookkeeping is not part of the image")
	rows := img.History()
	require.Len(t, rows, 2)
	require.Equal(t, `CMD ["/bin/sh"]`, rows[0].CreatedBy)
	require.Zero(t, rows[0].Size, "CMD makes no layer")
	require.Equal(t, img.Layers[0].Size, rows[1].Size)

	// From the real default root filesystem, with nothing but this machine.
	if os.Geteuid() == 0 {
		if _, err := os.Stat(rootfs.DefaultDir); err == nil {
			s2 := newStore(t)
			base, err := s2.EnsureBase()
			require.NoError(t, err)
			require.FileExists(t, filepath.Join(base.Layers[0].Dir, "bin/sh"))
			res, err := s2.Pull(context.Background(), "cfs/base", PullOptions{})
			require.NoError(t, err, "pull cfs/base needs no registry")
			require.Equal(t, base.ID, res.Image.ID)
		}
	}
}

func TestTagAndRmi(t *testing.T) {
	s, img, ref := pulled(t)
	require.NoError(t, s.Tag(ref, "mine:v1"))
	require.NoError(t, s.Tag("mine:v1", "localhost:5000/mine:v2"))
	got, err := s.Get("mine")
	require.ErrorIs(t, err, ErrNotFound, "mine is mine:latest, which is not here")
	got, err = s.Get(img.ShortID())
	require.NoError(t, err, "an ID prefix finds the image")
	require.ElementsMatch(t, []string{strings.TrimPrefix(ref, ""), "mine:v1", "localhost:5000/mine:v2"}, got.RepoTags)

	_, err = s.Remove(img.ShortID(), false)
	require.ErrorContains(t, err, "conflict: unable to delete "+img.ShortID()+" (must be forced) - image is referenced in multiple repositories")

	rm, err := s.Remove("mine:v1", false)
	require.NoError(t, err)
	require.Equal(t, []string{"mine:v1"}, rm.Untagged)
	require.Empty(t, rm.Deleted, "other names remain: only untagged")

	// A container holds the image: its last name stays unless -f.
	held, err := s.Hold("ctr1", ref)
	require.NoError(t, err)
	require.Equal(t, img.ID, held.ID)
	_, err = s.Remove("localhost:5000/mine:v2", false)
	require.NoError(t, err)
	_, err = s.Remove(ref, false)
	require.ErrorContains(t, err, "(must force) - container ctr1 is using its referenced image "+img.ShortID())
	rm, err = s.Remove(ref, true)
	require.NoError(t, err)
	require.Contains(t, rm.Untagged, ref)
	require.Empty(t, rm.Deleted, "a held image stays, without a name")
	imgs, err := s.List()
	require.NoError(t, err)
	require.Len(t, imgs, 1)
	require.Empty(t, imgs[0].RepoTags, "<none>")
	for _, l := range img.Layers {
		require.DirExists(t, l.Dir, "gc keeps a held image's layers")
	}

	require.NoError(t, s.Release("ctr1"))
	require.NoError(t, s.Release("ctr1"), "releasing twice is fine")
	rm, err = s.Remove(img.ID.String(), false)
	require.NoError(t, err)
	require.Equal(t, img.ID.String(), rm.Deleted[0])
	require.Len(t, rm.Deleted, 1+len(img.Layers), "the image and each of its layers")
	for _, l := range img.Layers {
		require.NoDirExists(t, filepath.Dir(l.Dir))
	}
	blobs, err := os.ReadDir(s.path("blobs", "sha256"))
	require.NoError(t, err)
	require.Empty(t, blobs)
	tmpEmpty(t, s)

	_, err = s.Remove("nosuch", false)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Hold("../evil", ref)
	require.ErrorContains(t, err, "not a holder's name")
}

// image prune: without all only the dangling images go, with all every
// image no container holds; held ones stay either way.
func TestPrune(t *testing.T) {
	s, img, ref := pulled(t)
	unnamed := func(file string) *Image {
		t.Helper()
		tree := imagetest.Tar(t, imagetest.Entry{Name: "./", Type: tar.TypeDir},
			imagetest.Entry{Name: "./" + file, Body: strings.Repeat(file, 1000), Mode: 0o644})
		got, err := s.Import(context.Background(), bytes.NewReader(tree), ImportOptions{Source: "-"})
		require.NoError(t, err)
		require.Empty(t, got.Names, "imported without a name: dangling")
		return got
	}
	dangling, held := unnamed("dangling"), unnamed("held")
	all, err := s.List()
	require.NoError(t, err)
	require.Len(t, all, 3, "a second image without a name leaves the first one")
	_, err = s.Hold("ctr1", held.ID.String())
	require.NoError(t, err)

	rm, reclaimed, err := s.Prune(false, nil)
	require.NoError(t, err)
	require.Empty(t, rm.Untagged)
	require.Equal(t, []string{dangling.ID.String(), dangling.Layers[0].ChainID.String()}, rm.Deleted)
	require.GreaterOrEqual(t, reclaimed, uint64(8000), "its file's 8000 bytes, and its blob")
	require.NoDirExists(t, filepath.Dir(dangling.Layers[0].Dir))
	require.NoFileExists(t, s.blobPath(dangling.Layers[0].Digest))
	require.DirExists(t, held.Layers[0].Dir, "a held image stays")
	require.DirExists(t, img.Layers[0].Dir, "a named image stays")

	rm, reclaimed, err = s.Prune(false, nil)
	require.NoError(t, err)
	require.Empty(t, rm.Deleted)
	require.Zero(t, reclaimed)
	rm, reclaimed, err = s.Prune(true, func(i *Image) bool { return i.ID != img.ID })
	require.NoError(t, err)
	require.Empty(t, rm.Deleted, "what the filter keeps stays")
	require.Zero(t, reclaimed)

	rm, reclaimed, err = s.Prune(true, nil)
	require.NoError(t, err)
	require.Contains(t, rm.Untagged, ref)
	require.Equal(t, img.ID.String(), rm.Deleted[0])
	require.Len(t, rm.Deleted, 1+len(img.Layers), "the image and each of its layers")
	require.Positive(t, reclaimed)
	for _, l := range img.Layers {
		require.NoDirExists(t, filepath.Dir(l.Dir))
	}
	imgs, err := s.List()
	require.NoError(t, err)
	require.Len(t, imgs, 1)
	require.Equal(t, held.ID, imgs[0].ID, "the held image is all that is left")

	require.NoError(t, s.Release("ctr1"))
	rm, _, err = s.Prune(false, nil)
	require.NoError(t, err)
	require.Equal(t, held.ID.String(), rm.Deleted[0], "released, it is dangling")
	blobs, err := os.ReadDir(s.path("blobs", "sha256"))
	require.NoError(t, err)
	require.Empty(t, blobs)
	tmpEmpty(t, s)
}

// VOLUME takes its places as a Dockerfile does: a JSON list, or words;
// never a shell command.
func TestApplyChangesVolume(t *testing.T) {
	var c v1.Config
	require.NoError(t, applyChanges(&c, []string{"VOLUME /data /cache", `VOLUME ["/srv"]`}))
	require.Equal(t, map[string]struct{}{"/data": {}, "/cache": {}, "/srv": {}}, c.Volumes)
}
