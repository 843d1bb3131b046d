package engine

// Logs: the container's output as its monitor wrote it, in docker's
// json-file format (the last Tail lines, those from Since to Until); with
// Follow, what it writes next too, until it exits.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// LogsOptions are docker logs's.
type LogsOptions struct {
	Follow       bool
	Tail         int       // the last Tail lines; < 0: all
	Since, Until time.Time // of those, only the lines written from Since to Until (zero: no bound)
}

// ParseUnixTime reads a Unix time as docker's clients send --since and
// --until: seconds, and maybe a fraction ("1700000000.397964746"), each
// part an integer: a float64 would lose the nanoseconds.
func ParseUnixTime(v string) (time.Time, error) {
	sec, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || len(frac) > 9 || strings.Trim(frac, "0123456789") != "" {
		return time.Time{}, fmt.Errorf("%q: not a Unix time", v)
	}
	ns, _ := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	return time.Unix(s, ns), nil
}

// ParseTime reads a time as docker's clients take --since, --until and a
// prune's until=: a Unix time ("1700000000.5"), a duration back from now
// ("42m"), or an RFC 3339 time, its zone left out for local time, or a
// date alone.
func ParseTime(v string, now time.Time) (time.Time, error) {
	if t, err := ParseUnixTime(v); err == nil {
		return t, nil // before durations: "0" is the epoch, as in docker
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q", v)
}

// errUntil ends a read at the first line past Until.
var errUntil = errors.New("past --until")

// Logs calls each for every line of the container's log.
func (e *Engine) Logs(ctx context.Context, arg string, opt LogsOptions, each func(LogLine) error) error {
	err := e.logs(ctx, arg, opt, func(l LogLine) error {
		switch {
		case l.Time.Before(opt.Since):
			return nil
		case !opt.Until.IsZero() && l.Time.After(opt.Until):
			return errUntil
		}
		return each(l)
	})
	if errors.Is(err, errUntil) {
		return nil
	}
	return err
}

func (e *Engine) logs(ctx context.Context, arg string, opt LogsOptions, each func(LogLine) error) error {
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
	written, stop, err := watch(e.LogPath(c.ID), unix.IN_MODIFY)
	if err != nil {
		return err
	}
	defer stop()
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
	var until <-chan time.Time // --until: following ends then, as docker's does
	if !opt.Until.IsZero() {
		t := time.NewTimer(time.Until(opt.Until))
		defer t.Stop()
		until = t.C
	}
	for {
		if err := read(); err != nil {
			return err
		}
		select {
		case <-written:
		case <-ended:
			return read()
		case <-until:
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
