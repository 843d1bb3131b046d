package main

// Control groups: the kernel's accounting and limits for a group of
// processes. A namespace decides what a process can *see*; a cgroup decides
// how much it can *use*. Read beside man 7 cgroups and the kernel's
// Documentation/admin-guide/cgroup-v2.rst (and cgroup-v1/ for the old one).
// Which version a host runs, where v1 mounts its hierarchies, the flags and
// the cgroups of killed runs are internal/cgroups.

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"cfs/internal/cgroups"
	"cfs/internal/kernel"
	"cfs/internal/layout"

	"golang.org/x/sys/unix"
)

// cgroup is one container's cgroup. On cgroup v2 it is one directory; on
// v1 it is one directory per controller hierarchy, each mounted apart.
type cgroup struct {
	V2   bool
	Dirs map[string]string // controller ("memory", "cpu", "cpuacct", "pids") or "" on v2 → directory
}

// newCgroup creates the container's cgroup and writes the limits. Nothing
// runs in it yet: the parent moves the child in (join) before the child may
// start the command, so no process of the container ever runs unlimited.
func newCgroup(id string, l cgroups.Limits) (*cgroup, error) {
	v2, err := cgroups.Version(cgroups.Root)
	if err != nil {
		return nil, err
	}
	cg := &cgroup{V2: v2, Dirs: map[string]string{}}
	// Another stage may remove the empty cfs/ directory just as this one
	// creates a cgroup in it: then try again.
	for try := 0; try == 0 || errors.Is(err, os.ErrNotExist) && try < 3; try++ {
		if v2 {
			err = cg.setupV2(id, l)
		} else {
			err = cg.setupV1(id, l)
		}
	}
	if err != nil {
		cg.remove()
		return nil, err
	}
	return cg, nil
}

func (cg *cgroup) setupV2(id string, l cgroups.Limits) error {
	// On v2 a controller works in a cgroup only if every ancestor lists it
	// in cgroup.subtree_control. Processes may live only in leaves (the
	// "no internal processes" rule), so cfs/ holds no process, only the
	// containers' cgroups.
	parent := filepath.Join(cgroups.Root, layout.CgroupParent)
	want := []string{"cpu", "memory", "pids"}
	if err := cgroups.Controllers(cgroups.Root, want...); err != nil {
		return err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	for _, dir := range []string{cgroups.Root, parent} {
		for _, c := range want {
			// Same as `echo +memory > DIR/cgroup.subtree_control`.
			if err := kernel.Write(tr, filepath.Join(dir, "cgroup.subtree_control"), "+"+c); err != nil {
				return fmt.Errorf("%w (cannot enable the %s controller in %s: is /sys/fs/cgroup read-only, "+
					"or is this host itself a container whose cgroup holds processes?)", err, c, dir)
			}
		}
	}
	dir := filepath.Join(parent, id)
	if err := kernel.Mkdir(tr, dir, false); err != nil {
		return err
	}
	cg.Dirs[""] = dir
	var err error
	write := func(file, value string) {
		if err == nil {
			err = kernel.Write(tr, filepath.Join(dir, file), value)
		}
	}
	if l.MemoryBytes > 0 {
		write("memory.max", strconv.FormatInt(l.MemoryBytes, 10))
		// Without this the kernel would swap the container out instead of
		// stopping it at the limit (docker counts swap apart, too).
		if _, serr := os.Stat(filepath.Join(dir, "memory.swap.max")); serr == nil {
			write("memory.swap.max", "0")
		}
	}
	if l.CPUs > 0 {
		// "QUOTA PERIOD": the group may run QUOTA µs of CPU time in each
		// PERIOD µs of wall time, over all CPUs together; 1.5 CPUs is
		// 150000 µs per 100000 µs.
		write("cpu.max", fmt.Sprintf("%d %d", cgroups.CPUQuota(l.CPUs), cgroups.CPUPeriod))
	}
	if l.Pids > 0 {
		write("pids.max", strconv.FormatInt(l.Pids, 10))
	}
	return err
}

func (cg *cgroup) setupV1(id string, l cgroups.Limits) error {
	// On v1 every controller is a separate tree, mounted on its own
	// directory; the container gets a directory in each tree it uses.
	mounts, err := cgroups.V1Mounts("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("find cgroup v1 mounts: %w", err)
	}
	for _, c := range []string{"memory", "cpu", "cpuacct", "pids"} {
		mnt, ok := mounts[c]
		if !ok {
			return fmt.Errorf("the %s cgroup controller is not mounted (no cgroup mount with option %q in /proc/self/mountinfo)", c, c)
		}
		dir := filepath.Join(mnt, layout.CgroupParent, id)
		if err := kernel.Mkdir(tr, dir, true); err != nil {
			return err
		}
		cg.Dirs[c] = dir
	}
	write := func(controller, file, value string) {
		if err == nil {
			err = kernel.Write(tr, filepath.Join(cg.Dirs[controller], file), value)
		}
	}
	if l.MemoryBytes > 0 {
		write("memory", "memory.limit_in_bytes", strconv.FormatInt(l.MemoryBytes, 10))
		// memory+swap, where swap accounting is on: equal to the memory
		// limit means no swap at all.
		if _, serr := os.Stat(filepath.Join(cg.Dirs["memory"], "memory.memsw.limit_in_bytes")); serr == nil {
			write("memory", "memory.memsw.limit_in_bytes", strconv.FormatInt(l.MemoryBytes, 10))
		}
	}
	if l.CPUs > 0 {
		write("cpu", "cpu.cfs_period_us", strconv.Itoa(cgroups.CPUPeriod))
		write("cpu", "cpu.cfs_quota_us", strconv.FormatInt(cgroups.CPUQuota(l.CPUs), 10))
	}
	if l.Pids > 0 {
		write("pids", "pids.max", strconv.FormatInt(l.Pids, 10))
	}
	return err
}

// mountInside mounts the container's view of its cgroups at
// ROOT/sys/fs/cgroup, read-only. The caller is in a new cgroup namespace,
// so each mount shows the container's own cgroup as its root "/": the
// container reads its limits and usage, and nothing of the host's tree.
func (cg *cgroup) mountInside(root string) error {
	dir := filepath.Join(root, "sys/fs/cgroup")
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY
	if cg.V2 {
		return kernel.Mount(tr, "cgroup2", dir, "cgroup2", flags, "")
	}
	// v1: a tmpfs holding one mount per hierarchy, named as on the host
	// ("cpu,cpuacct" when the two controllers share one).
	if err := kernel.Mount(tr, "tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return err
	}
	done := map[string]bool{}
	for _, host := range cg.dirs() {
		name := filepath.Base(filepath.Dir(filepath.Dir(host))) // .../memory/cfs/ID → memory
		if done[name] {
			continue
		}
		done[name] = true
		if err := kernel.Mount(tr, "cgroup", filepath.Join(dir, name), "cgroup", flags, name); err != nil {
			return err
		}
	}
	return kernel.Mount(tr, "", dir, "", unix.MS_REMOUNT|unix.MS_BIND|flags, "")
}

// join moves a process (and later every child it forks) into the cgroup.
// Same as `echo PID > DIR/cgroup.procs`.
func (cg *cgroup) join(pid int) error {
	for _, dir := range cg.dirs() {
		if err := kernel.Write(tr, filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// remove kills whatever is left in the cgroup and removes its directories.
// A cgroup directory can be removed only when no process is in it, and
// processes leave only once they have exited.
func (cg *cgroup) remove() error {
	var errs []error
	for _, dir := range cg.dirs() {
		errs = append(errs, cgroups.Empty(dir, 10*time.Second))
	}
	for _, dir := range cg.dirs() {
		if err := kernel.Rmdir(tr, dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		_ = os.Remove(filepath.Dir(dir)) // cfs/ itself, once the last container is gone
	}
	return errors.Join(errs...)
}

// dirs lists the cgroup's directories in a stable order, so that the
// steps happen, and show in --trace, in the same order every time.
func (cg *cgroup) dirs() []string { return slices.Sorted(maps.Values(cg.Dirs)) }
