package image

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// Event is one step of a pull, push or load, as docker's progress
// messages have them: "Pulling fs layer", "Downloading" (with Current
// and Total bytes), "Verifying Checksum", "Download complete",
// "Extracting", "Pull complete", "Already exists", "Pushing", "Pushed",
// "Layer already exists". ID is the layer's short digest.
type Event struct {
	ID             string
	Status         string
	Current, Total int64
}

// Progress receives events; it may be called from several goroutines.
type Progress func(Event)

func (p Progress) send(id, status string, current, total int64) {
	if p != nil {
		p(Event{ID: id, Status: status, Current: current, Total: total})
	}
}

// layerSource opens a layer's blob: from a registry, an archive, a file.
type layerSource func(ctx context.Context) (io.ReadCloser, error)

// ensureLayer makes sure that the store has layer's blob and its
// unpacked directory, getting the blob from open if it is missing. The
// blob is unpacked as it arrives: one pass hashes it (its digest), writes
// it to a temporary file, decompresses it, hashes the tar (its diff ID)
// and writes its files into a temporary directory. Only when both digests
// are the ones the image names are the two renamed into place; otherwise
// both are thrown away, and the error says the content was tampered with.
func (s *Store) ensureLayer(ctx context.Context, l *lease, layer Layer, open layerSource, progress Progress) error {
	id := shortID(layer.Digest)
	haveBlob, haveDir := s.hasBlob(layer.Digest), s.hasLayer(layer.ChainID)
	if haveBlob && haveDir {
		progress.send(id, "Already exists", 0, 0)
		return nil
	}
	var src io.ReadCloser
	var err error
	status := "Downloading"
	if haveBlob {
		src, err = s.openBlob(layer.Digest)
		status = "Extracting"
	} else {
		src, err = open(ctx)
	}
	if err != nil {
		return err
	}
	defer src.Close()
	counted := &countingReader{r: src, id: id, status: status, total: layer.BlobSize, progress: progress}
	var in io.Reader = counted
	var bw *blobWriter
	if !haveBlob {
		if bw, err = s.newBlobWriter(l); err != nil {
			return err
		}
		defer bw.Abort()
		in = io.TeeReader(in, bw)
	}

	// Unpack into tmp/LEASE/layer-CHAIN/diff, unless the layer is
	// unpacked already (the blob alone was missing).
	tmp := filepath.Join(l.dir, "layer-"+layer.ChainID.Hex)
	fail := func(err error) error {
		return s.layerError(ctx, in, counted, bw, layer, err)
	}
	dec, closeDec, err := decompress(in)
	if err != nil {
		return fail(err)
	}
	defer closeDec()
	diff := newHashingReader(dec)
	var size int64
	if !haveDir {
		if err := os.MkdirAll(filepath.Join(tmp, "diff"), 0o755); err != nil {
			return explainIO(err)
		}
		defer os.RemoveAll(tmp)
		if size, err = unpack(diff, filepath.Join(tmp, "diff"), s.rootless); err != nil {
			return fail(err)
		}
	}
	// The rest of the stream: the tar's end blocks, the compression's
	// trailer (gzip checks its CRC there).
	if _, err := io.Copy(io.Discard, diff); err != nil {
		return fail(err)
	}
	if _, err := io.Copy(io.Discard, in); err != nil {
		return fail(err)
	}
	counted.finish()

	// Check both digests before anything is kept.
	if bw != nil {
		progress.send(id, "Verifying Checksum", 0, 0)
		if got := bw.Digest(); got != layer.Digest {
			return &DigestError{What: "layer", Want: layer.Digest, Got: got, Size: bw.n}
		}
	}
	if got := diff.Digest(); got != layer.DiffID {
		return fmt.Errorf("layer %s: its tar's digest (diff ID) is %s, and the image's config says %s: refused (tampered or corrupted); nothing of it was kept", layer.Digest, got, layer.DiffID)
	}
	if bw != nil {
		if err := bw.Commit(layer.Digest); err != nil {
			return err
		}
		progress.send(id, "Download complete", 0, 0)
	}
	if !haveDir {
		meta := layerMeta{ChainID: layer.ChainID, DiffID: layer.DiffID, Size: size}
		if err := os.WriteFile(filepath.Join(tmp, "layer.json"), append(jsonBytes(meta), '\n'), 0o644); err != nil {
			return explainIO(err)
		}
		if err := commitDir(tmp, s.path("layers", layer.ChainID.Hex)); err != nil {
			return err
		}
	}
	progress.send(id, "Pull complete", 0, 0)
	return nil
}

// layerError turns a failed read or unpack into the error that explains
// it best: the command was canceled; the download broke off (how far it
// came); the content is not what the digest says (tampered); or, with
// the right content, the layer itself is broken.
func (s *Store) layerError(ctx context.Context, in io.Reader, c *countingReader, bw *blobWriter, layer Layer, err error) error {
	id := shortID(layer.Digest)
	if ctx.Err() != nil {
		return fmt.Errorf("layer %s: %w", id, ctx.Err())
	}
	if bw != nil && bw.err != nil {
		return fmt.Errorf("layer %s: %w", id, bw.err)
	}
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) || errors.Is(err, unix.EROFS) {
		return fmt.Errorf("layer %s: %w", id, err)
	}
	if c.err == nil {
		// Read the rest, so that its digest says whether it was tampered with.
		_, _ = io.Copy(io.Discard, in)
	}
	tampered := bw != nil && c.n == layer.BlobSize && bw.Digest() != layer.Digest
	switch {
	case bw != nil && (tampered || isVerifyError(c.err)):
		return &DigestError{What: "layer", Want: layer.Digest, Got: bw.Digest(), Size: bw.n}
	case c.err != nil && !errors.Is(c.err, io.EOF):
		return &TransferError{Layer: layer.Digest, Done: c.n, Total: layer.BlobSize, Err: c.err}
	case layer.BlobSize > 0 && c.n < layer.BlobSize:
		return &TransferError{Layer: layer.Digest, Done: c.n, Total: layer.BlobSize, Err: io.ErrUnexpectedEOF}
	}
	return fmt.Errorf("layer %s: %w", id, err)
}

// isVerifyError reports whether err is go-containerregistry's refusal of
// a blob whose digest or size is wrong.
func isVerifyError(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "error verifying") || strings.Contains(err.Error(), "bytes; got"))
}

// TransferError is a layer whose download broke off.
type TransferError struct {
	Layer       v1.Hash
	Done, Total int64
	Err         error
}

func (e *TransferError) Error() string {
	return fmt.Sprintf("layer %s: the download broke off after %d of %d bytes (%v): run the command again; the layers that arrived whole are kept, and nothing of this one",
		shortID(e.Layer), e.Done, e.Total, e.Err)
}

func (e *TransferError) Unwrap() error { return e.Err }

// commitDir renames the finished directory tmp to dir, after syncing the
// filesystem, so that dir, once it exists, holds the whole layer even
// after a crash. Losing a race to another command that unpacked the same
// layer is no error: its copy is as good.
func commitDir(tmp, dir string) error {
	fd, err := unix.Open(tmp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	err = unix.Syncfs(fd)
	unix.Close(fd)
	if err != nil {
		return explainIO(fmt.Errorf("syncfs: %w", err))
	}
	if err := os.Rename(tmp, dir); err != nil {
		if errors.Is(err, os.ErrExist) || errors.Is(err, unix.ENOTEMPTY) {
			return nil
		}
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// decompress returns the tar inside r: gzip and zstd are recognised by
// their first bytes (as containerd does), anything else is taken as a
// plain tar.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, func() {}, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(2))
		if err != nil {
			return nil, func() {}, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

// countingReader counts what a layer's source gives, for progress and
// for the error of a broken download.
type countingReader struct {
	r        io.Reader
	id       string
	status   string
	n, total int64
	err      error
	progress Progress
	last     time.Time
	finished bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	if c.progress != nil && time.Since(c.last) > 100*time.Millisecond {
		c.last = time.Now()
		c.progress.send(c.id, c.status, c.n, c.total)
	}
	return n, err
}

func (c *countingReader) finish() {
	if !c.finished {
		c.finished = true
		c.progress.send(c.id, c.status, c.n, max(c.total, c.n))
	}
}
