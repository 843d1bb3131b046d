// Package image is the engine's image store: images pulled from
// registries, loaded from archives, imported from a root filesystem tar or
// committed from a container's writable layer, kept on disk by content,
// with each layer unpacked once for overlayfs to stack.
//
// Role: the image store. The command line (final/dockercli) and, later,
// the engine's containers and its Docker API call it in-process; it calls
// final/registry for the network and the kernel for files. Stage 08 taught
// the lesson in miniature: a layer tar, its whiteouts turned into
// overlay's, paths that may not leave the layer, and overlay stacking the
// layers; docs/10-images.md is this package's chapter.
//
// The store is a directory (/var/lib/cfs/images) that is an OCI image
// layout, so that skopeo, umoci and go-containerregistry can read it, plus
// the unpacked layers and the store's own books:
//
//	oci-layout             {"imageLayoutVersion": "1.0.0"}
//	index.json             one entry per reference: its manifest's descriptor,
//	                       the name in "org.opencontainers.image.ref.name"
//	blobs/sha256/HEX       every manifest, config and layer, named by the
//	                       SHA-256 of its bytes (content addressing)
//	layers/CHAIN/diff      a layer unpacked, keyed by its chain ID: an overlay lower dir
//	layers/CHAIN/layer.json  its diff ID, chain ID and size
//	holds/NAME             an image a container uses (Hold): rmi refuses it, gc keeps it
//	tmp/ID/                one command's work in progress: owner, lease.json, temp files
//	lock                   flock(2): index.json, leases, holds and gc change under it
//
// Every change is atomic: a blob or a layer is written in tmp/, synced,
// and renamed into place, so that a name in blobs/ or layers/ always holds
// complete, verified content, and a command killed half-way leaves only
// its tmp/ directory, which gc (and `cfs cleanup`) removes once its owner
// is dead. While a command works, its lease.json names the blobs and
// layers it will reference, so that a gc run by a concurrent rmi leaves
// them alone (containerd calls this a lease).
//
// What the engine calls, in-process (the command line, part 3's
// containers, part 4's API):
//
//	Open(root)                         the store (DefaultRoot)
//	Pull, Push                         with Registry's settings (mirrors, insecure, --trace)
//	Get(arg), List()                   an Image: ID, names, config, layers, Size
//	Image.LowerDirs()                  overlay's lowerdir list, top first
//	Hold(container, arg), Release      a container uses an image: rmi refuses it, gc keeps it
//	Commit(CommitOptions)              a container's upper directory as a new image
//	Changes(upper, below)              the upper directory read as docker diff lists it
//	Tag, Remove, Save, Load, Import    docker tag, rmi, save, load, import
//	Prune(all)                         docker image prune [-a]
//	EnsureBase()                       cfs/base, made here, without a registry
//	Image.Inspect(), Image.History()   the Docker Engine API's own types
package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"cfs/final/registry"
	"cfs/internal/layout"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// DefaultRoot is where the engine keeps its images.
const DefaultRoot = layout.ImagesDir

// Annotations of index.json's entries.
const (
	// RefName is the OCI layout's name of an entry. cfs writes a whole
	// reference, docker.io/library/busybox:latest, as containerd does.
	RefName = "org.opencontainers.image.ref.name"
	// RepoDigest is the digest the registry gave for the reference when it
	// was pulled or pushed (of the manifest list, when there was one):
	// docker's RepoDigests.
	RepoDigest = "dev.cfs.image.repo-digest"
	// Created is when the entry was made (docker's LastTagTime).
	Created = "dev.cfs.image.tagged"
)

// Store is an image store in one directory. Its methods are safe to call
// from several goroutines and several processes at once.
type Store struct {
	root     string
	rootless bool // not root: owners are not kept, device nodes skipped

	// Registry reaches registries for Pull and Push.
	Registry *registry.Client
}

// Open opens the store in root (DefaultRoot when empty), creating it if
// needed.
func Open(root string) (*Store, error) {
	if root == "" {
		root = DefaultRoot
	}
	s := &Store{root: root, rootless: os.Geteuid() != 0, Registry: &registry.Client{}}
	// The directory above is /var/lib/cfs, which the stages share: others
	// may pass through it (stage 06's user namespaces do), not into the
	// store.
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return nil, fmt.Errorf("open the image store %s: %w", root, err)
	}
	for _, d := range []string{"blobs/sha256", "layers", "holds", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			if errors.Is(err, os.ErrPermission) {
				return nil, fmt.Errorf("open the image store %s: %w (run cfs as root: sudo)", root, err)
			}
			return nil, fmt.Errorf("open the image store %s: %w", root, err)
		}
	}
	if _, err := os.Stat(s.path("oci-layout")); errors.Is(err, os.ErrNotExist) {
		if err := writeFileAtomic(s.path("oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`+"\n"), s.path("tmp"), true); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.root}, elem...)...)
}

func (s *Store) blobPath(h v1.Hash) string { return s.path("blobs", h.Algorithm, h.Hex) }

// LayerDir is where the layer with chain ID chain is unpacked.
func (s *Store) LayerDir(chain v1.Hash) string { return s.path("layers", chain.Hex, "diff") }

// ---------------------------------------------------------------------------
// The lock

// lock takes the store's lock, which every change of index.json, holds
// and leases, and every gc, holds. It is held for milliseconds: downloads
// and unpacking happen outside it, under a lease.
func (s *Store) lock() (unlock func(), err error) {
	f, err := os.OpenFile(s.path("lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the store's lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the image store (flock %s): %w", f.Name(), err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// ---------------------------------------------------------------------------
// index.json: references → manifests

// index reads index.json. Writers replace it with rename(2), so a reader
// needs no lock: it sees the old file or the new one, whole.
func (s *Store) index() (*v1.IndexManifest, error) {
	idx := &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	data, err := os.ReadFile(s.path("index.json"))
	if errors.Is(err, os.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, idx); err != nil {
		return nil, fmt.Errorf("%s: %w (the store's list of images is damaged: move it away, and pull or load the images again)", s.path("index.json"), err)
	}
	return idx, nil
}

// writeIndex replaces index.json; the caller holds the lock.
func (s *Store) writeIndex(idx *v1.IndexManifest) error {
	sort.SliceStable(idx.Manifests, func(i, j int) bool {
		return idx.Manifests[i].Annotations[RefName] < idx.Manifests[j].Annotations[RefName]
	})
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path("index.json"), append(data, '\n'), s.path("tmp"), true)
}

// updateIndex changes index.json under the lock.
func (s *Store) updateIndex(change func(idx *v1.IndexManifest) error) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.index()
	if err != nil {
		return err
	}
	if err := change(idx); err != nil {
		return err
	}
	return s.writeIndex(idx)
}

// setRef points the reference ref (canonical: docker.io/library/busybox:latest)
// at a manifest, replacing what it pointed at. An entry of the same
// manifest with no name (a dangling image) goes: the image has a name
// again. With ref "", the manifest becomes a dangling image, and other
// dangling images stay. It returns whether the reference pointed at this
// manifest already.
func setRef(idx *v1.IndexManifest, ref string, m v1.Descriptor, repoDigest string) (same bool) {
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		name := d.Annotations[RefName]
		if name == ref && d.Digest == m.Digest {
			same = true
		}
		if (name == ref && ref != "") || (name == "" && d.Digest == m.Digest) {
			if repoDigest == "" && name == ref && d.Digest == m.Digest {
				repoDigest = d.Annotations[RepoDigest]
			}
			continue
		}
		kept = append(kept, d)
	}
	idx.Manifests = kept
	e := v1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size, Platform: m.Platform,
		Annotations: map[string]string{Created: time.Now().UTC().Format(time.RFC3339Nano)}}
	if ref != "" {
		e.Annotations[RefName] = ref
	}
	if repoDigest != "" {
		e.Annotations[RepoDigest] = repoDigest
	}
	idx.Manifests = append(idx.Manifests, e)
	return same
}

// ---------------------------------------------------------------------------
// Files

// writeFileAtomic writes data to path: a temporary file in tmpDir (on the
// same filesystem), renamed into place (rename(2)), so that a reader finds
// the old content or the new, whole. With durable, the file and then the
// directory are fsync'd too, so that this holds even after a crash; each
// fsync costs a disk flush, from 0.3 ms to 10 ms on a busy VM.
func writeFileAtomic(path string, data []byte, tmpDir string, durable bool) error {
	f, err := os.CreateTemp(tmpDir, ".write-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, explainIO(err))
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, explainIO(err))
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, explainIO(err))
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !durable {
		return nil
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// explainIO adds the fix to the errors a full or read-only disk gives.
func explainIO(err error) error {
	switch {
	case errors.Is(err, unix.ENOSPC):
		return fmt.Errorf("%w: the disk is full (free some space: `df -h /var/lib/cfs`, `cfs rmi` images you no longer need); nothing half-written is kept", err)
	case errors.Is(err, unix.EDQUOT):
		return fmt.Errorf("%w: over the disk quota; nothing half-written is kept", err)
	case errors.Is(err, unix.EROFS):
		return fmt.Errorf("%w: the filesystem is read-only", err)
	}
	return err
}

// jsonBytes marshals v as the store writes its own JSON.
func jsonBytes(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// shortID is the 12 hex digits docker shows of a digest.
func shortID(h v1.Hash) string {
	if len(h.Hex) < 12 {
		return h.Hex
	}
	return h.Hex[:12]
}

// isHex reports whether s is a non-empty run of lowercase hex digits.
func isHex(s string) bool { return layout.IsHex(s) }

func trimSHA(s string) string { return strings.TrimPrefix(s, "sha256:") }

// IsNew reports whether the store has never held an image (no
// index.json yet).
func (s *Store) IsNew() bool {
	_, err := os.Stat(s.path("index.json"))
	return errors.Is(err, os.ErrNotExist)
}
