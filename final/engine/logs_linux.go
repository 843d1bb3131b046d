package engine

// Logs: the container's output as its monitor wrote it, in docker's
// json-file format; with Follow, what it writes next too, until it exits.

import (
	"context"
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// LogsOptions are docker logs's.
type LogsOptions struct {
	Follow bool
	Tail   int // the last Tail lines; < 0: all
}

// Logs calls each for every line of the container's log.
func (e *Engine) Logs(ctx context.Context, arg string, opt LogsOptions, each func(LogLine) error) error {
	c, err := e.Get(arg)
	if err != nil {
		return err
	}
	f, err := os.Open(e.LogPath(c.ID))
	if errors.Is(err, os.ErrNotExist) {
		return nil // never started
	}
	if err != nil {
		return err
	}
	defer f.Close()
	off, err := tailStart(f, opt.Tail)
	if err != nil {
		return err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	if !opt.Follow || !c.Running() {
		return readLog(f, each)
	}

	// Follow: wake up when the file is written (inotify, man 7 inotify)
	// or when the container has ended (its monitor's last frame).
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("inotify_init1", err)
	}
	inotify := os.NewFile(uintptr(ino), "inotify")
	defer inotify.Close()
	if _, err := unix.InotifyAddWatch(ino, e.LogPath(c.ID), unix.IN_MODIFY); err != nil {
		return os.NewSyscallError("inotify_add_watch", err)
	}
	written := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := inotify.Read(buf); err != nil {
				return
			}
			select {
			case written <- struct{}{}:
			default:
			}
		}
	}()
	ended := make(chan struct{})
	go func() { _, _ = e.Wait(c.ID); close(ended) }()
	// A reader that keeps its place, and a torn last line for later.
	pending := []byte{}
	read := func() error {
		buf := make([]byte, 64*1024)
		for {
			n, err := f.Read(buf)
			pending = append(pending, buf[:n]...)
			if err != nil || n == 0 {
				break
			}
		}
		last := lastNewline(pending)
		if last < 0 {
			return nil
		}
		err := readLog(byteReader(pending[:last+1]), each)
		pending = append([]byte{}, pending[last+1:]...)
		return err
	}
	for {
		if err := read(); err != nil {
			return err
		}
		select {
		case <-written:
		case <-ended:
			return read()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func lastNewline(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			return i
		}
	}
	return -1
}

type bytesReader struct {
	b []byte
}

func (r *bytesReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func byteReader(b []byte) io.Reader { return &bytesReader{b: b} }
