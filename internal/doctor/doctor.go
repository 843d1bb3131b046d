// Package doctor checks whether a host can run the stages, before a stage
// fails halfway with an errno: kernel, namespaces, cgroups, overlayfs, the
// network path out of a container, user namespace restrictions, and what
// a first build needs of Go (modules without a network, the student's
// GOPROXY, the `sudo go` trap of the old command form). Each check is a small function that reads files under a
// Host's /proc, /sys, /etc and /run, and calls a hook where only a syscall
// can tell (a trial overlay mount, a netlink route dump, the nftables
// ruleset). The real host is System(); tests build a Host over a fake tree
// in a temporary directory.
//
// A stage that fails prints a one-line cause from internal/hint, which
// shares its signs of a container and its filesystem names with doctor.
package doctor

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"cfs/internal/hostnet"
	"cfs/internal/layout"
	"cfs/internal/mountinfo"
)

// Status is a check's verdict.
type Status string

const (
	OK   Status = "ok"   // nothing to do
	Warn Status = "warn" // works, or may, but something will surprise you
	Fail Status = "fail" // the stages in NeededBy cannot run until it is fixed
)

// Result is one check's line in the report.
type Result struct {
	Name     string   `json:"name"`
	Status   Status   `json:"status"`
	Detail   string   `json:"detail"`
	Fix      string   `json:"fix,omitempty"`
	NeededBy []string `json:"needed_by,omitempty"`
}

// Command is how a student runs doctor; hints and fixes point to it.
const Command = `go run -exec sudo ./final doctor`

// Stages lists the workbook's programs in the order a student meets them.
// Each stage keeps what the one before it did, so what stage N needs every
// later stage needs too.
var Stages = []string{
	"stage01-uts", "stage02-pid", "stage03-mount", "stage04-ipc",
	"stage05-net", "stage06-user", "stage07-cgroups", "stage08-layers", "final",
}

// from returns stage and every stage after it.
func from(stage string) []string {
	for i, s := range Stages {
		if s == stage {
			return append([]string(nil), Stages[i:]...)
		}
	}
	return []string{stage}
}

// NeededByText says which stages need a check, shortly: "stage05-net and
// later" when it is a stage and all that follow it.
func (r Result) NeededByText() string {
	n := len(r.NeededBy)
	if n > 1 && n < len(Stages) {
		if tail := Stages[len(Stages)-n:]; strings.Join(tail, ",") == strings.Join(r.NeededBy, ",") {
			return r.NeededBy[0] + " and later"
		}
	}
	if n == len(Stages) {
		return "every stage"
	}
	return strings.Join(r.NeededBy, ", ")
}

// What the network stage creates: its bridge (internal/layout) and the
// subnets it tries, in order, when --subnet is not given.
const Bridge = layout.Bridge

var SubnetCandidates = hostnet.SubnetCandidates

// CgroupParent is the cgroup, under the root of each hierarchy, in which
// the cgroup stage and the engine create one cgroup per container
// (/sys/fs/cgroup/cfs on v2, /sys/fs/cgroup/memory/cfs and so on on v1).
const CgroupParent = layout.CgroupParent

// DefaultStateDir is where the stages keep the rootfs cache and image
// layers; overlay upper directories are made there.
const DefaultStateDir = layout.StateDir

// Host is what the checks look at. Paths name the directories that stand
// for /, /proc, /sys, /etc and /run; hooks do what reading a file cannot.
// A nil hook makes its check say "not tried" instead of guessing.
type Host struct {
	Root, Proc, Sys, Etc, Run string
	StateDir                  string // DefaultStateDir on the real host
	Euid                      int

	Getenv   func(key string) string
	LookPath func(file string) (string, error) // in the caller's PATH

	// FSType names the filesystem that holds path ("ext4", "overlay").
	FSType func(path string) (string, error)
	// TryOverlay mounts a small overlay with its upper and work
	// directories in a fresh directory under dir, writes through it, and
	// removes it all again.
	TryOverlay func(dir string) error
	// TryNamespace starts a process in a new namespace of kind ("uts",
	// "pid", "mnt", "ipc", "net", "user", "cgroup").
	TryNamespace func(kind string) error
	// Routes lists the IPv4 routes of the current network namespace.
	Routes func() ([]Route, error)
	// Nftables lists the chains of the current network namespace.
	Nftables func() ([]Chain, error)
	// Exec runs a program and returns its standard output.
	Exec func(name string, args ...string) (string, error)

	// ModuleDir is the checkout doctor runs in (the directory of go.mod
	// above the working directory), or "".
	ModuleDir string
	// UserEnv returns the environment of the user who ran sudo, as their
	// own processes have it (sudo gives doctor root's).
	UserEnv func() map[string]string
	// Dial tries a TCP connection to host:port, with a short timeout.
	Dial func(addr string) error
}

// filesOnly is the host doctor runs on, without hooks: its checks read
// files only (System adds the hooks where the platform has them).
func filesOnly() *Host {
	return &Host{
		Root: "/", Proc: "/proc", Sys: "/sys", Etc: "/etc", Run: "/run",
		StateDir: DefaultStateDir,
		Euid:     os.Geteuid(),
		Getenv:   os.Getenv,
		LookPath: exec.LookPath,
	}
}

// Route is one IPv4 route.
type Route struct {
	Dst   netip.Prefix
	Dev   string
	Table int // 254 is main
}

func (r Route) String() string { return r.Dst.String() + " dev " + r.Dev }

// mainTable is the routing table `ip route` shows, and the one stage05-net
// reads to choose its subnet.
const mainTable = 254

// Chain is one nftables chain as `nft list chains` shows it.
type Chain struct {
	Family, Table, Name string
	Hook                string // "forward", "input"…; "" for a regular chain
	Policy              string // "accept" or "drop"; "" for a regular chain
}

func (c Chain) String() string { return c.Family + " " + c.Table + " " + c.Name }

// Checks runs every check, in the order the stages need them.
func (h *Host) Checks() []Result {
	var out []Result
	for _, c := range checks {
		out = append(out, c(h))
	}
	return out
}

var checks = []func(*Host) Result{
	checkRoot, checkSudoGo, checkGoproxy, checkVendor, checkKernel, checkWSL, checkContainer,
	checkNamespaces,
	checkIPForward, checkBrNetfilter, checkIptables, checkForwardDrop, checkSubnet,
	checkUserNS, checkSubuid,
	checkCgroups,
	checkOverlay,
	checkRuntime, checkEngine,
}

// Failed reports whether a result stops a stage: a failure that some stage
// needs. Doctor exits non-zero when any result has failed.
func (r Result) Failed() bool { return r.Status == Fail && len(r.NeededBy) > 0 }

// ---------------------------------------------------------------------------
// Small readers shared by the checks.

func (h *Host) proc(elem ...string) string {
	return filepath.Join(append([]string{h.Proc}, elem...)...)
}
func (h *Host) sys(elem ...string) string { return filepath.Join(append([]string{h.Sys}, elem...)...) }
func (h *Host) etc(elem ...string) string { return filepath.Join(append([]string{h.Etc}, elem...)...) }

// readTrim returns a small file's content without surrounding space, as
// the one-value files under /proc/sys hold.
func readTrim(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

// readFields returns the words of a file such as cgroup.controllers; a
// missing file has none.
func readFields(path string) []string {
	s, _ := readTrim(path)
	return strings.Fields(s)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// missing returns the words of want that are not in have.
func missing(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

// mounts reads the mount table of the host's /proc/self/mountinfo.
func (h *Host) mounts() []mountinfo.Mount {
	ms, _ := mountinfo.Read(h.proc("self/mountinfo"))
	return ms
}

// mountAt returns the topmost mount at point, the one a path lookup sees.
func (h *Host) mountAt(point string) (mountinfo.Mount, bool) {
	return mountinfo.At(h.mounts(), point)
}
