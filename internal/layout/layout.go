// Package layout is the one home of the names and places cfs gives what it
// creates on a host, and of the record that says who owns a container.
// The stages, the engine under final/, and the tools (cleanup, doctor, the
// test harness) import it instead of spelling a name themselves, so that
// what one creates the others can find.
//
// Every name starts with "cfs": a host resource that does not is not the
// project's, and cleanup never touches it.
//
//	/var/lib/cfs                 StateDir: caches and containers' files, kept across reboots
//	/var/lib/cfs/rootfs          RootfsDir: the default root filesystem (internal/rootfs)
//	/var/lib/cfs/images          ImagesDir: the engine's image store (final/image)
//	/var/lib/cfs/containers/ID   ContainersDir: one directory per container
//	/run/cfs                     RunDir: leases, each container's /etc files (a tmpfs: gone at reboot)
//	/run/cfs/net-N.json          LedgerPath: the address ledger of network namespace N
//	/run/cfs/ID                  EtcDir: a container's hosts, hostname and resolv.conf
//	/run/cfs/runtime             RuntimeRoot: the OCI runtime's container states
//	/var/lib/cfs/engine          EngineDir: the engine's containers (containers/ID: record,
//	                             config.json, writable layer, log), names, work in progress
//	/run/cfs/engine/ID           EngineRunDir: a running container's monitor lock and attach socket
//	/run/cfs/engine/events.json  EventsFile: the engine's journal of events (cfs events), and .old
//	cfs-monitor                  MonitorName: argv[0] of a container's monitor (final/engine)
//	cfs-init                     InitName: argv[0] of a container's first process
//	cfs0                         Bridge: the containers' bridge
//	cfsXXXXXXXX                  VethName: a container's host-side veth
//	ip cfs                       NftTable: the nft table of NAT and published ports
//	ip cfs published             PublishedChain: the DNAT rules, commented PortsComment(ID)
//	cfs/ID                       CgroupParent: a container's cgroup, in each hierarchy
//	cfs-runtime/ID               RuntimeCgroupParent: a runtime container's default cgroup
package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Places.
const (
	StateDir  = "/var/lib/cfs"
	RootfsDir = StateDir + "/rootfs"
	LayersDir = StateDir + "/layers"
	ImagesDir = StateDir + "/images"
	// ImagesTmpDir holds the image store's work in progress: a directory
	// per command (pull, load, import, commit) with its owner record,
	// and gc's trash (final/image).
	ImagesTmpDir = ImagesDir + "/tmp"
	// ImagesLock is the image store's lock (flock).
	ImagesLock    = ImagesDir + "/lock"
	ContainersDir = StateDir + "/containers"
	RunDir        = "/run/cfs"
	RuntimeRoot   = RunDir + "/runtime"
	// EngineDir holds the engine's containers, kept across reboots as
	// docker keeps stopped containers; EngineRunDir what lives only while
	// a container runs (final/engine).
	EngineDir    = StateDir + "/engine"
	EngineRunDir = RunDir + "/engine"
	// EventsFile, in EngineRunDir, is the engine's journal of events,
	// kept as a daemon keeps its events: until reboot (final/engine).
	EventsFile = "events.json"
	NetnsDir   = "/run/netns" // named network namespaces, as ip-netns(8) makes them
	// NetLock is the lock every change of a network ledger takes.
	NetLock = RunDir + "/net.lock"
)

// LedgerPath is the address ledger of the network namespace whose inode
// is ino (the N of net:[N] that `readlink /proc/self/ns/net` shows).
func LedgerPath(ino uint64) string { return fmt.Sprintf("%s/net-%d.json", RunDir, ino) }

// EtcDir holds container id's own /etc/hosts, hostname and resolv.conf.
func EtcDir(id string) string { return RunDir + "/" + id }

// Caches are built once and reused: they are not leftovers.
var Caches = []string{RootfsDir, LayersDir, ImagesDir}

// Names.
const (
	InitName = "cfs-init" // argv[0] of a container's first process
	// MonitorName is argv[0] of an engine container's monitor, the small
	// process that holds its stdio, log and exit status (final/engine).
	MonitorName = "cfs-monitor"
	Bridge      = "cfs0"
	VethPrefix  = "cfs" // + the first 8 hex digits of the container ID
	NftTable    = "cfs" // the nft table "ip cfs"
	// PublishedChain holds the DNAT rules of published ports.
	PublishedChain = "published"
	CgroupParent   = "cfs" // cfs/ID under the root of each cgroup hierarchy
	// RuntimeCgroupParent holds the cgroups of the OCI runtime's containers
	// whose config names no cgroupsPath (final/cgroups). It is apart from
	// CgroupParent, whose entries the stages sweep when their owner is gone:
	// a runtime container has no stage as its owner.
	RuntimeCgroupParent = "cfs-runtime"
	NetnsPrefix         = "cfs" // /run/netns/cfs*: the tests' and the docs' namespaces
	// RuntimeInitEnv is in the environment a container's init and exec'd
	// processes of the OCI runtime (final/runtime) start with, and so in
	// their /proc/PID/environ: it tells them apart from the stages'
	// cfs-init processes.
	RuntimeInitEnv = "_CFS_RUNTIME_SYNC_FD"
	// ForwardComment marks the accept rules for cfs0 that go into other
	// programs' forward chains (docker's FORWARD), so they can be found
	// and removed.
	ForwardComment = "cfs: containers on " + Bridge
)

// PortsComment marks the DNAT rules that publish container id's ports.
func PortsComment(id string) string { return "container " + id }

// VethName is the host end of container id's veth pair: "cfs" and the
// first 8 hex digits of the ID, which fits the kernel's 15-byte limit on
// device names (IFNAMSIZ).
func VethName(id string) string { return VethPrefix + id[:8] }

// IsVethName reports whether name is a container's host-side veth: "cfs"
// and 8 lowercase hex digits. It returns those digits.
func IsVethName(name string) (idPrefix string, ok bool) {
	hex, found := strings.CutPrefix(name, VethPrefix)
	if !found || len(hex) != 8 || !IsHex(hex) {
		return "", false
	}
	return hex, true
}

// IsEngineID reports whether s is an engine container's ID: 64
// lowercase hex digits, as docker's.
func IsEngineID(s string) bool { return len(s) == 64 && IsHex(s) }

// IsID reports whether s is a container ID as the stages make them
// (cli.NewID): 12 lowercase hex digits.
func IsID(s string) bool { return len(s) == 12 && IsHex(s) }

// IsHex reports whether s is a non-empty run of lowercase hex digits.
func IsHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

// Owner names a running process for as long as it runs. A PID alone is not
// enough, since the kernel reuses PIDs: the start time (in clock ticks
// after boot, field 22 of /proc/PID/stat) tells a new process with an old
// number apart. Stages record themselves as their container's owner; a
// container whose owner is gone is stale, and a later run or `cleanup`
// removes what it left.
type Owner struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Self is the calling process as an Owner.
func Self() Owner {
	_, start, _ := ProcStat(os.Getpid())
	return Owner{PID: os.Getpid(), Start: start}
}

// Alive reports whether the process o names still runs: same PID, same
// start time. A zombie counts as gone: it has exited, only its entry is
// left for its parent to collect.
func (o Owner) Alive() bool {
	if o.PID <= 0 {
		return false
	}
	st, err := ReadProcStat(o.PID)
	return err == nil && st.Start == o.Start && st.State != 'Z' && st.State != 'X'
}

// ReadOwner reads an owner record written by WriteOwner.
func ReadOwner(path string) (Owner, error) {
	var o Owner
	data, err := os.ReadFile(path)
	if err != nil {
		return o, err
	}
	if err := json.Unmarshal(data, &o); err != nil || o.PID <= 0 {
		return Owner{}, fmt.Errorf("%s: not an owner record", path)
	}
	return o, nil
}

// WriteOwner records the calling process as the owner in path.
func WriteOwner(path string) error {
	data, _ := json.Marshal(Self())
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// ProcStat returns a process's parent and start time (fields 4 and 22 of
// /proc/PID/stat, man 5 proc_pid_stat).
func ProcStat(pid int) (ppid int, start uint64, err error) {
	st, err := ReadProcStat(pid)
	return st.PPID, st.Start, err
}

// Stat is what the project reads of /proc/PID/stat.
type Stat struct {
	State byte   // R, S, D, Z (zombie), T, X (dead), …
	PPID  int    // field 4
	Start uint64 // field 22: start time, clock ticks after boot
}

// ReadProcStat reads /proc/PID/stat.
func ReadProcStat(pid int) (Stat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, err
	}
	return ParseProcStat(data)
}

// ParseProcStat parses the contents of a /proc/PID/stat file.
func ParseProcStat(data []byte) (Stat, error) {
	// The command name (field 2) may hold spaces and parentheses: count
	// fields from the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return Stat{}, errors.New("/proc/PID/stat: no ')'")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return Stat{}, errors.New("/proc/PID/stat: too few fields")
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return Stat{}, fmt.Errorf("/proc/PID/stat: ppid: %w", err)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("/proc/PID/stat: start time: %w", err)
	}
	return Stat{State: f[0][0], PPID: ppid, Start: start}, nil
}
