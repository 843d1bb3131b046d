package layers

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cfs/internal/idmap"
	"cfs/internal/layout"

	"github.com/stretchr/testify/require"
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
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: mode, Size: int64(len(e.body)),
			Uid: os.Getuid(), Gid: os.Getgid()}))
		if e.body != "" {
			_, err := tw.Write([]byte(e.body))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return &buf
}

// whiteouts records the whiteout entries Untar hands over.
type whiteouts []string

func (w *whiteouts) record(parent, name string) error {
	*w = append(*w, filepath.Join(filepath.Base(parent), name))
	return nil
}

func TestUntarFilesLinksAndWhiteouts(t *testing.T) {
	dir := t.TempDir()
	var wh whiteouts
	require.NoError(t, Untar(makeTar(t,
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/motd", typ: tar.TypeReg, body: "hello\n"},
		entry{name: "bin/tool", typ: tar.TypeReg, body: "#!/bin/sh\n", mode: 0o4755},
		entry{name: "etc/motd.link", typ: tar.TypeSymlink, link: "/etc/motd"},
		entry{name: "etc/motd.hard", typ: tar.TypeLink, link: "etc/motd"},
		entry{name: "etc/.wh.hostname", typ: tar.TypeReg},
		entry{name: "etc/motd", typ: tar.TypeReg, body: "again\n"},
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
		entries []entry
		msg     string
	}{
		{"dot-dot", []entry{{name: "../escaped", typ: tar.TypeReg, body: "x"}}, "outside the layer"},
		{"deep dot-dot", []entry{{name: "a/../../escaped", typ: tar.TypeReg, body: "x"}}, "outside the layer"},
		{"absolute", []entry{{name: filepath.Join(outside, "escaped"), typ: tar.TypeReg, body: "x"}}, "absolute"},
		{"through a symlink", []entry{
			{name: "evil", typ: tar.TypeSymlink, link: outside},
			{name: "evil/escaped", typ: tar.TypeReg, body: "x"},
		}, "through the symlink"},
		{"hard link out", []entry{{name: "h", typ: tar.TypeLink, link: "../../../etc/passwd"}}, "outside the layer"},
		{"hard link through a symlink", []entry{
			{name: "evil", typ: tar.TypeSymlink, link: "/etc"},
			{name: "h", typ: tar.TypeLink, link: "evil/passwd"},
		}, "through the symlink"},
		{"whiteout through a symlink", []entry{
			{name: "evil", typ: tar.TypeSymlink, link: outside},
			{name: "evil/.wh.escaped", typ: tar.TypeReg},
		}, "through the symlink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var wh whiteouts
			err := Untar(makeTar(t, tc.entries...), dir, wh.record)
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
