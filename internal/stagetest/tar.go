package stagetest

import (
	"archive/tar"
	"bytes"
	"os"
	"testing"
)

// TarEntry is one entry of a layer tar that a test makes.
type TarEntry struct {
	Name, Link, Body string
	Type             byte
	Mode             int64 // 0: 0644 for a file, 0755 for a directory
}

// MakeTar writes the entries as a tar, owned by the caller.
func MakeTar(t testing.TB, entries ...TarEntry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.Mode
		if mode == 0 {
			mode = 0o644
			if e.Type == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: e.Type, Mode: mode, Size: int64(len(e.Body)), Uid: os.Getuid(), Gid: os.Getgid()}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.Body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}
