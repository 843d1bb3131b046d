// Command images-mkimage writes the benchmark's image (bench/images.sh)
// as an OCI image layout: one gzip layer per directory given, each made
// of that host directory's regular files and symlinks, in name order, up
// to -layer-size bytes of file content. The same host gives the same
// image.
//
//	go run ./bench/images-mkimage -o DIR -layer-size 20000000 /usr/lib /usr/share ...
package main

import (
	"archive/tar"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func main() {
	out := flag.String("o", "", "the OCI layout `DIR` to write")
	size := flag.Int64("layer-size", 20_000_000, "bytes of file content per layer, at most")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: images-mkimage -o DIR [-layer-size N] HOSTDIR...")
		os.Exit(2)
	}
	if err := run(*out, *size, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "images-mkimage:", err)
		os.Exit(1)
	}
}

func run(out string, size int64, dirs []string) error {
	tmp, err := os.MkdirTemp("", "images-mkimage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	when := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, dir := range dirs {
		path := filepath.Join(tmp, fmt.Sprintf("layer%d.tar", i))
		n, err := writeTar(path, dir, size)
		if err != nil {
			return err
		}
		layer, err := tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return err
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
			Created: v1.Time{Time: when}, CreatedBy: fmt.Sprintf("COPY %s / # %d bytes", dir, n)}}); err != nil {
			return err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", "amd64", v1.Time{Time: when}
	cf.Config.Cmd = []string{"/bin/sh"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	p, err := layout.Write(out, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "bench"}))
}

// writeTar writes dir's files, under their own path, until size bytes.
func writeTar(path, dir string, size int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	var total int64
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || total >= size {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil || !(fi.Mode().IsRegular() || fi.Mode()&fs.ModeSymlink != 0 || fi.IsDir()) {
			return nil
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil
		}
		hdr.Name = strings.TrimPrefix(p, "/")
		hdr.Uname, hdr.Gname = "", ""
		hdr.ModTime = fi.ModTime().Truncate(time.Second)
		if fi.Mode().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return nil
			}
			defer src.Close()
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			n, err := io.Copy(tw, src)
			total += n
			return err
		}
		return tw.WriteHeader(hdr)
	})
	if err != nil {
		return total, err
	}
	return total, tw.Close()
}
