package cgroups

// cgroup v2: one tree, one directory per container (stage 07, setupV2). A
// controller works in a cgroup only if every ancestor lists it in
// cgroup.subtree_control, and processes may live only in leaves.

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

type v2 struct{ state State }

func (m *v2) State() State { return m.state }
func (m *v2) dir() string  { return m.state.Dirs[""] }

func (m *v2) Create() error {
	made, err := mkdirAll(m.dir(), true)
	m.state.Created = append(m.state.Created, made...)
	if err != nil {
		return err
	}
	// Enable, from the root down to the container's parent, every
	// controller the parent offers. Same as `echo +memory >
	// DIR/cgroup.subtree_control`. A controller that cannot be enabled
	// (the cgroup above holds processes, or it is not delegated) is left
	// off: Set says so if a limit needs it.
	rel, _ := filepath.Rel(Root, filepath.Dir(m.dir()))
	dir := Root
	for _, part := range append([]string{""}, strings.Split(rel, "/")...) {
		if part != "" && part != "." {
			dir = filepath.Join(dir, part)
		}
		available, _ := readString(dir, "cgroup.controllers")
		enabled, _ := readString(dir, "cgroup.subtree_control")
		for _, c := range strings.Fields(available) {
			if !strings.Contains(" "+enabled+" ", " "+c+" ") {
				_ = write(dir, "cgroup.subtree_control", "+"+c)
			}
		}
	}
	return nil
}

// ForkInto hands clone3 the cgroup's directory (CLONE_INTO_CGROUP, Linux
// 5.7): the child is born in it. done closes the directory.
func (m *v2) ForkInto(attr *syscall.SysProcAttr) (func() error, error) {
	fd, err := unix.Open(m.dir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", m.dir(), err)
	}
	attr.UseCgroupFD, attr.CgroupFD = true, fd
	return func() error { return unix.Close(fd) }, nil
}

func (m *v2) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	type kv struct{ file, value string }
	var w []kv
	if mem := r.Memory; mem != nil {
		if mem.Limit != nil {
			w = append(w, kv{"memory.max", limitText(*mem.Limit)})
		}
		if mem.Swap != nil {
			limit := int64(-1)
			if mem.Limit != nil {
				limit = *mem.Limit
			}
			v, err := SwapMax(limit, *mem.Swap)
			if err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(m.dir(), "memory.swap.max")); err == nil {
				w = append(w, kv{"memory.swap.max", v})
			} else if v != "0" && v != "max" {
				return fmt.Errorf("memory.swap: this kernel does not account swap (no memory.swap.max)")
			}
		}
		if mem.Reservation != nil {
			w = append(w, kv{"memory.low", limitText(*mem.Reservation)})
		}
		if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
			return fmt.Errorf("memory.disableOOMKiller: cgroup v2 has no way to turn the OOM killer off")
		}
	}
	if cpu := r.CPU; cpu != nil {
		if cpu.Shares != nil && *cpu.Shares != 0 {
			w = append(w, kv{"cpu.weight", fmt.Sprint(SharesToWeight(*cpu.Shares))})
		}
		if (cpu.Quota != nil && *cpu.Quota != 0) || (cpu.Period != nil && *cpu.Period != 0) {
			w = append(w, kv{"cpu.max", CPUMax(cpu.Quota, cpu.Period)})
		}
		if cpu.Cpus != "" {
			w = append(w, kv{"cpuset.cpus", cpu.Cpus})
		}
		if cpu.Mems != "" {
			w = append(w, kv{"cpuset.mems", cpu.Mems})
		}
	}
	if r.Pids != nil && r.Pids.Limit != 0 {
		w = append(w, kv{"pids.max", limitText(r.Pids.Limit)})
	}
	if r.BlockIO != nil && r.BlockIO.Weight != nil && *r.BlockIO.Weight != 0 {
		file := "io.weight"
		if _, err := os.Stat(filepath.Join(m.dir(), file)); err != nil {
			file = "io.bfq.weight"
		}
		w = append(w, kv{file, fmt.Sprint(BlkioWeightToIOWeight(*r.BlockIO.Weight))})
	}
	// linux.resources.unified: v2 files by name, as given.
	for k, v := range r.Unified {
		if strings.Contains(k, "/") || strings.HasPrefix(k, "cgroup.") {
			return fmt.Errorf("linux.resources.unified: %q is not a controller's file", k)
		}
		w = append(w, kv{k, v})
	}
	for _, x := range w {
		if err := write(m.dir(), x.file, x.value); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		rules, err := DeviceRules(r.Devices)
		if err != nil {
			return err
		}
		return attachDeviceFilter(m.dir(), append(rules, DefaultAllowed...))
	}
	return nil
}

// Freeze: same as `echo 1 > cgroup.freeze`; cgroup.events says "frozen 1"
// once every process has stopped.
func (m *v2) Freeze() error { return m.freeze("1") }
func (m *v2) Thaw() error   { return m.freeze("0") }

func (m *v2) freeze(v string) error {
	if err := write(m.dir(), "cgroup.freeze", v); err != nil {
		return err
	}
	return waitFor("cgroup.freeze "+v, func() (bool, error) {
		ev := readKeyed(m.dir(), "cgroup.events")
		return fmt.Sprint(ev["frozen"]) == v, nil
	})
}

func (m *v2) Frozen() (bool, error) {
	s, err := readString(m.dir(), "cgroup.freeze")
	return s == "1", err
}

func (m *v2) Pids() ([]int, error) { return pidsIn(m.dir()) }

func (m *v2) Stats() (*Stats, error) {
	s := &Stats{}
	cpu := readKeyed(m.dir(), "cpu.stat") // in µs
	s.CPU.Usage.Total, s.CPU.Usage.User, s.CPU.Usage.Kernel = cpu["usage_usec"]*1000, cpu["user_usec"]*1000, cpu["system_usec"]*1000
	s.CPU.Throttling.Periods, s.CPU.Throttling.ThrottledPeriods, s.CPU.Throttling.ThrottledTime = cpu["nr_periods"], cpu["nr_throttled"], cpu["throttled_usec"]*1000
	mem := &s.Memory.Usage
	mem.Usage, mem.Max = readUint(m.dir(), "memory.current"), readUint(m.dir(), "memory.peak")
	mem.Limit, mem.Failcnt = readLimit(m.dir(), "memory.max"), readKeyed(m.dir(), "memory.events")["max"]
	// v2 counts swap alone: memory is added, for v1's memory+swap.
	if swap, err := readString(m.dir(), "memory.swap.current"); err == nil {
		n, _ := strconv.ParseUint(swap, 10, 64)
		s.Memory.Swap.Usage = n + mem.Usage
		s.Memory.Swap.Limit = math.MaxUint64
		if l := readLimit(m.dir(), "memory.swap.max"); l != math.MaxUint64 && mem.Limit != math.MaxUint64 {
			s.Memory.Swap.Limit = l + mem.Limit
		}
	}
	s.Memory.Raw = readKeyed(m.dir(), "memory.stat")
	s.Memory.Cache = s.Memory.Raw["file"]
	s.Pids.Current = readUint(m.dir(), "pids.current")
	s.Pids.Limit = readUint(m.dir(), "pids.max")
	return s, nil
}

func (m *v2) Destroy() error { return m.state.removeDirs() }

// Kill sends SIGKILL to every process in the cgroup at once, also those
// forking as it goes: same as `echo 1 > cgroup.kill` (Linux 5.14). It
// returns false where the kernel has no cgroup.kill.
func (m *v2) Kill() bool {
	return write(m.dir(), "cgroup.kill", "1") == nil
}
