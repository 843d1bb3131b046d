package runtime

// The state directory: ROOT/ID/state.json (the record) and ROOT/ID/exec.fifo
// (present from Create to Start). Every command finds the container there,
// and asks the kernel, not the file, whether it still runs.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"cfs/final/cgroups"

	"golang.org/x/sys/unix"
)

const (
	stateFile = "state.json"
	fifoFile  = "exec.fifo"
)

// ErrNotExist is the error for an unknown ID; containerd's shim looks for
// "does not exist" in the message.
var ErrNotExist = errors.New("does not exist")

// Container is one container, as its state directory records it.
type Container struct {
	r   *Runtime
	dir string
	rec record
	cg  cgroups.Manager
	// init is set when this process started the init (Run, and the
	// engine's in-process calls): only a parent can wait for its child.
	init *exec.Cmd
}

func (r *Runtime) root() string {
	if r.Root == "" {
		return DefaultRoot
	}
	return r.Root
}

// Get returns the container with this ID.
func (r *Runtime) Get(id string) (*Container, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(r.root(), id)
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(dir); err == nil {
			return nil, fmt.Errorf("container %s is being created (or its create was killed: delete it with --force)", id)
		}
		return nil, fmt.Errorf("container %s %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	c := &Container{r: r, dir: dir}
	if err := json.Unmarshal(data, &c.rec); err != nil {
		return nil, fmt.Errorf("container %s: damaged %s: %w", id, filepath.Join(dir, stateFile), err)
	}
	c.cg = cgroups.Load(c.rec.Cgroup)
	return c, nil
}

// List returns every container under Root, by ID.
func (r *Runtime) List() ([]*Container, error) {
	entries, err := os.ReadDir(r.root())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if c, err := r.Get(e.Name()); err == nil {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rec.ID < out[j].rec.ID })
	return out, nil
}

// save writes the record: to a new file, then renamed over the old one,
// so a reader never sees half of it.
func (c *Container) save() error {
	data, err := json.Marshal(&c.rec)
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.dir, stateFile))
}

// lock takes the container's lock, so that two commands on one container
// (start and delete, say) take turns.
func (c *Container) lock() (unlock func(), err error) {
	f, err := os.Open(c.dir)
	if err != nil {
		return nil, fmt.Errorf("container %s %w", c.rec.ID, ErrNotExist)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// ID returns the container's ID.
func (c *Container) ID() string { return c.rec.ID }

// Pid returns the host PID of the container's init.
func (c *Container) Pid() int { return c.rec.Init.PID }

// Status asks the kernel: the init is gone (or a zombie nobody has
// reaped: it has exited, only its entry is left) → stopped; the exec
// fifo is still there → created; the freezer holds it → paused;
// otherwise running. The start time in the record tells a reused PID
// apart, as runc's hasInit does with /proc/PID/stat.
func (c *Container) Status() Status {
	if c.rec.Init.PID == 0 || !c.rec.Init.Alive() {
		return Stopped
	}
	if !c.rec.Ready {
		return Creating
	}
	if _, err := os.Lstat(filepath.Join(c.dir, fifoFile)); err == nil {
		return Created
	}
	if frozen, _ := c.cg.Frozen(); frozen {
		return Paused
	}
	return Running
}

// State returns what `state` prints. A stopped container's pid is 0, as
// runc reports it.
func (c *Container) State() State {
	st := State{
		Version: c.rec.Spec.Version, ID: c.rec.ID, Status: c.Status(), Bundle: c.rec.Bundle,
		Rootfs: c.rec.Rootfs, Created: c.rec.Created, Owner: c.rec.Owner, Annotations: c.rec.Spec.Annotations,
	}
	if st.Status != Stopped {
		st.Pid = c.rec.Init.PID
	}
	return st
}

// RemoveAborted removes the state directory of a create that was killed
// before it wrote any state: there is nothing else it can tell of.
func (r *Runtime) RemoveAborted(id string) error {
	dir := filepath.Join(r.root(), id)
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err == nil {
		return fmt.Errorf("container %s has a state: delete it normally", id)
	}
	return os.RemoveAll(dir)
}
