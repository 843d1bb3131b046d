// Package runtime is cfs's OCI runtime: it runs a bundle (a directory
// with config.json and a root filesystem) as a container, the way runc
// does, and is where the stages' lessons come together. Each kernel step
// is the one a stage taught, now driven by the config instead of flags:
//
//	new namespaces (clone)            stages 01-06   create_linux.go
//	an init that waits, then execs    stage 02       init_linux.go
//	mounts, /dev, pivot_root          stage 03       rootfs_linux.go
//	uid/gid maps                      stage 06       create_linux.go
//	cgroups, limits, freezer          stage 07       final/cgroups
//	capabilities, seccomp, rlimits    this part      process_linux.go
//
// The lifecycle is runtime-spec's: Create leaves the container's first
// process (its init) waiting just before the user's program, in a state
// directory under Root; Start lets it go; State, Signal, Pause, Resume,
// Update and Exec act on it by ID; Delete removes what Create made. Each
// call is a separate command on the command line (final/runccli, runc's
// verbs), so everything a later call needs is written in the state
// directory; the engine (part 3) makes the same calls in-process.
//
// Read beside docs/09-runtime.md and the runtime specification
// (github.com/opencontainers/runtime-spec, config.md and runtime.md).
package runtime

import (
	"time"

	"cfs/final/cgroups"
	"cfs/internal/layout"
	"cfs/internal/trace"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultRoot is where container states live unless --root says otherwise.
const DefaultRoot = layout.RuntimeRoot

// Runtime is the runtime's settings, runc's global flags.
type Runtime struct {
	// Root holds one state directory per container (--root).
	Root string
	// SystemdCgroup reads cgroupsPath as systemd's slice:prefix:name
	// (--systemd-cgroup).
	SystemdCgroup bool
	// Debugf, when set, receives a line for each step (--debug).
	Debugf func(format string, a ...any)
	// Trace, when set, narrates the host side's kernel steps in the
	// stages' trace format (docs/trace.md): the engine's `cfs --trace`.
	Trace *trace.Tracer
}

func (r *Runtime) debugf(format string, a ...any) {
	if r.Debugf != nil {
		r.Debugf(format, a...)
	}
}

// Status is a container's place in its lifecycle (runtime-spec's
// runtime.md, "State"), plus runc's "paused".
type Status string

const (
	Creating Status = "creating" // Create is under way
	Created  Status = "created"  // the init waits for Start
	Running  Status = "running"  // the user's program runs
	Paused   Status = "paused"   // frozen by Pause
	Stopped  Status = "stopped"  // the init has exited (or never started)
)

// State is what `state` prints: the spec's state, and runc's rootfs,
// created and owner, in runc's order.
type State struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// record is what the state directory's state.json holds: everything a
// later command needs to find and act on the container.
type record struct {
	ID      string        `json:"id"`
	Bundle  string        `json:"bundle"`
	Rootfs  string        `json:"rootfs"`
	Created time.Time     `json:"created"`
	Owner   string        `json:"owner"`
	Init    layout.Owner  `json:"init"`   // the init's PID and start time: a reused PID is not it
	Spec    *specs.Spec   `json:"config"` // the config as it was at create: later edits do not count
	Cgroup  cgroups.State `json:"cgroup"`
	// Ready is set once the init waits for Start: until then the
	// container is being created.
	Ready bool `json:"ready,omitempty"`
}

// specState is the state hooks read on their stdin (runtime-spec's
// state, without runc's extras).
func (rec *record) specState(status Status) specs.State {
	return specs.State{
		Version: specs.Version, ID: rec.ID, Status: specs.ContainerState(status),
		Pid: rec.Init.PID, Bundle: rec.Bundle, Annotations: rec.Spec.Annotations,
	}
}
