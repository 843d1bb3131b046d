package image

// What keeps content in the store, and what removes it.
//
// A blob or an unpacked layer stays while something references it: an
// entry of index.json (a name, or an image without one that a container
// holds), a hold (a container that uses the image, see Hold), or the
// lease of a command at work (a pull that has written two of its three
// layers and will name them when it is done). Everything else is garbage,
// and gc removes it: after rmi, and whenever a command finds what a killed
// one left. Garbage collection takes the store's lock, so that no
// reference appears while it decides.

import (
	"crypto/rand"
	"encoding/hex"
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

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ---------------------------------------------------------------------------
// Leases: a command's work in progress

// A lease is one command's directory in tmp/: its owner (pid and start
// time), the blobs and layers it is writing or will reference
// (lease.json), and its temporary files.
type lease struct {
	s      *Store
	dir    string
	Blobs  []string `json:"blobs"`
	Layers []string `json:"layers"` // chain IDs
}

// newLease starts a lease; release ends it.
func (s *Store) newLease() (*lease, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var b [8]byte
	_, _ = rand.Read(b[:])
	l := &lease{s: s, dir: s.path("tmp", hex.EncodeToString(b[:]))}
	if err := os.Mkdir(l.dir, 0o700); err != nil {
		return nil, explainIO(err)
	}
	if err := layout.WriteOwner(filepath.Join(l.dir, "owner")); err != nil {
		os.RemoveAll(l.dir)
		return nil, explainIO(err)
	}
	return l, nil
}

// protect adds blobs and layers to the lease, so that gc keeps them.
func (l *lease) protect(blobs, chains []v1.Hash) error {
	unlock, err := l.s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	for _, b := range blobs {
		l.Blobs = append(l.Blobs, b.String())
	}
	for _, c := range chains {
		l.Layers = append(l.Layers, c.String())
	}
	return writeFileAtomic(filepath.Join(l.dir, "lease.json"), jsonBytes(l), l.dir, true)
}

// release ends the lease: what it protected is kept only if referenced
// by now.
func (l *lease) release() {
	unlock, err := l.s.lock()
	if err == nil {
		defer unlock()
	}
	os.RemoveAll(l.dir)
}

// ---------------------------------------------------------------------------
// Holds: images that containers use

// holdRecord is holds/NAME.
type holdRecord struct {
	Manifest v1.Hash `json:"manifest"`
	Image    v1.Hash `json:"image"`
	Ref      string  `json:"ref,omitempty"`
}

// Hold records that holder (a container's ID) uses the image arg names,
// and returns it: until Release, rmi refuses the image (rmi -f only
// untags it), and gc keeps its blobs and layers. A container takes it
// before it mounts the layers.
func (s *Store) Hold(holder, arg string) (*Image, error) {
	if !validHolder(holder) {
		return nil, fmt.Errorf("hold: %q is not a holder's name (letters, digits, '-', '_', '.')", holder)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	img, err := s.Get(arg)
	if err != nil {
		return nil, err
	}
	// Not durable: a hold is taken for every container made, and needs
	// to outlive a crash no more than the container's own record does,
	// which is written without fsync too (final/engine).
	rec := holdRecord{Manifest: img.Manifest.Digest, Image: img.ID, Ref: arg}
	if err := writeFileAtomic(s.path("holds", holder), jsonBytes(rec), s.path("tmp"), false); err != nil {
		return nil, err
	}
	return img, nil
}

// Release ends holder's hold. Releasing what is not held is no error,
// so that a container's removal can be repeated.
func (s *Store) Release(holder string) error {
	if !validHolder(holder) {
		return fmt.Errorf("release: %q is not a holder's name", holder)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(s.path("holds", holder)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func validHolder(h string) bool {
	if h == "" || h == "." || h == ".." || len(h) > 128 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.", c)) {
			return false
		}
	}
	return true
}

// holds returns every hold, by holder.
func (s *Store) holds() (map[string]holdRecord, error) {
	entries, err := os.ReadDir(s.path("holds"))
	if err != nil {
		return nil, err
	}
	out := map[string]holdRecord{}
	for _, e := range entries {
		data, err := os.ReadFile(s.path("holds", e.Name()))
		if err != nil {
			continue
		}
		var r holdRecord
		if json.Unmarshal(data, &r) == nil {
			out[e.Name()] = r
		}
	}
	return out, nil
}

// holders are those that hold the image with manifest m, sorted.
func holdersOf(holds map[string]holdRecord, m v1.Hash) []string {
	var out []string
	for h, r := range holds {
		if r.Manifest == m {
			out = append(out, h)
		}
	}
	sort.Strings(out)
	return out
}

// ---------------------------------------------------------------------------
// rmi and image prune

// Removed is what Remove did, as docker rmi prints it.
type Removed struct {
	Untagged []string // names, as docker shows them
	Deleted  []string // the image's ID and its layers' chain IDs that went
}

// ConflictError is an image that rmi may not remove without -f, or not at
// all.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }

// Remove removes a name, or an image, as docker rmi does. arg is a name
// (busybox:latest): that name goes, and the image with it if it was its
// last name. Or arg is an ID (or a prefix): the image goes, which must be
// forced when it has names in more than one repository. An image that a
// container holds keeps its last name unless force, and then stays as
// <none> while held. What no longer has a reference goes with gc.
func (s *Store) Remove(arg string, force bool) (*Removed, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	idx, err := s.index()
	if err != nil {
		unlock()
		return nil, err
	}
	group, err := s.find(idx, arg)
	if err != nil {
		unlock()
		return nil, err
	}
	img, err := s.load(group)
	if err != nil {
		unlock()
		return nil, err
	}
	holds, err := s.holds()
	if err != nil {
		unlock()
		return nil, err
	}
	holders := holdersOf(holds, img.Manifest.Digest)
	byName := isName(arg, group)

	var drop []string // canonical names to remove
	switch {
	case byName != "":
		drop = []string{byName}
		// Its digest names go with the last tag, as in docker.
		if len(img.Names) == 1 || onlyDigestsLeft(img.Names, byName) {
			drop = img.Names
		}
	default:
		repos := map[string]bool{}
		for _, n := range img.Names {
			if r, err := registry.ParseReference(n); err == nil {
				repos[registry.Repository(r.Context())] = true
			}
		}
		if len(repos) > 1 && !force {
			unlock()
			return nil, &ConflictError{fmt.Sprintf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", img.ShortID())}
		}
		drop = img.Names
	}
	rest := len(img.Names) - len(drop)
	deleting := rest == 0
	if deleting && len(holders) > 0 && !force {
		unlock()
		what := fmt.Sprintf("repository reference %q", shownName(arg))
		if byName == "" {
			what = img.ShortID()
		}
		return nil, &ConflictError{fmt.Sprintf("conflict: unable to remove %s (must force) - container %s is using its referenced image %s", what, holders[0], img.ShortID())}
	}

	out := &Removed{}
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		n := d.Annotations[RefName]
		if d.Digest == img.Manifest.Digest && (contains(drop, n) || (deleting && n == "")) {
			if n != "" {
				out.Untagged = append(out.Untagged, shownName(n))
				if rd := d.Annotations[RepoDigest]; rd != "" && deleting {
					out.Untagged = appendNew(out.Untagged, shownName(rd))
				}
			}
			continue
		}
		kept = append(kept, d)
	}
	idx.Manifests = kept
	if deleting && len(holders) > 0 {
		// Held by a container: it stays, without a name (docker's <none>).
		setRef(idx, "", img.Manifest, "")
		deleting = false
	}
	if err := s.writeIndex(idx); err != nil {
		unlock()
		return nil, err
	}
	unlock()
	if !deleting {
		return out, nil
	}
	out.Deleted = append(out.Deleted, img.ID.String())
	gone, err := s.GC()
	for i := len(img.Layers) - 1; i >= 0; i-- {
		if gone[img.Layers[i].ChainID] {
			out.Deleted = append(out.Deleted, img.Layers[i].ChainID.String())
		}
	}
	return out, err
}

// Prune removes the images that no container holds, as docker image
// prune does: without all, only the dangling ones (docker's <none>: an
// image committed, loaded or imported without a name, or untagged by
// rmi -f while a container used it); with all, every one; of those, only
// what match lets go (nil: all of them; docker's --filter). It says what
// went in rmi's terms, and the bytes that gc freed: the layers' unpacked
// files and their blobs.
func (s *Store) Prune(all bool, match func(*Image) bool) (*Removed, uint64, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, 0, err
	}
	idx, err := s.index()
	if err != nil {
		unlock()
		return nil, 0, err
	}
	holds, err := s.holds()
	if err != nil {
		unlock()
		return nil, 0, err
	}
	held := map[v1.Hash]bool{}
	for _, h := range holds {
		held[h.Manifest] = true
	}
	out, drop := &Removed{}, map[v1.Hash]bool{}
	var pruned []*Image
	for _, group := range groupByManifest(idx) {
		if held[group[0].Digest] {
			continue
		}
		img, err := s.load(group)
		if err != nil {
			unlock()
			return nil, 0, err
		}
		if len(img.Names) > 0 && !all || match != nil && !match(img) {
			continue
		}
		drop[img.Manifest.Digest] = true
		pruned = append(pruned, img)
		for _, d := range group {
			if n := d.Annotations[RefName]; n != "" {
				out.Untagged = appendNew(out.Untagged, shownName(n))
			}
			if rd := d.Annotations[RepoDigest]; rd != "" {
				out.Untagged = appendNew(out.Untagged, shownName(rd))
			}
		}
	}
	if len(pruned) == 0 {
		unlock()
		return out, 0, nil
	}
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		if !drop[d.Digest] {
			kept = append(kept, d)
		}
	}
	idx.Manifests = kept
	err = s.writeIndex(idx)
	unlock()
	if err != nil {
		return nil, 0, err
	}
	gone, err := s.GC()
	var reclaimed uint64
	counted := map[v1.Hash]bool{}
	for _, img := range pruned {
		out.Deleted = append(out.Deleted, img.ID.String())
		for i := len(img.Layers) - 1; i >= 0; i-- {
			l := img.Layers[i]
			if !gone[l.ChainID] || counted[l.ChainID] {
				continue
			}
			counted[l.ChainID] = true
			out.Deleted = append(out.Deleted, l.ChainID.String())
			reclaimed += uint64(l.Size)
			if _, serr := os.Stat(s.blobPath(l.Digest)); errors.Is(serr, os.ErrNotExist) {
				reclaimed += uint64(l.BlobSize)
			}
		}
	}
	return out, reclaimed, err
}

// isName returns the canonical name arg stands for, if it is one of the
// image's names (and not an ID).
func isName(arg string, group []v1.Descriptor) string {
	ref, err := registry.ParseReference(arg)
	if err != nil {
		return ""
	}
	want := registry.Canonical(ref)
	for _, d := range group {
		if d.Annotations[RefName] == want {
			return want
		}
	}
	if _, ok := ref.(name.Digest); ok && !isHex(trimSHA(arg)) {
		// name@digest of a repo digest: the tag entry it came with
		for _, d := range group {
			if d.Annotations[RepoDigest] == want {
				return d.Annotations[RefName]
			}
		}
	}
	return ""
}

func onlyDigestsLeft(names []string, removing string) bool {
	for _, n := range names {
		if n != removing && !strings.Contains(n, "@") {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// shownName writes a canonical name as docker shows it.
func shownName(n string) string {
	if r, err := registry.ParseReference(n); err == nil {
		return registry.Familiar(r)
	}
	return n
}

// ---------------------------------------------------------------------------
// gc

// GC removes every blob and unpacked layer that nothing references, and
// what killed commands left in tmp/. It returns the layers it removed.
func (s *Store) GC() (map[v1.Hash]bool, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	trash, gone, err := s.collect()
	unlock()
	// The files go outside the lock: renamed into tmp/ first, they are
	// already out of the store, and a gc that is killed now leaves only
	// directories without an owner, which the next gc removes.
	for _, t := range trash {
		os.RemoveAll(t)
	}
	return gone, err
}

// collect finds the garbage and moves it out of the store; the caller
// holds the lock.
func (s *Store) collect() (trash []string, gone map[v1.Hash]bool, err error) {
	gone = map[v1.Hash]bool{}
	blobs := map[string]bool{}
	layers := map[string]bool{}
	markImage := func(m v1.Hash) {
		blobs[m.Hex] = true
		man, err := s.manifest(m)
		if err != nil {
			return
		}
		blobs[man.Config.Digest.Hex] = true
		for _, l := range man.Layers {
			blobs[l.Digest.Hex] = true
		}
		raw, err := s.readBlob(man.Config.Digest)
		if err != nil {
			return
		}
		cfg, err := v1.ParseConfigFile(strings.NewReader(string(raw)))
		if err != nil {
			return
		}
		for _, c := range ChainIDs(cfg.RootFS.DiffIDs) {
			layers[c.Hex] = true
		}
	}
	idx, err := s.index()
	if err != nil {
		return nil, gone, err
	}
	for _, d := range idx.Manifests {
		markImage(d.Digest)
	}
	holds, err := s.holds()
	if err != nil {
		return nil, gone, err
	}
	for _, h := range holds {
		markImage(h.Manifest)
	}

	// Leases of commands at work; those of dead commands go.
	tmps, err := os.ReadDir(s.path("tmp"))
	if err != nil {
		return nil, gone, err
	}
	for _, e := range tmps {
		p := s.path("tmp", e.Name())
		if !e.IsDir() {
			// a file of writeFileAtomic: it takes milliseconds
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
				os.Remove(p)
			}
			continue
		}
		if o, err := layout.ReadOwner(filepath.Join(p, "owner")); err == nil && o.Alive() {
			var l lease
			if data, err := os.ReadFile(filepath.Join(p, "lease.json")); err == nil && json.Unmarshal(data, &l) == nil {
				for _, b := range l.Blobs {
					blobs[trimSHA(b)] = true
				}
				for _, c := range l.Layers {
					layers[trimSHA(c)] = true
				}
			}
			continue
		}
		trash = append(trash, p) // a dead command's, or gc's own trash
	}

	entries, err := os.ReadDir(s.path("blobs", "sha256"))
	if err != nil {
		return trash, gone, err
	}
	for _, e := range entries {
		if !blobs[e.Name()] {
			if err := os.Remove(s.path("blobs", "sha256", e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return trash, gone, err
			}
		}
	}
	entries, err = os.ReadDir(s.path("layers"))
	if err != nil {
		return trash, gone, err
	}
	for _, e := range entries {
		if layers[e.Name()] {
			continue
		}
		var b [4]byte
		_, _ = rand.Read(b[:])
		t := s.path("tmp", "trash-"+e.Name()+"-"+hex.EncodeToString(b[:]))
		if err := os.Rename(s.path("layers", e.Name()), t); err != nil {
			return trash, gone, err
		}
		trash = append(trash, t)
		gone[v1.Hash{Algorithm: "sha256", Hex: e.Name()}] = true
	}
	return trash, gone, nil
}
