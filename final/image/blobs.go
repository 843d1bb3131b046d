package image

// The content store: every manifest, config and layer is a file named by
// the SHA-256 of its bytes, so that a name says what the content is, the
// same content is kept once, and a digest that does not match the bytes
// is a tampered or broken download.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// hasBlob reports whether the blob h is in the store.
func (s *Store) hasBlob(h v1.Hash) bool {
	_, err := os.Stat(s.blobPath(h))
	return err == nil
}

// readBlob reads a small blob (a manifest or a config) and checks its
// digest: a file changed on disk is refused as a download would be.
func (s *Store) readBlob(h v1.Hash) ([]byte, error) {
	data, err := os.ReadFile(s.blobPath(h))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("blob %s is missing from %s (a store damaged by hand? pull or load the image again)", h, s.root)
		}
		return nil, err
	}
	if got := digestOf(data); got != h {
		return nil, fmt.Errorf("blob %s in %s holds content whose digest is %s: refused (changed on disk; pull or load the image again)", h, s.root, got)
	}
	return data, nil
}

// openBlob opens a blob for reading (a layer, which is checked by whoever
// reads it whole).
func (s *Store) openBlob(h v1.Hash) (*os.File, error) {
	f, err := os.Open(s.blobPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("blob %s is missing from %s (pull or load the image again)", h, s.root)
	}
	return f, err
}

// putBlob stores data as a blob, or finds it there, and returns its
// digest.
func (s *Store) putBlob(l *lease, data []byte) (v1.Hash, error) {
	h := digestOf(data)
	if s.hasBlob(h) {
		return h, nil
	}
	if err := l.protect([]v1.Hash{h}, nil); err != nil {
		return h, err
	}
	w, err := s.newBlobWriter(l)
	if err != nil {
		return h, err
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		return h, err
	}
	return h, w.Commit(h)
}

// blobWriter writes a blob into the lease's directory while hashing it;
// Commit checks the digest, syncs and renames it into blobs/.
type blobWriter struct {
	s    *Store
	f    *os.File
	h    hash.Hash
	n    int64
	err  error // the first write error
	done bool
}

func (s *Store) newBlobWriter(l *lease) (*blobWriter, error) {
	f, err := os.CreateTemp(l.dir, "blob-")
	if err != nil {
		return nil, explainIO(err)
	}
	return &blobWriter{s: s, f: f, h: sha256.New()}, nil
}

func (w *blobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		err = explainIO(err)
		if w.err == nil {
			w.err = err
		}
	}
	return n, err
}

// Digest is the digest of what was written so far.
func (w *blobWriter) Digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.h.Sum(nil))}
}

// Commit renames the blob into place if its digest is want; otherwise it
// removes it and says so.
func (w *blobWriter) Commit(want v1.Hash) error {
	w.done = true
	defer os.Remove(w.f.Name())
	if got := w.Digest(); got != want {
		w.f.Close()
		return &DigestError{Want: want, Got: got, Size: w.n}
	}
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return explainIO(err)
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(w.f.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(w.f.Name(), w.s.blobPath(want)); err != nil {
		return err
	}
	return syncDir(w.s.path("blobs", want.Algorithm))
}

// Abort removes an uncommitted blob.
func (w *blobWriter) Abort() {
	if !w.done {
		w.f.Close()
		os.Remove(w.f.Name())
	}
}

// DigestError is content whose digest is not the one it was asked for.
type DigestError struct {
	What      string // "layer", "config", …, when known
	Want, Got v1.Hash
	Size      int64
}

func (e *DigestError) Error() string {
	what := e.What
	if what == "" {
		what = "blob"
	}
	return fmt.Sprintf("%s %s: the content received (%d bytes) has the digest %s: refused, it was changed on the way or at the source (tampered or corrupted); nothing of it was kept",
		what, e.Want, e.Size, e.Got)
}

func digestOf(data []byte) v1.Hash {
	sum := sha256.Sum256(data)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// hashed is the sha256 and the count of the bytes that went through a
// hashingReader or a hashingWriter.
type hashed struct {
	h hash.Hash
	n int64
}

func (x *hashed) add(p []byte) {
	x.h.Write(p)
	x.n += int64(len(p))
}

func (x *hashed) Digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(x.h.Sum(nil))}
}

// hashingReader hashes what is read through it.
type hashingReader struct {
	r io.Reader
	hashed
}

func newHashingReader(r io.Reader) *hashingReader {
	return &hashingReader{r: r, hashed: hashed{h: sha256.New()}}
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.add(p[:n])
	return n, err
}

// hashingWriter hashes what is written through it.
type hashingWriter struct {
	w io.Writer
	hashed
}

func newHashingWriter(w io.Writer) *hashingWriter {
	return &hashingWriter{w: w, hashed: hashed{h: sha256.New()}}
}

func (w *hashingWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.add(p[:n])
	return n, err
}
