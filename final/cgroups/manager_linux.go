package cgroups

// The choice between the two managers, and what they share: writing a
// control file, reading a number, listing processes.

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// New returns the manager for a cgroup at path (from Path) in the layout
// this host has, without creating anything: cgroup2 mounted at
// /sys/fs/cgroup is v2; a tmpfs of per-controller mounts is v1, also when
// it holds an empty cgroup2 tree at unified/ ("hybrid": the controllers
// still live on v1). Stage 07's cgroupVersion tells them apart the same
// way.
func New(path string) (Manager, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(Root, &st); err != nil {
		return nil, fmt.Errorf("statfs %s: %w (is the cgroup filesystem mounted?)", Root, err)
	}
	switch st.Type {
	case unix.CGROUP2_SUPER_MAGIC:
		return &v2{state: State{Version: 2, Path: path, Dirs: map[string]string{"": filepath.Join(Root, path)}}}, nil
	case unix.TMPFS_MAGIC:
		mounts, err := v1Mounts()
		if err != nil {
			return nil, err
		}
		st := State{Version: 1, Path: path, Dirs: map[string]string{}}
		for _, c := range v1Controllers {
			if mnt, ok := mounts[c]; ok {
				st.Dirs[c] = filepath.Join(mnt, path)
			}
		}
		for _, c := range []string{"memory", "pids", "cpu", "devices", "freezer"} {
			if _, ok := st.Dirs[c]; !ok {
				return nil, fmt.Errorf("the %s cgroup controller is not mounted (no cgroup mount with option %q in /proc/self/mountinfo)", c, c)
			}
		}
		return &v1{state: st}, nil
	}
	return nil, fmt.Errorf("%s is neither cgroup2 nor a tmpfs of cgroup v1 mounts (filesystem type %#x)", Root, st.Type)
}

// Load returns the manager a container's state recorded.
func Load(st State) Manager {
	if st.Version == 2 {
		return &v2{state: st}
	}
	return &v1{state: st}
}

// IsV2 reports whether this host has cgroup v2 alone at /sys/fs/cgroup.
func IsV2() bool {
	var st unix.Statfs_t
	return unix.Statfs(Root, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// SwapAccounted reports whether the kernel limits swap per cgroup: v1's
// memory.memsw.limit_in_bytes, v2's memory.swap.max (which the root
// cgroup has not: any cgroup below it with the memory controller will
// do). A kernel booted with swapaccount=0 has neither.
func SwapAccounted() bool {
	if !IsV2() {
		_, err := os.Stat(filepath.Join(Root, "memory", "memory.memsw.limit_in_bytes"))
		return err == nil
	}
	found, _ := filepath.Glob(filepath.Join(Root, "*", "memory.swap.max"))
	return len(found) > 0
}

// v1Controllers are the hierarchies a container gets a directory in.
var v1Controllers = []string{"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids"}

// v1Mounts finds where each v1 controller is mounted, from mountinfo: the
// super options of a "cgroup" mount list its controllers ("rw,cpu,cpuacct").
func v1Mounts() (map[string]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	found := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		for i, fld := range fields {
			if fld != "-" || len(fields) < i+4 || fields[i+1] != "cgroup" {
				continue
			}
			for _, opt := range strings.Split(fields[i+3], ",") {
				if _, ok := found[opt]; !ok {
					found[opt] = fields[4]
				}
			}
		}
	}
	return found, s.Err()
}

// mkdirAll makes dir and the parents it lacks, and returns those it made,
// parents first. With exclusive, dir itself must not exist yet. Another
// container's Destroy may remove the shared cfs-runtime/ parent just as
// this one makes its cgroup in it: then it tries again.
func mkdirAll(dir string, exclusive bool) ([]string, error) {
	for try := 0; ; try++ {
		made, err := mkdirAllOnce(dir, exclusive)
		if !errors.Is(err, fs.ErrNotExist) || try == 3 {
			return made, err
		}
	}
}

func mkdirAllOnce(dir string, exclusive bool) ([]string, error) {
	var made []string
	var missing []string
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			if d == dir && exclusive {
				return nil, fmt.Errorf("cgroup %s already exists: another container or program uses it (choose another linux.cgroupsPath, or remove it with rmdir if it is empty)", dir)
			}
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			if errors.Is(err, fs.ErrExist) && missing[i] != dir {
				continue // a sibling's creator made the parent meanwhile
			}
			return made, fmt.Errorf("create cgroup %s: %w", missing[i], err)
		}
		made = append(made, missing[i])
	}
	return made, nil
}

// removeDirs removes the cgroup directories that Create made, deepest
// first, and forgets them (Destroy of both versions). The container's
// own (Dirs) must go; a parent that another cgroup still uses stays
// (rmdir fails with EBUSY or ENOTEMPTY). A cgroup directory holds only
// the kernel's files, which rmdir(2) removes with it.
func (s *State) removeDirs() error {
	isLeaf := map[string]bool{}
	for _, d := range s.Dirs {
		isLeaf[d] = true
	}
	dirs := append([]string(nil), s.Created...)
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	var errs []error
	for _, d := range dirs {
		err := unix.Rmdir(d)
		// The last processes may still be leaving: the kernel takes a
		// task out of its cgroup as it exits. Give them a moment.
		for try := 0; isLeaf[d] && errors.Is(err, unix.EBUSY) && try < 200; try++ {
			time.Sleep(5 * time.Millisecond)
			err = unix.Rmdir(d)
		}
		if err != nil && !errors.Is(err, unix.ENOENT) && isLeaf[d] {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w (are processes still in it?)", d, err))
		}
	}
	// The runtime's own parent, cfs-runtime/, goes with its last
	// container, whichever container made it (rmdir fails while another
	// is in it).
	for _, d := range s.Dirs {
		if parent := filepath.Dir(d); filepath.Base(parent) == RuntimeParent {
			_ = unix.Rmdir(parent)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.Created = nil
	return nil
}

// write writes one value to a control file. These files take one value per
// write(2): no buffering, no appending. Same as `echo VALUE > FILE`.
func write(dir, file, value string) error {
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, []byte(value), 0); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("write %q to %s: no such file (is its controller enabled for this cgroup?)", value, p)
		}
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return nil
}

func readString(dir, file string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	return strings.TrimSpace(string(b)), err
}

func readUint(dir, file string) uint64 {
	s, err := readString(dir, file)
	if err != nil || s == "max" {
		return 0
	}
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// readLimit reads a v2 limit: "max", no limit, is the largest number,
// as runc reports it.
func readLimit(dir, file string) uint64 {
	if s, _ := readString(dir, file); s == "max" {
		return math.MaxUint64
	}
	return readUint(dir, file)
}

// readUints reads a file of numbers on one line, such as
// cpuacct.usage_percpu.
func readUints(dir, file string) []uint64 {
	s, _ := readString(dir, file)
	var out []uint64
	for _, f := range strings.Fields(s) {
		if n, err := strconv.ParseUint(f, 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// readKeyed reads a file of "key value" lines, such as memory.stat.
func readKeyed(dir, file string) map[string]uint64 {
	out := map[string]uint64{}
	data, _ := os.ReadFile(filepath.Join(dir, file))
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); ok && err == nil {
			out[k] = n
		}
	}
	return out
}

// pidsIn lists the processes in dir and in every cgroup below it.
func pidsIn(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return nil
		}
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	sort.Ints(pids)
	return pids, err
}

// waitFor polls until done reports true, for up to 10 s: the freezer
// reports its state as it gets there.
func waitFor(what string, done func() (bool, error)) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: still not done after 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
