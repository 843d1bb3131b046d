package image

// save and load: images in one tar file, for a machine with no registry.
//
// `save` writes the format docker save has written since Docker 25, which
// is two formats in one tar, so that every tool can read it:
//
//	oci-layout, index.json, blobs/sha256/HEX   an OCI image layout (skopeo oci-archive:,
//	                                           containerd, podman)
//	manifest.json                              docker's own list: each image's config,
//	                                           names and layers, as paths into blobs/
//
// `load` reads that, an OCI layout alone (from skopeo, buildah), or an
// older docker save (manifest.json with HEX/layer.tar), from a tar file,
// stdin, or an OCI layout directory. Each blob is checked against its
// digest as it is stored, and each layer unpacked, as in a pull.

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"cfs/final/registry"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// docker's manifest.json, one entry per image.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Annotations of a saved index.json: the whole name (containerd's and
// docker's) and the tag (the OCI layout's own).
const containerdName = "io.containerd.image.name"

// Save writes the images that args name to w, as one tar (see above). A
// name is saved with the image; an ID saves the image without names.
func (s *Store) Save(w io.Writer, args []string) error {
	idx, err := s.index()
	if err != nil {
		return err
	}
	type saved struct {
		img   *Image
		names []string // canonical
	}
	var images []*saved
	byManifest := map[v1.Hash]*saved{}
	for _, arg := range args {
		group, err := s.find(idx, arg)
		if err != nil {
			return err
		}
		img, err := s.load(group)
		if err != nil {
			return err
		}
		sv := byManifest[img.Manifest.Digest]
		if sv == nil {
			sv = &saved{img: img}
			byManifest[img.Manifest.Digest] = sv
			images = append(images, sv)
		}
		if n := isName(arg, group); n != "" && !strings.Contains(n, "@") {
			sv.names = appendNew(sv.names, n)
		}
	}

	tw := tar.NewWriter(w)
	written := map[v1.Hash]bool{}
	addFile := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	addBlob := func(h v1.Hash, size int64) error {
		if written[h] {
			return nil
		}
		written[h] = true
		f, err := s.openBlob(h)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + h.Hex, Mode: 0o644, Size: size, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		hr := newHashingReader(f)
		if _, err := io.Copy(tw, hr); err != nil {
			return err
		}
		if got := hr.Digest(); got != h || hr.n != size {
			return fmt.Errorf("blob %s in %s has changed on disk (its digest is %s): pull or load the image again", h, s.root, got)
		}
		return nil
	}

	out := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	var dm []dockerManifest
	for _, sv := range images {
		img := sv.img
		for _, l := range img.Layers {
			if err := addBlob(l.Digest, l.BlobSize); err != nil {
				return err
			}
		}
		if err := addBlob(img.ID, int64(len(img.RawConfig))); err != nil {
			return err
		}
		if err := addBlob(img.Manifest.Digest, img.Manifest.Size); err != nil {
			return err
		}
		entry := dockerManifest{Config: "blobs/sha256/" + img.ID.Hex}
		for _, l := range img.Layers {
			entry.Layers = append(entry.Layers, "blobs/sha256/"+l.Digest.Hex)
		}
		desc := v1.Descriptor{MediaType: img.Manifest.MediaType, Digest: img.Manifest.Digest, Size: img.Manifest.Size}
		if len(sv.names) == 0 {
			out.Manifests = append(out.Manifests, desc)
		}
		for _, n := range sv.names {
			d := desc
			d.Annotations = map[string]string{containerdName: n}
			if ref, err := registry.ParseReference(n); err == nil {
				d.Annotations[RefName] = ref.Identifier()
				entry.RepoTags = append(entry.RepoTags, registry.Familiar(ref))
			}
			out.Manifests = append(out.Manifests, d)
		}
		dm = append(dm, entry)
	}
	if err := addFile("index.json", jsonBytes(out)); err != nil {
		return err
	}
	if err := addFile("manifest.json", jsonBytes(dm)); err != nil {
		return err
	}
	if err := addFile("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	return tw.Close()
}

// ---------------------------------------------------------------------------
// load

// Loaded is one image that Load stored.
type Loaded struct {
	Image *Image
	Names []string // as docker shows them; none: the image has no name
}

// archive is the files of an image archive: a tar or a directory.
type archive interface {
	open(name string) (io.ReadCloser, int64, error)
	has(name string) bool
}

// Load stores the images of an archive: a tar file (or stdin: it is
// copied to the store's tmp/ first, as a tar must be read more than once)
// or an OCI layout directory.
func (s *Store) Load(ctx context.Context, r io.Reader, progress Progress) ([]Loaded, error) {
	l, err := s.newLease()
	if err != nil {
		return nil, err
	}
	defer l.release()
	f, ok := r.(*os.File)
	if ok {
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return s.loadFrom(ctx, l, &dirArchive{dir: f.Name()}, progress)
		}
		if _, err := f.Seek(0, io.SeekCurrent); err != nil {
			ok = false // a pipe
		}
	}
	if !ok {
		tmp, err := os.CreateTemp(l.dir, "load-*.tar")
		if err != nil {
			return nil, explainIO(err)
		}
		defer tmp.Close()
		if _, err := io.Copy(tmp, r); err != nil {
			return nil, explainIO(err)
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		f = tmp
	}
	a, err := indexTar(f)
	if err != nil {
		return nil, err
	}
	return s.loadFrom(ctx, l, a, progress)
}

func (s *Store) loadFrom(ctx context.Context, l *lease, a archive, progress Progress) ([]Loaded, error) {
	switch {
	case a.has("index.json"):
		return s.loadOCI(ctx, l, a, progress)
	case a.has("manifest.json"):
		return s.loadDocker(ctx, l, a, progress)
	}
	return nil, errors.New("not an image archive: it has neither index.json (an OCI image layout) nor manifest.json (docker save); make one with `cfs save -o FILE IMAGE`, `docker save` or `skopeo copy … oci-archive:FILE`")
}

func readAll(a archive, name string, limit int64) ([]byte, error) {
	rc, size, err := a.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > limit {
		return nil, fmt.Errorf("%s: %d bytes, too big for what it should be", name, size)
	}
	return io.ReadAll(io.LimitReader(rc, limit))
}

// loadOCI loads an OCI layout's images, names from manifest.json (docker
// save) or from the index's annotations.
func (s *Store) loadOCI(ctx context.Context, l *lease, a archive, progress Progress) ([]Loaded, error) {
	data, err := readAll(a, "index.json", 16<<20)
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	dockerNames := map[string][]string{} // config digest → names, from manifest.json
	if a.has("manifest.json") {
		if data, err := readAll(a, "manifest.json", 16<<20); err == nil {
			var dm []dockerManifest
			if json.Unmarshal(data, &dm) == nil {
				for _, e := range dm {
					dockerNames[path.Base(e.Config)] = append(dockerNames[path.Base(e.Config)], e.RepoTags...)
				}
			}
		}
	}
	var out []Loaded
	seen := map[v1.Hash]int{}
	for _, d := range idx.Manifests {
		desc := d
		if d.MediaType.IsIndex() {
			// A manifest list: this machine's image from it.
			child, err := s.pickFromArchive(a, d)
			if err != nil {
				return nil, err
			}
			desc = *child
			desc.Annotations = d.Annotations
		}
		img, err := s.loadImage(ctx, l, a, desc.Digest, nil, progress)
		if err != nil {
			return nil, err
		}
		var names []string
		if n := desc.Annotations[containerdName]; n != "" {
			names = append(names, n)
		} else if n := desc.Annotations[RefName]; strings.ContainsAny(n, "/:") {
			names = append(names, n) // a whole name, as skopeo writes one
		}
		if len(names) == 0 {
			names = dockerNames[img.ID.Hex]
		}
		if i, ok := seen[img.Manifest.Digest]; ok {
			out[i].Names = append(out[i].Names, names...)
			continue
		}
		seen[img.Manifest.Digest] = len(out)
		out = append(out, Loaded{Image: img, Names: names})
	}
	return s.nameLoaded(out)
}

func (s *Store) pickFromArchive(a archive, d v1.Descriptor) (*v1.Descriptor, error) {
	data, err := readAll(a, "blobs/sha256/"+d.Digest.Hex, 16<<20)
	if err != nil {
		return nil, err
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(data, &im); err != nil {
		return nil, fmt.Errorf("manifest list %s: %w", d.Digest, err)
	}
	want := registry.Platform()
	for i, c := range im.Manifests {
		if c.Platform != nil && platformMatches(*c.Platform, want) {
			return &im.Manifests[i], nil
		}
	}
	return nil, fmt.Errorf("the archive's manifest list %s has no image for %s", d.Digest, platformString(want))
}

// loadDocker loads an older docker save: manifest.json, configs and
// layer tars (plain or compressed) at the paths it names.
func (s *Store) loadDocker(ctx context.Context, l *lease, a archive, progress Progress) ([]Loaded, error) {
	data, err := readAll(a, "manifest.json", 16<<20)
	if err != nil {
		return nil, err
	}
	var dm []dockerManifest
	if err := json.Unmarshal(data, &dm); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	var out []Loaded
	for _, e := range dm {
		img, err := s.loadImage(ctx, l, a, v1.Hash{}, &e, progress)
		if err != nil {
			return nil, err
		}
		out = append(out, Loaded{Image: img, Names: e.RepoTags})
	}
	return s.nameLoaded(out)
}

// loadImage stores one image of an archive: the manifest named manifest,
// or (docker's older format) one made for the config and layer files of
// e, which keeps the image's ID: the config is the same bytes.
func (s *Store) loadImage(ctx context.Context, l *lease, a archive, manifest v1.Hash, e *dockerManifest, progress Progress) (*Image, error) {
	var rawManifest []byte
	var m *v1.Manifest
	var rawConfig []byte
	var err error
	if e == nil {
		if rawManifest, err = readAll(a, "blobs/sha256/"+manifest.Hex, 16<<20); err != nil {
			return nil, err
		}
		if got := digestOf(rawManifest); got != manifest {
			return nil, &DigestError{What: "manifest", Want: manifest, Got: got, Size: int64(len(rawManifest))}
		}
		if m, err = v1.ParseManifest(strings.NewReader(string(rawManifest))); err != nil {
			return nil, fmt.Errorf("manifest %s: %w", manifest, err)
		}
		if rawConfig, err = readAll(a, "blobs/sha256/"+m.Config.Digest.Hex, 16<<20); err != nil {
			return nil, err
		}
	} else {
		if rawConfig, err = readAll(a, e.Config, 16<<20); err != nil {
			return nil, err
		}
		m = &v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
			Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: digestOf(rawConfig), Size: int64(len(rawConfig))}}
		for _, p := range e.Layers {
			d, size, mt, err := describeFile(a, p)
			if err != nil {
				return nil, err
			}
			m.Layers = append(m.Layers, v1.Descriptor{MediaType: mt, Digest: d, Size: size})
		}
		if rawManifest, err = json.Marshal(m); err != nil {
			return nil, err
		}
	}
	if got := digestOf(rawConfig); got != m.Config.Digest {
		return nil, &DigestError{What: "config", Want: m.Config.Digest, Got: got, Size: int64(len(rawConfig))}
	}
	cfg, err := v1.ParseConfigFile(strings.NewReader(string(rawConfig)))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	layers, err := layersOf(m, cfg)
	if err != nil {
		return nil, err
	}
	if err := l.protect(append(blobsOf(layers), m.Config.Digest, digestOf(rawManifest)), chainsOf(layers)); err != nil {
		return nil, err
	}
	for i, layer := range layers {
		p := "blobs/sha256/" + layer.Digest.Hex
		if e != nil {
			p = e.Layers[i]
		}
		open := func(context.Context) (io.ReadCloser, error) {
			rc, _, err := a.open(p)
			return rc, err
		}
		if err := s.ensureLayer(ctx, l, layer, open, progress); err != nil {
			return nil, err
		}
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	desc, err := s.putConfigAndManifest(l, rawConfig, rawManifest, mt, cfg)
	if err != nil {
		return nil, err
	}
	return &Image{ID: m.Config.Digest, Manifest: desc}, nil
}

// describeFile hashes a layer file of an older docker save.
func describeFile(a archive, p string) (v1.Hash, int64, types.MediaType, error) {
	rc, _, err := a.open(p)
	if err != nil {
		return v1.Hash{}, 0, "", err
	}
	defer rc.Close()
	hr := newHashingReader(rc)
	head := make([]byte, 4)
	n, _ := io.ReadFull(hr, head)
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return v1.Hash{}, 0, "", err
	}
	mt := types.OCIUncompressedLayer
	switch {
	case n >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		mt = types.OCILayer
	case n == 4 && string(head) == "\x28\xb5\x2f\xfd":
		mt = types.OCILayerZStd
	}
	return hr.Digest(), hr.n, mt, nil
}

// nameLoaded points each loaded image's names at it; an image without a
// name is kept as <none>.
func (s *Store) nameLoaded(loaded []Loaded) ([]Loaded, error) {
	err := s.updateIndex(func(idx *v1.IndexManifest) error {
		for i, ld := range loaded {
			var shown []string
			for _, n := range ld.Names {
				ref, err := registry.ParseReference(n)
				if err != nil {
					return fmt.Errorf("the archive names an image %q: %w", n, err)
				}
				if _, ok := ref.(name.Digest); ok {
					continue
				}
				setRef(idx, registry.Canonical(ref), ld.Image.Manifest, "")
				shown = append(shown, registry.Familiar(ref))
			}
			if len(shown) == 0 {
				setRef(idx, "", ld.Image.Manifest, "")
			}
			loaded[i].Names = shown
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, ld := range loaded {
		img, err := s.Get(ld.Image.ID.String())
		if err != nil {
			return nil, err
		}
		loaded[i].Image = img
	}
	return loaded, nil
}

// ---------------------------------------------------------------------------
// Archives

// tarArchive is a tar file read in place: its files are found once, and
// opened as sections of the file.
type tarArchive struct {
	f     *os.File
	files map[string][2]int64 // name → offset, size
}

func indexTar(f *os.File) (*tarArchive, error) {
	a := &tarArchive{f: f, files: map[string][2]int64{}}
	start, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return nil, err
	}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar archive (%v): load reads the tar files that save writes", err)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		// tar.Reader seeks over file data: the file's offset is where
		// this entry's data starts.
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		a.files[path.Clean(strings.TrimPrefix(hdr.Name, "./"))] = [2]int64{off, hdr.Size}
	}
	if len(a.files) == 0 {
		return nil, errors.New("not a tar archive, or an empty one: load reads the tar files that save writes")
	}
	return a, nil
}

func (a *tarArchive) has(name string) bool { _, ok := a.files[path.Clean(name)]; return ok }

func (a *tarArchive) open(name string) (io.ReadCloser, int64, error) {
	e, ok := a.files[path.Clean(name)]
	if !ok {
		return nil, 0, fmt.Errorf("the archive has no %s: it is incomplete", name)
	}
	return io.NopCloser(io.NewSectionReader(a.f, e[0], e[1])), e[1], nil
}

// dirArchive is an OCI layout directory. Its files are opened through
// os.Root, which keeps a name (../x, a symlink) from leading outside it.
type dirArchive struct{ dir string }

func (a *dirArchive) has(name string) bool {
	rc, _, err := a.open(name)
	if err == nil {
		rc.Close()
	}
	return err == nil
}

func (a *dirArchive) open(name string) (io.ReadCloser, int64, error) {
	root, err := os.OpenRoot(a.dir)
	if err != nil {
		return nil, 0, err
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", a.dir, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}
