package runtime_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// A shell whose child, the hog, takes more memory than the container's
// 32 MiB and is OOM-killed (`tail /dev/zero`, as in exercise 11-3: tail
// keeps the last lines of its input, and /dev/zero has no newline).
// `events` prints the usage every interval in runc's names, an "oom"
// line for the kill, and ends when the container stops; `events --stats`
// prints the usage once; both refuse a stopped container.
func TestEventsOOM(t *testing.T) {
	r := newRT(t)
	b := bundle(t, []string{"sh", "-c", "echo ready; read _; tail /dev/zero; echo tail=$?; read _"}, hogLimits)
	id := r.id()
	stdin, pid, out := r.startHog(b, id)

	ev := r.events(id, "--interval", "50ms")
	// The first line comes one interval after the OOM watch is in place:
	// from here on an OOM cannot be missed.
	e := ev.next(t)
	require.Equal(t, "stats", e.Type, "before the hog, only the usage")
	require.Equal(t, id, e.ID)
	require.EqualValues(t, 32<<20, field(t, e.Data, "memory", "usage", "limit"))
	require.NotZero(t, field(t, e.Data, "memory", "usage", "usage"))
	require.GreaterOrEqual(t, field(t, e.Data, "pids", "current"), 1.0, "the shell")
	require.EqualValues(t, 40, field(t, e.Data, "pids", "limit"))
	require.NotZero(t, field(t, e.Data, "cpu", "usage", "total"))

	once := r.ok("events", "--stats", id)
	require.Regexp(t, `^\{"type":"stats","id":"`+id+`","data":\{.*\}\}\n$`, once, "--stats: one line")

	_, err := stdin.Write([]byte("\n"))
	require.NoError(t, err)
	require.Equal(t, "tail=137", readLine(t, out), "the OOM killer's SIGKILL")
	e = ev.until(t, "oom")
	require.Equal(t, id, e.ID)
	require.Nil(t, e.Data, "an oom line has no data")

	// The shell reads its last line and exits: the container stops, and
	// the stream ends, with status 0.
	_, err = stdin.Write([]byte("\n"))
	require.NoError(t, err)
	ev.end(t)
	waitExit(t, pid)
	reap(pid)
	for _, args := range [][]string{{"events", id}, {"events", "--stats", id}} {
		res := r.run(args...)
		require.Equal(t, 1, res.code, "%v on a stopped container: %s", args, res.stdout)
		require.Contains(t, res.stderr, "is not running")
	}
}

// The container's own program is OOM-killed: its oom line comes before
// the end of the stream, although the init's exit and its kill reach
// events at about the same time.
func TestEventsOOMOfInit(t *testing.T) {
	r := newRT(t)
	b := bundle(t, []string{"sh", "-c", "echo ready; read _; exec tail /dev/zero"}, hogLimits)
	id := r.id()
	stdin, pid, _ := r.startHog(b, id)
	ev := r.events(id, "--interval", "50ms")
	require.Equal(t, "stats", ev.next(t).Type)
	_, err := stdin.Write([]byte("\n"))
	require.NoError(t, err)
	var types []string
	for _, e := range ev.end(t) {
		types = append(types, e.Type)
	}
	require.Contains(t, types, "oom", "the kill, before the end")
	waitExit(t, pid)
	ws, _ := reap(pid)
	require.Equal(t, unix.SIGKILL, ws.Signal())
}

// hogLimits holds the container to 32 MiB, swap included (a host with
// swap would swap the hog out instead), and 40 processes.
func hogLimits(s *specs.Spec) {
	limit := int64(32 << 20)
	s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
	s.Linux.Resources.Pids = &specs.LinuxPids{Limit: 40}
}

// startHog creates and starts the container of bundle b, whose program
// prints "ready" and waits for lines on stdin; it returns that stdin, the
// init's PID and the container's output.
func (r *rt) startHog(b, id string) (stdin *os.File, pid int, out *os.File) {
	r.t.Helper()
	pr, pw, err := os.Pipe()
	require.NoError(r.t, err)
	r.t.Cleanup(func() { pw.Close() })
	out = r.createPiped(b, id, pr)
	r.ok("start", id)
	require.Equal(r.t, "ready", readLine(r.t, out))
	return pw, r.state(id).Pid, out
}

// event is one line of `events`, decoded loosely: the test checks the
// names runc's clients read.
type event struct {
	Type string         `json:"type"`
	ID   string         `json:"id"`
	Data map[string]any `json:"data"`
}

// field is a number in the data of a stats line, by its path of names.
func field(t *testing.T, data map[string]any, path ...string) float64 {
	t.Helper()
	var v any = data
	for _, name := range path {
		m, ok := v.(map[string]any)
		require.True(t, ok, "no %v in %v", path, data)
		v = m[name]
	}
	n, ok := v.(float64)
	require.True(t, ok, "%v is %v, not a number", path, v)
	return n
}

// eventStream is a running `events`, its lines as they come.
type eventStream struct {
	cmd    *exec.Cmd
	lines  chan event
	stderr bytes.Buffer
}

func (r *rt) events(id string, args ...string) *eventStream {
	r.t.Helper()
	s := &eventStream{cmd: r.cmd(append(append([]string{"events"}, args...), id)...), lines: make(chan event, 1000)}
	pr, pw, err := os.Pipe()
	require.NoError(r.t, err)
	s.cmd.Stdout, s.cmd.Stderr = pw, &s.stderr
	require.NoError(r.t, s.cmd.Start())
	pw.Close()
	go func() {
		defer close(s.lines)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var e event
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				e.Type = "not JSON: " + sc.Text()
			}
			s.lines <- e
		}
	}()
	r.t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	return s
}

// next is the stream's next line; the stream must not have ended.
func (s *eventStream) next(t *testing.T) event {
	t.Helper()
	select {
	case e, ok := <-s.lines:
		require.True(t, ok, "events ended early: %s", s.stderr.String())
		return e
	case <-time.After(30 * time.Second):
		t.Fatal("no event in 30s")
		return event{}
	}
}

// until reads the stream up to its first line of type typ, which must
// come within 30 s; the lines before it must be stats.
func (s *eventStream) until(t *testing.T, typ string) event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-s.lines:
			require.True(t, ok, "events ended before a %s line: %s", typ, s.stderr.String())
			if e.Type == typ {
				return e
			}
			require.Equal(t, "stats", e.Type)
		case <-timeout:
			t.Fatalf("no %s line in 30s", typ)
		}
	}
}

// end reads the stream to its end, which must come (the container has
// stopped), and returns the lines it read; events must exit 0.
func (s *eventStream) end(t *testing.T) []event {
	t.Helper()
	var rest []event
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-s.lines:
			if ok {
				rest = append(rest, e)
				continue
			}
			require.NoError(t, s.cmd.Wait(), "events: %s", s.stderr.String())
			return rest
		case <-timeout:
			t.Fatalf("events did not end in 30s; it printed %v", rest)
		}
	}
}
