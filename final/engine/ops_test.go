package engine_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cfs/internal/stagetest"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netns"
)

func netlinkNS(path string) (netns.NsHandle, error) { return netns.GetFromPath(path) }

// exec joins every namespace and the cgroup of the container; its flags
// and exit statuses are docker's.
func TestExec(t *testing.T) {
	setup(t)
	rmAll(t, "execme")
	ok(t, "run", "-d", "--name", "execme", "--network", "none", "-e", "FROM_RUN=1", "cfs/base", "sleep", "1000")
	pid := inspect(t, "execme").State.Pid
	out := ok(t, "exec", "execme", "sh", "-c", "for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done; echo $FROM_RUN")
	want := ""
	for _, ns := range []string{"pid", "mnt", "uts", "ipc", "net"} {
		want += stagetest.NS(t, pid, ns) + "\n"
	}
	require.Equal(t, want+"1\n", out)
	require.Equal(t, "2 /tmp 1000 /\n", ok(t, "exec", "-e", "FROM_RUN=2", "-w", "/tmp", "-u", "1000", "execme", "sh", "-c", "echo $FROM_RUN $(pwd) $(id -u) $HOME"))
	require.Equal(t, "/root\n", ok(t, "exec", "execme", "sh", "-c", "echo $HOME"))
	// -e KEY alone takes the host's value, as docker's does.
	t.Setenv("CFS_TEST_FROM_HOST", "host value")
	require.Equal(t, "host value\n", ok(t, "exec", "-e", "CFS_TEST_FROM_HOST", "execme", "sh", "-c", "echo $CFS_TEST_FROM_HOST"))
	r := cfs(t, "exec", "-it", "execme", "true") // stdin is a pipe
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "the input device is not a TTY")
	require.Contains(t, ok(t, "exec", "-t", "execme", "echo", "hi"), "hi", "-t alone needs no terminal here")
	r = cfs(t, "exec", "execme", "sh", "-c", "exit 7")
	require.Equal(t, 7, r.Code)
	r = cfs(t, "exec", "execme", "no-such-program")
	require.Equal(t, 127, r.Code)
	require.Contains(t, r.Stderr, "executable file not found")
	r = stagetest.Run(t, "piped\n", "exec", "-i", "execme", "cat")
	require.Equal(t, "piped\n", r.Stdout)
	// -d: left running, in the container.
	ok(t, "exec", "-d", "execme", "sh", "-c", "echo detached > /tmp/mark; sleep 1000")
	require.Eventually(t, func() bool { return cfs(t, "exec", "execme", "cat", "/tmp/mark").Stdout == "detached\n" }, 10e9, 50e6)
	// top lists the container's processes, PID 1 and the exec'd ones.
	top := ok(t, "top", "execme")
	require.Regexp(t, `^UID {17}PID {17}PPID {16}C {19}STIME {15}TTY {17}TIME {16}CMD\n`, top, "docker top's table: columns 20 wide")
	require.Contains(t, top, "sleep 1000")
	require.Contains(t, top, fmt.Sprint(pid))
}

// pause freezes the container's cgroup; stats reads its usage.
func TestPauseStats(t *testing.T) {
	setup(t)
	rmAll(t, "frozen")
	ok(t, "run", "-d", "--name", "frozen", "--network", "none", "-m", "100m", "cfs/base", "sleep", "1000")
	pid := inspect(t, "frozen").State.Pid
	require.Equal(t, "frozen\n", ok(t, "pause", "frozen"))
	require.Equal(t, "paused", string(inspect(t, "frozen").State.Status))
	require.Regexp(t, `Up .* \(Paused\)`, ok(t, "ps"))
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	require.Regexp(t, `(?m)^State:\s+[DS]`, string(st), "a frozen task sleeps in the freezer")
	r := cfs(t, "pause", "frozen")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "already paused")
	r = cfs(t, "exec", "frozen", "true")
	require.Equal(t, 1, r.Code, "docker's status for a paused container: the command was never tried")
	require.Contains(t, r.Stderr, "is paused, unpause the container before exec")
	require.Equal(t, "frozen\n", ok(t, "unpause", "frozen"))
	require.Equal(t, "running", string(inspect(t, "frozen").State.Status))

	out := ok(t, "stats", "--no-stream", "frozen")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	require.Regexp(t, `^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE / LIMIT\s+MEM %\s+NET I/O\s+BLOCK I/O\s+PIDS$`, lines[0])
	require.Regexp(t, `^[0-9a-f]{12}\s+frozen\s+\d+\.\d\d%\s+[\d.]+[KMG]?i?B / 100MiB\s+\d+\.\d\d%\s+.* / .*\s+1$`, lines[1])
}

// stop of a paused container thaws it after the signal, as dockerd does,
// so that the container's handler runs: it exits 7, not 137 after the
// timeout.
func TestStopPaused(t *testing.T) {
	setup(t)
	rmAll(t, "stop-paused")
	ok(t, "run", "-d", "--name", "stop-paused", "--network", "none", "cfs/base", "sh", "-c", `trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done`)
	require.Eventually(t, func() bool { return ok(t, "logs", "stop-paused") == "ready\n" }, 10*time.Second, 20*time.Millisecond)
	ok(t, "pause", "stop-paused")
	require.Equal(t, "stop-paused\n", ok(t, "stop", "-t", "20", "stop-paused"))
	require.Equal(t, "7\n", ok(t, "wait", "stop-paused"))
	require.Equal(t, "exited", string(inspect(t, "stop-paused").State.Status))
}

// logs -f follows a chatty container until it exits.
func TestLogsFollow(t *testing.T) {
	setup(t)
	rmAll(t, "chatty")
	ok(t, "run", "-d", "--name", "chatty", "--network", "none", "cfs/base", "sh", "-c", "for i in $(seq 200); do echo line $i; done; sleep 1; echo last")
	r := cfs(t, "logs", "-f", "chatty")
	require.Equal(t, 0, r.Code, r.Stderr)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	require.Len(t, lines, 201)
	require.Equal(t, "line 1", lines[0])
	require.Equal(t, "last", lines[200])
	require.Equal(t, "line 200\nlast\n", ok(t, "logs", "--tail", "2", "chatty"))
	// -t: docker's fixed-width timestamps, nine digits of the second.
	stamped := strings.Split(strings.TrimSpace(ok(t, "logs", "-t", "chatty")), "\n")
	require.Len(t, stamped, 201)
	for _, l := range stamped {
		require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (line \d+|last)$`, l)
	}
	// The log is docker's json-file.
	id := inspect(t, "chatty").ID
	data, err := os.ReadFile(inspect(t, "chatty").LogPath)
	require.NoError(t, err)
	require.Regexp(t, `^\{"log":"line 1\\n","stream":"stdout","time":"[^"]+"\}\n`, string(data))
	require.Contains(t, inspect(t, "chatty").LogPath, id)
}

// export writes the container's files; commit makes an image of its
// writable layer, with its config.
func TestExportCommit(t *testing.T) {
	setup(t)
	rmAll(t, "maker")
	ok(t, "run", "--name", "maker", "--network", "none", "-e", "MADE=yes", "cfs/base", "sh", "-c", "echo made > /made; rm /bin/true")
	exported := filepath.Join(t.TempDir(), "out.tar")
	ok(t, "export", "-o", exported, "maker")
	f, err := os.Open(exported)
	require.NoError(t, err)
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		names[strings.TrimPrefix(h.Name, "./")] = true
		if strings.TrimPrefix(h.Name, "./") == "made" {
			data, _ := io.ReadAll(tr)
			require.Equal(t, "made\n", string(data))
		}
	}
	require.True(t, names["made"])
	require.True(t, names["bin/sh"])
	require.False(t, names["bin/true"], "deleted in the container")

	id := strings.TrimSpace(ok(t, "commit", "-m", "made it", "maker", "cfs-test/made:v1"))
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, id)
	t.Cleanup(func() { cfs(t, "rmi", "cfs-test/made:v1") })
	require.Equal(t, "made\nyes\n", ok(t, "run", "--rm", "--network", "none", "cfs-test/made:v1", "sh", "-c", "cat /made; echo $MADE"))
	r := cfs(t, "run", "--rm", "--network", "none", "cfs-test/made:v1", "true")
	require.Equal(t, 127, r.Code, "what the container deleted is deleted in the image")
}

// -it: a real terminal, whose size follows; Ctrl-D ends the shell. The
// test types as a person does: after the prompt, when cfs has put its
// terminal in raw mode (a Ctrl-D typed before would be the terminal's own
// end of a line, not a byte for the container).
func TestTerminal(t *testing.T) {
	setup(t)
	r := stagetest.RunTerminal(t, "tty; stty size\nexit 5\n", "run", "--rm", "-it", "--network", "none", "cfs/base", "sh")
	require.Equal(t, 5, r.Code, r.Stdout)
	require.Regexp(t, `/dev/pts/\d+`, r.Stdout)

	self, err := os.Executable()
	require.NoError(t, err)
	rmAll(t, "term-resize") // should the test fail with the shell still running
	argv := append(append(stagetest.PackageNetNS().Wrapper(), self), "run", "--rm", "-it", "--name", "term-resize", "--network", "none", "cfs/base", "sh")
	path, err := exec.LookPath(argv[0])
	require.NoError(t, err)
	cmd := &exec.Cmd{Path: path, Args: argv, Env: append(os.Environ(), "CFS_TEST_AS_STAGE=1")}
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 33, Cols: 111})
	require.NoError(t, err)
	defer ptmx.Close()
	screen := &syncBuf{}
	go func() { _, _ = io.Copy(screen, ptmx) }()
	waitFor := func(s string) {
		t.Helper()
		require.Eventually(t, func() bool { return strings.Contains(screen.String(), s) }, 30*time.Second, 20*time.Millisecond, "no %q on the screen:\n%s", s, screen.String())
	}
	waitFor("# ") // the shell's prompt: cfs has the terminal in raw mode by now
	_, _ = io.WriteString(ptmx, "stty size; echo in-a-tty\r")
	waitFor("33 111")
	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: 44, Cols: 99}))
	waitFor("in-a-tty")
	// The new size reaches the container's terminal (SIGWINCH → resize).
	require.Eventually(t, func() bool {
		_, _ = io.WriteString(ptmx, "stty size\r")
		time.Sleep(100 * time.Millisecond) // a person's pace: one command, then look
		return strings.Contains(screen.String(), "44 99")
	}, 30*time.Second, 50*time.Millisecond, screen.String())
	_, _ = ptmx.Write([]byte{4}) // Ctrl-D
	require.NoError(t, cmd.Wait(), screen.String())
}

// syncBuf is a buffer written by one goroutine and read by another.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// scan returns the lines of s.
func scan(s string) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader([]byte(s)))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
