package engine_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
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

	"cfs/internal/layout"
	"cfs/internal/stagetest"

	"github.com/creack/pty"
	"github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
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
	require.Regexp(t, `^frozen 1 [\d.]+[KMG]?i?B / 100MiB\n$`, ok(t, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}", "frozen"))
	require.Regexp(t, `^NAME +PIDS\nfrozen +1\n$`, ok(t, "stats", "--no-stream", "--format", `table {{.Name}}\t{{.PIDs}}`, "frozen"))
}

// stop -s sends another signal than the container's stop signal; the
// container's handler for it decides how it ends.
func TestStopSignal(t *testing.T) {
	setup(t)
	rmAll(t, "stop-int")
	ok(t, "run", "-d", "--name", "stop-int", "--network", "none", "cfs/base", "sh", "-c", `trap "exit 5" INT; trap "" TERM; echo ready; while :; do sleep 0.1; done`)
	require.Eventually(t, func() bool { return ok(t, "logs", "stop-int") == "ready\n" }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "stop-int\n", ok(t, "stop", "-s", "SIGINT", "-t", "30", "stop-int"))
	require.Equal(t, 5, inspect(t, "stop-int").State.ExitCode, "SIGINT's handler, not SIGKILL after the timeout")
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
	// --since and --until, as docker's: inclusive bounds, as a time, a Unix
	// time or a duration back from now. "last" came a second after the
	// rest.
	atLast := strings.Fields(stamped[200])[0]
	at200 := strings.Fields(stamped[199])[0]
	require.Equal(t, "last\n", ok(t, "logs", "--since", atLast, "chatty"))
	require.Len(t, strings.Split(strings.TrimSpace(ok(t, "logs", "--until", at200, "chatty")), "\n"), 200)
	when, err := time.Parse(time.RFC3339Nano, atLast)
	require.NoError(t, err)
	require.Equal(t, "last\n", ok(t, "logs", "--since", fmt.Sprintf("%d.%09d", when.Unix(), when.Nanosecond()), "chatty"))
	require.Len(t, strings.Split(strings.TrimSpace(ok(t, "logs", "--since", "1h", "chatty")), "\n"), 201)
	require.Empty(t, ok(t, "logs", "--until", "1h", "chatty"), "nothing is an hour old")
	r = cfs(t, "logs", "--since", "yesterday", "chatty")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, `invalid value for "since": failed to parse value as time or duration: "yesterday"`)
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

// diff lists the writable layer against the image, as docker's does: on
// an image of one layer (read directly) and of two (merged read-only).
func TestDiff(t *testing.T) {
	setup(t)
	rmAll(t, "differ-1", "differ-2", "differ-3")
	ok(t, "create", "--name", "differ-1", "--network", "none", "cfs/base", "true")
	require.Empty(t, ok(t, "diff", "differ-1"), "nothing changed yet")
	ok(t, "run", "--name", "differ-2", "--network", "none", "cfs/base", "sh", "-c",
		"mkdir -p /t/dir && touch /t/dir/old /t/edit /t/gone /t/keep")
	require.Equal(t, "A /t\nA /t/dir\nA /t/dir/old\nA /t/edit\nA /t/gone\nA /t/keep\n", ok(t, "diff", "differ-2"))
	ok(t, "commit", "differ-2", "cfs-test/diff-base")
	t.Cleanup(func() { cfs(t, "rmi", "cfs-test/diff-base") })
	ok(t, "run", "--name", "differ-3", "--network", "none", "cfs-test/diff-base", "sh", "-c",
		"echo more >> /t/edit && rm /t/gone && rm -r /t/dir && mkdir /t/dir && touch /t/dir/new && mkdir -p /t/a/b")
	// /t/dir was removed and made again: overlay marks it opaque, and
	// docker lists it deleted, with what is in it now added.
	require.Equal(t, "C /t\nA /t/a\nA /t/a/b\nD /t/dir\nA /t/dir/new\nC /t/edit\nD /t/gone\n", ok(t, "diff", "differ-3"))
	// From outside: what the kernel wrote in the upper directory.
	upper := inspect(t, "differ-3").GraphDriver.Data["UpperDir"]
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(filepath.Join(upper, "t/gone"), &st))
	require.Equal(t, uint32(unix.S_IFCHR), st.Mode&unix.S_IFMT, "overlay's whiteout")
	_, err := os.Lstat(filepath.Join(upper, "t/keep"))
	require.ErrorIs(t, err, os.ErrNotExist, "an unchanged file stays below")
	for _, name := range []string{"differ-1", "differ-2", "differ-3"} {
		ok(t, "rm", name)
	}
	r := cfs(t, "diff", "differ-1")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "No such container: differ-1")
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

	rmAll(t, "term-resize") // should the test fail with the shell still running
	cmd, ptmx, screen, waitFor := onTerminal(t, "run", "--rm", "-it", "--name", "term-resize", "--network", "none", "cfs/base", "sh")
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

// Ctrl-P Ctrl-Q (or --detach-keys) in run -it, start -ai and attach end
// the command with 0 and leave the container running, as in docker; a
// Ctrl-P that another key follows reaches the container. attach types
// into the same terminal again, and ends with the container.
func TestDetachKeys(t *testing.T) {
	setup(t)
	rmAll(t, "detach-keys")
	cmd, ptmx, screen, waitFor := onTerminal(t, "run", "-it", "--name", "detach-keys", "--network", "none", "cfs/base", "cat", "-v")
	// Ctrl-P, then x: both reach cat, which shows Ctrl-P as ^P.
	waitRaw(t, ptmx)
	_, _ = ptmx.Write([]byte("\x10x\r"))
	waitFor("^Px")
	_, _ = ptmx.Write([]byte{0x10, 0x11}) // Ctrl-P Ctrl-Q
	require.NoError(t, waitExit(t, cmd), screen.String())
	ins := inspect(t, "detach-keys")
	require.True(t, ins.State.Running, "the container runs on")
	require.DirExists(t, fmt.Sprintf("/proc/%d", ins.State.Pid))

	// attach: the same terminal takes keys again; detach once more.
	cmd, ptmx, screen, waitFor = onTerminal(t, "attach", "detach-keys")
	waitRaw(t, ptmx)
	_, _ = io.WriteString(ptmx, "again\r")
	waitFor("again")
	_, _ = ptmx.Write([]byte{0x10, 0x11})
	require.NoError(t, waitExit(t, cmd), screen.String())
	require.True(t, inspect(t, "detach-keys").State.Running)
	// And to the end: Ctrl-D, cat's end of input, ends the container and
	// with it attach, with the container's status.
	cmd, ptmx, screen, _ = onTerminal(t, "attach", "detach-keys")
	waitRaw(t, ptmx)
	_, _ = ptmx.Write([]byte{4})
	require.NoError(t, waitExit(t, cmd), screen.String())
	require.False(t, inspect(t, "detach-keys").State.Running)
	r := cfs(t, "attach", "detach-keys")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "You cannot attach to a stopped container, start it first")

	// start -ai with keys of its own.
	cmd, ptmx, _, waitFor = onTerminal(t, "start", "-ai", "--detach-keys", "ctrl-a,d", "detach-keys")
	waitRaw(t, ptmx)
	_, _ = io.WriteString(ptmx, "attached\r")
	waitFor("attached")
	_, _ = ptmx.Write([]byte{0x01, 'd'})
	require.NoError(t, waitExit(t, cmd))
	require.True(t, inspect(t, "detach-keys").State.Running)

	r = cfs(t, "run", "--rm", "--detach-keys", "ctrl-1", "cfs/base", "true")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, `invalid --detach-keys "ctrl-1"`)
}

// onTerminal starts cfs with args on a new terminal (33 rows, 111
// columns); waitFor waits until the screen shows s.
func onTerminal(t *testing.T, args ...string) (cmd *exec.Cmd, ptmx *os.File, screen *syncBuf, waitFor func(s string)) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	argv := append(append(stagetest.PackageNetNS().Wrapper(), self), args...)
	path, err := exec.LookPath(argv[0])
	require.NoError(t, err)
	cmd = &exec.Cmd{Path: path, Args: argv, Env: append(os.Environ(), "CFS_TEST_AS_STAGE=1")}
	ptmx, err = pty.StartWithSize(cmd, &pty.Winsize{Rows: 33, Cols: 111})
	require.NoError(t, err)
	t.Cleanup(func() { ptmx.Close() })
	screen = &syncBuf{}
	go func() { _, _ = io.Copy(screen, ptmx) }()
	waitFor = func(s string) {
		t.Helper()
		require.Eventually(t, func() bool { return strings.Contains(screen.String(), s) }, 30*time.Second, 20*time.Millisecond, "no %q on the screen:\n%s", s, screen.String())
	}
	return cmd, ptmx, screen, waitFor
}

// waitExit waits for cmd to exit, 30 s at most.
func waitExit(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%s did not end in 30 s", strings.Join(cmd.Args, " "))
		return nil
	}
}

// waitRaw waits until cfs has put its terminal in raw mode: keys typed
// before would be the terminal's own (Ctrl-Q resumes output, a line waits
// for Enter), not cfs's. On Linux the master's termios is the terminal's.
func waitRaw(t *testing.T, ptmx *os.File) {
	t.Helper()
	require.Eventually(t, func() bool {
		tio, err := unix.IoctlGetTermios(int(ptmx.Fd()), unix.TCGETS)
		return err == nil && tio.Lflag&unix.ECHO == 0
	}, 30*time.Second, 10*time.Millisecond, "cfs never made its terminal raw")
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

// docker cp, both ways, with a running and a stopped container: every
// path is the container's, and its symlinks resolve inside it, even those
// that name the host's directories.
func TestCopy(t *testing.T) {
	setup(t)
	rmAll(t, "copier")
	host := t.TempDir()
	probe := fmt.Sprintf("cfs-cp-probe-%d", os.Getpid()) // never on the host's /etc
	require.NoError(t, os.WriteFile(filepath.Join(host, probe), []byte("from the host\n"), 0o640))
	require.NoError(t, os.Chown(filepath.Join(host, probe), 1234, 1234))
	require.NoError(t, os.MkdirAll(filepath.Join(host, "dir/sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(host, "dir/sub/f"), []byte("deep\n"), 0o644))
	vol := filepath.Join(host, "vol")
	require.NoError(t, os.Mkdir(vol, 0o755))
	ok(t, "run", "-d", "--name", "copier", "--network", "none", "-v", vol+":/vol", "cfs/base", "sleep", "1000")
	ok(t, "exec", "copier", "sh", "-c", "ln -s / /escape && ln -s /etc /etclink && mkdir /data")
	upper := inspect(t, "copier").GraphDriver.Data["UpperDir"]
	owner := func(rel string) (uint32, uint32) {
		var st unix.Stat_t
		require.NoError(t, unix.Lstat(filepath.Join(upper, rel), &st), rel)
		return st.Uid, st.Mode & 0o7777
	}

	// In: the files are the container's root's, unless -a.
	ok(t, "cp", filepath.Join(host, probe), "copier:/data/")
	require.Equal(t, "from the host\n", ok(t, "exec", "copier", "cat", "/data/"+probe))
	uid, mode := owner("data/" + probe)
	require.Equal(t, [2]uint32{0, 0o640}, [2]uint32{uid, mode}, "from outside: the writable layer")
	ok(t, "cp", filepath.Join(host, probe), "copier:/vol/running")
	require.FileExists(t, filepath.Join(vol, "running"), "a volume is the container's too")
	ok(t, "cp", "-a", filepath.Join(host, probe), "copier:/data/kept")
	uid, _ = owner("data/kept")
	require.Equal(t, uint32(1234), uid, "-a keeps the owner")
	ok(t, "cp", filepath.Join(host, "dir"), "copier:/data/newdir")
	require.Equal(t, "deep\n", ok(t, "exec", "copier", "cat", "/data/newdir/sub/f"))
	// Through a symlink to /etc: the container's /etc, not the host's.
	ok(t, "cp", filepath.Join(host, probe), "copier:/etclink/")
	owner("etc/" + probe)
	_, err := os.Lstat("/etc/" + probe)
	require.ErrorIs(t, err, os.ErrNotExist, "the host's /etc is out of reach")

	// Out: a symlink to / is the container's root.
	ok(t, "cp", "copier:/escape/etc/hostname", filepath.Join(host, "h"))
	data, err := os.ReadFile(filepath.Join(host, "h"))
	require.NoError(t, err)
	require.Equal(t, ok(t, "exec", "copier", "hostname"), string(data))
	ok(t, "cp", "copier:/data/newdir", filepath.Join(host, "out"))
	data, err = os.ReadFile(filepath.Join(host, "out/sub/f"))
	require.NoError(t, err)
	require.Equal(t, "deep\n", string(data))
	require.NoError(t, os.Mkdir(filepath.Join(host, "into"), 0o755))
	ok(t, "cp", "copier:/data/newdir/.", filepath.Join(host, "into"))
	require.FileExists(t, filepath.Join(host, "into/sub/f"), "DIR/. copies what is in DIR")
	tr := tar.NewReader(strings.NewReader(ok(t, "cp", "copier:/etc/hostname", "-")))
	hdr, err := tr.Next()
	require.NoError(t, err)
	require.Equal(t, "hostname", hdr.Name, "-: a tar on stdout")

	// A tar on stdin goes into a directory.
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "from-stdin", Mode: 0o644, Size: 3}))
	_, _ = tw.Write([]byte("in\n"))
	require.NoError(t, tw.Close())
	r := stagetest.Run(t, in.String(), "cp", "-", "copier:/data")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "in\n", ok(t, "exec", "copier", "cat", "/data/from-stdin"))

	// Bad input: a clear error, status 1, nothing written.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"copier:/nope", filepath.Join(host, "nope")}, "Could not find the file /nope in container copier"},
		{[]string{filepath.Join(host, "dir"), "copier:/data/kept"}, "cannot copy a directory onto the file /data/kept"},
		{[]string{filepath.Join(host, probe), "copier:/no-dir/x"}, "Could not find the file /no-dir in container copier"},
		{[]string{filepath.Join(host, "h"), filepath.Join(host, "h2")}, "must specify at least one container source"},
		{[]string{"copier:/etc", "copier:/tmp"}, "copying between containers is not supported"},
		{[]string{"no-such-copier:/etc", host}, "No such container: no-such-copier"},
	} {
		r := cfs(t, append([]string{"cp"}, c.args...)...)
		require.Equal(t, 1, r.Code, c.args)
		require.Contains(t, r.Stderr, c.want, c.args)
	}
	require.NoFileExists(t, filepath.Join(host, "nope"))

	// Stopped: its layers and volumes mounted where only cfs sees them,
	// then gone.
	hostname := ok(t, "exec", "copier", "hostname")
	ok(t, "stop", "-t", "0", "copier")
	ok(t, "cp", filepath.Join(host, probe), "copier:/stopped")
	ok(t, "cp", filepath.Join(host, probe), "copier:/vol/stopped")
	require.FileExists(t, filepath.Join(vol, "stopped"))
	ok(t, "cp", "copier:/etc/hostname", filepath.Join(host, "h-stopped"))
	data, err = os.ReadFile(filepath.Join(host, "h-stopped"))
	require.NoError(t, err)
	require.Equal(t, hostname, string(data), "its own /etc/hostname, not the image's")
	ok(t, "cp", "copier:/data/kept", filepath.Join(host, "back"))
	data, err = os.ReadFile(filepath.Join(host, "back"))
	require.NoError(t, err)
	require.Equal(t, "from the host\n", string(data))
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	require.NotContains(t, string(mounts), upper, "no mount of the container is left")
	ok(t, "start", "copier")
	require.Equal(t, "from the host\n", ok(t, "exec", "copier", "cat", "/stopped"))
}

// system df: the images' layers counted once, the containers' writable
// layers, and what removing stopped containers would free.
// info counts the containers by state and tells what the engine uses,
// each checked against the host itself.
func TestInfo(t *testing.T) {
	setup(t)
	rmAll(t, "info-up", "info-done")
	ok(t, "run", "-d", "--name", "info-up", "--network", "none", "cfs/base", "sleep", "1000")
	ok(t, "run", "--name", "info-done", "--network", "none", "cfs/base", "true")
	require.Equal(t, "2 1 0 1\n", ok(t, "info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}}"))
	ok(t, "pause", "info-up")
	require.Equal(t, "0 1\n", ok(t, "system", "info", "-f", "{{.ContainersRunning}} {{.ContainersPaused}}"))
	ok(t, "unpause", "info-up")

	// From outside: the kernel's release and the cgroup version.
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	require.NoError(t, err)
	version := "1"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		version = "2"
	}
	out := ok(t, "info")
	for _, want := range []string{"\nServer:\n Containers: 2\n  Running: 1\n  Paused: 0\n  Stopped: 1\n", "\n Storage Driver: overlay2\n",
		"\n Cgroup Version: " + version + "\n", "\n Kernel Version: " + strings.TrimSpace(string(release)) + "\n", "\n Docker Root Dir: " + layout.EngineDir + "\n"} {
		require.Contains(t, out, want)
	}
	var in map[string]any
	require.NoError(t, json.Unmarshal([]byte(ok(t, "info", "-f", "json")), &in))
	require.Equal(t, "overlay2", in["Driver"])
}

func TestSystemDF(t *testing.T) {
	setup(t)
	rmAll(t, "df-stopped", "df-up")
	ok(t, "run", "--name", "df-stopped", "--network", "none", "cfs/base", "sh", "-c", "head -c 1000000 /dev/zero > /big")
	ok(t, "run", "-d", "--name", "df-up", "--network", "none", "cfs/base", "sleep", "1000")
	lines := strings.Split(ok(t, "system", "df"), "\n")
	require.Len(t, lines, 6, lines)
	require.Regexp(t, `^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE$`, lines[0])
	require.Regexp(t, `^Images +[1-9]\d* +[1-9]\d* +\S+ +\S+ \(\d+%\)$`, lines[1], "cfs/base is in use")
	require.Regexp(t, `^Containers +2 +1 +1MB +1MB \((99|100)%\)$`, lines[2], "the stopped one's /big")
	require.Equal(t, "Local Volumes   0         0         0B        0B", lines[3])
	// ps -s: the same writable layer, and the image's layers under it.
	require.Regexp(t, `^1MB \(virtual [\d.]+MB\)\n$`, ok(t, "ps", "-a", "-s", "-f", "name=df-stopped", "--format", "{{.Size}}"))
	require.Regexp(t, `NAMES +SIZE\n`, ok(t, "ps", "-s"))
	// From outside: the file the writable layer holds.
	fi, err := os.Stat(filepath.Join(inspect(t, "df-stopped").GraphDriver.Data["UpperDir"], "big"))
	require.NoError(t, err)
	require.Equal(t, int64(1000000), fi.Size())
}

// events: every command's events in the engine's journal, read back from
// --since (docker's lines, filters, --format) and followed as they come.
func TestEvents(t *testing.T) {
	setup(t)
	rmAll(t, "ev-rm", "ev-up", "ev-tag:1")
	start := time.Now()
	since := fmt.Sprintf("%d.%09d", start.Unix(), start.Nanosecond())
	// From the start: what happens before it watches comes from the
	// journal, the rest as it is written.
	follow := stagetest.Start(t, "events", "--since", since, "--filter", "container=ev-up", "--format", `{{.Action}} {{index .Actor.Attributes "signal"}}{{index .Actor.Attributes "exitCode"}}`)

	r := cfs(t, "run", "--rm", "--name", "ev-rm", "-l", "lesson=events", "--network", "none", "cfs/base", "sh", "-c", "exit 3")
	require.Equal(t, 3, r.Code, r.Stderr)
	ok(t, "create", "--name", "ev-up", "--network", "none", "cfs/base", "sleep", "1000")
	ok(t, "start", "ev-up")
	r = cfs(t, "exec", "ev-up", "sh", "-c", "exit 5")
	require.Equal(t, 5, r.Code, r.Stderr)
	ok(t, "pause", "ev-up")
	ok(t, "unpause", "ev-up")
	ok(t, "stop", "-t", "0", "ev-up") // sleep as PID 1 ignores TERM: KILL follows
	ok(t, "rm", "ev-up")
	ok(t, "tag", "cfs/base", "ev-tag:1")
	ok(t, "rmi", "ev-tag:1")
	for _, want := range []string{"create ", "start ", "exec_create ", "exec_start ", "exec_die 5", "pause ", "unpause ",
		"kill 15", "kill 9", "die 137", "stop ", "destroy "} {
		require.Equal(t, want, follow.NextLine(t))
	}
	require.NoError(t, follow.Cmd.Process.Signal(os.Interrupt))
	require.Equal(t, 0, follow.Wait(t).Code, "Ctrl-C ends events")

	until := time.Now().Format(time.RFC3339Nano)
	lines := strings.Split(strings.TrimSpace(ok(t, "events", "--since", since, "--until", until, "--filter", "container=ev-rm")), "\n")
	require.Len(t, lines, 5, lines)
	stamp := `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) `
	for i, action := range []string{"create", "attach", "start", "die", "destroy"} { // docker run's, in docker's order
		require.Regexp(t, stamp+"container "+action+" [0-9a-f]{64} ", lines[i])
	}
	require.Regexp(t, `container die [0-9a-f]{64} \(exitCode=3, image=cfs/base, lesson=events, name=ev-rm\)$`, lines[3])
	require.Equal(t, "die\n", ok(t, "events", "--since", since, "--until", until, "-f", "event=die", "-f", "label=lesson=events", "--format", "{{.Action}}"))
	require.Equal(t, "tag ev-tag:1\nuntag ev-tag:1\n",
		ok(t, "events", "--since", since, "--until", until, "-f", "image=ev-tag:1", "--format", "{{.Action}} {{.Actor.ID}}"))
	// By its ID: the journal outlives a test, and an earlier run's ev-rm
	// may be half an hour old.
	rmID := strings.Fields(lines[0])[3]
	require.Empty(t, ok(t, "events", "--since", "1h", "--until", "30m", "-f", "container="+rmID), "none was an hour old")
	r = cfs(t, "events", "--filter", "bogus=1")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "invalid filter 'bogus'")

	// From outside: the journal holds them as JSON, as the API sends them.
	data, err := os.ReadFile(filepath.Join(layout.EngineRunDir, layout.EventsFile))
	require.NoError(t, err)
	found := false
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m events.Message
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		found = found || m.Action == events.ActionDie && m.Actor.Attributes["name"] == "ev-rm" && m.Actor.Attributes["exitCode"] == "3"
	}
	require.True(t, found, "no die of ev-rm with exit code 3 in the journal")
}
