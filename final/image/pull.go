package image

// Pull and push: the distribution protocol through final/registry.
//
// A pull is a handful of requests (run `cfs pull --trace` to see them):
//
//	GET /v2/                              is this a registry, and how do I log in?
//	GET /v2/NAME/manifests/TAG            the manifest, or a manifest list (an index)
//	GET /v2/NAME/manifests/DIGEST         from a list, the manifest of this platform
//	GET /v2/NAME/blobs/DIGEST             the config: the image's settings and its diff IDs
//	GET /v2/NAME/blobs/DIGEST             each layer, three at a time, as it is unpacked
//
// Every piece is named by its digest, checked as it arrives: a registry
// (or a mirror, or a proxy on the way) cannot change a byte unnoticed.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"cfs/final/registry"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// PullOptions change how Pull works.
type PullOptions struct {
	// Platform picks the manifest from a manifest list; nil is this
	// machine's (linux and GOARCH).
	Platform *v1.Platform
	// Progress receives the layers' progress.
	Progress Progress
	// Jobs is how many layers are fetched at once; 0 is 3 (docker's
	// max-concurrent-downloads).
	Jobs int
}

// PullResult says what Pull got.
type PullResult struct {
	Image *Image
	// Name is the reference in full (docker.io/library/busybox:latest).
	Name string
	// Digest is what the registry calls it: of the manifest list when
	// there was one, else of the manifest (docker's "Digest:" line).
	Digest v1.Hash
	// Source is the registry it came from: a mirror, or the image's own.
	Source string
	// UpToDate: the name pointed at this image already.
	UpToDate bool
}

// Pull fetches the image ref names from its registry (or a mirror) into
// the store, and points the name at it.
func (s *Store) Pull(ctx context.Context, arg string, opt PullOptions) (*PullResult, error) {
	ref, err := s.Registry.Parse(arg)
	if err != nil {
		return nil, err
	}
	canonical := registry.Canonical(ref)
	if canonical == BaseName {
		img, err := s.EnsureBase()
		if err != nil {
			return nil, err
		}
		return &PullResult{Image: img, Name: canonical, Digest: img.Manifest.Digest, Source: "this machine (" + BaseSource + ")", UpToDate: true}, nil
	}
	if d, ok := ref.(name.Digest); ok {
		// A digest names one content: if it is here, nothing to fetch.
		if img, err := s.Get(d.String()); err == nil {
			return &PullResult{Image: img, Name: canonical, Digest: img.Manifest.Digest, UpToDate: true}, nil
		}
	}
	want := registry.Platform()
	if opt.Platform != nil {
		want = *opt.Platform
	}

	desc, src, err := s.Registry.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	var img v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, s.Registry.Explain("pull", ref, err)
		}
		child, err := pickPlatform(idx, want)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", registry.Familiar(ref), err)
		}
		if img, err = idx.Image(child.Digest); err != nil {
			return nil, s.Registry.Explain("pull", ref, err)
		}
	} else if img, err = desc.Image(); err != nil {
		return nil, s.Registry.Explain("pull", ref, err)
	}

	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, s.Registry.Explain("pull", ref, err)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(rawManifest)))
	if err != nil {
		return nil, fmt.Errorf("pull %s: the manifest: %w", registry.Familiar(ref), err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, s.Registry.Explain("pull", ref, err)
	}
	if got := digestOf(rawConfig); got != m.Config.Digest {
		return nil, &DigestError{What: "config", Want: m.Config.Digest, Got: got, Size: int64(len(rawConfig))}
	}
	cfg, err := v1.ParseConfigFile(strings.NewReader(string(rawConfig)))
	if err != nil {
		return nil, fmt.Errorf("pull %s: the config: %w", registry.Familiar(ref), err)
	}
	if opt.Platform != nil && !platformMatches(v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}, want) {
		return nil, fmt.Errorf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s/%s",
			registry.Familiar(ref), platformString(want), cfg.OS, cfg.Architecture)
	}
	layers, err := layersOf(m, cfg)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", registry.Familiar(ref), err)
	}

	// From here on the store changes: under a lease, so that a gc run by
	// a concurrent rmi keeps what this pull writes.
	l, err := s.newLease()
	if err != nil {
		return nil, err
	}
	// What arrived whole stays after a failure, so that the next pull
	// goes on from there; the next gc takes it if no pull names it.
	defer l.release()
	if err := l.protect(append(blobsOf(layers), digestOf(rawManifest), m.Config.Digest), chainsOf(layers)); err != nil {
		return nil, err
	}
	if _, err := s.putBlob(l, rawConfig); err != nil {
		return nil, err
	}
	progress := opt.Progress
	if s.hasAll(layers) {
		progress = nil // up to date: docker says nothing of the layers
	}
	for _, layer := range layers {
		progress.send(shortID(layer.Digest), "Pulling fs layer", 0, 0)
	}
	jobs := opt.Jobs
	if jobs == 0 {
		jobs = 3
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for _, layer := range layers {
		g.Go(func() error {
			open := func(context.Context) (io.ReadCloser, error) {
				rl, err := img.LayerByDigest(layer.Digest)
				if err != nil {
					return nil, err
				}
				rc, err := rl.Compressed()
				if err != nil {
					return nil, s.Registry.Explain("pull", ref, err)
				}
				return rc, nil
			}
			return s.ensureLayer(gctx, l, layer, open, progress)
		})
	}
	if err := g.Wait(); err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() == nil {
			err = fmt.Errorf("pull %s: %w", registry.Familiar(ref), err)
		}
		return nil, err
	}
	// The manifest last: a manifest in the store means all its blobs are.
	if _, err := s.putBlob(l, rawManifest); err != nil {
		return nil, err
	}

	repoDigest := ""
	if _, ok := ref.(name.Tag); ok {
		repoDigest = registry.Repository(ref.Context()) + "@" + desc.Digest.String()
	}
	md := v1.Descriptor{MediaType: m.MediaType, Digest: digestOf(rawManifest), Size: int64(len(rawManifest)),
		Platform: &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}}
	if md.MediaType == "" {
		md.MediaType = types.OCIManifestSchema1
	}
	var same bool
	if err := s.updateIndex(func(idx *v1.IndexManifest) error {
		same = setRef(idx, canonical, md, repoDigest)
		return nil
	}); err != nil {
		return nil, err
	}
	got, err := s.Get(canonical)
	if err != nil {
		return nil, err
	}
	return &PullResult{Image: got, Name: canonical, Digest: desc.Digest, Source: src.Context().RegistryStr(), UpToDate: same}, nil
}

// hasAll reports whether every layer's blob and unpacked tree are here.
func (s *Store) hasAll(layers []Layer) bool {
	for _, l := range layers {
		if !s.hasBlob(l.Digest) || !s.hasLayer(l.ChainID) {
			return false
		}
	}
	return true
}

// layersOf lists an image's layers from its manifest and config.
func layersOf(m *v1.Manifest, cfg *v1.ConfigFile) ([]Layer, error) {
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("the manifest lists %d layers and the config %d diff IDs: not a valid image", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	chains := ChainIDs(cfg.RootFS.DiffIDs)
	var out []Layer
	for i, d := range m.Layers {
		if !supportedLayer(d.MediaType) {
			return nil, fmt.Errorf("layer %s has the media type %q, which cfs cannot unpack (it unpacks tar layers, plain, gzip or zstd)", d.Digest, d.MediaType)
		}
		out = append(out, Layer{Digest: d.Digest, MediaType: d.MediaType, BlobSize: d.Size, DiffID: cfg.RootFS.DiffIDs[i], ChainID: chains[i]})
	}
	return out, nil
}

func supportedLayer(mt types.MediaType) bool {
	switch mt {
	case types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer, types.DockerLayer, types.DockerUncompressedLayer,
		"application/vnd.docker.image.rootfs.diff.tar.zstd":
		return true
	}
	return false
}

func blobsOf(layers []Layer) []v1.Hash {
	var out []v1.Hash
	for _, l := range layers {
		out = append(out, l.Digest)
	}
	return out
}

func chainsOf(layers []Layer) []v1.Hash {
	var out []v1.Hash
	for _, l := range layers {
		out = append(out, l.ChainID)
	}
	return out
}

// pickPlatform chooses the manifest of platform want from a manifest
// list, as docker does; the error lists the platforms there are.
func pickPlatform(idx v1.ImageIndex, want v1.Platform) (*v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var have []string
	for i, d := range im.Manifests {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue // an attestation, not an image
		}
		if platformMatches(*d.Platform, want) {
			return &im.Manifests[i], nil
		}
		have = append(have, platformString(*d.Platform))
	}
	return nil, fmt.Errorf("no matching manifest for %s in the manifest list entries (it has: %s): choose one with --platform",
		platformString(want), strings.Join(have, ", "))
}

func platformMatches(have, want v1.Platform) bool {
	return have.OS == want.OS && have.Architecture == want.Architecture && (want.Variant == "" || have.Variant == want.Variant)
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// ParsePlatform parses --platform's OS/ARCH[/VARIANT].
func ParsePlatform(s string) (*v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" || strings.Count(s, "/") > 2 {
		return nil, fmt.Errorf("invalid platform %q: want OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7", s)
	}
	return p, nil
}

// ---------------------------------------------------------------------------
// Push

// PushResult says what Push sent.
type PushResult struct {
	Name   string
	Tag    string
	Digest v1.Hash // of the manifest, as the registry now has it
	Size   int64   // of the manifest
}

// Push sends the image that the name arg points at to the registry the
// name says, layer by layer (those the registry has already are not
// sent), then its config and its manifest.
func (s *Store) Push(ctx context.Context, arg string, progress Progress) (*PushResult, error) {
	ref, err := s.Registry.Parse(arg)
	if err != nil {
		return nil, err
	}
	canonical := registry.Canonical(ref)
	idx, err := s.index()
	if err != nil {
		return nil, err
	}
	var entry *v1.Descriptor
	for i, d := range idx.Manifests {
		if d.Annotations[RefName] == canonical {
			entry = &idx.Manifests[i]
		}
	}
	if entry == nil {
		return nil, fmt.Errorf("An image does not exist locally with the tag: %s (give an image this name first: cfs tag IMAGE %s)", registry.Familiar(ref), registry.Familiar(ref))
	}
	img, err := s.load([]v1.Descriptor{*entry})
	if err != nil {
		return nil, err
	}
	rawManifest, err := s.readBlob(img.Manifest.Digest)
	if err != nil {
		return nil, err
	}
	si := &storeImage{s: s, manifest: rawManifest, config: img.RawConfig, mediaType: img.Manifest.MediaType, layers: img.Layers}
	vimg, err := partial.CompressedToImage(si)
	if err != nil {
		return nil, err
	}
	opts := s.Registry.Options(ctx)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(3)
	for _, layer := range img.Layers {
		progress.send(shortID(layer.Digest), "Preparing", 0, 0)
	}
	for _, layer := range img.Layers {
		g.Go(func() error {
			id := shortID(layer.Digest)
			b := &storeBlob{s: s, layer: layer, progress: progress}
			vl, err := partial.CompressedToLayer(b)
			if err != nil {
				return err
			}
			if err := remote.WriteLayer(ref.Context(), vl, append(opts, remote.WithContext(gctx))...); err != nil {
				return s.Registry.Explain("push", ref, err)
			}
			if b.read == 0 {
				progress.send(id, "Layer already exists", 0, 0)
			} else {
				progress.send(id, "Pushed", 0, 0)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := remote.Write(ref, vimg, opts...); err != nil {
		return nil, s.Registry.Explain("push", ref, err)
	}
	digest := img.Manifest.Digest
	// The name now has a digest at its registry: docker's RepoDigests.
	if _, ok := ref.(name.Tag); ok {
		_ = s.updateIndex(func(idx *v1.IndexManifest) error {
			for i, d := range idx.Manifests {
				if d.Annotations[RefName] == canonical {
					idx.Manifests[i].Annotations[RepoDigest] = registry.Repository(ref.Context()) + "@" + digest.String()
				}
			}
			return nil
		})
	}
	return &PushResult{Name: canonical, Tag: ref.Identifier(), Digest: digest, Size: int64(len(rawManifest))}, nil
}

// storeImage is an image of the store as go-containerregistry sees one.
type storeImage struct {
	s                *Store
	manifest, config []byte
	mediaType        types.MediaType
	layers           []Layer
}

func (i *storeImage) RawManifest() ([]byte, error)        { return i.manifest, nil }
func (i *storeImage) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *storeImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.layers {
		if l.Digest == h {
			return &storeBlob{s: i.s, layer: l}, nil
		}
	}
	if cfg := digestOf(i.config); cfg == h {
		return &configBlob{data: i.config, h: h}, nil
	}
	return nil, fmt.Errorf("blob %s is not in this image", h)
}

// storeBlob is a layer's blob in the store; it counts what is read of it.
type storeBlob struct {
	s        *Store
	layer    Layer
	progress Progress
	read     int64
}

func (b *storeBlob) Digest() (v1.Hash, error)            { return b.layer.Digest, nil }
func (b *storeBlob) DiffID() (v1.Hash, error)            { return b.layer.DiffID, nil }
func (b *storeBlob) Size() (int64, error)                { return b.layer.BlobSize, nil }
func (b *storeBlob) MediaType() (types.MediaType, error) { return b.layer.MediaType, nil }
func (b *storeBlob) Compressed() (io.ReadCloser, error) {
	f, err := b.s.openBlob(b.layer.Digest)
	if err != nil {
		return nil, err
	}
	return &pushReader{f: f, b: b}, nil
}

type pushReader struct {
	f io.ReadCloser
	b *storeBlob
}

func (r *pushReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	r.b.read += int64(n)
	r.b.progress.send(shortID(r.b.layer.Digest), "Pushing", r.b.read, r.b.layer.BlobSize)
	return n, err
}

func (r *pushReader) Close() error { return r.f.Close() }

type configBlob struct {
	data []byte
	h    v1.Hash
}

func (c *configBlob) Digest() (v1.Hash, error)            { return c.h, nil }
func (c *configBlob) Size() (int64, error)                { return int64(len(c.data)), nil }
func (c *configBlob) MediaType() (types.MediaType, error) { return types.OCIConfigJSON, nil }
func (c *configBlob) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(string(c.data))), nil
}
