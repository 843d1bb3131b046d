package main

// Control groups: the kernel's accounting and limits for a group of
// processes. A namespace decides what a process can *see*; a cgroup decides
// how much it can *use*. Read beside man 7 cgroups and the kernel's
// Documentation/admin-guide/cgroup-v2.rst (and cgroup-v1/ for the old one).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"cfs/internal/cli"
	"cfs/internal/trace"

	"golang.org/x/sys/unix"
)

// cgroupRoot is where distributions mount cgroups.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupParent groups every container's cgroup under one directory the
// project owns, as docker does with "docker".
const cgroupParent = "cfs"

// limits are what --memory, --cpus and --pids ask for; zero means none.
type limits struct {
	MemoryBytes int64
	CPUs        float64
	Pids        int64
}

// cgroup is one container's cgroup. On cgroup v2 it is one directory; on
// v1 it is one directory per controller hierarchy, each mounted apart.
type cgroup struct {
	V2   bool
	Dirs map[string]string // controller ("memory", "cpu", "cpuacct", "pids") or "" on v2 → directory
}

// cgroupVersion tells v1, v2 and the hybrid layout apart by what is mounted
// at /sys/fs/cgroup, not by the kernel version: a cgroup2 filesystem there
// is v2 ("unified"); a tmpfs holding one mount per controller is v1, also
// when it holds an empty cgroup2 tree at unified/ (hybrid: the controllers
// still live on v1).
func cgroupVersion(root string) (v2 bool, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w (is cgroupfs mounted?)", root, err)
	}
	switch st.Type {
	case unix.CGROUP2_SUPER_MAGIC:
		return true, nil
	case unix.TMPFS_MAGIC:
		return false, nil
	}
	return false, fmt.Errorf("%s is neither cgroup2 nor a tmpfs of cgroup v1 mounts (filesystem type %#x)", root, st.Type)
}

// v1Mounts finds where each v1 controller is mounted, from mountinfo: the
// super options of a "cgroup" mount list its controllers ("rw,cpu,cpuacct").
func v1Mounts(mountinfo string) (map[string]string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	found := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		sep := -1
		for i, fld := range fields {
			if fld == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || len(fields) < sep+4 || fields[sep+1] != "cgroup" {
			continue
		}
		for _, opt := range strings.Split(fields[sep+3], ",") {
			if _, ok := found[opt]; !ok {
				found[opt] = fields[4]
			}
		}
	}
	return found, s.Err()
}

// newCgroup creates the container's cgroup and writes the limits. Nothing
// runs in it yet: the parent moves the child in (join) before the child may
// start the command, so no process of the container ever runs unlimited.
func newCgroup(id string, l limits) (cg *cgroup, retErr error) {
	done := false // set at the end: a panic (Ctrl-C at a --step pause) removes the cgroup too
	v2, err := cgroupVersion(cgroupRoot)
	if err != nil {
		return nil, err
	}
	cg = &cgroup{V2: v2, Dirs: map[string]string{}}
	defer func() {
		if !done {
			cg.remove()
		}
	}()
	// Another stage may remove the empty cfs/ directory just as this one
	// creates a cgroup in it: then try again.
	for try := 0; ; try++ {
		if v2 {
			err = cg.setupV2(id, l)
		} else {
			err = cg.setupV1(id, l)
		}
		if !errors.Is(err, os.ErrNotExist) || try == 2 {
			done = err == nil
			return cg, err
		}
	}
}

func (cg *cgroup) setupV2(id string, l limits) error {
	// On v2 a controller works in a cgroup only if every ancestor lists it
	// in cgroup.subtree_control. Processes may live only in leaves (the
	// "no internal processes" rule), so cfs/ holds no process, only the
	// containers' cgroups.
	parent := filepath.Join(cgroupRoot, cgroupParent)
	available, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("read %s/cgroup.controllers: %w", cgroupRoot, err)
	}
	want := []string{"cpu", "memory", "pids"}
	for _, c := range want {
		if !strings.Contains(" "+strings.TrimSpace(string(available))+" ", " "+c+" ") {
			return fmt.Errorf("the %s controller is not available in %s/cgroup.controllers (%q): "+
				"enable it on the kernel command line (e.g. cgroup_enable=%s) or in the cgroup above", c, cgroupRoot, strings.TrimSpace(string(available)), c)
		}
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	for _, dir := range []string{cgroupRoot, parent} {
		for _, c := range want {
			// Same as `echo +memory > DIR/cgroup.subtree_control`.
			if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+"+c); err != nil {
				return fmt.Errorf("%w (cannot enable the %s controller in %s: is /sys/fs/cgroup read-only, "+
					"or is this host itself a container whose cgroup holds processes?)", err, c, dir)
			}
		}
	}
	dir := filepath.Join(parent, id)
	tr.Step(fmt.Sprintf("mkdir(%s)", dir), "mkdir "+dir)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	cg.Dirs[""] = dir
	if l.MemoryBytes > 0 {
		if err := writeFile(filepath.Join(dir, "memory.max"), strconv.FormatInt(l.MemoryBytes, 10)); err != nil {
			return err
		}
		// Without this the kernel would swap the container out instead of
		// stopping it at the limit (docker counts swap apart, too).
		if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil {
			if err := writeFile(filepath.Join(dir, "memory.swap.max"), "0"); err != nil {
				return err
			}
		}
	}
	if l.CPUs > 0 {
		// "QUOTA PERIOD": the group may run QUOTA µs of CPU time in each
		// PERIOD µs of wall time, over all CPUs together; 1.5 CPUs is
		// 150000 µs per 100000 µs.
		if err := writeFile(filepath.Join(dir, "cpu.max"), fmt.Sprintf("%d %d", cpuQuota(l.CPUs), cpuPeriod)); err != nil {
			return err
		}
	}
	if l.Pids > 0 {
		if err := writeFile(filepath.Join(dir, "pids.max"), strconv.FormatInt(l.Pids, 10)); err != nil {
			return err
		}
	}
	return nil
}

func (cg *cgroup) setupV1(id string, l limits) error {
	// On v1 every controller is a separate tree, mounted on its own
	// directory; the container gets a directory in each tree it uses.
	mounts, err := v1Mounts("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("find cgroup v1 mounts: %w", err)
	}
	for _, c := range []string{"memory", "cpu", "cpuacct", "pids"} {
		mnt, ok := mounts[c]
		if !ok {
			return fmt.Errorf("the %s cgroup controller is not mounted (no cgroup mount with option %q in /proc/self/mountinfo)", c, c)
		}
		dir := filepath.Join(mnt, cgroupParent, id)
		tr.Step(fmt.Sprintf("mkdir(%s)", dir), "mkdir -p "+dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		cg.Dirs[c] = dir
	}
	if l.MemoryBytes > 0 {
		if err := writeFile(filepath.Join(cg.Dirs["memory"], "memory.limit_in_bytes"), strconv.FormatInt(l.MemoryBytes, 10)); err != nil {
			return err
		}
		// memory+swap, where swap accounting is on: equal to the memory
		// limit means no swap at all.
		if sw := filepath.Join(cg.Dirs["memory"], "memory.memsw.limit_in_bytes"); fileExists(sw) {
			if err := writeFile(sw, strconv.FormatInt(l.MemoryBytes, 10)); err != nil {
				return err
			}
		}
	}
	if l.CPUs > 0 {
		if err := writeFile(filepath.Join(cg.Dirs["cpu"], "cpu.cfs_period_us"), strconv.Itoa(cpuPeriod)); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(cg.Dirs["cpu"], "cpu.cfs_quota_us"), strconv.FormatInt(cpuQuota(l.CPUs), 10)); err != nil {
			return err
		}
	}
	if l.Pids > 0 {
		if err := writeFile(filepath.Join(cg.Dirs["pids"], "pids.max"), strconv.FormatInt(l.Pids, 10)); err != nil {
			return err
		}
	}
	return nil
}

// cpuPeriod is the CFS bandwidth period, in µs, docker's default.
const cpuPeriod = 100000

func cpuQuota(cpus float64) int64 { return int64(cpus*cpuPeriod + 0.5) }

// mountInside mounts the container's view of its cgroups at
// ROOT/sys/fs/cgroup, read-only. The caller is in a new cgroup namespace,
// so each mount shows the container's own cgroup as its root "/": the
// container reads its limits and usage, and nothing of the host's tree.
func (cg *cgroup) mountInside(root string) error {
	dir := filepath.Join(root, "sys/fs/cgroup")
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY
	if cg.V2 {
		return mount("cgroup2", dir, "cgroup2", flags, "")
	}
	// v1: a tmpfs holding one mount per hierarchy, named as on the host
	// ("cpu,cpuacct" when the two controllers share one).
	if err := mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return err
	}
	done := map[string]bool{}
	for _, host := range cg.dirs() {
		name := filepath.Base(filepath.Dir(filepath.Dir(host))) // .../memory/cfs/ID → memory
		if done[name] {
			continue
		}
		done[name] = true
		if err := mount("cgroup", filepath.Join(dir, name), "cgroup", flags, name); err != nil {
			return err
		}
	}
	tr.Step(trace.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|flags, ""))
	return unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|flags, "")
}

// join moves a process (and later every child it forks) into the cgroup.
// Same as `echo PID > DIR/cgroup.procs`.
func (cg *cgroup) join(pid int) error {
	for _, dir := range cg.dirs() {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
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
		if err := emptyCgroup(dir); err != nil {
			errs = append(errs, err)
		}
	}
	for _, dir := range cg.dirs() {
		tr.Step(fmt.Sprintf("rmdir(%s)", dir), "rmdir "+dir)
		if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
		}
		_ = os.Remove(filepath.Dir(dir)) // cfs/ itself, once the last container is gone
	}
	return errors.Join(errs...)
}

// emptyCgroup kills every process in dir and waits until they are gone.
func emptyCgroup(dir string) error {
	// cgroup.kill (v2, Linux 5.14) kills the whole group at once, even
	// processes forking as we go.
	if fileExists(filepath.Join(dir, "cgroup.kill")) {
		_ = writeFile(filepath.Join(dir, "cgroup.kill"), "1")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		pids := strings.Fields(string(data))
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s still has processes %v", dir, pids)
		}
		for _, p := range pids {
			if n, err := strconv.Atoi(p); err == nil {
				_ = unix.Kill(n, unix.SIGKILL)
			}
		}
		time.Sleep(10 * time.Millisecond) // the kernel takes them out as they exit
	}
}

// removeStaleCgroups removes the cgroups of containers whose stage was
// killed (SIGKILL leaves no chance to clean up). A container's cgroup is
// made after its directory under containers (see containerRootfs) and
// removed before it, so a cgroup whose directory is gone, or whose owner
// is dead, is stale.
func removeStaleCgroups(containers string) {
	dirs, _ := filepath.Glob(filepath.Join(cgroupRoot, cgroupParent, "*"))
	more, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", cgroupParent, "*"))
	for _, dir := range append(dirs, more...) {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		var o owner
		data, err := os.ReadFile(filepath.Join(containers, filepath.Base(dir), "owner"))
		if err == nil && json.Unmarshal(data, &o) == nil && o.alive() {
			continue
		}
		if emptyCgroup(dir) == nil && os.Remove(dir) == nil {
			_ = os.Remove(filepath.Dir(dir))
		}
	}
}

// writeFile writes a cgroup control file. These files take one value per
// write(2), so no buffering, no appending.
func writeFile(path, value string) error {
	tr.Step(fmt.Sprintf("write(%s, %q)", path, value), fmt.Sprintf("echo %s > %s", value, path))
	if err := os.WriteFile(path, []byte(value), 0); err != nil {
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// parseSize reads a size as docker does: a number with an optional b, k,
// m or g suffix (powers of 1024).
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "g"):
		mult, t = 1<<30, strings.TrimSuffix(t, "g")
	case strings.HasSuffix(t, "m"):
		mult, t = 1<<20, strings.TrimSuffix(t, "m")
	case strings.HasSuffix(t, "k"):
		mult, t = 1<<10, strings.TrimSuffix(t, "k")
	case strings.HasSuffix(t, "b"):
		t = strings.TrimSuffix(t, "b")
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || !(n > 0) || math.IsInf(n, 0) {
		return 0, fmt.Errorf("%q: not a size (use a number with k, m or g, e.g. 256m)", s)
	}
	return int64(n * float64(mult)), nil
}

// minMemory is docker's smallest --memory: below it a container cannot
// even start its first process.
const minMemory = 6 << 20

// minPids leaves room for the container's init and a shell.
const minPids = 10

// parseLimits checks --memory, --cpus and --pids as docker does.
func parseLimits(memory string, cpus float64, pids int64, cpusSet, pidsSet bool) (limits, error) {
	var l limits
	if memory != "" {
		n, err := parseSize(memory)
		if err != nil {
			return l, cli.Usagef("--memory %v", err)
		}
		if n < minMemory {
			return l, cli.Usagef("--memory %s is below the minimum of 6m", memory)
		}
		l.MemoryBytes = n
	}
	if cpusSet {
		if !(cpus > 0) || cpus*cpuPeriod < 1000 {
			return l, cli.Usagef("--cpus %g: must be at least 0.01", cpus)
		}
		if max := runtime.NumCPU(); cpus > float64(max) {
			return l, cli.Usagef("--cpus %g: this host has only %d CPUs", cpus, max)
		}
		l.CPUs = cpus
	}
	if pidsSet {
		if pids < minPids {
			return l, cli.Usagef("--pids %d: must be at least %d (the container's init is a Go program, and each of its threads counts)", pids, minPids)
		}
		l.Pids = pids
	}
	return l, nil
}

// dirs lists the cgroup's directories in a stable order, so that the
// steps happen, and show in --trace, in the same order every time.
func (cg *cgroup) dirs() []string {
	var d []string
	for _, dir := range cg.Dirs {
		d = append(d, dir)
	}
	sort.Strings(d)
	return d
}
