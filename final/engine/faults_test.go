package engine_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cfs/internal/cleanup"
	"cfs/internal/layout"
	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

// monitorOf reads a container's monitor from its record.
func monitorOf(t *testing.T, id string) layout.Owner {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(layout.EngineDir, "containers", id, "container.json"))
	require.NoError(t, err)
	var rec struct {
		State struct {
			Monitor layout.Owner `json:"monitor"`
		} `json:"state"`
	}
	require.NoError(t, json.Unmarshal(data, &rec))
	return rec.State.Monitor
}

// kill -9 at random points of `run`, of monitors and of inits, 100 times
// in all: afterwards every container's state is true (ps), each can be
// removed, and cleanup leaves the host as it was before.
func TestKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	setup(t)
	t.Cleanup(func() { // after a failure too: the next tests start with none
		if ids := strings.Fields(cfs(t, "ps", "-aq").Stdout); len(ids) > 0 {
			cfs(t, append([]string{"rm", "-f"}, ids...)...)
		}
	})
	before := stagetest.Snapshot()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	t.Logf("seed: see the sequence of delays below")

	// 40 runs killed somewhere in their set-up or soon after.
	for i := 0; i < 40; i++ {
		name := fmt.Sprintf("killrun%02d", i)
		args := []string{"run", "-d", "--name", name, "cfs/base", "sleep", "1000"}
		if i%2 == 1 {
			args = []string{"run", "--rm", "--name", name, "--network", "none", "cfs/base", "sleep", "1000"}
		}
		p := stagetest.Start(t, args...)
		delay := time.Duration(rng.Intn(120)) * time.Millisecond
		time.Sleep(delay) // a random point of the run: the fault is the test
		_ = p.Cmd.Process.Signal(syscall.SIGKILL)
		p.Wait(t)
	}
	// 30 monitors and 30 inits killed while their containers run.
	for i := 0; i < 60; i++ {
		name := fmt.Sprintf("killmon%02d", i)
		args := []string{"run", "-d", "--name", name, "cfs/base", "sleep", "1000"}
		if i%3 == 0 {
			args = []string{"run", "-d", "--rm", "--name", name, "-p", fmt.Sprintf("%d:80", 20000+i), "cfs/base", "sleep", "1000"}
		}
		id := strings.TrimSpace(ok(t, args...))
		if i%2 == 0 {
			m := monitorOf(t, id)
			require.NoError(t, syscall.Kill(m.PID, syscall.SIGKILL))
			stagetest.WaitGone(m.PID)
		} else {
			pid := inspect(t, id).State.Pid
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
			r := cfs(t, "wait", id)
			if i%3 == 0 && r.Code != 0 {
				require.Contains(t, r.Stderr, "No such container", "--rm removed it before wait asked")
			} else {
				require.Equal(t, "137\n", r.Stdout, r.Stderr)
			}
		}
	}

	// The state is true: a container that runs (a run killed after the
	// start leaves it running, as docker's does) has its monitor and its
	// init; any other is created or exited, with neither. Each can be
	// removed.
	all := strings.Fields(ok(t, "ps", "-aq", "--no-trunc"))
	for _, id := range all {
		st := inspect(t, id).State
		switch st.Status {
		case "running":
			require.True(t, monitorOf(t, id).Alive(), "%s runs: its monitor must", id)
			require.True(t, stagetest.NS(t, st.Pid, "pid") != "", id)
		case "created", "exited":
			require.Zero(t, st.Pid, id)
		default:
			t.Fatalf("%s is %s", id, st.Status)
		}
	}
	if len(all) > 0 {
		ok(t, append([]string{"rm", "-f"}, all...)...)
	}
	require.Equal(t, "", ok(t, "ps", "-aq"))

	// cleanup (as `cfs cleanup` does, in the package's network namespace)
	// finds what is left, if anything, and then the host is as before.
	require.NoError(t, stagetest.PackageNetNS().Do(func() error {
		_, err := cleanup.Run(cleanup.Options{Only: func(r cleanup.Resource) bool {
			return layout.IsEngineID(r.Container) || strings.Contains(r.Name, "/engine/")
		}})
		return err
	}))
	require.Empty(t, stagetest.Snapshot().NewSince(before))
}
