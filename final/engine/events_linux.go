package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"cfs/internal/layout"

	"github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"
)

// Events: what happened to containers and images, as docker's daemon
// tells it (docker events). cfs has no daemon to keep them in memory, so
// every command that changes a container or an image (and the monitor,
// when its container dies) appends a line of JSON to a journal,
// /run/cfs/engine/events.json, and `cfs events` (and the API's GET
// /events) reads it and follows it with inotify, as `logs -f` follows a
// log. /run is a tmpfs: like a daemon's memory, the journal is gone at
// reboot. Past journalMax bytes it becomes events.json.old and a new one
// starts, so the two never hold much more than twice that.
const journalMax = 1 << 20

// journal is the path of the events' journal.
func (e *Engine) journal() string { return filepath.Join(e.RunRoot, layout.EventsFile) }

// Emit appends m to the journal, with the time now if it has none. An
// event that cannot be written is lost, not the command that made it:
// the journal is what a watcher sees, not the state.
func (e *Engine) Emit(m events.Message) {
	if e.RunRoot == "" {
		return // an engine of a unit test, with nowhere to write
	}
	if m.TimeNano == 0 {
		now := time.Now()
		m.Time, m.TimeNano = now.Unix(), now.UnixNano()
	}
	if m.Scope == "" {
		m.Scope = "local"
	}
	line, err := json.Marshal(m)
	if err == nil {
		_ = e.appendEvent(append(line, '\n'))
	}
}

// ContainerEvent emits action on c, its name, image and labels as the
// event's attributes, with attrs (exitCode, signal, …) added.
func (e *Engine) ContainerEvent(c *Container, action events.Action, attrs map[string]string) {
	a := map[string]string{"name": c.Name, "image": c.Image}
	for k, v := range c.Config.Labels {
		a[k] = v
	}
	for k, v := range attrs {
		a[k] = v
	}
	e.Emit(events.Message{Type: events.ContainerEventType, Action: action, Actor: events.Actor{ID: c.ID, Attributes: a}})
}

// ImageEvent emits action on the image name.
func (e *Engine) ImageEvent(name string, action events.Action) {
	e.Emit(events.Message{Type: events.ImageEventType, Action: action, Actor: events.Actor{ID: name, Attributes: map[string]string{"name": name}}})
}

// appendEvent writes one line with O_APPEND under the journal's lock
// (flock), which also makes the turn to a new journal one step: a writer
// that finds the file it opened renamed away opens the new one.
func (e *Engine) appendEvent(line []byte) error {
	path := e.journal()
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		unlock, err := flock(f, unix.LOCK_EX)
		if err != nil {
			return err
		}
		var opened, named unix.Stat_t
		if unix.Fstat(int(f.Fd()), &opened) != nil || unix.Stat(path, &named) != nil || opened.Ino != named.Ino {
			unlock()
			continue
		}
		if opened.Size > journalMax {
			err := os.Rename(path, path+".old")
			unlock()
			if err != nil {
				return err
			}
			continue
		}
		_, err = f.Write(line)
		unlock()
		return err
	}
}

// EventFilterKeys are the keys of `docker events --filter` cfs has.
var EventFilterKeys = []string{"type", "event", "container", "image", "label"}

// EventMatcher is docker events' filter: type container or image, event
// an action (die, start, …), container a name or an ID's prefix, image a
// name, label KEY or KEY=VALUE.
func EventMatcher(f Filter) (func(events.Message) bool, error) {
	for key := range f {
		if !slices.Contains(EventFilterKeys, key) {
			return nil, fmt.Errorf("invalid filter '%s' (cfs knows %s)", key, strings.Join(EventFilterKeys, ", "))
		}
	}
	return func(m events.Message) bool {
		is := func(key string, ok func(v string) bool) bool {
			return len(f[key]) == 0 || slices.ContainsFunc(f[key], ok)
		}
		return is("type", func(v string) bool { return v == string(m.Type) }) &&
			is("event", func(v string) bool { return v == string(m.Action) }) &&
			is("container", func(v string) bool {
				return m.Type == events.ContainerEventType && (strings.HasPrefix(m.Actor.ID, v) || m.Actor.Attributes["name"] == v)
			}) &&
			is("image", func(v string) bool { return m.Actor.Attributes["image"] == v || m.Actor.ID == v }) &&
			is("label", func(v string) bool { return HasLabel(m.Actor.Attributes, v) })
	}, nil
}

// EventsOptions bound docker events: with Since, the events from then
// first; with Until, none after it, and following ends then.
type EventsOptions struct {
	Since, Until time.Time
}

// Events calls each for every event from opt.Since (none from the past
// without it), then for each new one as it is written, until opt.Until
// or ctx ends.
func (e *Engine) Events(ctx context.Context, opt EventsOptions, each func(events.Message) error) error {
	until := opt.Until
	bounded := func(m events.Message) error {
		t := time.Unix(0, m.TimeNano)
		if t.Before(opt.Since) || !until.IsZero() && t.After(until) {
			return nil
		}
		return each(m)
	}
	// Watch the directory before reading: an event written in between
	// wakes the loop below instead of being missed. IN_MOVED_TO and
	// IN_CREATE tell of a new journal.
	written, stop, err := watch(e.RunRoot, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO)
	if err != nil {
		return err
	}
	defer stop()
	// The journal is opened before the one it turned from is read: if
	// it turns meanwhile, what it held is read through the open file, and
	// the old one is skipped as the same file. Each event comes once.
	j := &journalReader{path: e.journal()}
	defer j.close()
	if err := j.open(); err != nil {
		return err
	}
	if opt.Since.IsZero() { // only what comes next
		if j.f != nil {
			if j.off, err = j.f.Seek(0, io.SeekEnd); err != nil {
				return err
			}
		}
	} else {
		if err := j.readOld(bounded); err != nil {
			return err
		}
		if err := j.read(bounded); err != nil {
			return err
		}
	}
	var end <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		end = t.C
	}
	for {
		select {
		case <-written:
			if err := j.read(bounded); err != nil {
				return err
			}
		case <-end:
			return j.read(bounded)
		case <-ctx.Done():
			return nil
		}
	}
}

// watch wakes its channel when path changes as mask says (inotify, man 7
// inotify), until stop. The descriptor is non-blocking, so that Go's
// poller waits for it and stop ends the reading goroutine at once.
func watch(path string, mask uint32) (changed <-chan struct{}, stop func(), err error) {
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, nil, os.NewSyscallError("inotify_init1", err)
	}
	inotify := os.NewFile(uintptr(ino), "inotify")
	if _, err := unix.InotifyAddWatch(ino, path, mask); err != nil {
		inotify.Close()
		return nil, nil, os.NewSyscallError("inotify_add_watch", err)
	}
	ch := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := inotify.Read(buf); err != nil {
				return
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	return ch, func() { inotify.Close() }, nil
}

// journalReader reads the journal from where it left off, and from the
// start of a new one once the old was renamed away.
type journalReader struct {
	path string
	f    *os.File
	off  int64
}

// open opens the journal, if there is one and it is not open.
func (j *journalReader) open() error {
	if j.f != nil {
		return nil
	}
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // no event yet
	}
	if err != nil {
		return err
	}
	j.f, j.off = f, 0
	return nil
}

// readOld reads the journal before this one, unless it is the one open.
func (j *journalReader) readOld(each func(events.Message) error) error {
	f, err := os.Open(j.path + ".old")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	var old, open unix.Stat_t
	if j.f != nil && unix.Fstat(int(f.Fd()), &old) == nil && unix.Fstat(int(j.f.Fd()), &open) == nil && old.Ino == open.Ino {
		return nil
	}
	_, err = readLines(f, 0, each)
	return err
}

func (j *journalReader) read(each func(events.Message) error) error {
	for {
		if err := j.open(); err != nil || j.f == nil {
			return err
		}
		// Turned before this read? Then nothing more is written to the
		// open file (a writer looks under the lock): this read takes it
		// to its end, and the new one follows, once it is there.
		var opened, named unix.Stat_t
		missing := unix.Stat(j.path, &named) != nil
		turned := unix.Fstat(int(j.f.Fd()), &opened) == nil && (missing || opened.Ino != named.Ino)
		n, err := readLines(j.f, j.off, each)
		j.off += n
		if err != nil || !turned || missing {
			return err
		}
		j.close()
	}
}

func (j *journalReader) close() {
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}

// readLines calls each for the whole lines of f from off and says how
// many bytes they took: a line being written is read the next time.
func readLines(f *os.File, off int64, each func(events.Message) error) (int64, error) {
	r := bufio.NewReader(io.NewSectionReader(f, off, 1<<62))
	var n int64
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return n, nil // io.EOF, and a torn last line: for later
		}
		n += int64(len(line))
		var m events.Message
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		if err := each(m); err != nil {
			return n, err
		}
	}
}
