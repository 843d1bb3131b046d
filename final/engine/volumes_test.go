package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/require"
)

// The engine's volume records, without a container running: made, found,
// listed, refused while a container's record names them, pruned.
func TestVolumeStore(t *testing.T) {
	e := &Engine{Root: t.TempDir(), RunRoot: t.TempDir()} // (its events, in the journal there)
	require.NoError(t, e.init())
	v, err := e.CreateVolume("data", map[string]string{"tier": "db"})
	require.NoError(t, err)
	require.Equal(t, "data", v.Name)
	require.DirExists(t, e.Mountpoint("data"))
	again, err := e.CreateVolume("data", nil)
	require.NoError(t, err)
	require.Equal(t, v.CreatedAt, again.CreatedAt, "the volume that is there, as docker gives it back")
	_, err = e.CreateVolume("a/b", nil)
	require.ErrorContains(t, err, `"a/b" includes invalid characters for a local volume name`)
	_, err = e.Volume("nosuch")
	require.ErrorIs(t, err, ErrNotFound)
	require.EqualError(t, err, "get nosuch: no such volume")

	// A container's record that mounts data, and one that has an
	// anonymous volume.
	anon, err := e.CreateVolume("", map[string]string{AnonymousLabel: ""})
	require.NoError(t, err)
	require.Len(t, anon.Name, 64)
	require.True(t, anon.Anonymous())
	c := &Container{ID: NewID(), HostConfig: container.HostConfig{Binds: []string{"data:/var/lib/db:ro"}}, Volumes: map[string]string{"/cache": anon.Name}}
	require.NoError(t, os.MkdirAll(e.Dir(c.ID), 0o711))
	require.NoError(t, e.save(c))
	users, err := e.VolumeUsers()
	require.NoError(t, err)
	require.Equal(t, map[string][]string{"data": {c.ID}, anon.Name: {c.ID}}, users)
	err = e.RemoveVolume("data", false)
	require.ErrorContains(t, err, "remove data: volume is in use - ["+c.ID+"]")
	require.Equal(t, []Bind{{Source: e.Mountpoint("data"), Destination: "/var/lib/db", ReadOnly: true, Volume: "data"},
		{Source: e.Mountpoint(anon.Name), Destination: "/cache", Volume: anon.Name}}, e.mounts(c))

	// Unused: a named one and an anonymous one. prune takes the
	// anonymous one; prune -a the named one too, not those in use.
	_, err = e.CreateVolume("spare", nil)
	require.NoError(t, err)
	lone, err := e.CreateVolume("", map[string]string{AnonymousLabel: ""})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(e.Mountpoint(lone.Name), "f"), []byte("12345"), 0o644))
	removed, space, err := e.PruneVolumes(false, nil)
	require.NoError(t, err)
	require.Equal(t, []string{lone.Name}, removed)
	require.Equal(t, uint64(5), space)
	removed, _, err = e.PruneVolumes(true, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"spare"}, removed)
	require.NoError(t, e.removeFiles(c.ID))
	require.NoError(t, e.removeAnonymousVolumes(c))
	list, err := e.Volumes()
	require.NoError(t, err)
	require.Len(t, list, 1, "rm -v took the anonymous volume, not the named one")
	require.Equal(t, "data", list[0].Name)
	require.NoError(t, e.RemoveVolume("data", false))
	require.NoError(t, e.RemoveVolume("data", true), "force: not there is no error")
	require.ErrorIs(t, e.RemoveVolume("data", false), ErrNotFound)
}

func TestVolumeMatcher(t *testing.T) {
	v := &Volume{Name: "pgdata", Labels: map[string]string{"tier": "db", "env": "test"}}
	for _, tc := range []struct {
		f     Filter
		inUse bool
		want  bool
	}{
		{Filter{}, true, true},
		{Filter{"name": {"pg"}}, false, true},
		{Filter{"name": {"web"}}, false, false},
		{Filter{"dangling": {"true"}}, false, true},
		{Filter{"dangling": {"true"}}, true, false},
		{Filter{"dangling": {"false"}}, true, true},
		{Filter{"label": {"tier=db", "env"}}, false, true},
		{Filter{"label": {"tier=db", "env=prod"}}, false, false},
		{Filter{"driver": {"local"}}, false, true},
	} {
		match, err := VolumeMatcher(tc.f)
		require.NoError(t, err, tc.f)
		require.Equal(t, tc.want, match(v, tc.inUse), "%v in use %v", tc.f, tc.inUse)
	}
	_, err := VolumeMatcher(Filter{"dangling": {"maybe"}})
	require.ErrorContains(t, err, "invalid filter 'dangling=maybe'")
	_, err = VolumeMatcher(Filter{"size": {"1"}})
	require.ErrorContains(t, err, "invalid filter 'size'")
}

// copyUp: what the image has at the volume's place, kept as it is (modes,
// links not followed), and nothing from outside the root.
func TestCopyUp(t *testing.T) {
	root, vol := t.TempDir(), filepath.Join(t.TempDir(), "_data")
	require.NoError(t, os.Mkdir(vol, 0o755))
	data := filepath.Join(root, "var/lib/db")
	require.NoError(t, os.MkdirAll(filepath.Join(data, "base"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(data, "base/PG_VERSION"), []byte("16\n"), 0o600))
	require.NoError(t, os.Symlink("../../../etc/passwd", filepath.Join(data, "passwd")))
	require.NoError(t, os.Chmod(data, 0o700))
	require.NoError(t, fillVolume(root, Bind{Source: vol, Destination: "/var/lib/db", Volume: "db"}))
	got, err := os.ReadFile(filepath.Join(vol, "base/PG_VERSION"))
	require.NoError(t, err)
	require.Equal(t, "16\n", string(got))
	fi, err := os.Stat(filepath.Join(vol, "base/PG_VERSION"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	fi, err = os.Stat(vol)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "the place's own mode")
	link, err := os.Readlink(filepath.Join(vol, "passwd"))
	require.NoError(t, err)
	require.Equal(t, "../../../etc/passwd", link, "a link is copied as a link")
	// Filled once: a volume with files in it is left as it is.
	require.NoError(t, os.Remove(filepath.Join(vol, "passwd")))
	require.NoError(t, fillVolume(root, Bind{Source: vol, Destination: "/var/lib/db", Volume: "db"}))
	_, err = os.Lstat(filepath.Join(vol, "passwd"))
	require.ErrorIs(t, err, os.ErrNotExist)
	// A copy cut short (the mark left): emptied and copied again.
	require.NoError(t, os.WriteFile(filepath.Join(vol, "half"), nil, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(vol), "copying"), nil, 0o600))
	require.NoError(t, fillVolume(root, Bind{Source: vol, Destination: "/var/lib/db", Volume: "db"}))
	entries, err := os.ReadDir(vol)
	require.NoError(t, err)
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	require.Equal(t, []string{"base", "passwd"}, names, "the half copy's file gone")
	_, err = os.Stat(filepath.Join(filepath.Dir(vol), "copying"))
	require.ErrorIs(t, err, os.ErrNotExist, "the mark goes once the copy is done")

	// A place that is a link out of the root: resolved inside it, where
	// nothing is, so nothing is copied.
	require.NoError(t, os.Symlink("/etc", filepath.Join(root, "escape")))
	empty := t.TempDir()
	require.NoError(t, copyUp(root, Bind{Source: empty, Destination: "/escape", Volume: "x"}))
	entries, err = os.ReadDir(empty)
	require.NoError(t, err)
	require.Empty(t, entries, "the host's /etc is not copied")
}

// --volumes-from: the other container's volumes and binds, each as it is
// mounted there or all ro or rw; a place of the new container's own
// keeps its own mount.
func TestVolumesFrom(t *testing.T) {
	e := &Engine{Root: t.TempDir(), RunRoot: t.TempDir()}
	require.NoError(t, e.init())
	src := &Container{ID: NewID(), Name: "src", HostConfig: container.HostConfig{Binds: []string{"data:/data", "/srv:/srv:ro", "logs:/logs"}},
		Volumes: map[string]string{"/cache": "anon"}}
	require.NoError(t, os.MkdirAll(e.Dir(src.ID), 0o711))
	require.NoError(t, e.save(src))
	for from, want := range map[string][]string{
		src.ID[:12]:    {"/mine:/logs", "data:/data", "/srv:/srv:ro", "anon:/cache"},
		src.ID:         {"/mine:/logs", "data:/data", "/srv:/srv:ro", "anon:/cache"},
		src.ID + ":ro": {"/mine:/logs", "data:/data:ro", "/srv:/srv:ro", "anon:/cache:ro"},
		src.ID + ":rw": {"/mine:/logs", "data:/data", "/srv:/srv", "anon:/cache"},
	} {
		hc := &container.HostConfig{Binds: []string{"/mine:/logs"}, VolumesFrom: []string{from}}
		require.NoError(t, e.volumesFrom(hc), from)
		require.Equal(t, want, hc.Binds, from)
	}
	require.ErrorIs(t, e.volumesFrom(&container.HostConfig{VolumesFrom: []string{"nosuch"}}), ErrNotFound)
	require.ErrorContains(t, CheckConfig(&container.Config{Image: "x"}, &container.HostConfig{VolumesFrom: []string{"src:rx"}}),
		`invalid volumes-from "src:rx": want CONTAINER[:ro|rw]`)
}
