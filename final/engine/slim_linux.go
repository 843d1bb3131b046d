package engine

// Slimming. A monitor's set-up leaves its memory full of what only the
// set-up needed: encoding/json's caches of the OCI spec's types, the
// runtime's and the network's data, and the Go runtime's books about all
// of it (about 1 MiB, which the monitor would keep for as long as its
// container runs, and which counts against every container). So once the
// container has run for a second with no client attached, the monitor
// executes itself again. execve(2) keeps what the container needs of it:
// its PID (the init stays its child, to wait for), its session, its mount
// namespace (the overlay), and the descriptors it chooses to keep (the
// output pipes, the log, the attach socket, the monitor's lock, whose
// flock belongs to the open file and so survives). The program that
// starts holds only those, and a fresh heap: conmon is small for the same
// reason, being a program of its own. A partial line of output moves
// across in the hand-over, so the log is as if nothing happened.

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"cfs/internal/layout"

	"golang.org/x/sys/unix"
)

func init() {
	// The monitor executes itself again from its main goroutine, which
	// this keeps on the process's main thread (a lock taken during
	// package initialisation lasts into main). execve(2) from any other
	// thread makes the kernel retire the main thread for a moment, and
	// /proc/PID/stat then shows a zombie: the network's ledger, which
	// checks that a lease's monitor is alive, would take its address away.
	if IsMonitor() {
		goruntime.LockOSThread()
	}
}

// slimEnv carries the hand-over to the slimmed monitor.
const slimEnv = "_CFS_MONITOR_SLIM"

// slimAfter is how long a container runs before its monitor slims: a
// short-lived container (run --rm true) never pays for it.
const slimAfter = time.Second

// handOver is what the slimmed monitor is told: the plan, the init, and
// the numbers of the descriptors it keeps.
type handOver struct {
	Plan    plan           `json:"plan"`
	Pid     int            `json:"pid"`
	Rootfs  string         `json:"rootfs"`
	Joined  bool           `json:"joined"`
	Mounted bool           `json:"mounted"`
	Lock    int            `json:"lock"`
	Log     int            `json:"log"`
	Attach  int            `json:"attach"`
	Outs    []handOverPipe `json:"outs"`
	Comm    string         `json:"comm"` // the program's name in ps, which execve sets to "exe"
}

type handOverPipe struct {
	Fd      int    `json:"fd"`
	Stream  byte   `json:"stream"`
	Partial []byte `json:"partial,omitempty"` // a line not yet ended
}

// canSlim: a container without a terminal or stdin (a terminal's and an
// open stdin's state are not handed over).
func (m *monitor) canSlim() bool {
	return m.ctr != nil && !m.p.Tty && !m.p.OpenStdin
}

// slimWhenQuiet waits for the container to run slimAfter with no client
// attached, and then slims; it returns when the container exits first,
// or the monitor cannot slim, and the monitor goes on as it is.
func (m *monitor) slimWhenQuiet() {
	exited := make(chan struct{})
	go func() {
		// WNOWAIT: a look, not a wait; run() reaps the init.
		var info unix.Siginfo
		for unix.Waitid(unix.P_PID, m.ctr.Pid(), &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
		close(exited)
	}()
	for wait := slimAfter; ; wait = min(2*wait, 5*time.Minute) {
		select {
		case <-exited:
			return
		case <-time.After(wait):
		}
		if !m.slim() {
			return
		}
		// A client was attached (a foreground cfs run): later.
	}
}

// slim executes the monitor again with only what it keeps; it returns
// (true: try again later) only when it did not.
func (m *monitor) slim() (again bool) {
	if unix.Gettid() != os.Getpid() {
		return false // not on the main thread (see init): stay as it is
	}
	// No new client from here: the kernel keeps connections that arrive
	// meanwhile until the slimmed monitor accepts them.
	_ = m.ln.SetDeadline(time.Unix(1, 0))
	<-m.serving
	m.mu.Lock()
	busy := m.conns > 0
	m.mu.Unlock()
	if busy {
		_ = m.ln.SetDeadline(time.Time{})
		m.serve(m.ln)
		return true
	}
	for _, o := range m.outs {
		_ = o.r.SetReadDeadline(time.Unix(1, 0))
	}
	m.copying.Wait()
	resume := func() bool {
		for _, o := range m.outs {
			if !o.ended {
				_ = o.r.SetReadDeadline(time.Time{})
				m.copy(o)
			}
		}
		_ = m.ln.SetDeadline(time.Time{})
		m.serve(m.ln)
		return false
	}
	h := handOver{Plan: m.p, Pid: m.ctr.Pid(), Rootfs: m.rootfs, Joined: m.joined, Mounted: m.mounted}
	var errs []error
	h.Lock, errs = fdOf(m.lock, errs)
	h.Log, errs = fdOf(m.log, errs)
	h.Attach, errs = fdOf(m.ln, errs)
	for _, o := range m.outs {
		if o.ended {
			return resume() // the container is on its way out
		}
		var fd int
		fd, errs = fdOf(o.r, errs)
		h.Outs = append(h.Outs, handOverPipe{Fd: fd, Stream: o.stream, Partial: o.lw.buf})
	}
	if len(errs) > 0 {
		return resume()
	}
	if comm, err := os.ReadFile("/proc/self/comm"); err == nil {
		h.Comm = strings.TrimSpace(string(comm))
	}
	keep := []int{h.Lock, h.Log, h.Attach}
	for _, o := range h.Outs {
		keep = append(keep, o.Fd)
	}
	data, err := json.Marshal(h)
	if err != nil {
		return resume()
	}
	defer func() { // reached only if the execve did not happen
		for _, fd := range keep {
			unix.CloseOnExec(fd)
		}
	}()
	for _, fd := range keep {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return resume()
		}
	}
	// /proc/self/exe: this very program, even if its file was replaced.
	// Exec returns only when it failed.
	_ = syscall.Exec("/proc/self/exe", []string{layout.MonitorName, m.p.ID},
		[]string{slimEnv + "=" + string(data), monitorGOMAXPROCS, monitorPATH})
	return resume()
}

// fdOf is f's descriptor. Not f.Fd(), which would make a pipe blocking:
// the slimmed monitor waits for its pipes with the poller too.
func fdOf(f syscall.Conn, errs []error) (int, []error) {
	fd := -1
	raw, err := f.SyscallConn()
	if err == nil {
		err = raw.Control(func(d uintptr) { fd = int(d) })
	}
	if err != nil {
		errs = append(errs, err)
	}
	return fd, errs
}

// resumeMonitor is the slimmed monitor: steps 6 and 7 of MonitorMain,
// with what the hand-over names.
func resumeMonitor(data string) int {
	os.Unsetenv(slimEnv)
	var h handOver
	if err := json.Unmarshal([]byte(data), &h); err != nil {
		return 125
	}
	if name, err := unix.BytePtrFromString(h.Comm); err == nil && h.Comm != "" {
		_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0)
		goruntime.KeepAlive(name)
	}
	file := func(fd int, name string) *os.File {
		unix.CloseOnExec(fd)
		return os.NewFile(uintptr(fd), name)
	}
	m := &monitor{p: h.Plan, pid: h.Pid, rootfs: h.Rootfs, joined: h.Joined, mounted: h.Mounted}
	m.e = &Engine{Root: m.p.Root, RunRoot: m.p.RunRoot, RuntimeRoot: m.p.RuntimeRoot}
	m.lock = file(h.Lock, "monitor.lock")
	m.log = file(h.Log, "log")
	for _, o := range h.Outs {
		out := &output{r: file(o.Fd, streamName(o.Stream)), stream: o.Stream, lw: &logWriter{f: m.log, stream: streamName(o.Stream), buf: o.Partial}}
		m.outs = append(m.outs, out)
		m.copy(out)
	}
	f := file(h.Attach, "attach.sock")
	l, err := net.FileListener(f) // a copy of the descriptor
	f.Close()
	if ln, ok := l.(*net.UnixListener); err == nil && ok {
		m.serve(ln)
	}
	debug.FreeOSMemory()
	status := m.run()
	m.finish(status)
	return 0
}

// wait waits for the init to exit, and returns its status as docker
// gives it: the exit code, or 128+N when signal N killed it.
func (m *monitor) wait() (int, error) {
	if m.ctr != nil {
		return m.ctr.Wait()
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(m.pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, errors.Join(errors.New("wait for the container's init"), err)
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}
