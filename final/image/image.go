package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"cfs/final/registry"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// An Image is one image of the store: a manifest, its config and its
// layers, and the names that point at it.
type Image struct {
	// ID is the digest of the config, as docker shows it (its first 12
	// hex digits in `images`): the same image has the same ID wherever it
	// is, whatever its names.
	ID       v1.Hash
	Manifest v1.Descriptor // the manifest's digest, size and media type
	// Names are the references that point at it, in full
	// (docker.io/library/busybox:latest, …@sha256:…).
	Names []string
	// RepoTags and RepoDigests are the names as docker shows them
	// (busybox:latest, busybox@sha256:…).
	RepoTags, RepoDigests []string
	Config                *v1.ConfigFile
	RawConfig             []byte
	Layers                []Layer // bottom first, as the manifest lists them
	// Size is the bytes of the unpacked layers, as `docker images` counts.
	Size int64
	// Tagged is when the last name was given (docker's LastTagTime).
	Tagged time.Time
}

// A Layer is one layer of an image.
type Layer struct {
	Digest    v1.Hash // of the blob, compressed or not, as the manifest names it
	MediaType types.MediaType
	BlobSize  int64   // bytes of the blob
	DiffID    v1.Hash // of the uncompressed tar, as the config names it
	ChainID   v1.Hash // of this layer and all below it: the key of its unpacked directory
	Size      int64   // bytes of its files, unpacked
	Dir       string  // the unpacked tree, an overlay lower dir
}

// LowerDirs are the image's layers as overlay's lowerdir option lists
// them: the top layer first.
func (img *Image) LowerDirs() []string {
	dirs := make([]string, len(img.Layers))
	for i, l := range img.Layers {
		dirs[len(img.Layers)-1-i] = l.Dir
	}
	return dirs
}

// ShortID is the ID as docker shows it: 12 hex digits.
func (img *Image) ShortID() string { return shortID(img.ID) }

// Created is the image's creation time, from its config.
func (img *Image) Created() time.Time { return img.Config.Created.Time }

// Platform is the image's OS/architecture[/variant].
func (img *Image) Platform() string {
	p := img.Config.OS + "/" + img.Config.Architecture
	if img.Config.Variant != "" {
		p += "/" + img.Config.Variant
	}
	return p
}

// ErrNotFound is the error of a reference or ID that names no image here.
var ErrNotFound = errors.New("no such image")

// NotFoundError says which image is missing, and what to do.
type NotFoundError struct{ Arg string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("No such image: %s (see the images here with `cfs images`; get it with `cfs pull %s`)", e.Arg, e.Arg)
}

func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// List returns the store's images, the newest first, as `docker images`
// lists them; an image without a name (loaded or committed without one,
// or untagged while a container holds it) is docker's <none>.
func (s *Store) List() ([]*Image, error) {
	idx, err := s.index()
	if err != nil {
		return nil, err
	}
	var imgs []*Image
	for _, group := range groupByManifest(idx) {
		img, err := s.load(group)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	sort.SliceStable(imgs, func(i, j int) bool {
		if !imgs[i].Created().Equal(imgs[j].Created()) {
			return imgs[i].Created().After(imgs[j].Created())
		}
		return imgs[i].ID.Hex < imgs[j].ID.Hex
	})
	return imgs, nil
}

// groupByManifest groups index.json's entries by manifest, in order.
func groupByManifest(idx *v1.IndexManifest) [][]v1.Descriptor {
	var order []v1.Hash
	groups := map[v1.Hash][]v1.Descriptor{}
	for _, d := range idx.Manifests {
		if _, ok := groups[d.Digest]; !ok {
			order = append(order, d.Digest)
		}
		groups[d.Digest] = append(groups[d.Digest], d)
	}
	out := make([][]v1.Descriptor, len(order))
	for i, h := range order {
		out[i] = groups[h]
	}
	return out
}

// Get finds an image as docker does: by full ID (sha256:HEX or HEX), by
// reference (busybox, busybox:1.36, localhost:5000/app@sha256:…), or by a
// unique prefix of its ID (6d3e4188).
func (s *Store) Get(arg string) (*Image, error) {
	idx, err := s.index()
	if err != nil {
		return nil, err
	}
	group, err := s.find(idx, arg)
	if err != nil {
		return nil, err
	}
	return s.load(group)
}

// find returns the index entries of the image arg names.
func (s *Store) find(idx *v1.IndexManifest, arg string) ([]v1.Descriptor, error) {
	groups := groupByManifest(idx)
	// A name first: a reference in full.
	if ref, err := registry.ParseReference(arg); err == nil {
		want := registry.Canonical(ref)
		for _, g := range groups {
			for _, d := range g {
				if d.Annotations[RefName] == want {
					return g, nil
				}
			}
		}
		// name@digest also finds an image pulled by tag whose repo
		// digest or manifest digest it is.
		if dg, ok := ref.(name.Digest); ok {
			repo := registry.Repository(dg.Context())
			for _, g := range groups {
				for _, d := range g {
					n := d.Annotations[RefName]
					sameRepo := strings.HasPrefix(n, repo+":") || strings.HasPrefix(n, repo+"@")
					if sameRepo && (d.Digest.String() == dg.DigestStr() || d.Annotations[RepoDigest] == repo+"@"+dg.DigestStr()) {
						return g, nil
					}
				}
			}
		}
	}
	// Then an ID or a prefix of one.
	id := trimSHA(arg)
	if !isHex(id) || len(id) > 64 {
		return nil, &NotFoundError{Arg: arg}
	}
	var found [][]v1.Descriptor
	var ids []string
	for _, g := range groups {
		cfg, err := s.configDigest(g[0].Digest)
		if err != nil {
			continue
		}
		if strings.HasPrefix(cfg.Hex, id) {
			found = append(found, g)
			ids = append(ids, cfg.Hex)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1 && allSame(ids):
		// One image under two manifests (the same config pushed gzip and
		// zstd): take the first.
		return found[0], nil
	case len(found) > 1:
		return nil, fmt.Errorf("%s is the start of the IDs of %d images: give more digits", arg, len(found))
	}
	return nil, &NotFoundError{Arg: arg}
}

func allSame(ss []string) bool {
	for _, s := range ss {
		if s != ss[0] {
			return false
		}
	}
	return true
}

// manifest reads a manifest of the store.
func (s *Store) manifest(h v1.Hash) (*v1.Manifest, error) {
	data, err := s.readBlob(h)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(strings.NewReader(string(data)))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", h, err)
	}
	return m, nil
}

func (s *Store) configDigest(manifest v1.Hash) (v1.Hash, error) {
	m, err := s.manifest(manifest)
	if err != nil {
		return v1.Hash{}, err
	}
	return m.Config.Digest, nil
}

// load reads the image that index entries (of one manifest) point at.
func (s *Store) load(entries []v1.Descriptor) (*Image, error) {
	desc := entries[0]
	m, err := s.manifest(desc.Digest)
	if err != nil {
		return nil, err
	}
	raw, err := s.readBlob(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(strings.NewReader(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("image %s: its manifest lists %d layers and its config %d diff IDs", shortID(m.Config.Digest), len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	img := &Image{ID: m.Config.Digest, Manifest: v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, Platform: desc.Platform},
		Config: cfg, RawConfig: raw}
	chains := ChainIDs(cfg.RootFS.DiffIDs)
	for i, l := range m.Layers {
		layer := Layer{Digest: l.Digest, MediaType: l.MediaType, BlobSize: l.Size, DiffID: cfg.RootFS.DiffIDs[i], ChainID: chains[i], Dir: s.LayerDir(chains[i])}
		if meta, err := s.layerMeta(chains[i]); err == nil {
			layer.Size = meta.Size
		}
		img.Size += layer.Size
		img.Layers = append(img.Layers, layer)
	}
	for _, d := range entries {
		if t, err := time.Parse(time.RFC3339Nano, d.Annotations[Created]); err == nil && t.After(img.Tagged) {
			img.Tagged = t
		}
		n := d.Annotations[RefName]
		if n == "" {
			continue
		}
		img.Names = append(img.Names, n)
		ref, err := registry.ParseReference(n)
		if err != nil {
			continue
		}
		if _, ok := ref.(name.Digest); ok {
			img.RepoDigests = appendNew(img.RepoDigests, registry.Familiar(ref))
		} else {
			img.RepoTags = appendNew(img.RepoTags, registry.Familiar(ref))
		}
		if rd := d.Annotations[RepoDigest]; rd != "" {
			if r, err := registry.ParseReference(rd); err == nil {
				img.RepoDigests = appendNew(img.RepoDigests, registry.Familiar(r))
			}
		}
	}
	return img, nil
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// ChainIDs are the chain IDs of a stack of layers, bottom first: the
// first is the bottom layer's diff ID, and each next one the SHA-256 of
// "PARENT-CHAIN-ID DIFF-ID" (OCI image spec, config.md). A chain ID names
// a layer together with everything below it, which is what a layer's
// whiteouts delete from: the same tar over another base is another
// filesystem.
func ChainIDs(diffIDs []v1.Hash) []v1.Hash {
	out := make([]v1.Hash, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		out[i] = digestOf([]byte(out[i-1].String() + " " + d.String()))
	}
	return out
}

// layerMeta is what layers/CHAIN/layer.json records.
type layerMeta struct {
	ChainID v1.Hash `json:"chainID"`
	DiffID  v1.Hash `json:"diffID"`
	Size    int64   `json:"size"`
}

func (s *Store) layerMeta(chain v1.Hash) (layerMeta, error) {
	var m layerMeta
	data, err := os.ReadFile(s.path("layers", chain.Hex, "layer.json"))
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(data, &m)
}

// hasLayer reports whether the layer chain is unpacked.
func (s *Store) hasLayer(chain v1.Hash) bool {
	_, err := os.Stat(s.path("layers", chain.Hex, "layer.json"))
	return err == nil
}

// Tag gives the image src names another name, dst (docker tag).
func (s *Store) Tag(src, dst string) error {
	name, err := canonicalName(dst)
	if err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("tag: the new name is empty")
	}
	return s.updateIndex(func(idx *v1.IndexManifest) error {
		group, err := s.find(idx, src)
		if err != nil {
			return err
		}
		d := group[0]
		setRef(idx, name, v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, Platform: d.Platform}, "")
		return nil
	})
}
