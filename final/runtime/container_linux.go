package runtime

// What the lifecycle does to a container once it exists: Start, Signal,
// Pause and Resume, Update, Delete, and what can be read of it.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"cfs/final/cgroups"
	"cfs/internal/kernel"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Start lets a created container's init run the user's program: one byte
// into the exec fifo, on which the init waits, then the fifo goes. Start
// returns at once; the poststart hooks run after.
func (c *Container) Start() error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if st := c.Status(); st != Created {
		return fmt.Errorf("cannot start container %s: it is %s, not created (start runs a container once)", c.rec.ID, st)
	}
	fifo := filepath.Join(c.dir, fifoFile)
	// O_NONBLOCK: if the init is gone, opening a fifo without a reader
	// fails with ENXIO instead of waiting forever.
	f, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("cannot start container %s: its init is not waiting: %w", c.rec.ID, err)
	}
	_, err = f.Write([]byte{0})
	f.Close()
	if err != nil {
		return fmt.Errorf("start container %s: write the exec fifo: %w", c.rec.ID, err)
	}
	// The fifo's absence is the record that the container has started
	// (Status): no state file to write again.
	if err := os.Remove(fifo); err != nil {
		return err
	}
	c.r.debugf("container %s started", c.rec.ID)
	if h := hooksOf(c.rec.Spec).Poststart; len(h) > 0 {
		// A failing poststart hook is reported, and the container keeps
		// running (runtime-spec: "the runtime MUST log a warning").
		if err := runHooks("poststart", h, c.rec.specState(Running)); err != nil {
			return fmt.Errorf("container %s started, but %w", c.rec.ID, err)
		}
	}
	return nil
}

// Signal sends sig to the container's init, or with all to every process
// in its cgroup. Signalling a stopped container is an error.
func (c *Container) Signal(sig syscall.Signal, all bool) error {
	st := c.Status()
	if all {
		if sig == unix.SIGKILL && st != Paused {
			killAll(c.cg)
			return nil
		}
		pids, err := c.cg.Pids()
		if err != nil {
			return err
		}
		for _, pid := range pids {
			_ = unix.Kill(pid, sig)
		}
		if st == Paused && sig == unix.SIGKILL {
			return c.cg.Thaw() // a frozen process dies only once thawed
		}
		return nil
	}
	if st == Stopped {
		return fmt.Errorf("cannot signal container %s: container not running", c.rec.ID)
	}
	// Through a pidfd: the PID is checked to be the init's (same start
	// time) while the pidfd is held, so a reused PID cannot be hit.
	fd, err := unix.PidfdOpen(c.rec.Init.PID, 0)
	if err != nil {
		return fmt.Errorf("cannot signal container %s: container not running (%w)", c.rec.ID, err)
	}
	defer unix.Close(fd)
	if !c.rec.Init.Alive() {
		return fmt.Errorf("cannot signal container %s: container not running", c.rec.ID)
	}
	name := unix.SignalName(sig)
	err = kernel.Do(c.r.Trace, fmt.Sprintf("pidfd_send_signal(pidfd of %d, %s)", c.rec.Init.PID, name),
		fmt.Sprintf("kill -%s %d", strings.TrimPrefix(name, "SIG"), c.rec.Init.PID),
		func() error { return unix.PidfdSendSignal(fd, sig, nil, 0) })
	if err != nil {
		return fmt.Errorf("signal %d to container %s: %w", sig, c.rec.ID, err)
	}
	return nil
}

// killAll kills every process in the cgroup and waits until it is empty.
// On v2, cgroup.kill does it in one write, even to processes forking as it
// goes; elsewhere, SIGKILL to each until none is left.
func killAll(cg cgroups.Manager) {
	if k, ok := cg.(interface{ Kill() bool }); ok && k.Kill() {
		waitEmpty(cg)
		return
	}
	if frozen, _ := cg.Frozen(); frozen {
		for _, pid := range pids(cg) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		_ = cg.Thaw()
	}
	for try := 0; try < 1000; try++ {
		ps := pids(cg)
		if len(ps) == 0 {
			return
		}
		for _, pid := range ps {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond) // the kernel takes them out as they exit
	}
}

func pids(cg cgroups.Manager) []int {
	p, _ := cg.Pids()
	return p
}

func waitEmpty(cg cgroups.Manager) {
	for try := 0; try < 1000 && len(pids(cg)) > 0; try++ {
		time.Sleep(5 * time.Millisecond)
	}
}

// Delete removes a stopped container: what remains in its cgroup, the
// cgroup, the state directory; then the poststop hooks run. With force, a
// container still running is killed first.
func (c *Container) Delete(force bool) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	st := c.Status()
	if st != Stopped && !force {
		return fmt.Errorf("cannot delete container %s that is not stopped: it is %s (stop it, or delete --force)", c.rec.ID, st)
	}
	if st != Stopped {
		killAll(c.cg)
		c.waitInit()
	}
	// The init may be stopped, and others live on: a container without a
	// PID namespace of its own has processes the init's exit did not kill.
	killAll(c.cg)
	if c.init != nil && c.init.ProcessState == nil {
		_, _ = c.init.Process.Wait()
	}
	err = c.destroy()
	if h := hooksOf(c.rec.Spec).Poststop; len(h) > 0 {
		if herr := runHooks("poststop", h, c.rec.specState(Stopped)); herr != nil {
			err = errors.Join(err, herr)
		}
	}
	c.r.debugf("container %s deleted", c.rec.ID)
	return err
}

// waitInit waits until the init has exited (its parent, not this process,
// reaps it): a pidfd becomes readable when its process ends.
func (c *Container) waitInit() {
	fd, err := unix.PidfdOpen(c.rec.Init.PID, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if !c.rec.Init.Alive() {
		return
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, 10000); err != unix.EINTR {
			return
		}
	}
}

// Wait waits for the init to exit and returns its status as a shell
// reports it (128+N when killed by signal N). Only the process that
// created the container can wait for it (Run does).
func (c *Container) Wait() (int, error) {
	if c.init == nil {
		return 0, errors.New("only the process that created a container can wait for it")
	}
	err := c.init.Wait()
	return exitStatus(c.init.ProcessState, err)
}

func exitStatus(ps *os.ProcessState, err error) (int, error) {
	if ps == nil {
		return 0, err
	}
	ws := ps.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// Pause freezes every process of the container (runc pause); Resume lets
// them go on.
func (c *Container) Pause() error {
	switch st := c.Status(); st {
	case Running, Created:
	default:
		return fmt.Errorf("cannot pause container %s: it is %s", c.rec.ID, st)
	}
	c.freezerStep(true)
	return c.cg.Freeze()
}

func (c *Container) Resume() error {
	if st := c.Status(); st != Paused {
		return fmt.Errorf("cannot resume container %s: it is %s, not paused", c.rec.ID, st)
	}
	c.freezerStep(false)
	return c.cg.Thaw()
}

// freezerStep narrates what Freeze or Thaw writes (stage 07's cgroups;
// the kernel stops every process of the cgroup where it stands, or lets
// them go on). Same as `echo FROZEN > …/freezer.state` on v1, `echo 1 >
// …/cgroup.freeze` on v2.
func (c *Container) freezerStep(freeze bool) {
	if c.r.Trace == nil {
		return
	}
	st := c.cg.State()
	file, value := filepath.Join(st.Dirs["freezer"], "freezer.state"), map[bool]string{true: "FROZEN", false: "THAWED"}[freeze]
	if st.Version == 2 {
		file, value = filepath.Join(st.Dirs[""], "cgroup.freeze"), map[bool]string{true: "1", false: "0"}[freeze]
	}
	_ = c.r.Trace.Step(fmt.Sprintf("write(%s, %q)", file, value), fmt.Sprintf("echo %s > %s", value, file))
}

// Update changes the container's limits; the record keeps them, so that
// the config stays what the container runs with.
func (c *Container) Update(r *specs.LinuxResources) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if c.Status() == Stopped {
		return fmt.Errorf("cannot update container %s: it is stopped", c.rec.ID)
	}
	if err := validateResources(r); err != nil {
		return err
	}
	if err := c.cg.Set(r); err != nil {
		return err
	}
	merge(c.rec.Spec, r)
	return c.save()
}

// merge writes the fields of r that are set into the config's resources.
func merge(s *specs.Spec, r *specs.LinuxResources) {
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	cur := s.Linux.Resources
	if r.Memory != nil {
		if cur.Memory == nil {
			cur.Memory = &specs.LinuxMemory{}
		}
		m := r.Memory
		for _, p := range []struct{ dst, src **int64 }{{&cur.Memory.Limit, &m.Limit}, {&cur.Memory.Reservation, &m.Reservation}, {&cur.Memory.Swap, &m.Swap}} {
			if *p.src != nil {
				*p.dst = *p.src
			}
		}
	}
	if r.CPU != nil {
		if cur.CPU == nil {
			cur.CPU = &specs.LinuxCPU{}
		}
		if r.CPU.Shares != nil {
			cur.CPU.Shares = r.CPU.Shares
		}
		if r.CPU.Quota != nil {
			cur.CPU.Quota = r.CPU.Quota
		}
		if r.CPU.Period != nil {
			cur.CPU.Period = r.CPU.Period
		}
		if r.CPU.Cpus != "" {
			cur.CPU.Cpus = r.CPU.Cpus
		}
		if r.CPU.Mems != "" {
			cur.CPU.Mems = r.CPU.Mems
		}
	}
	if r.Pids != nil {
		cur.Pids = r.Pids
	}
	if r.BlockIO != nil {
		cur.BlockIO = r.BlockIO
	}
	if len(r.Devices) > 0 {
		cur.Devices = r.Devices
	}
}

// Pids lists the host PIDs of every process in the container.
func (c *Container) Pids() ([]int, error) { return c.cg.Pids() }

// Stats reads the container's usage from its cgroup.
func (c *Container) Stats() (*cgroups.Stats, error) { return c.cg.Stats() }

// Config is the config the container was created with (and updated).
func (c *Container) Config() *specs.Spec { return c.rec.Spec }

// exists reports whether a path exists.
func exists(p string) bool {
	_, err := os.Lstat(p)
	return !errors.Is(err, fs.ErrNotExist)
}
