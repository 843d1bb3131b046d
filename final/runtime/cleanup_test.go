package runtime_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"cfs/final/runtime"
	"cfs/internal/cleanup"
	"cfs/internal/doctor"

	"github.com/stretchr/testify/require"
)

// Containers of the runtime under the default root show up in `final
// doctor`, and `final cleanup` removes the stopped ones (the running ones
// too with --all): their processes, cgroups and state.
func TestCleanupAndDoctor(t *testing.T) {
	r := newRT(t)
	r.root = runtime.DefaultRoot
	running, stale := r.id(), r.id()
	runPid, _ := r.waitLoop(running)
	r.createWithPipe(bundle(t, []string{"true"}, nil), stale)
	r.ok("start", stale)
	stalePid := r.state(stale).Pid
	waitExit(t, stalePid)
	reap(stalePid)
	staleCgroups := cgroupDirs(t, stale)

	var check doctor.Result
	for _, c := range doctor.System().Checks() {
		if c.Name == "runtime" {
			check = c
		}
	}
	require.Contains(t, check.Detail, running)
	require.Contains(t, check.Detail, "stopped but not deleted: "+stale)
	require.Equal(t, doctor.Warn, check.Status)

	only := func(res cleanup.Resource) bool {
		return res.Container == running || res.Container == stale || res.Why == "empty"
	}
	var log bytes.Buffer
	rep, err := cleanup.Run(cleanup.Options{DryRun: true, Only: only, Out: &log})
	require.NoError(t, err)
	require.Contains(t, log.String(), "would remove state "+filepath.Join(runtime.DefaultRoot, stale))
	require.DirExists(t, filepath.Join(runtime.DefaultRoot, stale), "a dry run removes nothing")

	log.Reset()
	rep, err = cleanup.Run(cleanup.Options{Only: only, Out: &log})
	require.NoError(t, err)
	require.Empty(t, rep.Failed, log.String())
	require.NoDirExists(t, filepath.Join(runtime.DefaultRoot, stale), log.String())
	for _, d := range staleCgroups {
		require.NoDirExists(t, d)
	}
	require.Contains(t, log.String(), "kept container runtime "+running)
	require.Equal(t, runtime.Running, r.state(running).Status, "a running container stays")

	log.Reset()
	rep, err = cleanup.Run(cleanup.Options{All: true, Only: only, Out: &log})
	require.NoError(t, err)
	require.Empty(t, rep.Failed, log.String())
	ws, ok := reap(runPid)
	require.True(t, ok)
	require.True(t, ws.Signaled(), "--all kills it")
	require.NoDirExists(t, filepath.Join(runtime.DefaultRoot, running))
	for _, d := range cgroupDirs(t, running) {
		require.NoDirExists(t, d)
	}
	_, err = os.Stat(filepath.Join(runtime.DefaultRoot, running))
	require.True(t, os.IsNotExist(err))
}
