package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cfs/final/engine"
	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

// docker run, attached, with its exit statuses: the command's own, 125
// when cfs refuses, 126 and 127 when the command cannot run, 137 when it
// is killed; with --rm the status survives the removal, and a failed
// start removes the container too.
func TestRunExitCodes(t *testing.T) {
	setup(t)
	s := serve(t)
	r := s.docker(t, "", "run", "--rm", "--network", "none", "cfs/base", "echo", "hi")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "hi\n", r.Stdout)

	n := names(t, s, "exit3", "missing", "dir", "killed", "badnet")
	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{n[0], []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, 3, "err\n"},
		{n[1], []string{"no-such-command"}, 127, "executable file not found"},
		{n[2], []string{"/etc"}, 126, ""},
	} {
		r := s.docker(t, "", append([]string{"run", "--rm", "--name", c.name, "--network", "none", "cfs/base"}, c.args...)...)
		require.Equal(t, c.code, r.Code, "%v: %s%s", c.args, r.Stdout, r.Stderr)
		require.Contains(t, r.Stderr, c.stderr)
		// --rm: gone, whether it ran or failed to start.
		_, err := record(t, c.name)
		require.ErrorIs(t, err, engine.ErrNotFound, "%s left behind", c.name)
	}
	// Killed: 128+9. (A shell that is PID 1 cannot kill itself: the
	// kernel keeps signals from init unless it handles them.)
	killed := make(chan stagetest.Result, 1)
	go func() {
		killed <- s.docker(t, "", "run", "--rm", "--name", n[3], "--network", "none", "cfs/base", "sh", "-c", "echo up; exec sleep 300")
	}()
	require.Eventually(t, func() bool { return s.docker(t, "", "logs", n[3]).Stdout == "up\n" }, 20*time.Second, 50*time.Millisecond)
	s.ok(t, "kill", n[3])
	r = <-killed
	require.Equal(t, 137, r.Code, r.Stderr)
	require.Equal(t, "up\n", r.Stdout)

	r = s.docker(t, "", "run", "--rm", "--name", n[4], "--network", "nosuchnet", "cfs/base", "true")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, "network nosuchnet not found")

	// Without --rm the status is kept in the record: docker wait and
	// inspect read it back.
	name := names(t, s, "kept")[0]
	r = s.docker(t, "", "run", "--name", name, "--network", "none", "cfs/base", "sh", "-c", "exit 5")
	require.Equal(t, 5, r.Code)
	require.Equal(t, "5\n", s.ok(t, "wait", name))
	require.Equal(t, "exited 5\n", s.ok(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name))
}

// A missing image is a 404 on create: the CLI pulls it (here from a
// registry that is not there, on loopback) and fails as docker does.
func TestRunMissingImage(t *testing.T) {
	setup(t)
	s := serve(t)
	r := s.docker(t, "", "run", "--rm", "localhost:1/cfs-no-such:v1", "true")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, "Unable to find image 'localhost:1/cfs-no-such:v1' locally")
}

// Input and terminals: -i feeds stdin and ends it; -t gives a terminal,
// whose output comes raw (\r\n).
func TestRunStdinAndTty(t *testing.T) {
	setup(t)
	s := serve(t)
	r := s.docker(t, "hello\nworld\n", "run", "--rm", "-i", "--network", "none", "cfs/base", "sh", "-c", "cat; echo done")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "hello\nworld\ndone\n", r.Stdout)

	r = s.docker(t, "", "run", "--rm", "-t", "--network", "none", "cfs/base", "sh", "-c", "tty; echo x")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Regexp(t, `^/dev/pts/\d+\r\nx\r\n$`, r.Stdout)
}

// A detached container, through its whole life: ps, exec, logs,
// inspect, top, stats, pause, stop, rm; checked from outside through the
// engine's record and /proc.
func TestDetachedLifecycle(t *testing.T) {
	setup(t)
	s := serve(t)
	name := names(t, s, "web")[0]
	id := strings.TrimSpace(s.ok(t, "run", "-d", "--name", name, "-e", "GREETING=hi", "cfs/base",
		"sh", "-c", "echo out; echo err >&2; exec sleep 300"))
	require.Len(t, id, 64)

	// From outside: the engine's record says it runs, and its init is in
	// namespaces of its own.
	c, err := record(t, name)
	require.NoError(t, err)
	require.Equal(t, id, c.ID)
	require.True(t, c.Running())
	require.NotEqual(t, stagetest.NS(t, os.Getpid(), "pid"), stagetest.NS(t, c.State.Pid, "pid"))
	require.NotEqual(t, stagetest.NS(t, os.Getpid(), "uts"), stagetest.NS(t, c.State.Pid, "uts"))

	ps := s.ok(t, "ps")
	require.Contains(t, ps, id[:12])
	require.Contains(t, ps, name)
	require.Equal(t, id[:12]+"\n", s.ok(t, "ps", "-q", "--filter", "name="+name))
	require.Equal(t, id[:12]+"\n", s.ok(t, "ps", "-q", "--filter", "ancestor=cfs/base", "--filter", "name="+name))
	require.Regexp(t, `^\S+ \(virtual \S+\)\n$`, s.ok(t, "ps", "-s", "--filter", "name="+name, "--format", "{{.Size}}"), "GET /containers/json?size=1")
	require.Equal(t, fmt.Sprint(c.State.Pid)+"\n", s.ok(t, "inspect", "-f", "{{.State.Pid}}", name))

	// docker network ls and inspect: the bridge, with the container on it.
	require.Regexp(t, `(?m)^[0-9a-f]{12}\s+bridge\s+bridge\s+local$`, s.ok(t, "network", "ls"))
	require.Regexp(t, `^[0-9a-f]{12}\n$`, s.ok(t, "network", "ls", "-q", "--filter", "driver=null"), "GET /networks?filters=")
	require.Equal(t, fmt.Sprintf("%s %s/%d\n", name, c.Network.IP, c.Network.PrefixLen), s.ok(t, "network", "inspect", "-f", `{{with index .Containers "`+id+`"}}{{.Name}} {{.IPv4Address}}{{end}}`, "bridge"))
	r := s.docker(t, "", "network", "inspect", "nope")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "Error response from daemon: network nope not found")

	// exec: output, environment, its own status, and what cannot run.
	require.Equal(t, "hi\n", s.ok(t, "exec", name, "sh", "-c", "echo $GREETING"))
	require.Equal(t, id[:12]+"\n", s.ok(t, "exec", name, "hostname"))
	r = s.docker(t, "", "exec", "-e", "X=7", "-w", "/tmp", name, "sh", "-c", "echo $X $(pwd); exit 4")
	require.Equal(t, 4, r.Code)
	require.Equal(t, "7 /tmp\n", r.Stdout)
	r = s.docker(t, "", "exec", name, "no-such-command")
	require.Equal(t, 127, r.Code, r.Stdout+r.Stderr)
	r = s.docker(t, "piped\n", "exec", "-i", name, "cat")
	require.Equal(t, "piped\n", r.Stdout)
	s.ok(t, "exec", "-d", name, "sh", "-c", "echo detached > /tmp/d")
	require.Eventually(t, func() bool { return s.docker(t, "", "exec", name, "cat", "/tmp/d").Stdout == "detached\n" },
		10*time.Second, 100*time.Millisecond)

	// logs: stdout and stderr apart, as the frames carry them.
	r = s.docker(t, "", "logs", name)
	require.Equal(t, "out\n", r.Stdout)
	require.Equal(t, "err\n", r.Stderr)
	r = s.docker(t, "", "logs", "--tail", "1", name)
	require.Equal(t, 1, strings.Count(r.Stdout+r.Stderr, "\n"), "one line: %q %q", r.Stdout, r.Stderr)

	top := s.ok(t, "top", name)
	require.Contains(t, top, "sleep 300")
	require.Contains(t, s.ok(t, "stats", "--no-stream", name), name)

	s.ok(t, "pause", name)
	require.Equal(t, "paused\n", s.ok(t, "inspect", "-f", "{{.State.Status}}", name))
	s.ok(t, "unpause", name)

	// update: the record (and the cgroup, which the engine's tests read).
	require.Equal(t, name+"\n", s.ok(t, "update", "-m", "96m", "--pids-limit", "30", name))
	c, err = record(t, name)
	require.NoError(t, err)
	require.Equal(t, int64(96<<20), c.HostConfig.Memory)
	require.Equal(t, int64(30), *c.HostConfig.PidsLimit)
	s.ok(t, "update", "--cpu-shares", "512", "--memory-reservation", "32m", name)
	require.Equal(t, "512 33554432\n", s.ok(t, "inspect", "-f", "{{.HostConfig.CPUShares}} {{.HostConfig.MemoryReservation}}", name))
	s.ok(t, "update", "--cpu-period", "50000", "--cpu-quota", "25000", name)
	require.Equal(t, "50000 25000\n", s.ok(t, "inspect", "-f", "{{.HostConfig.CPUPeriod}} {{.HostConfig.CPUQuota}}", name))
	r = s.docker(t, "", "update", "--blkio-weight", "300", name)
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "not supported by cfs")

	r = s.docker(t, "", "rm", name)
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "container is running")

	// sleep, PID 1, ignores SIGTERM: stop kills it after the timeout.
	require.Equal(t, name+"\n", s.ok(t, "stop", "-t", "1", name))
	require.Equal(t, "exited 137\n", s.ok(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name))
	require.False(t, alive(c.State.Pid))
	s.ok(t, "restart", "-t", "1", name)
	require.Equal(t, "running\n", s.ok(t, "inspect", "-f", "{{.State.Status}}", name))
	s.ok(t, "rm", "-f", name)
	_, err = record(t, name)
	require.ErrorIs(t, err, engine.ErrNotFound)
	r = s.docker(t, "", "rm", name)
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "No such container")
	require.Equal(t, 0, s.docker(t, "", "rm", "-f", name).Code, "rm -f of nothing is no error")
}

func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(data))
	return len(f) > 2 && f[2] != "Z"
}

// The server is a face of the engine: what docker makes, cfs sees, and
// the other way round.
func TestSameEngineBothWays(t *testing.T) {
	setup(t)
	s := serve(t)
	n := names(t, s, "fromdocker", "fromcfs")
	s.ok(t, "run", "-d", "--name", n[0], "--network", "none", "cfs/base", "sleep", "300")
	r := cfs(t, "ps")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, n[0])

	r = cfs(t, "run", "-d", "--name", n[1], "--network", "none", "cfs/base", "sleep", "300")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, s.ok(t, "ps"), n[1])
	require.Equal(t, "ok\n", s.ok(t, "exec", n[1], "echo", "ok"))
	// A container another program started is waited for through its
	// monitor.
	waited := make(chan string, 1)
	go func() { waited <- s.docker(t, "", "wait", n[1]).Stdout }()
	s.ok(t, "kill", n[1])
	require.Equal(t, "137\n", <-waited)
}

// kill -9 of the server: the containers run on (their monitors own
// them), and a server started again on the same socket sees them.
func TestServerKilled(t *testing.T) {
	setup(t)
	s := serve(t)
	name := names(t, s, "survivor")[0]
	s.ok(t, "run", "-d", "--name", name, "--network", "none", "cfs/base", "sleep", "300")
	c, err := record(t, name)
	require.NoError(t, err)

	require.NoError(t, s.proc.Cmd.Process.Signal(syscall.SIGKILL))
	_ = s.proc.Cmd.Wait()
	require.True(t, alive(c.State.Pid), "the container died with the server")
	_, err = os.Stat(s.sock)
	require.NoError(t, err, "the killed server's socket is left, and must not stop the next")

	s.start(t)
	fi, err := os.Stat(s.sock)
	require.NoError(t, err)
	want := os.FileMode(0o600)
	if _, err := user.LookupGroup("docker"); err == nil {
		want = 0o660
	}
	require.Equal(t, want, fi.Mode().Perm(), "the socket is root's (and the docker group's)")
	require.Contains(t, s.ok(t, "ps"), name)
	require.Equal(t, "running\n", s.ok(t, "inspect", "-f", "{{.State.Status}}", name))
	require.Equal(t, "still here\n", s.ok(t, "exec", name, "echo", "still", "here"))
	s.ok(t, "stop", "-t", "1", name)
	require.False(t, alive(c.State.Pid))
}

// A client that goes away mid-attach detaches; the container runs on,
// and its output still goes to the log.
func TestClientDisconnects(t *testing.T) {
	setup(t)
	s := serve(t)
	name := names(t, s, "ticker")[0]
	s.ok(t, "run", "-d", "--name", name, "--network", "none", "cfs/base", "sh", "-c", "while :; do echo tick; sleep 0.1; done")
	c, err := record(t, name)
	require.NoError(t, err)
	before := sockets(t, c.State.Monitor.PID)

	cmd := exec.Command("docker", "attach", "--no-stdin", name)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+s.sock, "DOCKER_CONFIG="+s.dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "tick\n", line)
	require.Greater(t, sockets(t, c.State.Monitor.PID), before, "the server attached to the monitor")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	// The server notices at its next write, and lets go of the monitor.
	require.Eventually(t, func() bool { return sockets(t, c.State.Monitor.PID) == before }, 10*time.Second, 50*time.Millisecond)

	// And an attached `docker run` killed too.
	run := exec.Command("docker", "run", "--name", name+"-run", "--network", "none", "cfs/base", "sh", "-c", "while :; do echo tock; sleep 0.1; done")
	run.Env = cmd.Env
	out, err = run.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, run.Start())
	t.Cleanup(func() { cfs(t, "rm", "-f", name+"-run") })
	line, err = bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "tock\n", line)
	require.NoError(t, run.Process.Kill())
	_ = run.Wait()

	for _, n := range []string{name, name + "-run"} {
		require.Equal(t, "running\n", s.ok(t, "inspect", "-f", "{{.State.Status}}", n))
		before := strings.Count(s.ok(t, "logs", n), "\n")
		require.Eventually(t, func() bool { return strings.Count(s.ok(t, "logs", n), "\n") > before }, 10*time.Second, 100*time.Millisecond)
	}
}

// A hostile client cannot tie the server up: a 1 GiB body is refused
// after the first megabyte, without the server's memory growing; a
// header that never ends is cut off.
func TestHostileClients(t *testing.T) {
	setup(t)
	s := serve(t)
	conn, err := net.Dial("unix", s.sock)
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1.47/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"Image\":\"", 1<<30)
	answered := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(conn).ReadString('\n')
		answered <- line
	}()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = 'a'
	}
	sent := 0
	for sent < 1<<30 {
		if _, err := conn.Write(chunk); err != nil {
			break // the server closed: good
		}
		sent += len(chunk)
		select {
		case <-answered:
			sent = 1 << 30
		default:
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	select {
	case line := <-answered:
		require.Contains(t, line, "413")
	case <-time.After(15 * time.Second):
		t.Fatal("no answer to a 1 GiB body")
	}
	hwm := peakRSS(t, s.proc.Cmd.Process.Pid)
	require.Less(t, hwm, 200<<20, "the server's memory grew to %d bytes", hwm)

	slow, err := net.Dial("unix", s.sock)
	require.NoError(t, err)
	defer slow.Close()
	fmt.Fprintf(slow, "GET /_ping HTTP/1.1\r\nHost: x\r\nX-Never-Ends: ")
	closed := make(chan error, 1)
	go func() { _, err := io.ReadAll(slow); closed <- err }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for done := false; !done; {
		select {
		case <-tick.C:
			_, _ = slow.Write([]byte("a"))
		case <-closed: // EOF, or a reset: the server hung up
			done = true
		case <-deadline:
			t.Fatal("a header that never ends held the connection for 30 s")
		}
	}
	// Meanwhile and after, the server answers.
	require.Contains(t, s.ok(t, "version"), "cfs")
}

// peakRSS is VmHWM of /proc/PID/status, in bytes: the process (the
// server, under nsenter's PID) at its largest.
func peakRSS(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// 20 `docker run --rm` at once, each with its own status.
func TestConcurrentRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	setup(t)
	s := serve(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := s.docker(t, "", "run", "--rm", "--network", "none", "cfs/base", "sh", "-c", fmt.Sprintf("echo %d; exit %d", i, i%4))
			if r.Code != i%4 || r.Stdout != fmt.Sprintf("%d\n", i) {
				errs <- fmt.Errorf("run %d: exit %d, %q %q", i, r.Code, r.Stdout, r.Stderr)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Images: list, tag, inspect, save and load, commit, rmi.
func TestImages(t *testing.T) {
	setup(t)
	s := serve(t)
	require.Contains(t, s.ok(t, "images"), "cfs/base")
	tag := fmt.Sprintf("cfs-api-test/tagged:%d", time.Now().UnixNano()%1e6)
	s.ok(t, "tag", "cfs/base", tag)
	t.Cleanup(func() { cfs(t, "rmi", "-f", tag) })
	require.Contains(t, s.ok(t, "images"), "cfs-api-test/tagged")
	listed := s.ok(t, "images", "--format", "{{.Repository}}:{{.Tag}}", "cfs-api-test/tagged")
	require.Equal(t, tag+"\n", listed, "docker images REPO lists that repository only")
	var insp []struct{ Id string }
	require.NoError(t, json.Unmarshal([]byte(s.ok(t, "image", "inspect", tag)), &insp))
	require.Len(t, insp, 1)

	tar := t.TempDir() + "/img.tar"
	s.ok(t, "save", "-o", tar, tag)
	s.ok(t, "rmi", tag)
	require.Equal(t, 1, s.docker(t, "", "image", "inspect", tag).Code)
	require.Contains(t, s.ok(t, "load", "-i", tar), "Loaded image: "+tag)

	name := names(t, s, "commit")[0]
	s.ok(t, "run", "--name", name, "--network", "none", "cfs/base", "sh", "-c", "echo committed > /marker")
	require.Equal(t, "A /marker\n", s.ok(t, "diff", name), "docker diff: GET /containers/{name}/changes")
	committed := tag + "-c"
	s.ok(t, "commit", name, committed)
	t.Cleanup(func() { cfs(t, "rmi", "-f", committed) })
	require.Equal(t, "committed\n", s.ok(t, "run", "--rm", "--network", "none", committed, "cat", "/marker"))

	// docker cp: HEAD, GET and PUT /containers/{name}/archive.
	dir := t.TempDir()
	s.ok(t, "cp", name+":/marker", dir+"/marker")
	data, err := os.ReadFile(dir + "/marker")
	require.NoError(t, err)
	require.Equal(t, "committed\n", string(data))
	require.NoError(t, os.WriteFile(dir+"/in", []byte("copied in\n"), 0o644))
	s.ok(t, "cp", dir+"/in", name+":/")
	require.Equal(t, "A /in\nA /marker\n", s.ok(t, "diff", name))
	r := s.docker(t, "", "cp", name+":/nope", dir)
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "Could not find the file /nope in container "+name)
}

// What cfs does not have is a clear error, never a hang.
func TestNotSupported(t *testing.T) {
	setup(t)
	s := serve(t)
	for args, want := range map[string]string{"network create cfs-api-x": "not supported by cfs", "swarm init": "not supported by cfs",
		"volume create --driver nfs cfs-api-x": `plugin "nfs" not found (cfs has the local driver only)`} {
		r := s.docker(t, "", strings.Fields(args)...)
		require.NotEqual(t, 0, r.Code, args)
		require.Contains(t, r.Stderr, want, args)
	}
	r := s.docker(t, "", "inspect", "cfs-api-nothing")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "No such object")

	// What is supported of the system: info and version, as the CLI
	// prints them.
	require.Equal(t, "0.17.0-cfs linux inactive\n", s.ok(t, "info", "--format", "{{.ServerVersion}} {{.OSType}} {{.Swarm.LocalNodeState}}"))
	require.Contains(t, s.ok(t, "info"), "Server Version: 0.17.0-cfs")
	require.Equal(t, "1.47\n", s.ok(t, "version", "--format", "{{.Server.APIVersion}}"))
	require.Contains(t, s.ok(t, "network", "ls"), "bridge")
}

// The lifecycle as the event stream tells it: what went through the
// server, and what cfs did by itself (the engine's journal has both).
func TestEvents(t *testing.T) {
	setup(t)
	s := serve(t)
	ns := names(t, s, "events", "events-cfs")
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	s.ok(t, "run", "--rm", "--name", ns[0], "--network", "none", "cfs/base", "true")
	r := cfs(t, "run", "--rm", "--name", ns[1], "--network", "none", "cfs/base", "sh", "-c", "exit 2")
	require.Equal(t, 2, r.Code, r.Stderr)
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	out := s.ok(t, "events", "--since", since, "--until", until, "--filter", "container="+ns[0], "--format", "{{.Action}}")
	require.Equal(t, "create\nattach\nstart\ndie\ndestroy\n", out)
	out = s.ok(t, "events", "--since", since, "--until", until, "--filter", "container="+ns[1], "--filter", "event=die", "--format", `{{.Action}} {{index .Actor.Attributes "exitCode"}}`)
	require.Equal(t, "die 2\n", out)
}

// sockets counts the sockets a process holds open (/proc/PID/fd).
func sockets(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	n := 0
	for _, fd := range fds {
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && strings.HasPrefix(link, "socket:") {
			n++
		}
	}
	return n
}
