package layers

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cfs/internal/idmap"
	"cfs/internal/layout"
	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

// whiteouts records the whiteout entries Untar hands over.
type whiteouts []string

func (w *whiteouts) record(parent, name string) error {
	*w = append(*w, filepath.Join(filepath.Base(parent), name))
	return nil
}

func TestUntarFilesLinksAndWhiteouts(t *testing.T) {
	dir := t.TempDir()
	var wh whiteouts
	require.NoError(t, Untar(stagetest.MakeTar(t,
		stagetest.TarEntry{Name: "etc/", Type: tar.TypeDir},
		stagetest.TarEntry{Name: "etc/motd", Type: tar.TypeReg, Body: "hello\n"},
		stagetest.TarEntry{Name: "bin/tool", Type: tar.TypeReg, Body: "#!/bin/sh\n", Mode: 0o4755},
		stagetest.TarEntry{Name: "etc/motd.link", Type: tar.TypeSymlink, Link: "/etc/motd"},
		stagetest.TarEntry{Name: "etc/motd.hard", Type: tar.TypeLink, Link: "etc/motd"},
		stagetest.TarEntry{Name: "etc/.wh.hostname", Type: tar.TypeReg},
		stagetest.TarEntry{Name: "etc/motd", Type: tar.TypeReg, Body: "again\n"},
	), dir, wh.record))

	body, err := os.ReadFile(filepath.Join(dir, "etc/motd"))
	require.NoError(t, err)
	require.Equal(t, "again\n", string(body), "a later entry of the same name replaces an earlier one")
	link, err := os.Readlink(filepath.Join(dir, "etc/motd.link"))
	require.NoError(t, err)
	require.Equal(t, "/etc/motd", link)
	fi, err := os.Stat(filepath.Join(dir, "bin/tool"))
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeSetuid)
	require.Equal(t, whiteouts{"etc/.wh.hostname"}, wh)
	require.NoFileExists(t, filepath.Join(dir, "etc/.wh.hostname"))
}

func TestUntarRefusesEscapes(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		entries []stagetest.TarEntry
		msg     string
	}{
		{"dot-dot", []stagetest.TarEntry{{Name: "../escaped", Type: tar.TypeReg, Body: "x"}}, "outside the layer"},
		{"deep dot-dot", []stagetest.TarEntry{{Name: "a/../../escaped", Type: tar.TypeReg, Body: "x"}}, "outside the layer"},
		{"absolute", []stagetest.TarEntry{{Name: filepath.Join(outside, "escaped"), Type: tar.TypeReg, Body: "x"}}, "absolute"},
		{"through a symlink", []stagetest.TarEntry{
			{Name: "evil", Type: tar.TypeSymlink, Link: outside},
			{Name: "evil/escaped", Type: tar.TypeReg, Body: "x"},
		}, "through the symlink"},
		{"hard link out", []stagetest.TarEntry{{Name: "h", Type: tar.TypeLink, Link: "../../../etc/passwd"}}, "outside the layer"},
		{"hard link through a symlink", []stagetest.TarEntry{
			{Name: "evil", Type: tar.TypeSymlink, Link: "/etc"},
			{Name: "h", Type: tar.TypeLink, Link: "evil/passwd"},
		}, "through the symlink"},
		{"whiteout through a symlink", []stagetest.TarEntry{
			{Name: "evil", Type: tar.TypeSymlink, Link: outside},
			{Name: "evil/.wh.escaped", Type: tar.TypeReg},
		}, "through the symlink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var wh whiteouts
			err := Untar(stagetest.MakeTar(t, tc.entries...), dir, wh.record)
			require.ErrorContains(t, err, tc.msg)
			require.Empty(t, wh, "a whiteout outside the layer was handed on")
			require.NoFileExists(t, filepath.Join(outside, "escaped"))
			require.NoFileExists(t, filepath.Join(filepath.Dir(dir), "escaped"))
		})
	}
}

func TestBuildOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layer")
	builds := 0
	build := func(tmp string) error {
		builds++
		return os.WriteFile(filepath.Join(tmp, "f"), []byte("x"), 0o644)
	}
	require.NoError(t, BuildOnce(dir, build))
	require.NoError(t, BuildOnce(dir, build))
	require.Equal(t, 1, builds)
	require.FileExists(t, filepath.Join(dir, "f"))

	failed := filepath.Join(t.TempDir(), "failed")
	require.Error(t, BuildOnce(failed, func(string) error { return errors.New("boom") }))
	require.NoDirExists(t, failed)
	left, _ := os.ReadDir(filepath.Dir(failed))
	require.Empty(t, left, "a failed build left its temporary directory")
}

func TestShiftedIsMadeOncePerRangeAndUse(t *testing.T) {
	state, src := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644))
	uids := idmap.Map{HostID: os.Getuid(), Size: 1}
	gids := idmap.Map{HostID: os.Getgid(), Size: 1}
	a, err := Shifted(state, "", src, uids, gids, false)
	require.NoError(t, err)
	b, err := Shifted(state, "", src, uids, gids, false)
	require.NoError(t, err)
	require.Equal(t, a, b)
	c, err := Shifted(state, "rootfs", src, uids, gids, false)
	require.NoError(t, err)
	require.NotEqual(t, a, c, "a copy containers write into is not a layer's")
	require.True(t, strings.HasPrefix(a, filepath.Join(state, "layers", "idmapped-")), a)
	require.FileExists(t, filepath.Join(c, "f"))
}

func TestContainerDirAndSweep(t *testing.T) {
	base := t.TempDir()
	dir, err := ContainerDir(base, "aaaaaaaaaaaa")
	require.NoError(t, err)
	require.True(t, Alive(base, "aaaaaaaaaaaa"))
	// A directory whose owner is gone goes at the next ContainerDir, one
	// kept with the mark stays.
	for _, id := range []string{"deaddeaddead", "keptkeptkept"} {
		require.NoError(t, os.Mkdir(filepath.Join(base, id), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(base, id, "owner"), []byte(`{"pid":1,"start":1}`), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(base, "keptkeptkept", KeepMark), nil, 0o644))
	require.False(t, layout.Owner{PID: 1, Start: 1}.Alive())
	_, err = ContainerDir(base, "bbbbbbbbbbbb")
	require.NoError(t, err)
	require.DirExists(t, dir)
	require.NoDirExists(t, filepath.Join(base, "deaddeaddead"))
	require.DirExists(t, filepath.Join(base, "keptkeptkept"))
}

func TestFromArgsAndForRange(t *testing.T) {
	state, ctr := t.TempDir(), t.TempDir()
	dir := filepath.Join(t.TempDir(), "layer")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644))
	image, err := FromArgs(state, []string{dir}, nil)
	require.NoError(t, err)
	require.Equal(t, []Layer{{Dir: dir}}, image)
	_, err = FromArgs(state, []string{filepath.Join(dir, "f")}, nil)
	require.Error(t, err, "a file that is not a tar")

	me := idmap.Map{ContainerID: 0, HostID: os.Getuid(), Size: 1}
	dirs, err := ForRange(state, ctr, image, me, me, false)
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(ctr, "layers", "0")}, dirs, "a directory is copied for the container")
	data, err := os.ReadFile(filepath.Join(dirs[0], "f"))
	require.NoError(t, err)
	require.Equal(t, "x", string(data))
}
