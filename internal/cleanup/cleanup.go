// Package cleanup removes what cfs left on the host: what a stage killed
// with SIGKILL (or a crash, or a closed laptop lid) had no chance to take
// down, and, when asked, the containers that still run. It is the engine's
// `cleanup` command:
//
//	go run -exec sudo ./final cleanup [--dry-run] [--all] [--caches]
//
// Everything is found by the name the stages give it, never by a guess, so
// nothing that is not the project's is touched:
//
//	process  argv[0] "cfs-init": a container's first process
//	mount    a mount point under /var/lib/cfs/ or /run/cfs/ (not those two themselves)
//	link     cfs0, a bridge; cfsXXXXXXXX, a veth ("cfs" + the container ID's first 8 hex digits)
//	nft      the table "ip cfs"; rules commented "cfs: containers on cfs0" in other tables
//	cgroup   cfs/ID, and cfs/ once empty, in every cgroup v1 hierarchy and in v2
//	lease    a container's address in /run/cfs/net-N.json, the ledger of network namespace N
//	state    /run/cfs/ID/ and /var/lib/cfs/containers/ID/ (ID: 12 hex digits); a killed
//	         build's /var/lib/cfs/.rootfs-build-*, a killed doctor's .cfs-doctor-overlay-*,
//	         a killed pull's (load's, import's, commit's) /var/lib/cfs/images/tmp/ID
//	netns    /run/netns/cfs*: network namespaces that tests and the docs' recipes name
//	runtime  a container of `cfs runtime` (runtime_linux.go): its state in /run/cfs/runtime/ID,
//	         the cgroup directories it recorded (cfs-runtime/ID by default), what runs in them
//	engine   a container of `cfs run` (engine_linux.go) whose monitor is gone: its runtime
//	         container, lease and veth as above, /run/cfs/engine/ID, and its record repaired
//	         (or, with --rm, removed with its anonymous volumes); a create killed half-way,
//	         /var/lib/cfs/engine/tmp/ID, the name it took (engine/names/NAME) and the
//	         anonymous volumes it made; a volume directory without its record (engine/volumes/NAME)
//	cache    /var/lib/cfs/rootfs, layers and images: only with Options.Caches
//
// Lock files (/run/cfs/net.lock, /var/lib/cfs/rootfs.lock) stay: they are
// empty, and removing one while a stage waits on it would let a second
// stage take a new lock at the same time.
//
// A container runs while the stage that made it runs. Every stage from 05
// on records itself as the container's owner, {pid, start}, in
// /run/cfs/ID/owner, /var/lib/cfs/containers/ID/owner and its lease (the
// start time tells a reused PID apart); a container whose owner is gone is
// stale, and everything it left is removed. Stages 01 to 04 record nothing:
// their cfs-init runs while its parent, the stage, does (Pdeathsig kills it
// with its stage, so an orphaned cfs-init should not exist, but is looked
// for). Running containers are left alone unless Options.All, which kills
// their stages and processes first.
//
// The network part works in the calling thread's network namespace (the
// host's, when run normally); the rest is host-wide.
package cleanup

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"cfs/internal/hostnet"
	"cfs/internal/layout"
	"cfs/internal/mountinfo"
)

// The names and places the stages use, from internal/layout.
const (
	StateDir      = layout.StateDir
	ContainersDir = layout.ContainersDir
	RunDir        = layout.RunDir
	NetnsDir      = layout.NetnsDir
	ImagesTmpDir  = layout.ImagesTmpDir
	ImagesLock    = layout.ImagesLock

	InitName       = layout.InitName
	BridgeName     = layout.Bridge
	VethPrefix     = layout.VethPrefix
	TableName      = layout.NftTable
	ForwardComment = layout.ForwardComment
	CgroupParent   = layout.CgroupParent
	NetnsPrefix    = layout.NetnsPrefix

	rootfsBuildPrefix = ".rootfs-build-"       // internal/rootfs builds here, then renames
	doctorTrialPrefix = ".cfs-doctor-overlay-" // doctor's trial overlay
)

// Caches are built once and reused; they are not leftovers.
var Caches = layout.Caches

// Options say what Run removes and where it reports.
type Options struct {
	// DryRun lists what would be removed and removes nothing.
	DryRun bool
	// All removes running containers too: their stages and cfs-init
	// processes are killed first.
	All bool
	// Caches removes the root filesystem and layer caches as well, when no
	// container runs on them.
	Caches bool
	// Out receives one line per container and resource as Run goes; nil
	// discards them.
	Out io.Writer
	// Only, when not nil, limits Run to the resources it returns true for:
	// the others stay as they are, as if a running container held them.
	// Tests on a shared host set it so as to remove their own containers'
	// resources, never another run's. The command line has no such flag.
	Only func(Resource) bool
}

// Kinds of resources, as the report prints them.
const (
	KindContainer = "container"
	KindProcess   = "process"
	KindMount     = "mount"
	KindLink      = "link"
	KindNft       = "nft"
	KindCgroup    = "cgroup"
	KindLease     = "lease"
	KindState     = "state"
	KindNetns     = "netns"
	KindCache     = "cache"
)

// Resource is one thing on the host that Run removes or leaves.
type Resource struct {
	Kind string
	// Name says which one, as a person would look it up: a PID, a path,
	// a link, "table ip cfs".
	Name string
	// Container is the ID of the container the resource belongs to, or
	// the 8 hex digits a veth's name keeps of it; "" when it belongs to
	// none (the bridge, the table, an empty cgroup parent).
	Container string
	// Why it is removed or left, when the kind and name do not say.
	Why string
}

func (r Resource) String() string {
	s := r.Kind + " " + r.Name
	if r.Why != "" {
		s += " (" + r.Why + ")"
	}
	return s
}

// Failure is a resource that could not be removed, and why.
type Failure struct {
	Resource
	Err error
}

// Report is what Run did, or with DryRun would do.
type Report struct {
	DryRun  bool
	Removed []Resource // removed, or would be with DryRun
	Kept    []Resource // left alone on purpose: running containers, --keep layers, caches in use
	Failed  []Failure
}

// Summary is the report's last line.
func (r *Report) Summary() string {
	var running, kept int
	for _, k := range r.Kept {
		if k.Kind == KindContainer || k.Kind == KindProcess {
			running++
		} else {
			kept++
		}
	}
	verb := "removed"
	if r.DryRun {
		verb = "would remove"
	}
	var parts []string
	switch {
	case len(r.Removed) == 0 && len(r.Failed) == 0 && running == 0 && kept == 0:
		return "Nothing to clean up: the host holds nothing of cfs's."
	case len(r.Removed) == 0 && len(r.Failed) == 0:
		parts = append(parts, "no leftovers")
	default:
		parts = append(parts, verb+" "+plural(len(r.Removed), "resource"))
	}
	switch {
	case running == 1:
		parts = append(parts, "1 running container left alone (--all removes it too)")
	case running > 1:
		parts = append(parts, plural(running, "running container")+" left alone (--all removes them too)")
	}
	if kept > 0 {
		parts = append(parts, plural(kept, "other resource")+" kept (see \"kept\" above)")
	}
	if len(r.Failed) > 0 {
		parts = append(parts, fmt.Sprintf("%d could not be removed (see FAILED above)", len(r.Failed)))
	}
	s := strings.Join(parts, "; ")
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// ---------------------------------------------------------------------------
// Names. Each test is strict: a name the project would not give is not the
// project's.

// IsID reports whether s is a container ID as the stages make them.
func IsID(s string) bool { return layout.IsID(s) }

// IsVethName reports whether name is a container's host-side veth, and
// returns the ID's digits in it.
func IsVethName(name string) (idPrefix string, ok bool) { return layout.IsVethName(name) }

// IsProjectNetns reports whether a name under /run/netns is the project's:
// tests name theirs cfs-test-PID-N-ROLE (stagetest.NewNetNS), the docs'
// recipes cfs-demo.
func IsProjectNetns(name string) bool {
	return strings.HasPrefix(name, NetnsPrefix)
}

// TestNetnsPID returns the PID of the test process that made a namespace
// named cfs-test-PID-N-ROLE: the namespace is stale once that process is
// gone.
func TestNetnsPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "cfs-test-")
	if !ok {
		return 0, false
	}
	f := strings.SplitN(rest, "-", 3)
	if len(f) != 3 || f[2] == "" {
		return 0, false
	}
	pid, err := strconv.Atoi(f[0])
	if _, err2 := strconv.Atoi(f[1]); err != nil || err2 != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// ledgerName matches net-N.json, the ledger of network namespace N.
func ledgerIno(name string) (string, bool) {
	n, ok := strings.CutPrefix(name, "net-")
	if !ok {
		return "", false
	}
	n, ok = strings.CutSuffix(n, ".json")
	if !ok || n == "" || strings.Trim(n, "0123456789") != "" {
		return "", false
	}
	return n, true
}

// Under reports whether path lies strictly inside dir: /var/lib/cfs/x is
// under /var/lib/cfs, /var/lib/cfs itself is not (a student may mount a
// disk there, as the VM test lane does).
func Under(path, dir string) bool {
	return strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/") && len(path) > len(dir)+1
}

// ContainerOfPath returns the container a path under /var/lib/cfs/containers/ID
// or /run/cfs/ID belongs to.
func ContainerOfPath(p string) string {
	for _, dir := range []string{ContainersDir, RunDir} {
		if rest, ok := strings.CutPrefix(p, dir+"/"); ok {
			id, _, _ := strings.Cut(rest, "/")
			if IsID(id) {
				return id
			}
		}
	}
	return ""
}

// ContainerOfCgroup returns the container whose cgroup a process is in,
// from its /proc/PID/cgroup ("4:memory:/cfs/ID" on v1, "0::/cfs/ID" on
// v2), or "".
func ContainerOfCgroup(procCgroup string) string {
	for _, line := range strings.Split(procCgroup, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		parts := strings.Split(f[2], "/")
		for i := 0; i+1 < len(parts); i++ {
			if parts[i] == CgroupParent && IsID(parts[i+1]) {
				return parts[i+1]
			}
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// Mounts.

// Mount is one line of /proc/PID/mountinfo.
type Mount = mountinfo.Mount

// ParseMountinfo reads /proc/PID/mountinfo (man 5 proc_pid_mountinfo).
func ParseMountinfo(data string) []Mount { return mountinfo.Parse(data) }

// cgroupRoots lists where each cgroup hierarchy is mounted, once each: v1
// has one per controller (or group of them), v2 one in all.
func cgroupRoots(ms []Mount) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		if m.FSType != "cgroup" && m.FSType != "cgroup2" {
			continue
		}
		key := m.MajorMinor + " " + m.Root
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, m.Point)
	}
	return out
}

// DeepestFirst orders mounts so that each comes before any mount it sits
// on: deeper mount points first, and of two at the same place, the later
// one (on top) first.
func DeepestFirst(ms []Mount) {
	sort.SliceStable(ms, func(i, j int) bool {
		di, dj := strings.Count(filepath.Clean(ms[i].Point), "/"), strings.Count(filepath.Clean(ms[j].Point), "/")
		if di != dj {
			return di > dj
		}
		return ms[i].ID > ms[j].ID
	})
}

// ---------------------------------------------------------------------------
// Containers.

// owner names a stage as the stages record it (layout.Owner).
type owner = layout.Owner

// initProc is a running cfs-init.
type initProc struct {
	PID, PPID  int
	Start      uint64
	ParentComm string
	Container  string // "" when it cannot be told: stages 01-04
}

// orphan reports whether the process lost the stage that started it: it
// was handed to PID 1, or to a "subreaper" such as systemd --user.
func (p initProc) orphan() bool {
	return p.PPID <= 1 || p.ParentComm == "systemd"
}

// youngAge is how long a stage may take between making a container's
// directory and writing its owner file, as the stages' own sweeps allow.
const youngAge = time.Minute

// container is what the host holds of one container ID.
type container struct {
	ID      string
	owners  []owner
	inits   []initProc
	dir     string // /var/lib/cfs/containers/ID
	keep    bool   // made with --keep: its directory stays until --all
	etcDir  string // /run/cfs/ID
	young   bool   // a directory without an owner, made less than youngAge ago
	cgroups []string
	engine  *engineRecord // an engine container (engine_linux.go), owned by its monitor
}

// status says whether the container runs, and why, given which owners are
// alive. Owners decide when there are any; otherwise a cfs-init that still
// has its stage, or a directory being made.
func (c *container) status(alive func(owner) bool) (running bool, why string) {
	who := "stage"
	if c.engine != nil {
		who = "monitor"
	}
	for _, o := range c.owners {
		if alive(o) {
			return true, fmt.Sprintf("its %s, PID %d, runs", who, o.PID)
		}
	}
	if len(c.owners) > 0 {
		return false, fmt.Sprintf("its %s, PID %d, is gone", who, c.owners[0].PID)
	}
	if c.engine != nil {
		return false, "no monitor recorded"
	}
	for _, p := range c.inits {
		if !p.orphan() {
			return true, fmt.Sprintf("its cfs-init, PID %d, has its stage, PID %d", p.PID, p.PPID)
		}
	}
	if c.young {
		return true, "a stage is setting it up: no owner recorded yet"
	}
	if len(c.inits) > 0 {
		return false, fmt.Sprintf("its cfs-init, PID %d, lost its stage", c.inits[0].PID)
	}
	return false, "no stage recorded as its owner"
}

// addOwner records o once.
func (c *container) addOwner(o owner) {
	for _, have := range c.owners {
		if have == o {
			return
		}
	}
	c.owners = append(c.owners, o)
}

// lease is one entry of a ledger (internal/hostnet).
type lease = hostnet.Lease
