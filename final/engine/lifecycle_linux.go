package engine

// What happens to a container once it exists: wait, stop, kill, pause,
// unpause, remove, prune; and reconcile, which repairs the record of a
// container whose monitor was killed.

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cfs/final/image"
	"cfs/final/network"
	"cfs/final/runtime"
	"cfs/internal/layout"
	"cfs/internal/mountinfo"

	"github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"
)

// Wait waits until the container arg names is not running and returns
// its exit status. A running container is waited for as an attached
// client with no streams: the monitor's last frame is the status, sent
// after the container is taken down (and removed, with --rm).
func (e *Engine) Wait(arg string) (ExitStatus, error) {
	c, err := e.Get(arg)
	if err != nil {
		return ExitStatus{}, err
	}
	if c.Running() {
		if a, err := e.dial(c.ID, AttachOptions{}); err == nil {
			st, err := a.Copy(nil, nil, nil)
			a.Close()
			if err == nil {
				return st, nil
			}
		}
		// The monitor is gone: what the record (repaired) says.
		if c, err = e.current(c.ID); errors.Is(err, ErrNotFound) {
			return ExitStatus{StatusCode: 137}, nil
		} else if err != nil {
			return ExitStatus{}, err
		}
	}
	return ExitStatus{StatusCode: c.State.ExitCode, Error: c.State.Error}, nil
}

// Kill sends sig to the container's main process (its init, PID 1 inside).
func (e *Engine) Kill(arg string, sig syscall.Signal) error {
	c, err := e.Get(arg)
	if err != nil {
		return err
	}
	if c.State.Status == Restarting {
		return &ConflictError{Msg: fmt.Sprintf("Container %s is restarting, wait until the container is running", c.ID)}
	}
	if !c.Running() {
		return &ConflictError{Msg: fmt.Sprintf("cannot kill container: %s: container %s is not running", arg, c.ID)}
	}
	rc, err := e.runtime().Get(c.ID)
	if err != nil {
		return err
	}
	if sig == unix.SIGKILL || sig == c.stopSignal() {
		// A signal that ends it: its restart policy must not start it
		// again (a SIGHUP to reload leaves the policy as it is).
		if err := e.markStopped(c); err != nil {
			return err
		}
	}
	paused := rc.Status() == runtime.Paused
	if paused && sig == unix.SIGKILL {
		// A frozen process dies once thawed.
		if err := rc.Signal(sig, true); err != nil {
			return err
		}
		e.ContainerEvent(c, events.ActionKill, map[string]string{"signal": strconv.Itoa(int(sig))})
		return nil
	}
	if err := rc.Signal(sig, false); err != nil {
		return err
	}
	e.ContainerEvent(c, events.ActionKill, map[string]string{"signal": strconv.Itoa(int(sig))})
	if paused && thawsOnSignal(c, sig) {
		// As dockerd does: the signal, pending in a frozen process, is
		// handled once it is thawed, so that stop of a paused container
		// lets it end as it would running, not by SIGKILL after the
		// timeout.
		if err := e.Unpause(c.ID); err != nil && !isNotRunning(err) { // not paused, not running: nothing to thaw
			return err
		}
	}
	return nil
}

// stopSignal is the signal that stops c: SIGTERM, unless its image or
// --stop-signal says otherwise.
func (c *Container) stopSignal() syscall.Signal {
	if n, err := runtime.ParseSignal(c.Config.StopSignal); c.Config.StopSignal != "" && err == nil {
		return n
	}
	return unix.SIGTERM
}

// markStopped records, before the signal that ends c, that its user ended
// it, so that its monitor does not start it again.
func (e *Engine) markStopped(c *Container) error {
	if c.HostConfig.RestartPolicy.IsNone() {
		return nil
	}
	now, unlock, err := e.lockRecord(c.ID)
	if err != nil {
		return err
	}
	defer unlock()
	now.State.Stopped = true
	return e.save(now)
}

// cancelRestart stops a container that is waiting to restart: the record
// says it exited, and the monitor that waits (it holds nothing else) is
// killed. It reports false if the container was not restarting any more.
func (e *Engine) cancelRestart(id string) (bool, error) {
	c, unlock, err := e.lockRecord(id)
	if err != nil {
		return false, err
	}
	defer unlock()
	if c.State.Status != Restarting {
		return false, nil
	}
	waiting := c.State.Monitor
	c.State.Status, c.State.Monitor, c.State.Stopped = Exited, layout.Owner{}, true
	if err := e.save(c); err != nil {
		return false, err
	}
	if waiting.Alive() {
		_ = unix.Kill(waiting.PID, unix.SIGKILL)
	}
	return true, nil
}

// thawsOnSignal is dockerd's rule for a signal to a paused container: it
// is unpaused for its stop signal (or any signal, when the image names
// none), and left paused for another.
func thawsOnSignal(c *Container, sig syscall.Signal) bool {
	if c.Config.StopSignal == "" {
		return true
	}
	stop, err := runtime.ParseSignal(c.Config.StopSignal)
	return err == nil && stop == sig
}

// ItsOwnTimeout, as Stop's timeout, is the container's own: its
// --stop-timeout, else docker's 10 seconds.
const ItsOwnTimeout time.Duration = math.MinInt64

// Stop sends sig, or if it is 0 the container's stop signal (SIGTERM
// unless its image or --stop-signal says otherwise), waits up to timeout
// for it to exit (a negative one: for ever, as docker's -1), then kills
// it.
func (e *Engine) Stop(arg string, sig syscall.Signal, timeout time.Duration) error {
	c, err := e.Get(arg)
	if err != nil {
		return err
	}
	if timeout == ItsOwnTimeout {
		timeout = 10 * time.Second
		if t := c.Config.StopTimeout; t != nil {
			timeout = time.Duration(*t) * time.Second
		}
	}
	if c.State.Status == Restarting {
		if stopped, err := e.cancelRestart(c.ID); stopped || err != nil {
			if stopped {
				e.ContainerEvent(c, events.ActionStop, nil)
			}
			return err
		}
		if c, err = e.Get(c.ID); err != nil { // started meanwhile
			return err
		}
	}
	if !c.Running() {
		return nil // docker: stopping a stopped container is no error
	}
	if sig == 0 {
		sig = c.stopSignal()
	}
	done := make(chan struct{})
	go func() { _, _ = e.Wait(c.ID); close(done) }()
	if err := e.Kill(c.ID, sig); err != nil && !isNotRunning(err) {
		return err
	}
	var expired <-chan time.Time // never, if timeout < 0
	if timeout >= 0 {
		expired = time.After(timeout)
	}
	select {
	case <-done:
	case <-expired:
		if err := e.Kill(c.ID, unix.SIGKILL); err != nil && !isNotRunning(err) {
			return err
		}
		<-done
	}
	e.ContainerEvent(c, events.ActionStop, nil)
	return nil
}

func isNotRunning(err error) bool {
	var ce *ConflictError
	return errors.As(err, &ce) || strings.Contains(err.Error(), "not running")
}

// Pause freezes every process of the container (the cgroup freezer,
// stage 07); Unpause thaws them.
func (e *Engine) Pause(arg string) error   { return e.freeze(arg, true) }
func (e *Engine) Unpause(arg string) error { return e.freeze(arg, false) }

func (e *Engine) freeze(arg string, pause bool) error {
	c, unlock, err := e.lockRecord(arg)
	if err != nil {
		return err
	}
	defer unlock()
	switch {
	case !c.Running() || !c.State.Monitor.Alive():
		return &ConflictError{Msg: fmt.Sprintf("container %s is not running", c.ID)}
	case pause && c.State.Status == Paused:
		return &ConflictError{Msg: fmt.Sprintf("container %s is already paused", c.ID)}
	case !pause && c.State.Status != Paused:
		return &ConflictError{Msg: fmt.Sprintf("container %s is not paused", c.ID)}
	}
	rc, err := e.runtime().Get(c.ID)
	if err != nil {
		return err
	}
	if pause {
		err, c.State.Status = rc.Pause(), Paused
	} else {
		err, c.State.Status = rc.Resume(), Running
	}
	if err != nil {
		return err
	}
	if err := e.save(c); err != nil {
		return err
	}
	action := events.ActionPause
	if !pause {
		action = events.ActionUnPause
	}
	e.ContainerEvent(c, action, nil)
	return nil
}

// Remove removes the container arg names; a running one only with force,
// which kills it first (docker rm -f); with volumes, its anonymous
// volumes too (docker rm -v).
func (e *Engine) Remove(arg string, force, volumes bool) error {
	c, err := e.Get(arg)
	if err != nil {
		return err
	}
	if c.State.Status == Restarting {
		if !force {
			return &ConflictError{Msg: fmt.Sprintf("cannot remove container \"/%s\": container is restarting: stop the container before removing or force remove", c.Name)}
		}
		if _, err := e.cancelRestart(c.ID); err != nil {
			return err
		}
		if c, err = e.Get(c.ID); err != nil { // or started meanwhile
			return err
		}
	}
	if c.Running() {
		if !force {
			return stillRunning(c)
		}
		if err := e.Kill(c.ID, unix.SIGKILL); err != nil && !isNotRunning(err) {
			return err
		}
		if _, err := e.Wait(c.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	unlock, err := e.lock(c.ID)
	if errors.Is(err, ErrNotFound) {
		return nil // --rm removed it meanwhile
	}
	if err != nil {
		return err
	}
	defer unlock()
	// A start that held the lock meanwhile (cfs start, prune's neighbour)
	// has it running now: its files stay.
	if now, err := e.load(c.ID); err == nil && now.Running() && now.State.Monitor.Alive() {
		return stillRunning(c)
	}
	if err := e.removeFiles(c.ID); err != nil {
		return err
	}
	e.ContainerEvent(c, events.ActionDestroy, nil)
	if volumes {
		return e.removeAnonymousVolumes(c)
	}
	return nil
}

// stillRunning is rm's refusal of a running container, without -f.
func stillRunning(c *Container) error {
	return &ConflictError{Msg: fmt.Sprintf("cannot remove container \"/%s\": container is running: stop the container before removing or force remove", c.Name)}
}

// Prune removes every container that is not running (created, exited,
// dead) and that match lets go (nil: all), as docker container prune: those
// removed, and the bytes their writable layers held. One started or
// removed meanwhile is left alone.
func (e *Engine) Prune(match PruneMatch) (removed []*Container, reclaimed uint64, err error) {
	list, err := e.List()
	if err != nil {
		return nil, 0, err
	}
	for _, c := range list {
		if c.Running() || match != nil && !match(c.Created, c.Config.Labels) {
			continue
		}
		size := treeSize(filepath.Join(e.Dir(c.ID), "upper"))
		err := e.Remove(c.ID, false, false)
		var conflict *ConflictError
		if errors.Is(err, ErrNotFound) || errors.As(err, &conflict) {
			continue
		}
		if err != nil {
			return removed, reclaimed, err
		}
		removed, reclaimed = append(removed, c), reclaimed+size
	}
	return removed, reclaimed, nil
}

// PruneFilterKeys are the keys of a prune's --filter cfs has.
var PruneFilterKeys = []string{"until", "label", "label!"}

// PruneMatch is what a prune's --filter lets go, by when it was made and
// its labels.
type PruneMatch func(created time.Time, labels map[string]string) bool

// Image applies m to an image; a nil m lets every one go.
func (m PruneMatch) Image(img *image.Image) bool {
	return m == nil || m(img.Created(), img.Config.Config.Labels)
}

// PruneMatcher is docker's prune filter: until a time (only what was made
// before it; a duration is back from now), label KEY or KEY=VALUE (only
// what has each), label! (only what has none of them).
func PruneMatcher(f Filter) (PruneMatch, error) {
	var until []time.Time
	for key, values := range f {
		if !slices.Contains(PruneFilterKeys, key) {
			return nil, fmt.Errorf("invalid filter '%s' (cfs knows %s)", key, strings.Join(PruneFilterKeys, ", "))
		}
		for _, v := range values {
			if key == "until" {
				t, err := ParseTime(v, time.Now())
				if err != nil {
					return nil, fmt.Errorf("invalid filter 'until=%s': %v", v, err)
				}
				until = append(until, t)
			}
		}
	}
	return func(created time.Time, labels map[string]string) bool {
		for _, t := range until {
			if !created.Before(t) {
				return false
			}
		}
		for _, kv := range f["label"] {
			if !HasLabel(labels, kv) {
				return false
			}
		}
		for _, kv := range f["label!"] {
			if HasLabel(labels, kv) {
				return false
			}
		}
		return true
	}, nil
}

// treeSize is what the files under dir hold, each hard link once (du's
// apparent size; docker's SizeRw).
func treeSize(dir string) uint64 {
	var size uint64
	seen := map[[2]uint64]bool{}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		var st unix.Stat_t
		if err != nil || d.IsDir() || unix.Lstat(path, &st) != nil {
			return nil
		}
		if key := [2]uint64{st.Dev, st.Ino}; !seen[key] {
			seen[key] = true
			size += uint64(st.Size)
		}
		return nil
	})
	return size
}

// removeFiles removes a stopped container's name, image hold and
// directory. It is idempotent.
func (e *Engine) removeFiles(id string) error {
	c, err := e.load(id)
	if err == nil {
		link := e.path("names", c.Name)
		if target, err := os.Readlink(link); err == nil && target == id {
			_ = os.Remove(link)
		}
	}
	var errs []error
	if e.Images != nil {
		errs = append(errs, e.Images.Release(id))
	}
	dir := e.Dir(id)
	// Never through a mount: were the overlay mounted here, RemoveAll
	// would delete the image's files.
	if ms, err := mountinfo.Read("/proc/self/mountinfo"); err == nil {
		for _, m := range ms {
			if m.Point == dir || strings.HasPrefix(m.Point, dir+"/") {
				_ = unix.Unmount(m.Point, unix.MNT_DETACH)
			}
		}
	}
	errs = append(errs, os.RemoveAll(dir))
	return errors.Join(errs...)
}

// reconcile repairs container id, whose record says it runs but whose
// monitor is gone (killed, or the machine rebooted): what is left of it
// (its processes, cgroup, runtime state, network) goes, and the record
// says it exited, killed; with --rm it is removed.
func (e *Engine) reconcile(id string) error {
	c, unlock, err := e.lockRecord(id)
	if err != nil {
		return err
	}
	defer unlock()
	if c.State.Monitor.Alive() {
		return nil
	}
	monitor := c.State.Monitor.PID
	if c.State.Status == Restarting {
		// Down already; only its restart is lost.
		c.State.Status, c.State.Monitor = Exited, layout.Owner{}
		c.State.Error = fmt.Sprintf("its monitor (PID %d) was killed while it waited to restart it", monitor)
		return e.save(c)
	}
	if !c.Running() {
		return nil
	}
	if rc, err := e.runtime().Get(id); err == nil {
		_ = rc.Delete(true)
	} else {
		_ = e.runtime().RemoveAborted(id)
	}
	if c.HostConfig.NetworkMode == network.Bridge {
		_ = network.Leave(nil, id)
	}
	_ = os.RemoveAll(e.runDir(id))
	c.State = State{Status: Exited, ExitCode: 137, StartedAt: c.State.StartedAt, FinishedAt: time.Now().UTC(),
		Error: fmt.Sprintf("its monitor (PID %d) was killed; the container was killed with it", monitor)}
	if c.HostConfig.AutoRemove {
		return errors.Join(e.removeFiles(id), e.removeAnonymousVolumes(c))
	}
	return e.save(c)
}

// Pids lists the host PIDs of the container's processes.
func (e *Engine) Pids(arg string) (*Container, []int, error) {
	c, err := e.Get(arg)
	if err != nil {
		return nil, nil, err
	}
	if !c.Running() {
		return c, nil, &ConflictError{Msg: fmt.Sprintf("container %s is not running", c.ID)}
	}
	rc, err := e.runtime().Get(c.ID)
	if err != nil {
		return c, nil, err
	}
	pids, err := rc.Pids()
	return c, pids, err
}

// LogPath is where container id's log is.
func (e *Engine) LogPath(id string) string { return filepath.Join(e.Dir(id), id+"-json.log") }

// monitorLock is where a running container's monitor holds its lock.
func (e *Engine) monitorLock(id string) string { return filepath.Join(e.runDir(id), "monitor.lock") }

// MonitorOf returns the monitor of a running container.
func (c *Container) MonitorOf() layout.Owner { return c.State.Monitor }
