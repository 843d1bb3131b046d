package cgroups

// cgroup v1: one directory per controller hierarchy, each mounted apart
// (stage 07, setupV1). The container's limits are spread over them: memory
// in memory/, CPU time in cpu/, process counts in pids/, devices in
// devices/, the freezer in freezer/.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type v1 struct{ state State }

func (m *v1) State() State { return m.state }

func (m *v1) Create() error {
	for _, c := range v1Controllers {
		dir, ok := m.state.Dirs[c]
		if !ok {
			continue
		}
		made, err := mkdirAll(dir, true)
		m.state.Created = append(m.state.Created, made...)
		if err != nil {
			return err
		}
		if c == "cpuset" {
			if err := fillCpuset(dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// fillCpuset gives dir, and each directory above it that has none yet,
// its parent's CPUs and memory nodes, top down. A new cpuset cgroup
// starts with no CPUs and no memory nodes, and refuses processes
// ("no space left on device") until given some. Every level is looked
// at, not only the ones made here: two containers created at once both
// need cfs-runtime/, and the one that did not make it may get there
// before its maker has filled it.
func fillCpuset(dir string) error {
	var empty []string
	for d := dir; ; d = filepath.Dir(d) {
		cpus, err1 := readString(d, "cpuset.cpus")
		mems, err2 := readString(d, "cpuset.mems")
		if err1 != nil || err2 != nil || (cpus != "" && mems != "") {
			break // a level that has both, or above the hierarchy's root
		}
		empty = append(empty, d)
	}
	for i := len(empty) - 1; i >= 0; i-- {
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, _ := readString(empty[i], f); v == "" {
				parent, _ := readString(filepath.Dir(empty[i]), f)
				if err := write(empty[i], f, parent); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// ForkInto moves the calling thread, and only it, into the container's
// directory of each hierarchy, so that the child it forks next is born
// there; done moves the thread back where it was. Writing 0 to `tasks`
// moves the writer itself: the kernel then takes none of the locks that
// moving another process takes (cgroup_procs_write_start in
// kernel/cgroup/cgroup.c).
func (m *v1) ForkInto(*syscall.SysProcAttr) (func() error, error) {
	// Where the thread is now, one line per hierarchy:
	// "4:cpu,cpuacct:/user.slice". /proc/thread-self: this thread's, which
	// may differ from the process's (/proc/self) from here on.
	data, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	was := map[string]string{} // controller → its cgroup's path
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 {
			for _, c := range strings.Split(f[1], ",") {
				was[c] = f[2]
			}
		}
	}
	var back []string
	seen := map[string]bool{}
	for _, c := range v1Controllers {
		dir, ok := m.state.Dirs[c]
		if !ok || seen[dir] {
			continue
		}
		seen[dir] = true
		mnt := strings.TrimSuffix(dir, filepath.Join("/", m.state.Path))
		back = append(back, filepath.Join(mnt, was[c]))
	}
	moveTo := func(dirs []string) error {
		for _, dir := range dirs {
			if err := write(dir, "tasks", "0"); err != nil {
				return err
			}
		}
		return nil
	}
	done := func() error { return moveTo(back) }
	if err := moveTo(m.dirs()); err != nil {
		_ = done()
		return nil, err
	}
	return done, nil
}

// dirs lists each hierarchy's directory once (cpu and cpuacct may share
// one mount).
func (m *v1) dirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range v1Controllers {
		if d, ok := m.state.Dirs[c]; ok && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

func (m *v1) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	type kv struct{ ctrl, file, value string }
	var w []kv
	if mem := r.Memory; mem != nil {
		// memory.memsw.limit_in_bytes (memory + swap) must stay at or above
		// the memory limit at every step, so the order depends on whether
		// the limit goes up or down.
		var limit, swap []kv
		if mem.Limit != nil {
			limit = append(limit, kv{"memory", "memory.limit_in_bytes", limitText(*mem.Limit)})
		}
		if mem.Swap != nil {
			if _, err := os.Stat(filepath.Join(m.state.Dirs["memory"], "memory.memsw.limit_in_bytes")); err == nil {
				swap = append(swap, kv{"memory", "memory.memsw.limit_in_bytes", limitText(*mem.Swap)})
			} else if *mem.Swap > 0 && (mem.Limit == nil || *mem.Swap != *mem.Limit) {
				return fmt.Errorf("memory.swap %d: this kernel does not account swap (no memory.memsw.limit_in_bytes; boot with swapaccount=1)", *mem.Swap)
			}
		}
		cur := readUint(m.state.Dirs["memory"], "memory.limit_in_bytes")
		if mem.Limit != nil && (*mem.Limit < 0 || uint64(*mem.Limit) > cur) {
			w = append(append(w, swap...), limit...)
		} else {
			w = append(append(w, limit...), swap...)
		}
		if mem.Reservation != nil {
			w = append(w, kv{"memory", "memory.soft_limit_in_bytes", limitText(*mem.Reservation)})
		}
		if mem.Swappiness != nil && *mem.Swappiness <= 100 {
			w = append(w, kv{"memory", "memory.swappiness", fmt.Sprint(*mem.Swappiness)})
		}
		if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
			w = append(w, kv{"memory", "memory.oom_control", "1"})
		}
	}
	if cpu := r.CPU; cpu != nil {
		if cpu.Shares != nil && *cpu.Shares != 0 {
			w = append(w, kv{"cpu", "cpu.shares", fmt.Sprint(*cpu.Shares)})
		}
		if cpu.Period != nil && *cpu.Period != 0 {
			w = append(w, kv{"cpu", "cpu.cfs_period_us", fmt.Sprint(*cpu.Period)})
		}
		if cpu.Quota != nil && *cpu.Quota != 0 {
			w = append(w, kv{"cpu", "cpu.cfs_quota_us", fmt.Sprint(*cpu.Quota)})
		}
		if cpu.Cpus != "" {
			w = append(w, kv{"cpuset", "cpuset.cpus", cpu.Cpus})
		}
		if cpu.Mems != "" {
			w = append(w, kv{"cpuset", "cpuset.mems", cpu.Mems})
		}
	}
	if r.Pids != nil && r.Pids.Limit != 0 {
		w = append(w, kv{"pids", "pids.max", limitText(r.Pids.Limit)})
	}
	if r.BlockIO != nil && r.BlockIO.Weight != nil && *r.BlockIO.Weight != 0 {
		file := "blkio.weight"
		if _, err := os.Stat(filepath.Join(m.state.Dirs["blkio"], file)); err != nil {
			file = "blkio.bfq.weight" // the BFQ scheduler's, where CFQ is gone (Linux 5.0 on)
		}
		w = append(w, kv{"blkio", file, fmt.Sprint(*r.BlockIO.Weight)})
	}
	for _, x := range w {
		dir, ok := m.state.Dirs[x.ctrl]
		if !ok {
			return fmt.Errorf("%s: the %s cgroup controller is not mounted on this host", x.file, x.ctrl)
		}
		if err := write(dir, x.file, x.value); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		return m.setDevices(r.Devices)
	}
	return nil
}

// setDevices writes the device rules: "a" to devices.deny first denies
// everything and forgets earlier rules, then each rule in order.
func (m *v1) setDevices(in []specs.LinuxDeviceCgroup) error {
	rules, err := DeviceRules(in)
	if err != nil {
		return err
	}
	rules = append(rules, DefaultAllowed...)
	dir := m.state.Dirs["devices"]
	for i, r := range rules {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if i == 0 && !(r.Type == 'a' && !r.Allow) {
			// Start from "allow all", as a new cgroup does, so that the
			// rules mean the same as on v2.
			if err := write(dir, "devices.allow", "a"); err != nil {
				return err
			}
		}
		if err := write(dir, file, r.V1()); err != nil {
			return err
		}
	}
	return nil
}

// Freeze: same as `echo FROZEN > freezer.state`; the state reads FREEZING
// until every task is stopped.
func (m *v1) Freeze() error { return m.freezer("FROZEN") }
func (m *v1) Thaw() error   { return m.freezer("THAWED") }

func (m *v1) freezer(state string) error {
	dir := m.state.Dirs["freezer"]
	if err := write(dir, "freezer.state", state); err != nil {
		return err
	}
	return waitFor("freezer.state "+state, func() (bool, error) {
		s, err := readString(dir, "freezer.state")
		if err == nil && s == "FREEZING" {
			_ = write(dir, "freezer.state", state) // nudge, as runc does
		}
		return s == state, err
	})
}

func (m *v1) Frozen() (bool, error) {
	s, err := readString(m.state.Dirs["freezer"], "freezer.state")
	return s == "FROZEN", err
}

func (m *v1) Pids() ([]int, error) { return pidsIn(m.state.Dirs["pids"]) }

func (m *v1) Stats() (*Stats, error) {
	s := &Stats{}
	if dir, ok := m.state.Dirs["cpuacct"]; ok {
		s.CPU.Usage.Total = readUint(dir, "cpuacct.usage")
		s.CPU.Usage.Percpu = readUints(dir, "cpuacct.usage_percpu")
		st := readKeyed(dir, "cpuacct.stat") // in USER_HZ ticks
		s.CPU.Usage.User, s.CPU.Usage.Kernel = st["user"]*1e7, st["system"]*1e7
	}
	th := readKeyed(m.state.Dirs["cpu"], "cpu.stat")
	s.CPU.Throttling.Periods, s.CPU.Throttling.ThrottledPeriods, s.CPU.Throttling.ThrottledTime = th["nr_periods"], th["nr_throttled"], th["throttled_time"]
	mem := m.state.Dirs["memory"]
	s.Memory.Usage = v1MemoryEntry(mem, "memory")
	s.Memory.Swap = v1MemoryEntry(mem, "memory.memsw") // memory and swap
	s.Memory.Raw = readKeyed(mem, "memory.stat")
	s.Memory.Cache = s.Memory.Raw["cache"]
	s.Pids.Current = readUint(m.state.Dirs["pids"], "pids.current")
	s.Pids.Limit = readUint(m.state.Dirs["pids"], "pids.max")
	return s, nil
}

// v1MemoryEntry reads one of the memory controller's counters:
// PREFIX.usage_in_bytes, its peak, its limit and its failures.
func v1MemoryEntry(dir, prefix string) MemoryEntry {
	return MemoryEntry{
		Usage:   readUint(dir, prefix+".usage_in_bytes"),
		Max:     readUint(dir, prefix+".max_usage_in_bytes"),
		Limit:   readUint(dir, prefix+".limit_in_bytes"),
		Failcnt: readUint(dir, prefix+".failcnt"),
	}
}

func (m *v1) Destroy() error { return m.state.removeDirs() }
