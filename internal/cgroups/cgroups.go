// Package cgroups holds what surrounds the cgroup lesson of stage 07, for
// the stages, the engine and cleanup: which cgroup version a host has and
// where cgroup v1's hierarchies are mounted, the --memory, --cpus and
// --pids flags, emptying a cgroup of its processes, and removing the
// cgroups that a killed run left behind. Making a cgroup, writing its
// limits and moving a process in is the lesson, and stays in the stage.
package cgroups

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"cfs/internal/cli"
	"cfs/internal/layout"
	"cfs/internal/mountinfo"

	"golang.org/x/sys/unix"
)

// Root is where distributions mount cgroups.
const Root = "/sys/fs/cgroup"

// Version tells v1, v2 and the hybrid layout apart by what is mounted at
// root, not by the kernel version: a cgroup2 filesystem there is v2
// ("unified"); a tmpfs holding one mount per controller is v1, also when it
// holds an empty cgroup2 tree at unified/ (hybrid: the controllers still
// live on v1).
func Version(root string) (v2 bool, err error) {
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

// V1Mounts finds where each v1 controller is mounted, from a mountinfo
// file: the super options of a "cgroup" mount list its controllers
// ("rw,cpu,cpuacct").
func V1Mounts(path string) (map[string]string, error) {
	ms, err := mountinfo.Read(path)
	if err != nil {
		return nil, err
	}
	found := map[string]string{}
	for _, m := range ms {
		if m.FSType != "cgroup" {
			continue
		}
		for _, opt := range strings.Split(m.SuperOpts, ",") {
			if _, ok := found[opt]; !ok {
				found[opt] = m.Point
			}
		}
	}
	return found, nil
}

// Controllers checks that the controllers want are available to v2
// cgroups below root (root/cgroup.controllers).
func Controllers(root string, want ...string) error {
	available, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("read %s/cgroup.controllers: %w", root, err)
	}
	have := " " + strings.TrimSpace(string(available)) + " "
	for _, c := range want {
		if !strings.Contains(have, " "+c+" ") {
			return fmt.Errorf("the %s controller is not available in %s/cgroup.controllers (%q): "+
				"enable it on the kernel command line (e.g. cgroup_enable=%s) or in the cgroup above", c, root, strings.TrimSpace(have), c)
		}
	}
	return nil
}

// Limits are what --memory, --cpus and --pids ask for; zero means none.
type Limits struct {
	MemoryBytes int64
	CPUs        float64
	Pids        int64
}

// CPUPeriod is the CFS bandwidth period, in µs, docker's default.
const CPUPeriod = 100000

// CPUQuota is the CPU time, in µs per CPUPeriod, that cpus stands for.
func CPUQuota(cpus float64) int64 { return int64(cpus*CPUPeriod + 0.5) }

// MinMemory is docker's smallest --memory: below it a container cannot
// even start its first process.
const MinMemory = 6 << 20

// MinPids leaves room for the container's init and a shell. (A variable,
// so that exercise 07-3 can take the floor away and see why it is there.)
var MinPids int64 = 10

// Flags are --memory, --cpus and --pids on a command line.
type Flags struct {
	fs     *flag.FlagSet
	memory *string
	cpus   *float64
	pids   *int64
}

// Register adds --memory, --cpus and --pids to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	f.fs = fs
	f.memory = fs.String("memory", "", "memory limit, `SIZE` with k, m or g (e.g. 256m); the container is OOM-killed above it")
	f.cpus = fs.Float64("cpus", 0, "CPU limit, in `CPUS` (e.g. 0.5 is half of one CPU's time)")
	f.pids = fs.Int64("pids", 0, "at most `N` processes and threads in the container")
}

// Limits checks the flags as docker does, once fs has parsed them.
func (f *Flags) Limits() (Limits, error) {
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return ParseLimits(*f.memory, *f.cpus, *f.pids, set["cpus"], set["pids"])
}

// ParseLimits checks --memory, --cpus and --pids as docker does.
func ParseLimits(memory string, cpus float64, pids int64, cpusSet, pidsSet bool) (Limits, error) {
	var l Limits
	if memory != "" {
		n, err := ParseSize(memory)
		if err != nil {
			return l, cli.Usagef("--memory %v", err)
		}
		if n < MinMemory {
			return l, cli.Usagef("--memory %s is below the minimum of 6m", memory)
		}
		l.MemoryBytes = n
	}
	if cpusSet {
		if !(cpus > 0) || cpus*CPUPeriod < 1000 {
			return l, cli.Usagef("--cpus %g: must be at least 0.01", cpus)
		}
		if max := runtime.NumCPU(); cpus > float64(max) {
			return l, cli.Usagef("--cpus %g: this host has only %d CPUs", cpus, max)
		}
		l.CPUs = cpus
	}
	if pidsSet {
		if pids < MinPids {
			return l, cli.Usagef("--pids %d: must be at least %d (the container's init is a Go program, and each of its threads counts)", pids, MinPids)
		}
		l.Pids = pids
	}
	return l, nil
}

// ParseSize reads a size as docker does: a number with an optional b, k,
// m or g suffix (powers of 1024).
func ParseSize(s string) (int64, error) {
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

// Empty kills every process in the cgroup dir and waits, up to timeout,
// until they are gone: a cgroup directory can be removed only once no
// process is in it, and processes leave only once they have exited.
func Empty(dir string, timeout time.Duration) error {
	// cgroup.kill (v2, Linux 5.14) kills the whole group at once, even
	// processes forking as we go.
	if kill := filepath.Join(dir, "cgroup.kill"); exists(kill) {
		_ = os.WriteFile(kill, []byte("1"), 0)
	}
	deadline := time.Now().Add(timeout)
	for {
		pids, err := procs(dir)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: processes %v are still in it %v after SIGKILL", dir, pids, timeout)
		}
		for _, pid := range pids {
			killIn(pid, dir)
		}
		time.Sleep(10 * time.Millisecond) // the kernel takes them out as they exit
	}
}

func procs(dir string) ([]int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, s := range strings.Fields(string(data)) {
		if n, err := strconv.Atoi(s); err == nil {
			pids = append(pids, n)
		}
	}
	return pids, nil
}

// killIn kills pid if it is still in the cgroup dir: a PID read from
// cgroup.procs may have been reused since. The pidfd, opened first, names
// one process for good; the check after it is on that process.
func killIn(pid int, dir string) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if now, err := procs(dir); err == nil && contains(now, pid) {
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	}
}

// RemoveStale removes the container cgroups (cfs/ID, in every hierarchy)
// of containers that alive says are gone, killing what still runs in them,
// and cfs/ itself where that leaves it empty. A run killed with SIGKILL
// cannot remove its cgroup; the next one does.
func RemoveStale(alive func(id string) bool) {
	dirs, _ := filepath.Glob(filepath.Join(Root, layout.CgroupParent, "*"))
	more, _ := filepath.Glob(filepath.Join(Root, "*", layout.CgroupParent, "*"))
	for _, dir := range append(dirs, more...) {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || alive(filepath.Base(dir)) {
			continue
		}
		if Empty(dir, 10*time.Second) == nil && unix.Rmdir(dir) == nil {
			_ = unix.Rmdir(filepath.Dir(dir))
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func contains(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}
