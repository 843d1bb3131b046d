package engine_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cfs/internal/layout"
	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Restart policies: the container's monitor, at its end, starts it again
// as docker's daemon would (die, then start), waiting longer each time;
// stop and kill end it for good. Each wait is the events journal's: a
// die is written after the record says what comes next.
func TestRestartPolicy(t *testing.T) {
	setup(t)
	rmAll(t, "rp-fail", "rp-ok", "rp-always", "rp-up")
	start := time.Now()
	since := fmt.Sprintf("%d.%09d", start.Unix(), start.Nanosecond())
	follow := func(name string) *stagetest.Proc {
		return stagetest.Start(t, "events", "--since", since, "--filter", "container="+name, "--format", "{{.Action}}")
	}
	next := func(p *stagetest.Proc, want ...string) {
		t.Helper()
		for _, w := range want {
			require.Equal(t, w, p.NextLine(t))
		}
	}

	// on-failure:2 restarts a failing container twice, then lets it be.
	ev := follow("rp-fail")
	ok(t, "run", "-d", "--name", "rp-fail", "--restart", "on-failure:2", "--network", "none", "cfs/base", "sh", "-c", "echo ran; exit 3")
	next(ev, "create", "start", "die", "start", "die", "start", "die")
	c := inspect(t, "rp-fail")
	require.Equal(t, "exited", string(c.State.Status), "the third end is the last")
	require.Equal(t, 3, c.State.ExitCode)
	require.Equal(t, 2, c.RestartCount)
	require.Equal(t, "ran\nran\nran\n", ok(t, "logs", "rp-fail"), "one log for all its runs")

	// on-failure does not restart a success.
	ev = follow("rp-ok")
	ok(t, "run", "-d", "--name", "rp-ok", "--restart", "on-failure", "--network", "none", "cfs/base", "true")
	next(ev, "create", "start", "die")
	require.Equal(t, "exited", string(inspect(t, "rp-ok").State.Status))

	// always: 100 ms, 200, 400… between the runs, 12.8 s after the
	// eighth (time for the checks, even on a slow machine), in which it
	// is restarting, which docker counts as running.
	ev = follow("rp-always")
	ok(t, "run", "-d", "--name", "rp-always", "--restart", "always", "--network", "none", "cfs/base", "sh", "-c", "exit 1")
	next(ev, "create")
	for range 8 {
		next(ev, "start", "die")
	}
	c = inspect(t, "rp-always")
	require.Equal(t, "restarting", string(c.State.Status))
	require.True(t, c.State.Restarting)
	require.True(t, c.State.Running, "docker's running, for a restarting container")
	require.Equal(t, 8, c.RestartCount)
	require.Regexp(t, `^Restarting \(1\) .* ago\n$`, ok(t, "ps", "-f", "name=rp-always", "--format", "{{.Status}}"), "ps lists it without -a")
	r := cfs(t, "kill", "rp-always")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "is restarting, wait until the container is running")
	r = cfs(t, "rm", "rp-always")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, `cannot remove container "/rp-always": container is restarting`)
	// From outside: the record names the monitor that waits; stop kills
	// it, and nothing starts the container again.
	waiting := record(t, c.ID).State.Monitor
	require.True(t, waiting.Alive(), "the monitor that waits to restart it")
	ok(t, "stop", "rp-always")
	next(ev, "stop")
	require.Equal(t, "exited", string(inspect(t, "rp-always").State.Status))
	stagetest.WaitGone(waiting.PID)
	require.False(t, waiting.Alive(), "stop ends the monitor that waits")

	// unless-stopped: a container killed from outside (an OOM kill, a
	// crash) comes back; a signal that does not end it changes nothing;
	// cfs kill ends it for good.
	ev = follow("rp-up")
	ok(t, "run", "-d", "--name", "rp-up", "--restart", "unless-stopped", "--network", "none", "cfs/base", "sleep", "1000")
	next(ev, "create", "start")
	pid := inspect(t, "rp-up").State.Pid
	require.NoError(t, unix.Kill(pid, unix.SIGKILL))
	next(ev, "die", "start")
	c = inspect(t, "rp-up")
	require.Equal(t, "running", string(c.State.Status))
	require.NotEqual(t, pid, c.State.Pid, "a new init")
	require.Equal(t, 1, c.RestartCount)
	ok(t, "kill", "-s", "HUP", "rp-up") // sleep as PID 1 ignores it
	next(ev, "kill")
	ok(t, "kill", "rp-up")
	next(ev, "kill", "die")
	require.Equal(t, "exited", string(inspect(t, "rp-up").State.Status), "cfs kill is the user's stop")

	// update changes the policy, for the next end.
	ok(t, "update", "--restart", "on-failure:5", "rp-up")
	next(ev, "update")
	p := inspect(t, "rp-up").HostConfig.RestartPolicy
	require.Equal(t, "on-failure", string(p.Name))
	require.Equal(t, 5, p.MaximumRetryCount)
}

// record reads a container's record from outside, as the engine keeps it.
func record(t *testing.T, id string) struct {
	State struct{ Monitor layout.Owner }
} {
	t.Helper()
	var rec struct {
		State struct{ Monitor layout.Owner }
	}
	data, err := os.ReadFile(filepath.Join(layout.EngineDir, "containers", id, "container.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &rec))
	return rec
}
