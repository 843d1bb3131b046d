package cgroups

// OOM notifications: how a program outside the container learns, as it
// happens, that the cgroup ran out of memory and the kernel's OOM killer
// struck in it (`runtime events`; docker's "oom" event). Stage 07 read the
// count afterwards, in memory.oom_control or memory.events
// (docs/solutions/11-3); here the kernel wakes the reader. The two layouts
// do it differently: v1 signals an eventfd, v2 a change to memory.events.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// v1OOM: cgroup v1 has no file that changes when the OOM killer strikes.
// The memory controller signals an eventfd(2) instead: a counter in the
// kernel that poll(2) waits on and read(2) takes. The reader registers it
// by writing "EVENTFD CONTROL_FILE" (two descriptors of its own) to the
// cgroup's cgroup.event_control, the control file being
// memory.oom_control (the kernel's cgroup-v1/memory.rst, "OOM Control").
// From then on the kernel adds one each time the cgroup runs out of
// memory, just before its OOM killer picks a victim; closing the eventfd
// ends the registration. A shell cannot make an eventfd: the kernel's own
// example, tools/cgroup/cgroup_event_listener.c, does it in C
// (`cgroup_event_listener DIR/memory.oom_control`), runc's notifyOnOOM in
// Go.
type v1OOM struct {
	efd  int      // the eventfd
	ctl  *os.File // memory.oom_control, open as long as the watch is
	live string   // cgroup.event_control, there as long as the cgroup is
}

func (m *v1) WatchOOM() (OOMWatch, error) {
	dir := m.state.Dirs["memory"]
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, fmt.Errorf("watch for OOM kills: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("watch for OOM kills: %w", os.NewSyscallError("eventfd", err))
	}
	if err := write(dir, "cgroup.event_control", fmt.Sprintf("%d %d", efd, ctl.Fd())); err != nil {
		unix.Close(efd)
		ctl.Close()
		return nil, fmt.Errorf("watch for OOM kills: %w", err)
	}
	return &v1OOM{efd: efd, ctl: ctl, live: filepath.Join(dir, "cgroup.event_control")}, nil
}

func (w *v1OOM) Fd() int { return w.efd }

// Read takes the eventfd's counter: how many times the cgroup ran out of
// memory since the last read. The kernel signals the eventfd too when
// the cgroup is removed: a cgroup whose files are gone had no OOM.
func (w *v1OOM) Read() (int, error) {
	var buf [8]byte
	for {
		_, err := unix.Read(w.efd, buf[:])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return 0, nil // the counter is 0: nothing new
		case err != nil:
			return 0, os.NewSyscallError("read eventfd", err)
		}
		if _, err := os.Stat(w.live); err != nil {
			return 0, nil
		}
		return int(binary.NativeEndian.Uint64(buf[:])), nil
	}
}

func (w *v1OOM) Close() error {
	return errors.Join(unix.Close(w.efd), w.ctl.Close())
}

// v2OOM: on v2, memory.events counts what the memory controller did, and
// its oom_kill line the processes the OOM killer killed. The kernel tells
// a file's watchers when its values change (cgroup-v2.rst: "a value
// change in this file generates a file modified event"), so an
// inotify(7) watch for IN_MODIFY wakes the reader, which reads the count
// again and reports how much it grew. Same as
// `inotifywait -m -e modify DIR/memory.events`, and `grep oom_kill
// DIR/memory.events` at each line it prints.
type v2OOM struct {
	ifd   int    // the inotify instance
	file  string // memory.events
	kills uint64 // oom_kill at the last Read
}

func (m *v2) WatchOOM() (OOMWatch, error) {
	return watchOOMKills(filepath.Join(m.dir(), "memory.events"))
}

func watchOOMKills(file string) (*v2OOM, error) {
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch for OOM kills: %w", os.NewSyscallError("inotify_init1", err))
	}
	if _, err := unix.InotifyAddWatch(ifd, file, unix.IN_MODIFY); err != nil {
		unix.Close(ifd)
		return nil, fmt.Errorf("watch for OOM kills: inotify_add_watch %s: %w (is the memory controller enabled for this cgroup?)", file, err)
	}
	// Kills before the watch are not news. The count is read once the
	// watch is in place, so that none falls between the two.
	return &v2OOM{ifd: ifd, file: file, kills: oomKills(file)}, nil
}

func oomKills(file string) uint64 {
	return readKeyed(filepath.Dir(file), filepath.Base(file))["oom_kill"]
}

func (w *v2OOM) Fd() int { return w.ifd }

// Read drains the watch's events, however many changes they tell of, and
// returns how much oom_kill grew since the last Read. A cgroup removed
// meanwhile has no memory.events to read: no news.
func (w *v2OOM) Read() (int, error) {
	buf := make([]byte, 4096)
	for {
		_, err := unix.Read(w.ifd, buf)
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return 0, os.NewSyscallError("read inotify", err)
		}
	}
	now := oomKills(w.file)
	if now <= w.kills {
		return 0, nil
	}
	n := now - w.kills
	w.kills = now
	return int(n), nil
}

func (w *v2OOM) Close() error { return unix.Close(w.ifd) }
