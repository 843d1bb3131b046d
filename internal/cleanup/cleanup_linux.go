package cleanup

// Run, and what it finds first: the containers, their owners and their
// cfs-init processes. The removal steps are in files_linux.go (processes,
// cgroups, mounts, state directories, caches) and network_linux.go (links,
// nft, ledgers, named namespaces).

import (
	"bytes"
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

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// errGone marks a resource that went away by itself before Run got to
// it: a process that exited, a veth the kernel deleted with its
// namespace. It is neither removed nor failed.
var errGone = errors.New("already gone")

// killTimeout bounds the wait for a killed process to exit.
const killTimeout = 10 * time.Second

// host is one run: what the scan found and what was done.
type host struct {
	opt         Options
	rep         *Report
	ns          netns.NsHandle // the network namespace to clean
	nsIno       uint64         // its inode number, the N of net:[N] and of net-N.json
	ctrs        map[string]*container
	loose       []initProc      // cfs-init processes of no known container
	removing    map[string]bool // containers whose resources go
	cgroupRoots []string        // where each cgroup hierarchy is mounted
	ledgers     []string        // /run/cfs/net-N.json
	done        map[string]bool // resources removed (or that would be), by Kind+" "+Name

	runtime         []*runtimeCtr // the OCI runtime's containers (runtime_linux.go)
	removingRuntime []*runtimeCtr
}

// Run finds what cfs left on the host and removes it, or with
// Options.DryRun lists it. It returns an error only when it cannot look
// (not root, no /proc); a resource it cannot remove is in Report.Failed.
// The network part acts in the calling thread's network namespace: call
// it from a thread inside another one (netns.Set on a locked thread) to
// clean that one.
func Run(opt Options) (*Report, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New(`cleanup needs root: it kills processes and removes mounts, links and cgroups (try: go run -exec sudo ./final cleanup)`)
	}
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("open this thread's network namespace: %w", err)
	}
	defer ns.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(ns), &st); err != nil {
		return nil, fmt.Errorf("identify this network namespace: %w", err)
	}
	h := &host{
		opt: opt, rep: &Report{DryRun: opt.DryRun}, ns: ns, nsIno: st.Ino,
		ctrs: map[string]*container{}, removing: map[string]bool{}, done: map[string]bool{},
	}
	if err := h.scan(); err != nil {
		return nil, err
	}
	h.decide()
	h.decideRuntime()
	// Processes first: a container's mounts, veth and namespaces go with
	// them, and a cgroup can be removed only once it is empty.
	h.killProcesses()
	h.removeCgroups()
	h.removeRuntime()
	h.unmount()
	h.network()
	h.removeStateDirs()
	h.removeEngine()
	h.removeTemporaries()
	h.removeNetns()
	if opt.Caches {
		h.removeCaches()
	}
	return h.rep, nil
}

// ---------------------------------------------------------------------------
// Reporting.

func (h *host) printf(format string, a ...any) {
	if h.opt.Out != nil {
		fmt.Fprintf(h.opt.Out, format+"\n", a...)
	}
}

// allowed applies Options.Only.
func (h *host) allowed(r Resource) bool {
	return h.opt.Only == nil || h.opt.Only(r)
}

func (h *host) record(r Resource) {
	h.done[r.Kind+" "+r.Name] = true
	h.rep.Removed = append(h.rep.Removed, r)
	if h.opt.DryRun {
		h.printf("would remove %s", r)
	} else {
		h.printf("removed %s", r)
	}
}

func (h *host) fail(r Resource, err error) {
	h.rep.Failed = append(h.rep.Failed, Failure{Resource: r, Err: err})
	h.printf("FAILED to remove %s: %v", r, err)
}

func (h *host) keep(r Resource) {
	if !h.allowed(r) {
		return
	}
	h.rep.Kept = append(h.rep.Kept, r)
	h.printf("kept %s", r)
}

// do removes r with remove, unless this is a dry run or Options.Only
// refuses it, and reports it. It returns true when r is gone (or would
// be): removed, or gone by itself.
func (h *host) do(r Resource, remove func() error) bool {
	if !h.allowed(r) {
		return false
	}
	if h.opt.DryRun {
		h.record(r)
		return true
	}
	switch err := remove(); {
	case errors.Is(err, errGone):
		h.done[r.Kind+" "+r.Name] = true
		return true
	case err != nil:
		h.fail(r, err)
		return false
	}
	h.record(r)
	return true
}

// ---------------------------------------------------------------------------
// What is there.

func (h *host) get(id string) *container {
	c := h.ctrs[id]
	if c == nil {
		c = &container{ID: id}
		h.ctrs[id] = c
	}
	return c
}

// sorted returns the containers in ID order, so output is stable.
func (h *host) sorted() []*container {
	out := make([]*container, 0, len(h.ctrs))
	for _, c := range h.ctrs {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// byPrefix returns the container whose ID starts with prefix (a veth
// keeps 8 of its 12 digits).
func (h *host) byPrefix(prefix string) *container {
	for _, c := range h.sorted() {
		if strings.HasPrefix(c.ID, prefix) {
			return c
		}
	}
	return nil
}

func (h *host) scan() error {
	// Each container's directory and /etc files, with their owner files.
	for _, dir := range []string{ContainersDir, RunDir} {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("read %s: %w", dir, err)
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if dir == RunDir {
				if _, ok := ledgerIno(e.Name()); ok && e.Type().IsRegular() {
					h.ledgers = append(h.ledgers, p)
					h.scanLedger(p)
					continue
				}
			}
			if !e.IsDir() || !IsID(e.Name()) {
				continue
			}
			c := h.get(e.Name())
			if dir == ContainersDir {
				c.dir = p
				c.keep = exists(filepath.Join(p, "keep"))
			} else {
				c.etcDir = p
			}
			if o, ok := readOwner(filepath.Join(p, "owner")); ok {
				c.addOwner(o)
			} else if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) < youngAge {
				c.young = true
			}
		}
	}

	// The containers' cgroups, in every hierarchy.
	ms, err := readMountinfo()
	if err != nil {
		return err
	}
	h.cgroupRoots = cgroupRoots(ms)
	if err := h.scanRuntime(); err != nil {
		return err
	}
	h.scanEngine()
	for _, root := range h.cgroupRoots {
		entries, _ := os.ReadDir(filepath.Join(root, CgroupParent))
		for _, e := range entries {
			if e.IsDir() && IsID(e.Name()) {
				c := h.get(e.Name())
				c.cgroups = append(c.cgroups, filepath.Join(root, CgroupParent, e.Name()))
			}
		}
	}
	return h.scanProcs()
}

// scanLedger adds the owners that a ledger's leases record.
func (h *host) scanLedger(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var l struct {
		Leases []lease `json:"leases"`
	}
	if json.Unmarshal(data, &l) != nil {
		return // damaged: the network step removes it
	}
	for _, ls := range l.Leases {
		if IsID(ls.ID) {
			h.get(ls.ID).addOwner(ls.Owner)
		}
	}
}

// scanProcs finds every cfs-init and the container it belongs to: by its
// cgroup (stage 07 on), or by its parent, the stage recorded as an owner
// (stages 05 and 06).
func (h *host) scanProcs() error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("read /proc: %w", err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		if arg0, _, _ := bytes.Cut(cmdline, []byte{0}); string(arg0) != InitName || isRuntimeProcess(pid) {
			continue
		}
		ppid, start, err := layout.ProcStat(pid)
		if err != nil {
			continue // exited meanwhile
		}
		p := initProc{PID: pid, PPID: ppid, Start: start}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ppid))
		p.ParentComm = strings.TrimSpace(string(comm))
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		p.Container = ContainerOfCgroup(string(cg))
		if p.Container == "" {
			if _, parentStart, err := layout.ProcStat(ppid); err == nil {
				p.Container = h.ownedBy(owner{PID: ppid, Start: parentStart})
			}
		}
		if p.Container == "" {
			h.loose = append(h.loose, p)
			continue
		}
		c := h.get(p.Container)
		c.inits = append(c.inits, p)
	}
	return nil
}

// ownedBy returns the container whose recorded owner is o.
func (h *host) ownedBy(o owner) string {
	for _, c := range h.sorted() {
		for _, have := range c.owners {
			if have == o {
				return c.ID
			}
		}
	}
	return ""
}

// decide says, for each container, whether it goes, and prints why.
func (h *host) decide() {
	for _, c := range h.sorted() {
		running, why := c.status(alive)
		switch {
		case !running:
			h.removing[c.ID] = true
			h.printf("stale container %s (%s)", c.ID, why)
		case h.opt.All:
			h.removing[c.ID] = true
			h.printf("running container %s (%s): --all removes it", c.ID, why)
		default:
			h.keep(Resource{Kind: KindContainer, Name: c.ID, Container: c.ID, Why: "running: " + why + "; --all removes it"})
		}
	}
}

// ---------------------------------------------------------------------------
// Small helpers.

func readOwner(path string) (owner, bool) {
	o, err := layout.ReadOwner(path)
	return o, err == nil
}

// alive reports whether the process that o names still runs: same PID,
// same start time.
func alive(o owner) bool { return o.Alive() }

func readMountinfo() ([]Mount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read the mount table: %w", err)
	}
	return ParseMountinfo(string(data)), nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
