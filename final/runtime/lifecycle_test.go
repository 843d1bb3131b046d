package runtime_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"cfs/final/cgroups"
	"cfs/final/runtime"
	"cfs/internal/stagetest"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// waitLoop is a shell that prints "started", then waits with a trap on
// TERM that exits 7: `sleep & wait` lets the trap run at once.
var waitLoop = []string{"sh", "-c", `trap "echo got TERM; exit 7" TERM; echo started; while :; do sleep 1 & wait $!; done`}

// Every verb and transition: create → created (the init waits, as
// cfs-init, and has not run the program) → start → running → pause →
// paused → resume → running → kill → stopped → delete → gone.
func TestLifecycle(t *testing.T) {
	r := newRT(t)
	b := bundle(t, waitLoop, nil)
	id := r.id()
	pidFile := filepath.Join(t.TempDir(), "init.pid")
	out := r.createWithPipe(b, id, "--pid-file", pidFile)

	// The pid file holds digits only (go-runc reads it with Atoi).
	data, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(string(data))
	require.NoError(t, err, "pid file %q", data)
	st := r.state(id)
	require.Equal(t, runtime.Created, st.Status)
	require.Equal(t, pid, st.Pid)
	require.Equal(t, b, st.Bundle)
	require.Equal(t, specs.Version, st.Version)
	require.NotZero(t, st.Created)

	// From outside: the init is our binary, waiting, in new namespaces,
	// and a child of this test (a subreaper, as containerd's shim is).
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	require.Equal(t, "cfs-init\x00", string(cmdline))
	ppid := statusField(t, pid, "PPid")
	require.Equal(t, strconv.Itoa(os.Getpid()), ppid, "the init must be a descendant of the caller")
	for _, ns := range []string{"pid", "mnt", "uts", "ipc", "net", "cgroup"} {
		require.NotEqual(t, stagetest.NS(t, "self", ns), stagetest.NS(t, pid, ns), "%s namespace", ns)
	}
	list := r.ok("list")
	require.Regexp(t, `(?m)^ID +PID +STATUS +BUNDLE +CREATED +OWNER$`, list)
	require.Regexp(t, fmt.Sprintf(`(?m)^%s +%d +created +%s `, id, pid, b), list)
	require.Equal(t, id+"\n", r.ok("list", "-q"))
	var states []runtime.State
	require.NoError(t, json.Unmarshal([]byte(r.ok("list", "--format", "json")), &states))
	require.Len(t, states, 1)

	// Start releases it: the program runs, start returns at once.
	r.ok("start", id)
	require.Equal(t, "started", readLine(t, out))
	require.Equal(t, runtime.Running, r.state(id).Status)
	res := r.run("start", id)
	require.Equal(t, 1, res.code, "a second start must fail")
	require.Contains(t, res.stderr, "not created")

	// ps lists host PIDs: the init (and its sleep, once forked).
	var pids []int
	require.NoError(t, json.Unmarshal([]byte(r.ok("ps", "--format", "json", id)), &pids))
	require.Contains(t, pids, pid)

	r.ok("pause", id)
	require.Equal(t, runtime.Paused, r.state(id).Status)
	require.Contains(t, r.run("start", id).stderr, "paused")
	r.ok("resume", id)
	require.Equal(t, runtime.Running, r.state(id).Status)

	// kill TERM: the trap runs; the init exits 7, the state is stopped.
	r.ok("kill", id, "TERM")
	require.Equal(t, "got TERM", readLine(t, out))
	waitExit(t, pid)
	st = r.state(id)
	require.Equal(t, runtime.Stopped, st.Status, "an exited init nobody reaped yet is stopped")
	require.Zero(t, st.Pid)
	before := r.ok("state", id)
	res = r.run("kill", id, "KILL")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "container not running")
	require.Equal(t, before, r.ok("state", id), "a failed kill changes nothing")
	ws, ok := reap(pid)
	require.True(t, ok)
	require.Equal(t, 7, ws.ExitStatus())

	cg := cgroupDirs(t, id)
	r.ok("delete", id)
	for _, d := range cg {
		require.NoDirExists(t, d)
	}
	res = r.run("state", id)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "does not exist")
	require.Equal(t, 0, r.run("delete", "--force", id).code, "delete --force of nothing succeeds, as runc's")
}

// cgroupDirs are the directories of a container's default cgroup.
func cgroupDirs(t *testing.T, id string) []string {
	t.Helper()
	p, err := cgroups.Path("", id, false)
	require.NoError(t, err)
	m, err := cgroups.New(p)
	require.NoError(t, err)
	var out []string
	for _, d := range m.State().Dirs {
		out = append(out, d)
	}
	return out
}

// kill -9 of the init from outside: state says stopped while the init is
// a zombie nobody has reaped (runc's hasInit reads /proc/PID/stat).
func TestStateAfterKill9(t *testing.T) {
	r := newRT(t)
	id := r.id()
	pid, _ := r.waitLoop(id)
	require.NoError(t, unix.Kill(pid, unix.SIGKILL))
	waitExit(t, pid)
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.Contains(t, string(stat), ") Z ", "the init is a zombie, not yet reaped")
	require.Equal(t, runtime.Stopped, r.state(id).Status)
	r.ok("delete", id)
	ws, ok := reap(pid)
	require.True(t, ok)
	require.Equal(t, unix.SIGKILL, ws.Signal())
}

// delete refuses a running container, and --force kills and deletes it.
func TestDeleteForce(t *testing.T) {
	r := newRT(t)
	id := r.id()
	pid, _ := r.waitLoop(id)
	res := r.run("delete", id)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "not stopped: it is running")
	require.Equal(t, runtime.Running, r.state(id).Status, "a refused delete leaves the container")
	dirs := cgroupDirs(t, id)
	r.ok("delete", "--force", id)
	ws, ok := reap(pid)
	require.True(t, ok)
	require.Equal(t, unix.SIGKILL, ws.Signal(), "delete --force kills the init")
	for _, d := range dirs {
		require.NoDirExists(t, d)
	}
	require.NoDirExists(t, filepath.Join(r.root, id))
}

// kill takes signals as numbers and as names with or without SIG, and
// --all reaches every process; kill works on a created container too.
func TestKillSignals(t *testing.T) {
	r := newRT(t)
	for _, sig := range []string{"15", "TERM", "SIGTERM", "sigterm"} {
		id := r.id()
		pid, out := r.waitLoop(id)
		r.ok("kill", id, sig)
		require.Equal(t, "got TERM", readLine(t, out), "signal %s", sig)
		waitExit(t, pid)
		reap(pid)
	}
	require.Equal(t, 2, r.run("kill", "x", "NOPE").code)

	id := r.id()
	r.createWithPipe(bundle(t, waitLoop, nil), id)
	pid := r.state(id).Pid
	r.ok("kill", "--all", id, "9")
	waitExit(t, pid)
	require.Equal(t, runtime.Stopped, r.state(id).Status, "a created container killed is stopped")
	reap(pid)
}

// run: create, start, wait, delete, and its exit status is the
// program's; the program's output comes through.
func TestRunForeground(t *testing.T) {
	r := newRT(t)
	id := r.id()
	res := r.run("run", "--bundle", bundle(t, []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, nil), id)
	require.Equal(t, 3, res.code, res.stderr)
	require.Equal(t, "out\n", res.stdout)
	require.Equal(t, "err\n", res.stderr)
	require.NoDirExists(t, filepath.Join(r.root, id), "run deletes the container")

	res = r.run("run", "--bundle", bundle(t, []string{"no-such-program"}, nil), r.id())
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, `exec "no-such-program": executable file not found in $PATH`)
}

// 20 containers created and started at once, each with its own state,
// cgroup and namespaces.
func TestParallel(t *testing.T) {
	r := newRT(t)
	b := bundle(t, []string{"sh", "-c", "echo $$ $(hostname)"}, nil)
	const n = 20
	ids := make([]string, n)
	for i := range ids {
		ids[i] = r.id()
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	outs := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd := r.cmd("run", "--bundle", b, ids[i])
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			errs[i] = cmd.Run()
			outs[i] = out.String()
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		require.NoError(t, errs[i], outs[i])
		require.Equal(t, "1 cfs\n", outs[i], "each is PID 1 of its own PID namespace")
	}
	require.Empty(t, r.ok("list", "-q"))
}

// exec: a process in the running container's namespaces and cgroup, with
// the flags' user, cwd and environment; its exit status comes back.
func TestExec(t *testing.T) {
	r := newRT(t)
	id := r.id()
	out := r.createWithPipe(bundle(t, waitLoop, func(s *specs.Spec) { s.Hostname = "box" }), id)
	res := r.run("exec", id, "true")
	require.Equal(t, 0, res.code, "exec in a created container works, as runc's: %s", res.stderr)
	r.ok("start", id)
	require.Equal(t, "started", readLine(t, out))
	pid := r.state(id).Pid

	res = r.run("exec", "--cwd", "/tmp", "--env", "X=1", "--user", "65534:65534", id, "sh", "-c",
		`echo "$(hostname) $(pwd) $X $(id -u):$(id -g)"; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; exit 5`)
	require.Equal(t, 5, res.code, res.stderr)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	require.Len(t, lines, 3, res.stdout+res.stderr)
	require.Equal(t, "box /tmp 1 65534:65534", lines[0])
	require.Equal(t, stagetest.NS(t, pid, "pid"), lines[1])
	require.Equal(t, stagetest.NS(t, pid, "mnt"), lines[2])

	// --process: the process as JSON, as containerd's shim passes it,
	// detached, with a pid file.
	pf := filepath.Join(t.TempDir(), "p.json")
	p := specs.Process{Args: []string{"sleep", "60"}, Cwd: "/", Env: []string{"PATH=/bin:/usr/bin"}}
	data, _ := json.Marshal(p)
	require.NoError(t, os.WriteFile(pf, data, 0o644))
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	// Detached, it keeps the stdio it was given: files, not pipes that
	// os/exec would wait on.
	cmd := r.cmd("exec", "--process", pf, "--detach", "--pid-file", pidFile, id)
	require.NoError(t, cmd.Run())
	data, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	execPid, err := strconv.Atoi(string(data))
	require.NoError(t, err)
	adopt(execPid)
	var pids []int
	require.NoError(t, json.Unmarshal([]byte(r.ok("ps", "--format", "json", id)), &pids))
	require.Contains(t, pids, execPid, "the exec'd process is in the container's cgroup")
	require.Equal(t, stagetest.NS(t, pid, "net"), stagetest.NS(t, execPid, "net"))
	r.ok("delete", "--force", id)
	reap(execPid)
	reap(pid)
}
