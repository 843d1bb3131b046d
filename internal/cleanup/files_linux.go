package cleanup

// Processes, cgroups, mounts, state directories and caches.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"cfs/internal/cgroups"
	"cfs/internal/layout"

	"golang.org/x/sys/unix"
)

// killProcesses kills the cfs-init processes of the containers that go,
// and with --all their stages first, which would otherwise notice and
// start cleaning up themselves, racing this run.
func (h *host) killProcesses() {
	type victim struct {
		pid   int
		start uint64
		r     Resource
	}
	var vs []victim
	seen := map[int]bool{}
	add := func(pid int, start uint64, r Resource) {
		if !seen[pid] {
			seen[pid] = true
			vs = append(vs, victim{pid, start, r})
		}
	}
	for _, c := range h.sorted() {
		if !h.removing[c.ID] {
			continue
		}
		if h.opt.All {
			for _, o := range c.owners {
				if alive(o) {
					add(o.PID, o.Start, Resource{Kind: KindProcess, Name: strconv.Itoa(o.PID), Container: c.ID, Why: "the stage of container " + c.ID})
				}
			}
		}
		for _, p := range c.inits {
			add(p.PID, p.Start, Resource{Kind: KindProcess, Name: strconv.Itoa(p.PID), Container: c.ID, Why: "cfs-init of container " + c.ID})
		}
	}
	// cfs-init processes of stages 01 to 04, which record no container.
	for _, p := range h.loose {
		switch {
		case p.orphan():
			add(p.PID, p.Start, Resource{Kind: KindProcess, Name: strconv.Itoa(p.PID), Why: "cfs-init whose stage is gone"})
		case h.opt.All:
			if _, start, err := layout.ProcStat(p.PPID); err == nil {
				add(p.PPID, start, Resource{Kind: KindProcess, Name: strconv.Itoa(p.PPID), Why: fmt.Sprintf("the stage of cfs-init %d", p.PID)})
			}
			add(p.PID, p.Start, Resource{Kind: KindProcess, Name: strconv.Itoa(p.PID), Why: "cfs-init"})
		default:
			h.keep(Resource{Kind: KindProcess, Name: strconv.Itoa(p.PID), Why: fmt.Sprintf("cfs-init of stage %d, which runs; --all removes it", p.PPID)})
		}
	}
	for _, v := range vs {
		h.do(v.r, func() error { return kill(v.pid, v.start) })
	}
}

// kill sends SIGKILL to process pid, if it is still the one that started
// at start, and waits until it has exited. Through a pidfd (man 2
// pidfd_open), a PID that the kernel hands to a new process meanwhile
// cannot be hit.
func kill(pid int, start uint64) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return errGone
	}
	if err != nil {
		return os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(fd)
	// With the pidfd open, the process it names is the one /proc/PID now
	// shows, or has exited.
	if _, now, err := layout.ProcStat(pid); err != nil || now != start {
		return errGone
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errGone
		}
		return os.NewSyscallError("pidfd_send_signal SIGKILL", err)
	}
	// A pidfd becomes readable when its process exits.
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(killTimeout)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds())+1)
		if n > 0 {
			return nil
		}
		if err != nil && err != unix.EINTR {
			return os.NewSyscallError("poll", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still there %v after SIGKILL (stuck in the kernel? see: sudo cat /proc/%d/stack)", killTimeout, pid)
		}
	}
}

// removeCgroups removes the cgroups of the containers that go, killing
// what still runs in them, and then cfs/ itself where it is left empty.
func (h *host) removeCgroups() {
	for _, c := range h.sorted() {
		if !h.removing[c.ID] {
			continue
		}
		for _, dir := range c.cgroups {
			h.do(Resource{Kind: KindCgroup, Name: dir, Container: c.ID}, func() error { return removeCgroup(dir, c.ID) })
		}
	}
	for _, root := range h.cgroupRoots {
		parent := filepath.Join(root, CgroupParent)
		entries, err := os.ReadDir(parent)
		if err != nil {
			continue
		}
		empty := true
		for _, e := range entries {
			if e.IsDir() && !h.done[KindCgroup+" "+filepath.Join(parent, e.Name())] {
				empty = false
			}
		}
		if !empty {
			continue
		}
		h.do(Resource{Kind: KindCgroup, Name: parent, Why: "empty"}, func() error {
			// A stage may be making its cgroup in it right now: then it
			// is not empty any more, and stays (the stage retries when
			// its parent vanishes under it, too).
			err := unix.Rmdir(parent)
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EBUSY) || errors.Is(err, unix.ENOTEMPTY) {
				return errGone
			}
			return err
		})
	}
}

// removeCgroup kills every process in the container's cgroup dir (and in
// any cgroup below it) and removes the directories, deepest first. A cgroup
// directory can be removed only once no process is in it.
func removeCgroup(dir, id string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil || len(dirs) == 0 {
		return errGone
	}
	for i := len(dirs) - 1; i >= 0; i-- { // WalkDir lists parents before children
		if err := cgroups.Empty(dirs[i], killTimeout); err != nil {
			return err
		}
		if err := unix.Rmdir(dirs[i]); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("rmdir %s: %w", dirs[i], err)
		}
	}
	return nil
}

// unmount detaches the mounts under /var/lib/cfs and /run/cfs, deepest
// first, except those of containers that stay. MNT_DETACH (umount -l)
// takes a mount out of the tree at once, even while something still uses
// it, which then keeps it alive until it lets go.
func (h *host) unmount() {
	ms, err := readMountinfo()
	if err != nil {
		h.fail(Resource{Kind: KindMount, Name: "under " + StateDir + " and " + RunDir}, err)
		return
	}
	var todo []Mount
	for _, m := range ms {
		if !Under(m.Point, StateDir) && !Under(m.Point, RunDir) {
			continue
		}
		if id := ContainerOfPath(m.Point); id != "" && h.ctrs[id] != nil && !h.removing[id] {
			continue // the container runs
		}
		todo = append(todo, m)
	}
	DeepestFirst(todo)
	for _, m := range todo {
		h.do(Resource{Kind: KindMount, Name: m.Point, Container: ContainerOfPath(m.Point), Why: m.FSType}, func() error {
			err := unix.Unmount(m.Point, unix.MNT_DETACH)
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
				return errGone // detached with the mount below it
			}
			if err != nil {
				return fmt.Errorf("umount -l %s: %w", m.Point, err)
			}
			return nil
		})
	}
}

// removeStateDirs removes the /etc files in /run/cfs/ID and the directory
// in /var/lib/cfs/containers/ID (writable layer, copies of the image) of
// each container that goes; one made with --keep stays until --all.
func (h *host) removeStateDirs() {
	for _, c := range h.sorted() {
		if !h.removing[c.ID] {
			continue
		}
		if c.etcDir != "" {
			h.do(Resource{Kind: KindState, Name: c.etcDir, Container: c.ID}, func() error { return removeTree(c.etcDir) })
		}
		if c.dir == "" {
			continue
		}
		if c.keep && !h.opt.All {
			h.keep(Resource{Kind: KindState, Name: c.dir, Container: c.ID, Why: "made with --keep for you to look at; --all removes it"})
			continue
		}
		h.do(Resource{Kind: KindState, Name: c.dir, Container: c.ID}, func() error { return removeTree(c.dir) })
	}
}

// removeTemporaries removes what a killed build or doctor run leaves in
// /var/lib/cfs: the root filesystem half built in .rootfs-build-* (every
// build holds rootfs.lock, so none is under way while cleanup can take
// it), and doctor's trial overlay directories .cfs-doctor-overlay-* (a
// trial takes milliseconds: one older than a minute is left over).
func (h *host) removeTemporaries() {
	entries, err := os.ReadDir(StateDir)
	if err != nil {
		return
	}
	var builds []string
	for _, e := range entries {
		p := filepath.Join(StateDir, e.Name())
		switch {
		case !e.IsDir():
		case strings.HasPrefix(e.Name(), rootfsBuildPrefix):
			builds = append(builds, p)
		case strings.HasPrefix(e.Name(), doctorTrialPrefix):
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > youngAge {
				h.do(Resource{Kind: KindState, Name: p, Why: "doctor's trial overlay, left by a doctor that was killed"}, func() error { return removeTree(p) })
			}
		}
	}
	h.removeImageWork()
	if len(builds) == 0 {
		return
	}
	if lock, err := os.Open(filepath.Join(StateDir, "rootfs.lock")); err == nil {
		defer lock.Close()
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			return // a build is under way
		}
	}
	for _, p := range builds {
		h.do(Resource{Kind: KindState, Name: p, Why: "a root filesystem half built by a run that was killed"}, func() error { return removeTree(p) })
	}
}

// removeImageWork removes what killed image commands left in the image
// store's tmp/: a pull, load, import or commit killed half-way leaves its
// directory, with its owner record, and a gc killed half-way its trash
// (no owner). Only those whose owner is gone go, under the store's lock,
// which a command holds while it makes its directory and records itself.
// (The store's own gc does the same at every rmi; cleanup does it without
// waiting for one.)
func (h *host) removeImageWork() {
	entries, err := os.ReadDir(ImagesTmpDir)
	if err != nil || len(entries) == 0 {
		return
	}
	lock, err := os.OpenFile(ImagesLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return
	}
	defer lock.Close()
	if unix.Flock(int(lock.Fd()), unix.LOCK_EX) != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(ImagesTmpDir, e.Name())
		if !e.IsDir() {
			continue // a file being written: milliseconds; the store's gc takes old ones
		}
		if o, err := layout.ReadOwner(filepath.Join(p, "owner")); err == nil && o.Alive() {
			continue
		}
		h.do(Resource{Kind: KindState, Name: p, Why: "an image command's work, left when it was killed"}, func() error { return removeTree(p) })
	}
}

// removeCaches removes the root filesystem and layer caches, unless a
// container still runs on them.
func (h *host) removeCaches() {
	for _, c := range h.sorted() {
		if !h.removing[c.ID] {
			h.keep(Resource{Kind: KindCache, Name: strings.Join(Caches, " "), Why: "container " + c.ID + " runs on them"})
			return
		}
	}
	for _, p := range h.loose {
		if !p.orphan() && !h.opt.All {
			h.keep(Resource{Kind: KindCache, Name: strings.Join(Caches, " "), Why: fmt.Sprintf("cfs-init %d runs on them", p.PID)})
			return
		}
	}
	for _, p := range Caches {
		if exists(p) {
			h.do(Resource{Kind: KindCache, Name: p}, func() error { return removeTree(p) })
		}
	}
}

// removeTree removes dir and everything in it, but never through a mount:
// os.RemoveAll would delete the files of whatever is mounted below.
func removeTree(dir string) error {
	if !exists(dir) {
		return errGone
	}
	ms, err := readMountinfo()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Point == dir || Under(m.Point, dir) {
			return fmt.Errorf("%s is still mounted (%s): not removing files through a mount (try: sudo umount -l %s)", m.Point, m.FSType, m.Point)
		}
	}
	return os.RemoveAll(dir)
}
