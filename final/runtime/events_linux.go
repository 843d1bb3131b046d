package runtime

// Events: what `runc events` prints while a container runs: its usage
// every interval, and an "oom" event as soon as the kernel's OOM killer
// strikes in its cgroup, until the container stops.

import (
	"errors"
	"fmt"
	"os"
	"time"

	"cfs/final/cgroups"

	"golang.org/x/sys/unix"
)

// Event is one line of `events`, in runc's shape (its types.Event):
// {"type":"stats","id":ID,"data":{...}} or {"type":"oom","id":ID}.
type Event struct {
	Type string         `json:"type"`
	ID   string         `json:"id"`
	Data *cgroups.Stats `json:"data,omitempty"`
}

// Events calls emit with the container's events until its init exits:
// a "stats" event every interval, the first one interval from now (as
// runc's ticker), and an "oom" event for each OOM the cgroup reports
// (cgroups.OOMWatch: one per kill on v2, one each time the cgroup runs
// out of memory on v1). It returns emit's first error.
//
// One thread waits for both with poll(2), on two descriptors: the
// cgroup's OOM watch, and a pidfd of the init, which becomes readable
// once the init has exited (man 2 pidfd_open); poll's timeout is the
// next tick.
func (c *Container) Events(interval time.Duration, emit func(Event) error) error {
	if interval <= 0 {
		return fmt.Errorf("--interval %s: must be more than 0 (e.g. --interval 1s)", interval)
	}
	notRunning := fmt.Errorf("container %s is not running: it has stopped (events are for a container that runs)", c.rec.ID)
	if c.rec.Init.PID == 0 {
		return notRunning
	}
	pidfd, err := unix.PidfdOpen(c.rec.Init.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return notRunning
	}
	if err != nil {
		return fmt.Errorf("events of container %s: %w", c.rec.ID, os.NewSyscallError("pidfd_open", err))
	}
	defer unix.Close(pidfd)
	// Checked with the pidfd open: the PID is still the init's (its start
	// time matches), so the pidfd is the init's and not a newcomer's.
	if !c.rec.Init.Alive() {
		return notRunning
	}
	oom, err := c.cg.WatchOOM()
	if err != nil {
		return fmt.Errorf("events of container %s: %w", c.rec.ID, err)
	}
	defer oom.Close()

	fds := []unix.PollFd{
		{Fd: int32(oom.Fd()), Events: unix.POLLIN},
		{Fd: int32(pidfd), Events: unix.POLLIN},
	}
	next := time.Now().Add(interval)
	for {
		// poll's timeout is in milliseconds, at most 2^31-1 of them (25
		// days; an hour at a time here): round up, or it would wake just
		// before the tick and spin until it.
		wait := min(max(time.Until(next), 0), time.Hour)
		_, err := unix.Poll(fds, int((wait+time.Millisecond-1)/time.Millisecond))
		if err != nil && !errors.Is(err, unix.EINTR) {
			return os.NewSyscallError("poll", err)
		}
		// The OOMs first: an init the OOM killer killed is gone by the
		// time its pidfd says so, and its kill is news before its end.
		n, err := oom.Read()
		if err != nil {
			return fmt.Errorf("events of container %s: %w", c.rec.ID, err)
		}
		for ; n > 0; n-- {
			if err := emit(Event{Type: "oom", ID: c.rec.ID}); err != nil {
				return err
			}
		}
		if fds[1].Revents != 0 {
			return nil // the init has exited: the container has stopped
		}
		if time.Now().Before(next) {
			continue
		}
		// The next tick, skipping those already past (a slow read of the
		// cgroup, a stopped terminal), as a ticker drops them.
		for !time.Now().Before(next) {
			next = next.Add(interval)
		}
		s, err := c.cg.Stats()
		if err != nil {
			return fmt.Errorf("events of container %s: %w", c.rec.ID, err)
		}
		if err := emit(Event{Type: "stats", ID: c.rec.ID, Data: s}); err != nil {
			return err
		}
	}
}
