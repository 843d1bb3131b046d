package cleanup

// Containers of the OCI runtime (final/runtime, `cfs runtime`): a state
// directory each under /run/cfs/runtime, whose state.json records the
// init's PID and start time and the cgroup directories the runtime made
// (by default /sys/fs/cgroup[/CONTROLLER]/cfs-runtime/ID). No stage owns
// them: a runtime container runs while its init does, and is stale once
// the init is gone (it exited, and nobody ran `cfs runtime delete`).
// Containers of other state roots (containerd's --root) are not looked at.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"cfs/internal/layout"

	"golang.org/x/sys/unix"
)

// RuntimeRoot holds the runtime's container states.
const RuntimeRoot = layout.RuntimeRoot

// runtimeCtr is one runtime container, from the fields of state.json that
// cleanup needs.
type runtimeCtr struct {
	ID   string
	dir  string
	Init owner `json:"init"`
	Cg   struct {
		Dirs    map[string]string `json:"dirs"`
		Created []string          `json:"created"`
	} `json:"cgroup"`
	young bool // no state.json yet, made less than youngAge ago: a create under way
}

// scanRuntime reads the runtime's state directories, and finds the
// cgroups under cfs-runtime/ that no state records.
func (h *host) scanRuntime() error {
	entries, err := os.ReadDir(RuntimeRoot)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", RuntimeRoot, err)
	}
	recorded := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c := &runtimeCtr{ID: e.Name(), dir: filepath.Join(RuntimeRoot, e.Name())}
		data, err := os.ReadFile(filepath.Join(c.dir, "state.json"))
		if err != nil || json.Unmarshal(data, c) != nil {
			if fi, err := os.Stat(c.dir); err == nil && time.Since(fi.ModTime()) < youngAge {
				c.young = true
			}
		}
		for _, d := range c.Cg.Dirs {
			recorded[d] = true
		}
		h.runtime = append(h.runtime, c)
	}
	// cfs-runtime/ID directories whose state is gone: a state root that
	// was removed by hand, or a reboot's tmpfs /run with cgroups kept.
	for _, root := range h.cgroupRoots {
		dirs, _ := filepath.Glob(filepath.Join(root, layout.RuntimeCgroupParent, "*"))
		for _, d := range dirs {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() && !recorded[d] {
				id := filepath.Base(d)
				c := h.runtimeByID(id)
				if c == nil {
					c = &runtimeCtr{ID: id}
					h.runtime = append(h.runtime, c)
				}
				c.Cg.Created = append(c.Cg.Created, d)
			}
		}
	}
	sort.Slice(h.runtime, func(i, j int) bool { return h.runtime[i].ID < h.runtime[j].ID })
	return nil
}

func (h *host) runtimeByID(id string) *runtimeCtr {
	for _, c := range h.runtime {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// decideRuntime says which runtime containers go: those whose init is
// gone, and with --all the running ones too.
func (h *host) decideRuntime() {
	for _, c := range h.runtime {
		r := Resource{Kind: KindContainer, Name: "runtime " + c.ID, Container: c.ID}
		switch {
		case c.young:
			h.keep(Resource{Kind: KindContainer, Name: r.Name, Container: c.ID, Why: "running: `cfs runtime create` is making it"})
		case c.Init.PID > 0 && c.Init.Alive() && !h.opt.All && !h.removing[c.ID]:
			h.keep(Resource{Kind: KindContainer, Name: r.Name, Container: c.ID,
				Why: fmt.Sprintf("running: its init, PID %d, runs; `cfs runtime delete --force %s` or --all removes it", c.Init.PID, c.ID)})
		default:
			if !h.allowed(r) {
				continue
			}
			h.removingRuntime = append(h.removingRuntime, c)
			if c.Init.PID > 0 && c.Init.Alive() && h.removing[c.ID] {
				h.printf("runtime container %s of engine container %s, whose monitor is gone", c.ID, c.ID)
			} else if c.Init.PID > 0 && c.Init.Alive() {
				h.printf("running runtime container %s (its init, PID %d, runs): --all removes it", c.ID, c.Init.PID)
			} else {
				h.printf("stale runtime container %s (its init is gone; nobody ran `cfs runtime delete`)", c.ID)
			}
		}
	}
}

// removeRuntime kills what runs in the runtime containers that go,
// removes their cgroups and then their state directories.
func (h *host) removeRuntime() {
	for _, c := range h.removingRuntime {
		if c.Init.PID > 0 && c.Init.Alive() {
			h.do(Resource{Kind: KindProcess, Name: strconv.Itoa(c.Init.PID), Container: c.ID, Why: "init of runtime container " + c.ID},
				func() error { return kill(c.Init.PID, c.Init.Start) })
		}
		dirs := append([]string(nil), c.Cg.Created...)
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			leaf := false
			for _, l := range c.Cg.Dirs {
				leaf = leaf || l == d
			}
			if !leaf && filepath.Base(d) != c.ID {
				// A parent the runtime made (containerd's /default):
				// removed only once empty, quietly.
				_ = unix.Rmdir(d)
				continue
			}
			h.do(Resource{Kind: KindCgroup, Name: d, Container: c.ID}, func() error { return removeRuntimeCgroup(d, h.cgroupRel(d)) })
		}
		if c.dir != "" {
			h.do(Resource{Kind: KindState, Name: c.dir, Container: c.ID}, func() error { return removeTree(c.dir) })
		}
	}
	// cfs-runtime/ itself, once empty.
	for _, root := range h.cgroupRoots {
		p := filepath.Join(root, layout.RuntimeCgroupParent)
		if entries, err := os.ReadDir(p); err == nil && !hasDir(entries) {
			h.do(Resource{Kind: KindCgroup, Name: p, Why: "empty"}, func() error {
				if err := unix.Rmdir(p); err != nil {
					return errGone // in use again, or gone
				}
				return nil
			})
		}
	}
}

func hasDir(entries []os.DirEntry) bool {
	for _, e := range entries {
		if e.IsDir() {
			return true
		}
	}
	return false
}

// cgroupRel is a cgroup directory's path from the root of its hierarchy,
// as /proc/PID/cgroup shows it.
func (h *host) cgroupRel(dir string) string {
	for _, root := range h.cgroupRoots {
		if rest, ok := strings.CutPrefix(dir, root+"/"); ok {
			return "/" + rest
		}
	}
	return dir
}

// removeRuntimeCgroup kills every process in a runtime container's cgroup
// directory and removes it. A PID read from cgroup.procs is killed only
// while /proc/PID/cgroup still says it is in that cgroup (rel), and a
// pidfd holds it meanwhile, so a reused PID is never hit.
func removeRuntimeCgroup(dir, rel string) error {
	if !exists(dir) {
		return errGone
	}
	deadline := time.Now().Add(killTimeout)
	for {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			break
		}
		pids := strings.Fields(string(data))
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v are still in it %v after SIGKILL", pids, killTimeout)
		}
		for _, s := range pids {
			pid, _ := strconv.Atoi(s)
			fd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				continue
			}
			cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
			if strings.Contains(string(cg)+"\n", ":"+rel+"\n") || strings.Contains(string(cg), ":"+rel+"/") {
				_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
			}
			unix.Close(fd)
		}
		time.Sleep(10 * time.Millisecond) // the kernel takes them out as they exit
	}
	err := unix.Rmdir(dir)
	for try := 0; errors.Is(err, unix.EBUSY) && try < 100; try++ {
		time.Sleep(10 * time.Millisecond)
		err = unix.Rmdir(dir)
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("rmdir %s: %w", dir, err)
	}
	return nil
}

// isRuntimeProcess reports whether a process was started by the runtime
// (its initial environment holds layout.RuntimeInitEnv): its container is
// found through the runtime's state, not as a stage's.
func isRuntimeProcess(pid int) bool {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	return err == nil && strings.Contains("\x00"+string(env), "\x00"+layout.RuntimeInitEnv+"=")
}
