// Package engine is cfs's container engine: containers made from images,
// with docker's lifecycle (create, start, stop, kill, pause, exec, logs,
// wait, rm, commit, export), each kept on disk so that the next command,
// or another program such as part 4's API server, finds it.
//
// Role: engine. The command line (final/dockercli) and the Docker Engine
// API (part 4) call it in-process; it calls the image store (final/image),
// the runtime (final/runtime), the network (final/network) and, through
// the runtime, the cgroups (final/cgroups). Where each stage's lesson lives
// in it:
//
//	stage 01-04  namespaces, PID 1, mounts, /dev, IPC   the OCI config (spec.go), run by final/runtime
//	stage 03     bind mounts: -v, volumes               spec.go, volumes.go (a volume is a directory, bound in)
//	stage 05     bridge, veth, NAT, -p                 final/network, called by the monitor; networks.go shows it
//	stage 06     users: -u USER[:GROUP]                 spec.go (resolved from the image's /etc/passwd)
//	stage 07     cgroups: -m, --cpus, --pids-limit      spec.go → linux.resources → final/cgroups
//	stage 08     overlay layers                         monitor_linux.go mounts the image's layers
//
// For each container the engine keeps a directory, the container's
// record and its OCI bundle at once:
//
//	/var/lib/cfs/engine/containers/ID/
//	    container.json   the record: docker's Config and HostConfig, the state
//	    config.json      the OCI config the runtime runs (written at each start)
//	    rootfs/          where the monitor mounts the overlay
//	    upper/ work/     the container's writable layer, overlay's upperdir and workdir
//	    hostname hosts resolv.conf   the container's own /etc files
//	    ID-json.log      its output, in docker's json-file format
//	/var/lib/cfs/engine/names/NAME → ID   names are unique: a symbolic link each
//	/var/lib/cfs/engine/tmp/ID/           a create under way, with its maker's owner record
//	/var/lib/cfs/engine/volumes/NAME/     a volume: volume.json, its record; _data/, its files
//	/run/cfs/engine/ID/                   while it runs: monitor.lock, attach.sock
//
// A running container has a monitor (monitor_linux.go): this program
// started again as cfs-monitor, in a session of its own, which is the
// parent of the container's init (as containerd's shim is), holds its
// stdio, writes its log, waits for its exit and records it. No daemon is
// needed: the monitor outlives the command that started it.
package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"cfs/final/image"
	"cfs/final/runtime"
	"cfs/internal/layout"
	"cfs/internal/trace"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"
)

// Engine is the engine's settings: where its state lives, and the image
// store and runtime it uses.
type Engine struct {
	// Root holds the containers (layout.EngineDir), RunRoot what exists
	// only while they run (layout.EngineRunDir).
	Root, RunRoot string
	Images        *image.Store
	// RuntimeRoot is the runtime's state root: `cfs runtime --root` with
	// it shows the engine's containers (layout.RuntimeRoot, the default).
	RuntimeRoot string
	// Trace, when set, narrates each kernel request on the host side
	// (`cfs --trace`).
	Trace *trace.Tracer
	// Exe is the program a monitor is started from: this one.
	Exe string
}

// Open returns the engine with its default places, on the image store s.
func Open(s *image.Store) (*Engine, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	e := &Engine{Root: layout.EngineDir, RunRoot: layout.EngineRunDir, Images: s, RuntimeRoot: layout.RuntimeRoot, Exe: exe}
	return e, e.init()
}

func (e *Engine) init() error {
	for _, d := range []string{e.path("containers"), e.path("names"), e.path("tmp"), e.RunRoot} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return fmt.Errorf("create %s: %w (the engine needs root: sudo)", d, err)
			}
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	return nil
}

func (e *Engine) path(elem ...string) string {
	return filepath.Join(append([]string{e.Root}, elem...)...)
}

// Dir is container id's directory, its bundle.
func (e *Engine) Dir(id string) string { return e.path("containers", id) }

// runDir holds what lives while container id runs.
func (e *Engine) runDir(id string) string { return filepath.Join(e.RunRoot, id) }

func (e *Engine) runtime() *runtime.Runtime {
	return &runtime.Runtime{Root: e.RuntimeRoot, Trace: e.Trace} // --trace: the runtime's steps too
}

// Statuses, as docker names them.
const (
	Created = "created"
	Running = "running"
	Paused  = "paused"
	Exited  = "exited"
	Dead    = "dead"
	// Restarting: it exited, and its restart policy starts it again
	// after a delay, which its last monitor waits out.
	Restarting = "restarting"
)

// State is a container's place in its lifecycle.
type State struct {
	Status     string    `json:"status"`
	Pid        int       `json:"pid,omitempty"`
	ExitCode   int       `json:"exitCode"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// Monitor is the monitor of the running container: when it is gone,
	// so is the container (reconcile). While the container is
	// restarting, it is the monitor that waits to start it again.
	Monitor layout.Owner `json:"monitor"`
	// Restarts counts what the restart policy started since the user's
	// last start (on-failure:N's count), and Delay is the wait before
	// the last of them (the next waits twice as long).
	Restarts int           `json:"restarts,omitempty"`
	Delay    time.Duration `json:"delay,omitempty"`
	// Stopped says that the user stopped or killed it: its restart
	// policy lets it end (dockerd's HasBeenManuallyStopped).
	Stopped bool `json:"stopped,omitempty"`
}

// Container is a container's record, container.json.
type Container struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Image is the image as the user named it; ImageID its ID.
	Image   string `json:"image"`
	ImageID string `json:"imageID"`
	// Config and HostConfig are docker's, as `docker inspect` shows them
	// (and part 4's API receives them).
	Config     container.Config     `json:"config"`
	HostConfig container.HostConfig `json:"hostConfig"`
	State      State                `json:"state"`
	// Network is the container's place on the bridge while it runs.
	Network *Endpoint `json:"network,omitempty"`
	// Path and Args are what runs: the entrypoint and command.
	Path string   `json:"path"`
	Args []string `json:"args"`
	// RestartCount counts every start of its restart policy, as docker
	// inspect shows it.
	RestartCount int `json:"restartCount,omitempty"`
	// Volumes are its anonymous volumes (-v /path, the image's VOLUME):
	// the volume's name by its place in the container.
	Volumes map[string]string `json:"volumes,omitempty"`
}

// Endpoint is the network part of the record.
type Endpoint struct {
	IP, Gateway, MAC string
	PrefixLen        int
	Ports            []Port
}

// Port is a published port, as `docker port` prints it.
type Port struct {
	Host  uint16 `json:"host"`
	Ctr   uint16 `json:"ctr"`
	Proto string `json:"proto"`
}

// ShortID is the ID as docker shows it.
func (c *Container) ShortID() string { return c.ID[:12] }

// ErrNotFound is the error for a name or ID no container has.
var ErrNotFound = errors.New("no such container")

// NotFoundError names what was looked for, in docker's words.
type NotFoundError struct{ Arg string }

func (e *NotFoundError) Error() string        { return "No such container: " + e.Arg }
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ConflictError is docker's 409: a name in use, a container running.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }

// newID returns 64 random hex digits.
// NewID is a new container or exec ID: 64 random hex digits, as docker's.
func NewID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ---------------------------------------------------------------------------
// Records on disk

// load reads container id's record.
func (e *Engine) load(id string) (*Container, error) {
	data, err := os.ReadFile(filepath.Join(e.Dir(id), "container.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NotFoundError{Arg: id}
	}
	if err != nil {
		return nil, err
	}
	c := &Container{}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("container %s: damaged record %s: %w", id, filepath.Join(e.Dir(id), "container.json"), err)
	}
	return c, nil
}

// save writes the record: a new file renamed over the old, so a reader
// sees the old record or the new, whole.
func (e *Engine) save(c *Container) error {
	return writeJSON(filepath.Join(e.Dir(c.ID), "container.json"), c)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// lockFile takes a flock(2) on the file at path, made if missing; the
// kernel drops it when the process dies, even by SIGKILL.
func lockFile(path string, how int) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	return flock(f, how)
}

// lockDir takes a flock(2) on the directory at path, which must exist:
// a directory removed meanwhile is not made again as a file.
func lockDir(path string, how int) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return flock(f, how)
}

func flock(f *os.File, how int) (func(), error) {
	var err error
	for {
		if err = unix.Flock(int(f.Fd()), how); err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// lock takes container id's lock: changes of its record take turns.
func (e *Engine) lock(id string) (func(), error) {
	unlock, err := lockDir(e.Dir(id), unix.LOCK_EX)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NotFoundError{Arg: id}
	}
	return unlock, err
}

// lockRecord finds the container arg names, takes its lock and reads its
// record under it: how a change to a record starts, so that it never
// works on what another command has changed meanwhile.
func (e *Engine) lockRecord(arg string) (*Container, func(), error) {
	id, err := e.Resolve(arg)
	if err != nil {
		return nil, nil, err
	}
	unlock, err := e.lock(id)
	if err != nil {
		return nil, nil, err
	}
	c, err := e.load(id)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return c, unlock, nil
}

// lockEngine takes the engine's lock, under which names are given and
// containers appear and go.
func (e *Engine) lockEngine() (func(), error) { return lockFile(e.path("engine.lock"), unix.LOCK_EX) }

// ---------------------------------------------------------------------------
// Finding containers

// Resolve returns the ID of the container arg names: a full ID, a name
// (with or without docker's leading "/"), or a unique prefix of an ID.
func (e *Engine) Resolve(arg string) (string, error) {
	if arg == "" {
		return "", &NotFoundError{Arg: arg}
	}
	if layout.IsEngineID(arg) {
		if _, err := os.Stat(filepath.Join(e.Dir(arg), "container.json")); err == nil {
			return arg, nil
		}
	}
	name := strings.TrimPrefix(arg, "/")
	if validName(name) {
		if id, err := os.Readlink(e.path("names", name)); err == nil && layout.IsEngineID(id) {
			if _, err := os.Stat(e.Dir(id)); err == nil {
				return id, nil
			}
		}
	}
	if !layout.IsHex(arg) {
		return "", &NotFoundError{Arg: arg}
	}
	entries, err := os.ReadDir(e.path("containers"))
	if err != nil {
		return "", err
	}
	var found []string
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), arg) && layout.IsEngineID(en.Name()) {
			found = append(found, en.Name())
		}
	}
	switch len(found) {
	case 0:
		return "", &NotFoundError{Arg: arg}
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("multiple IDs found with provided prefix: %s", arg)
}

// Get returns the container arg names, its state brought up to date.
func (e *Engine) Get(arg string) (*Container, error) {
	id, err := e.Resolve(arg)
	if err != nil {
		return nil, err
	}
	return e.current(id)
}

// current loads container id and reconciles it: a running container whose
// monitor is gone is not running.
func (e *Engine) current(id string) (*Container, error) {
	c, err := e.load(id)
	if err != nil {
		return nil, err
	}
	if (c.Running() || c.State.Status == Restarting) && !c.State.Monitor.Alive() {
		if err := e.reconcile(id); err != nil {
			return nil, err
		}
		return e.load(id)
	}
	return c, nil
}

// List returns every container, the newest first (docker ps's order).
func (e *Engine) List() ([]*Container, error) {
	entries, err := os.ReadDir(e.path("containers"))
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, en := range entries {
		if !layout.IsEngineID(en.Name()) {
			continue
		}
		c, err := e.current(en.Name())
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Running reports whether the container runs (paused counts).
func (c *Container) Running() bool { return c.State.Status == Running || c.State.Status == Paused }

// Up is what docker ps lists without -a and docker inspect calls
// running: a running or paused container, or one restarting.
func (c *Container) Up() bool { return c.Running() || c.State.Status == Restarting }
