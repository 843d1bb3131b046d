// Package cgroups is the engine's cgroup manager: it makes a container's
// cgroup, moves processes into it, writes the limits of an OCI config
// (linux.resources), freezes and thaws it, lists and counts what runs in it,
// and removes it. Stage 07 taught the two layouts (docs/07-cgroups.md): on
// cgroup v1 each controller is a tree of its own, mounted apart, and a
// container has a directory in each; on v2 there is one tree, and a
// container is one directory. Both sit behind one Manager, chosen by what is
// mounted at /sys/fs/cgroup (New), as opencontainers/cgroups' manager/new.go
// does. The runtime (final/runtime) uses it today; the engine (part 3)
// reuses it.
//
// What is portable here is arithmetic and names: where a cgroupsPath lives
// (a plain path, or systemd's slice:prefix:name), and how a v1 value becomes
// a v2 one. The managers that write files are in v1_linux.go and
// v2_linux.go; the v2 device filter, an eBPF program, in devices_linux.go.
package cgroups

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"syscall"

	"cfs/internal/layout"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Root is where distributions mount the cgroup filesystems.
const Root = "/sys/fs/cgroup"

// RuntimeParent holds the cgroups of runtime containers whose config names
// no cgroupsPath: /sys/fs/cgroup[/CONTROLLER]/cfs-runtime/ID. It is not
// the stages' "cfs" parent, whose stale entries stage 07 sweeps away.
const RuntimeParent = layout.RuntimeCgroupParent

// Manager is one container's cgroup, in whichever layout the host has.
type Manager interface {
	// Create makes the cgroup's directories. A cgroup that already exists
	// belongs to someone else: Create refuses it, so that a container never
	// shares its limits, its freezer or its kill with strangers.
	Create() error
	// ForkInto makes the next child that the calling thread forks be born
	// in the cgroup, instead of being moved there once it runs (stage 07
	// writes the child's PID to cgroup.procs). The caller has locked its
	// goroutine to its thread (runtime.LockOSThread) and calls done right
	// after the fork.
	//
	// Why: moving a running process takes one of the kernel's global locks
	// for writing (cgroup_threadgroup_rwsem), and that waits for an RCU
	// grace period, 5 to 20 ms on a small VM: the biggest single cost of
	// starting a container (bench/RESULTS.md). Being born in the cgroup
	// needs no such lock. On v2, clone3(2) says where the child is born
	// (CLONE_INTO_CGROUP, man 2 clone): attr gets the cgroup's descriptor.
	// On v1, a child is born in the cgroups of the thread that forks it,
	// and a thread that moves itself needs no global lock either: the
	// thread steps in (`echo 0 > DIR/tasks` in each hierarchy), forks, and
	// done steps it back out.
	ForkInto(attr *syscall.SysProcAttr) (done func() error, err error)
	// Set writes the limits of r; fields left nil stay as they are.
	Set(r *specs.LinuxResources) error
	// Freeze stops every process in the cgroup, Thaw lets them go on; both
	// wait until the kernel says it is done.
	Freeze() error
	Thaw() error
	// Frozen reports whether the cgroup is frozen.
	Frozen() (bool, error)
	// Pids lists the host PIDs of every process in the cgroup and below.
	Pids() ([]int, error)
	// Stats reads CPU, memory and pids usage.
	Stats() (*Stats, error)
	// WatchOOM starts watching for the kernel's OOM killer in the cgroup
	// (oom_linux.go): `runtime events` reports it as it happens.
	WatchOOM() (OOMWatch, error)
	// Destroy removes the directories Create made; processes must be gone.
	// It is idempotent.
	Destroy() error
	// State is what a later command needs to Load the manager again.
	State() State
}

// OOMWatch tells, as it happens, that the kernel ran out of memory in a
// cgroup and its OOM killer struck there.
type OOMWatch interface {
	// Fd is a descriptor that poll(2) finds readable when there may be
	// news; the caller waits on it beside its other descriptors.
	Fd() int
	// Read returns how many OOM events came since the last Read (or since
	// the watch began), and never blocks.
	Read() (int, error)
	// Close ends the watch.
	Close() error
}

// State is a manager as the runtime records it in a container's state.
type State struct {
	Version int               `json:"version"` // 1 or 2
	Path    string            `json:"path"`    // the cgroup's path in each hierarchy, from its root
	Dirs    map[string]string `json:"dirs"`    // v1: controller → directory; v2: "" → directory
	Created []string          `json:"created"` // directories Create made (the parents too), to remove
}

// Owned reports whether Create made the container's own directories:
// only then may the runtime kill what is in them and remove them.
func (s State) Owned() bool {
	made := map[string]bool{}
	for _, d := range s.Created {
		made[d] = true
	}
	for _, d := range s.Dirs {
		if !made[d] {
			return false
		}
	}
	return len(s.Dirs) > 0
}

// Stats is what `runtime events` prints, with the names runc prints
// (runc's types.Stats; clients such as go-runc decode these): on both
// layouts the same fields, in the same units, as runc fills them.
type Stats struct {
	CPU    CPUStats    `json:"cpu"`
	Memory MemoryStats `json:"memory"`
	Pids   PidsStats   `json:"pids"`
}

type CPUStats struct {
	Usage struct {
		Total  uint64   `json:"total"`            // ns
		Percpu []uint64 `json:"percpu,omitempty"` // ns, per CPU (v1 only: cpuacct.usage_percpu)
		Kernel uint64   `json:"kernel"`           // ns
		User   uint64   `json:"user"`             // ns
	} `json:"usage"`
	Throttling struct {
		Periods          uint64 `json:"periods,omitempty"`
		ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
		ThrottledTime    uint64 `json:"throttledTime,omitempty"`
	} `json:"throttling"`
}

type MemoryStats struct {
	Cache uint64      `json:"cache,omitempty"` // page cache (v1 memory.stat cache, v2 file)
	Usage MemoryEntry `json:"usage"`
	// Swap is memory and swap together, as v1's memsw counts them; on v2,
	// which counts swap alone, memory is added (as runc does).
	Swap MemoryEntry       `json:"swap"`
	Raw  map[string]uint64 `json:"raw,omitempty"`
}

// MemoryEntry is one counter with its peak, its limit (no limit: the
// largest value the kernel writes, as runc reports it) and how many
// times the limit was hit.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type PidsStats struct {
	Current uint64 `json:"current"`
	Limit   uint64 `json:"limit,omitempty"`
}

// Path turns a config's linux.cgroupsPath into the cgroup's path from the
// root of each hierarchy. An empty one gets the runtime's default,
// /cfs-runtime/ID. With systemd (runc's --systemd-cgroup) the path is
// "slice:prefix:name", as dockerd and kubelet write it, and becomes the
// directory systemd itself would make for that unit:
// "system.slice:docker:abc" → /system.slice/docker-abc.scope. The
// runtime makes that directory itself; it does not ask systemd over D-Bus
// to start a scope, so systemd does not know the unit (docs/09-runtime.md).
func Path(cgroupsPath, id string, systemd bool) (string, error) {
	if systemd {
		if cgroupsPath == "" {
			cgroupsPath = "system.slice:cfs:" + id
		}
		f := strings.Split(cgroupsPath, ":")
		if len(f) != 3 {
			return "", fmt.Errorf("cgroupsPath %q: with --systemd-cgroup it must be slice:prefix:name (e.g. system.slice:cfs:%s)", cgroupsPath, id)
		}
		slice, err := expandSlice(f[0])
		if err != nil {
			return "", err
		}
		unit := f[2]
		if f[1] != "" {
			unit = f[1] + "-" + f[2]
		}
		if !strings.HasSuffix(unit, ".slice") {
			unit += ".scope"
		}
		return path.Join("/", slice, unit), nil
	}
	if strings.Count(cgroupsPath, ":") == 2 && !strings.HasPrefix(cgroupsPath, "/") {
		return "", fmt.Errorf("cgroupsPath %q looks like systemd's slice:prefix:name: pass --systemd-cgroup, or give a path such as /cfs-runtime/%s", cgroupsPath, id)
	}
	if cgroupsPath == "" {
		return path.Join("/", RuntimeParent, id), nil
	}
	p := path.Clean("/" + cgroupsPath)
	if p == "/" {
		return "", errors.New("cgroupsPath \"/\" is the root cgroup: a container needs a cgroup of its own")
	}
	return p, nil
}

// expandSlice spells a slice's directory as systemd nests it: each dash
// is one level, "a-b-c.slice" → "a.slice/a-b.slice/a-b-c.slice"; "" is
// system.slice and "-.slice" the root.
func expandSlice(slice string) (string, error) {
	switch slice {
	case "":
		return "system.slice", nil
	case "-.slice":
		return "", nil
	}
	name, ok := strings.CutSuffix(slice, ".slice")
	if !ok || name == "" || strings.Contains(name, "/") || strings.HasPrefix(name, "-") ||
		strings.HasSuffix(name, "-") || strings.Contains(name, "--") {
		return "", fmt.Errorf("%q is not a systemd slice name (want NAME.slice, e.g. system.slice)", slice)
	}
	var dirs []string
	prefix := ""
	for _, part := range strings.Split(name, "-") {
		prefix += part
		dirs = append(dirs, prefix+".slice")
		prefix += "-"
	}
	return path.Join(dirs...), nil
}

// ---------------------------------------------------------------------------
// v1 values as v2 writes them (the kernel's cgroup-v2.rst, and runc's
// cgroups/utils.go, which the OCI config's v1-shaped fields need).

// SharesToWeight turns cpu.shares (2..262144, default 1024) into cpu.weight
// (1..10000, default 100).
func SharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	shares = max(2, min(shares, 262144))
	return 1 + ((shares-2)*9999)/262142
}

// BlkioWeightToIOWeight turns blkio.weight (10..1000) into io.weight
// (1..10000).
func BlkioWeightToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	v := max(10, min(uint64(w), 1000))
	return 1 + (v-10)*9999/990
}

// CPUMax is cpu.max's "QUOTA PERIOD": a negative or zero quota is "max",
// no limit; the period defaults to 100000 µs.
func CPUMax(quota *int64, period *uint64) string {
	q := "max"
	if quota != nil && *quota > 0 {
		q = fmt.Sprint(*quota)
	}
	p := uint64(100000)
	if period != nil && *period != 0 {
		p = *period
	}
	return q + " " + fmt.Sprint(p)
}

// limitText is a byte or count limit as the files take it: -1 is "max".
func limitText(v int64) string {
	if v < 0 {
		return "max"
	}
	return fmt.Sprint(v)
}

// SwapMax turns the config's memory.swap, which like v1's memsw counts
// memory and swap together, into v2's memory.swap.max, which counts swap
// alone.
func SwapMax(limit, swap int64) (string, error) {
	switch {
	case swap == -1:
		return "max", nil
	case limit <= 0:
		return "", fmt.Errorf("memory.swap %d needs memory.limit as well", swap)
	case swap < limit:
		return "", fmt.Errorf("memory.swap %d is below memory.limit %d: swap counts memory and swap together", swap, limit)
	}
	return fmt.Sprint(swap - limit), nil
}
