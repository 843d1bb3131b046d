package image

// New images made here, not pulled: import (a root filesystem tar), commit
// (a container's writable layer over its image) and the base image
// (the stages' root filesystem). Each new layer is a tar, compressed with
// gzip into a blob, then unpacked from that blob as a pulled layer is,
// with the same checks.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"cfs/final/registry"
	"cfs/internal/rootfs"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// tarLayer compresses the tar that write produces into a gzip blob in the
// lease's directory, and returns the layer it is (its chain ID over
// parent's) and where the blob is.
func (s *Store) tarLayer(l *lease, parent *v1.Hash, write func(io.Writer) error) (Layer, string, error) {
	f, err := os.CreateTemp(l.dir, "layer-*.tar.gz")
	if err != nil {
		return Layer{}, "", explainIO(err)
	}
	defer f.Close()
	blob := newHashingWriter(f)
	zw, _ := gzip.NewWriterLevel(blob, gzip.BestSpeed)
	diff := newHashingWriter(zw)
	if err := write(diff); err != nil {
		return Layer{}, "", explainIO(err)
	}
	if err := zw.Close(); err != nil {
		return Layer{}, "", explainIO(err)
	}
	layer := Layer{Digest: blob.Digest(), MediaType: types.OCILayer, BlobSize: blob.n, DiffID: diff.Digest()}
	layer.ChainID = layer.DiffID
	if parent != nil {
		layer.ChainID = digestOf([]byte(parent.String() + " " + layer.DiffID.String()))
	}
	return layer, f.Name(), nil
}

// storeLayer stores a layer made by tarLayer: blob and unpacked tree.
func (s *Store) storeLayer(ctx context.Context, l *lease, layer Layer, path string) error {
	if err := l.protect([]v1.Hash{layer.Digest}, []v1.Hash{layer.ChainID}); err != nil {
		return err
	}
	defer os.Remove(path)
	return s.ensureLayer(ctx, l, layer, func(context.Context) (io.ReadCloser, error) { return os.Open(path) }, nil)
}

// putConfigAndManifest stores an image's config and manifest blobs and
// returns the manifest's descriptor, for the index.
func (s *Store) putConfigAndManifest(l *lease, rawConfig, rawManifest []byte, mt types.MediaType, cfg *v1.ConfigFile) (v1.Descriptor, error) {
	if _, err := s.putBlob(l, rawConfig); err != nil {
		return v1.Descriptor{}, err
	}
	md, err := s.putBlob(l, rawManifest)
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: md, Size: int64(len(rawManifest)),
		Platform: &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}}, nil
}

// addImage stores a config and a manifest for layers (already stored),
// and names the image ref (a canonical name, or "" for none).
func (s *Store) addImage(l *lease, cfg *v1.ConfigFile, layers []Layer, ref string) (*Image, error) {
	rawConfig, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: digestOf(rawConfig), Size: int64(len(rawConfig))}}
	for _, layer := range layers {
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: layer.MediaType, Digest: layer.Digest, Size: layer.BlobSize})
	}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if err := l.protect([]v1.Hash{m.Config.Digest, digestOf(rawManifest)}, nil); err != nil {
		return nil, err
	}
	desc, err := s.putConfigAndManifest(l, rawConfig, rawManifest, m.MediaType, cfg)
	if err != nil {
		return nil, err
	}
	if err := s.updateIndex(func(idx *v1.IndexManifest) error {
		setRef(idx, ref, desc, "")
		return nil
	}); err != nil {
		return nil, err
	}
	if ref == "" {
		return s.Get(m.Config.Digest.String())
	}
	return s.Get(ref)
}

// canonicalName checks a name for a new image: "" (none) or a reference
// with a tag, not a digest (a digest is the content's, not given).
func canonicalName(arg string) (string, error) {
	if arg == "" {
		return "", nil
	}
	ref, err := registry.ParseReference(arg)
	if err != nil {
		return "", err
	}
	if strings.Contains(arg, "@") {
		return "", fmt.Errorf("invalid reference format %q: a new image gets a tag, not a digest (its digest is computed from its content)", arg)
	}
	return registry.Canonical(ref), nil
}

// ---------------------------------------------------------------------------
// import

// ImportOptions are docker import's.
type ImportOptions struct {
	Name    string   // the new image's name; "" for none
	Message string   // -m: the history's comment
	Changes []string // -c: Dockerfile instructions applied to the config
	Source  string   // for the history: the file's name, or "-"
}

// Import makes a one-layer image of a root filesystem tar (plain, gzip
// or zstd), as docker import does.
func (s *Store) Import(ctx context.Context, r io.Reader, opt ImportOptions) (*Image, error) {
	ref, err := canonicalName(opt.Name)
	if err != nil {
		return nil, err
	}
	var cfg v1.ConfigFile
	if err := applyChanges(&cfg.Config, opt.Changes); err != nil {
		return nil, err
	}
	dec, closeDec, err := decompress(r)
	if err != nil {
		return nil, err
	}
	defer closeDec()
	l, err := s.newLease()
	if err != nil {
		return nil, err
	}
	defer l.release()
	layer, path, err := s.tarLayer(l, nil, func(w io.Writer) error {
		_, err := io.Copy(w, dec)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", opt.Source, err)
	}
	if err := s.storeLayer(ctx, l, layer, path); err != nil {
		return nil, fmt.Errorf("import %s: %w", opt.Source, err)
	}
	now := time.Now().UTC()
	comment := opt.Message
	if comment == "" {
		comment = "Imported from " + opt.Source
	}
	cfg.Created = v1.Time{Time: now}
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.RootFS = v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{layer.DiffID}}
	cfg.History = []v1.History{{Created: v1.Time{Time: now}, Comment: comment}}
	return s.addImage(l, &cfg, []Layer{layer}, ref)
}

// ---------------------------------------------------------------------------
// commit

// CommitOptions say what to commit and how the new image is described.
type CommitOptions struct {
	// Parent names the image the container runs (an ID or a name).
	Parent string
	// Upper is the container's writable layer: overlay's upperdir.
	Upper string
	// Name is the new image's name; "" for none.
	Name string
	// Author, Message and CreatedBy go into the new layer's history
	// (docker commit's -a, -m, and the container's command).
	Author, Message, CreatedBy string
	// Config, when not nil, replaces the parent's config (the
	// container's, with its own Env or Cmd); Changes then apply to it.
	Config *v1.Config
	// Changes are Dockerfile instructions (docker commit -c).
	Changes []string
}

// Commit makes a new image of Parent's layers and one more: the changes
// in Upper, deletions as whiteouts, with a line of history.
func (s *Store) Commit(ctx context.Context, opt CommitOptions) (*Image, error) {
	ref, err := canonicalName(opt.Name)
	if err != nil {
		return nil, err
	}
	parent, err := s.Get(opt.Parent)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(opt.Upper); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("commit: %s is not a directory (the container's writable layer)", opt.Upper)
	}
	cfg, err := v1.ParseConfigFile(strings.NewReader(string(parent.RawConfig)))
	if err != nil {
		return nil, err
	}
	if opt.Config != nil {
		cfg.Config = *opt.Config
	}
	if err := applyChanges(&cfg.Config, opt.Changes); err != nil {
		return nil, err
	}
	l, err := s.newLease()
	if err != nil {
		return nil, err
	}
	defer l.release()
	// The parent's layers must stay while the new image is made.
	if err := l.protect(append(blobsOf(parent.Layers), parent.Manifest.Digest, parent.ID), chainsOf(parent.Layers)); err != nil {
		return nil, err
	}
	var top *v1.Hash
	if n := len(parent.Layers); n > 0 {
		top = &parent.Layers[n-1].ChainID
	}
	layer, path, err := s.tarLayer(l, top, func(w io.Writer) error { return writeDiff(w, opt.Upper, nil) })
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", opt.Upper, err)
	}
	if err := s.storeLayer(ctx, l, layer, path); err != nil {
		return nil, fmt.Errorf("commit %s: %w", opt.Upper, err)
	}
	now := time.Now().UTC()
	cfg.Created = v1.Time{Time: now}
	cfg.Author = opt.Author
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, layer.DiffID)
	cfg.History = append(cfg.History, v1.History{Created: v1.Time{Time: now}, CreatedBy: opt.CreatedBy, Comment: opt.Message, Author: opt.Author})
	return s.addImage(l, cfg, append(append([]Layer(nil), parent.Layers...), layer), ref)
}

// ---------------------------------------------------------------------------
// The base image

// BaseName is the image that exists without any registry: the stages'
// root filesystem as one layer.
const BaseName = "docker.io/cfs/base:latest"

// BaseSource says where the base image comes from.
const BaseSource = "the stages' root filesystem, " + rootfs.DefaultDir

// DefaultPath is the PATH an image without one gets (docker's default).
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// EnsureBase returns cfs/base, making it first if it is not in the store:
// from the default root filesystem (built once from this machine's
// busybox or programs, internal/rootfs), with /bin/sh as its command.
func (s *Store) EnsureBase() (*Image, error) {
	if img, err := s.Get(BaseName); err == nil {
		return img, nil
	}
	dir, err := rootfs.Ensure(os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("build cfs/base: %w", err)
	}
	return s.baseFrom(dir)
}

// baseFrom makes cfs/base from the root filesystem in dir.
func (s *Store) baseFrom(dir string) (*Image, error) {
	created := time.Now().UTC()
	if fi, err := os.Stat(filepath.Join(dir, rootfsStamp)); err == nil {
		created = fi.ModTime().UTC().Truncate(time.Second)
	}
	l, err := s.newLease()
	if err != nil {
		return nil, err
	}
	defer l.release()
	layer, path, err := s.tarLayer(l, nil, func(w io.Writer) error {
		return writeDiff(w, dir, func(rel string) bool { return rel == rootfsStamp })
	})
	if err != nil {
		return nil, fmt.Errorf("build cfs/base from %s: %w", dir, err)
	}
	if err := s.storeLayer(context.Background(), l, layer, path); err != nil {
		return nil, fmt.Errorf("build cfs/base from %s: %w", dir, err)
	}
	at := v1.Time{Time: created}
	cfg := &v1.ConfigFile{
		Created: at, OS: "linux", Architecture: runtime.GOARCH,
		Config: v1.Config{Env: []string{DefaultPath}, Cmd: []string{"/bin/sh"}},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{layer.DiffID}},
		History: []v1.History{
			{Created: at, CreatedBy: "cfs: the stages' root filesystem (internal/rootfs)", Comment: "built on this machine from " + dir},
			{Created: at, CreatedBy: `CMD ["/bin/sh"]`, EmptyLayer: true},
		},
	}
	return s.addImage(l, cfg, []Layer{layer}, BaseName)
}

// rootfsStamp is internal/rootfs's record of a complete build: not part
// of the image.
const rootfsStamp = ".cfs-rootfs.json"
