package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"cfs/final/image/imagetest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"
)

// pulled is a store with the test image pulled into it.
func pulled(t *testing.T) (*Store, *Image, string) {
	t.Helper()
	reg := imagetest.NewRegistry(t)
	reg.Push(t, "test/layers:v1", imagetest.TestImage(t, "linux/"+runtime.GOARCH))
	s := newStore(t)
	res, err := s.Pull(context.Background(), reg.Ref("test/layers:v1"), PullOptions{})
	require.NoError(t, err)
	return s, res.Image, reg.Ref("test/layers:v1")
}

// tarFiles reads a tar into name → content.
func tarFiles(t *testing.T, data []byte) (names []string, files map[string][]byte) {
	t.Helper()
	files = map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, files
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		names = append(names, hdr.Name)
		files[hdr.Name] = b
	}
}

func writeTar(t *testing.T, names []string, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range names {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}))
		_, err := tw.Write(files[n])
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return b.Bytes()
}

func loadBytes(t *testing.T, data []byte) (*Store, []Loaded) {
	t.Helper()
	s := newStore(t)
	f := filepath.Join(t.TempDir(), "archive.tar")
	require.NoError(t, os.WriteFile(f, data, 0o644))
	in, err := os.Open(f)
	require.NoError(t, err)
	defer in.Close()
	loaded, err := s.Load(context.Background(), in, nil)
	require.NoError(t, err)
	tmpEmpty(t, s)
	return s, loaded
}

func TestSaveLoadKeepsTheDigests(t *testing.T) {
	s, img, ref := pulled(t)
	var saved bytes.Buffer
	require.NoError(t, s.Save(&saved, []string{ref}))
	names, files := tarFiles(t, saved.Bytes())
	require.Contains(t, names, "oci-layout")
	require.Contains(t, names, "index.json")
	require.Contains(t, names, "manifest.json")
	var dm []dockerManifest
	require.NoError(t, json.Unmarshal(files["manifest.json"], &dm))
	require.Equal(t, []string{strings.TrimPrefix(ref, "")}, dm[0].RepoTags)
	require.Equal(t, "blobs/sha256/"+img.ID.Hex, dm[0].Config)

	t.Run("OCI layout", func(t *testing.T) {
		s2, loaded := loadBytes(t, saved.Bytes())
		require.Len(t, loaded, 1)
		require.Equal(t, []string{ref}, loaded[0].Names)
		got, err := s2.Get(ref)
		require.NoError(t, err)
		require.Equal(t, img.ID, got.ID)
		require.Equal(t, img.Manifest.Digest, got.Manifest.Digest, "the same manifest, byte for byte")
		for i := range img.Layers {
			require.Equal(t, img.Layers[i].Digest, got.Layers[i].Digest)
			require.Equal(t, img.Layers[i].Size, got.Layers[i].Size)
		}
	})
	t.Run("docker's manifest.json alone", func(t *testing.T) {
		var docker []string
		for _, n := range names {
			if n != "index.json" && n != "oci-layout" {
				docker = append(docker, n)
			}
		}
		s2, loaded := loadBytes(t, writeTar(t, docker, files))
		require.Equal(t, []string{ref}, loaded[0].Names)
		got, err := s2.Get(ref)
		require.NoError(t, err)
		require.Equal(t, img.ID, got.ID, "the same image ID: the config is the same bytes")
		for i := range img.Layers {
			require.Equal(t, img.Layers[i].Digest, got.Layers[i].Digest, "the same layer blobs")
		}
	})
	t.Run("an older docker save with layer.tar files", func(t *testing.T) {
		// As docker before 25 wrote it: HEX.json, HEX/layer.tar uncompressed.
		old := map[string][]byte{img.ID.Hex + ".json": img.RawConfig}
		entry := dockerManifest{Config: img.ID.Hex + ".json", RepoTags: []string{"old/style:v1"}}
		order := []string{img.ID.Hex + ".json"}
		for _, l := range img.Layers {
			f, err := s.openBlob(l.Digest)
			require.NoError(t, err)
			dec, closeDec, err := decompress(f)
			require.NoError(t, err)
			raw, err := io.ReadAll(dec)
			require.NoError(t, err)
			closeDec()
			f.Close()
			p := l.DiffID.Hex + "/layer.tar"
			old[p] = raw
			order = append(order, p)
			entry.Layers = append(entry.Layers, p)
		}
		old["manifest.json"] = jsonBytes([]dockerManifest{entry})
		order = append(order, "manifest.json")
		s2, loaded := loadBytes(t, writeTar(t, order, old))
		require.Equal(t, []string{"old/style:v1"}, loaded[0].Names)
		got, err := s2.Get("old/style:v1")
		require.NoError(t, err)
		require.Equal(t, img.ID, got.ID)
		for i := range img.Layers {
			require.Equal(t, img.Layers[i].DiffID, got.Layers[i].DiffID)
			require.Equal(t, got.Layers[i].DiffID, got.Layers[i].Digest, "an uncompressed layer's digest is its diff ID")
		}
	})
	t.Run("an OCI layout directory", func(t *testing.T) {
		dir := t.TempDir()
		_, files := tarFiles(t, saved.Bytes())
		for n, b := range files {
			require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, n)), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, n), b, 0o644))
		}
		s2 := newStore(t)
		d, err := os.Open(dir)
		require.NoError(t, err)
		defer d.Close()
		loaded, err := s2.Load(context.Background(), d, nil)
		require.NoError(t, err)
		require.Equal(t, img.Manifest.Digest, loaded[0].Image.Manifest.Digest)
	})
	t.Run("a tampered archive", func(t *testing.T) {
		bad := map[string][]byte{}
		for n, b := range files {
			bad[n] = b
		}
		blob := "blobs/sha256/" + img.Layers[1].Digest.Hex
		bad[blob] = append([]byte(nil), bad[blob]...)
		bad[blob][len(bad[blob])/2] ^= 0xff
		s2 := newStore(t)
		f := filepath.Join(t.TempDir(), "bad.tar")
		require.NoError(t, os.WriteFile(f, writeTar(t, names, bad), 0o644))
		in, err := os.Open(f)
		require.NoError(t, err)
		defer in.Close()
		_, err = s2.Load(context.Background(), in, nil)
		require.ErrorContains(t, err, "tampered or corrupted")
		imgs, err := s2.List()
		require.NoError(t, err)
		require.Empty(t, imgs)
		tmpEmpty(t, s2)
	})
	t.Run("not an archive", func(t *testing.T) {
		s2 := newStore(t)
		_, err := s2.Load(context.Background(), strings.NewReader(strings.Repeat("hello", 300)), nil)
		require.ErrorContains(t, err, "not a tar archive")
		_, err = s2.Load(context.Background(), bytes.NewReader(writeTar(t, []string{"x"}, map[string][]byte{"x": []byte("y")})), nil)
		require.ErrorContains(t, err, "not an image archive")
		tmpEmpty(t, s2)
	})
}

// skopeo, a real tool, reads cfs save's archive in both of its formats.
func TestSkopeoReadsSavedArchives(t *testing.T) {
	imagetest.NeedTool(t, "skopeo", "skopeo")
	s, img, ref := pulled(t)
	f := filepath.Join(t.TempDir(), "saved.tar")
	out, err := os.Create(f)
	require.NoError(t, err)
	require.NoError(t, s.Save(out, []string{ref}))
	require.NoError(t, out.Close())
	for _, transport := range []string{"docker-archive:", "oci-archive:"} {
		cmd := exec.Command("skopeo", "--insecure-policy", "inspect", "--raw", "--config", transport+f)
		if transport == "docker-archive:" {
			cmd = exec.Command("skopeo", "--insecure-policy", "inspect", "--config", "--raw", transport+f)
		}
		raw, err := cmd.Output()
		require.NoError(t, err, "skopeo inspect %s: %s", transport, stderrOf(err))
		require.Equal(t, img.ID, digestOf(bytes.TrimSpace(raw)), "%s: the same config", transport)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

var _ = v1.Hash{}
