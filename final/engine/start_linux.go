package engine

// Start: the starter's side of a container's start. It writes the OCI
// config, starts the monitor, and answers it: the monitor mounts, joins
// the network and creates the container, says "created"; the starter
// attaches its clients and says "start"; the monitor starts the
// container and says "started".

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"cfs/final/network"
	"cfs/internal/layout"

	"github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"
)

// StartOptions say how to start.
type StartOptions struct {
	// Attach, when set, attaches a client before the container runs, so
	// that it misses none of its output (docker run, start -a).
	Attach *AttachOptions
	// again is a restart by the restart policy, from the monitor that
	// waited: only a container still restarting is started.
	again bool
}

// StartError is a container that could not be started; Code is the exit
// status docker gives it: 127 for a command not found, 126 for one that
// cannot be run, 125 for anything else.
type StartError struct {
	Msg  string
	Code int
}

func (e *StartError) Error() string { return e.Msg }

func startError(msg string) *StartError {
	code := 125
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		code = 127
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"):
		code = 126
	}
	return &StartError{Msg: msg, Code: code}
}

// Start starts the container arg names. With opt.Attach it returns the
// attached client; a container running already is only attached to.
func (e *Engine) Start(arg string, opt StartOptions) (*Attachment, error) {
	id, err := e.Resolve(arg)
	if err != nil {
		return nil, err
	}
	c, err := e.current(id)
	if err != nil {
		return nil, err
	}
	if c.Running() {
		if opt.Attach != nil {
			return e.dial(id, *opt.Attach)
		}
		return nil, nil
	}
	c, unlock, err := e.lockRecord(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if c.Running() {
		return nil, &ConflictError{Msg: fmt.Sprintf("container %s is being started by another command", c.ShortID())}
	}
	restarts, delay := 0, time.Duration(0) // the user's start: the policy counts anew
	if opt.again {
		if c.State.Status != Restarting {
			return nil, nil // stopped or started meanwhile
		}
		if c.State.Stopped { // by a stop that came as it ended
			c.State.Status, c.State.Monitor = Exited, layout.Owner{}
			return nil, e.save(c)
		}
		restarts, delay = c.State.Restarts, c.State.Delay
		c.State.Status = Exited // if it fails to start
	} else if c.State.Status == Restarting && c.State.Monitor.Alive() {
		_ = unix.Kill(c.State.Monitor.PID, unix.SIGKILL) // the monitor that waits to restart it: the user was first
	}
	img, err := e.Images.Get(c.ImageID)
	if err != nil {
		return nil, fmt.Errorf("the image of container %s: %w", c.ShortID(), err)
	}
	spec, err := e.Spec(c, img.LowerDirs())
	if err != nil {
		return nil, err
	}
	// A host directory that -v names and that is not there is made, as
	// dockerd makes it (--mount's type=bind was refused at create).
	for _, b := range e.mounts(c) {
		if _, err := os.Stat(b.Source); b.Volume == "" && errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(b.Source, 0o755); err != nil {
				return nil, err
			}
		}
	}
	if err := writeJSON(filepath.Join(e.Dir(id), "config.json"), spec); err != nil {
		return nil, err
	}
	p := plan{
		ID: id, Root: e.Root, RunRoot: e.RunRoot, RuntimeRoot: e.RuntimeRoot, ImagesRoot: e.Images.Root(),
		Lowers: img.LowerDirs(), Network: string(c.HostConfig.NetworkMode), Hostname: c.Config.Hostname,
		ExtraHosts: c.HostConfig.ExtraHosts, DNS: dnsLines(&c.HostConfig),
		Tty: c.Config.Tty, OpenStdin: c.Config.OpenStdin, StdinOnce: c.Config.StdinOnce, AutoRemove: c.HostConfig.AutoRemove,
		Cwd: spec.Process.Cwd, UID: spec.Process.User.UID, GID: spec.Process.User.GID, Fill: e.volumeMounts(c), Trace: e.Trace != nil,
		TraceToEnd: e.Trace != nil && opt.Attach != nil,
	}
	if p.Ports, err = c.portsToPublish(); err != nil {
		return nil, err
	}

	m, err := e.spawnMonitor(p)
	if err != nil {
		return nil, err
	}
	defer m.sync.Close()
	fail := func(err error) (*Attachment, error) {
		c.State.Error = err.Error()
		var se *StartError
		if errors.As(err, &se) {
			c.State.ExitCode = se.Code
		}
		_ = e.save(c)
		return nil, err
	}
	msg, err := m.read()
	if err != nil {
		return fail(err)
	}
	c.State = State{Status: Running, Pid: msg.Pid, Monitor: m.owner, StartedAt: time.Now().UTC(), Restarts: restarts, Delay: delay}
	c.Network = msg.Network
	var att *Attachment
	if opt.Attach != nil {
		if att, err = e.dial(id, *opt.Attach); err != nil {
			return fail(err)
		}
	}
	// Before the word to start: a container that ends at once is told
	// to have died after it started, not before.
	e.ContainerEvent(c, events.ActionStart, nil)
	if err := m.enc.Encode(syncMsg{Type: "start"}); err != nil {
		return fail(fmt.Errorf("tell the monitor to start: %w", err))
	}
	if _, err := m.read(); err != nil {
		if att != nil {
			att.Close()
		}
		return fail(err)
	}
	if err := e.save(c); err != nil {
		return nil, err
	}
	return att, nil
}

// portsToPublish lists -p and, with -P, the image's exposed ports, each
// to a host port (0: the monitor picks one).
func (c *Container) portsToPublish() ([]Port, error) {
	var out []Port
	seen := map[string]bool{}
	for ctr, bindings := range c.HostConfig.PortBindings {
		for _, b := range bindings {
			var host uint16
			if b.HostPort != "" {
				var n int
				if _, err := fmt.Sscanf(b.HostPort, "%d", &n); err != nil || n < 1 || n > 65535 {
					return nil, fmt.Errorf("invalid host port %q", b.HostPort)
				}
				host = uint16(n)
			}
			out = append(out, Port{Host: host, Ctr: ctr.Num(), Proto: string(ctr.Proto())})
			seen[ctr.String()] = true
		}
	}
	if c.HostConfig.PublishAllPorts {
		for p := range c.Config.ExposedPorts {
			if !seen[p.String()] {
				out = append(out, Port{Ctr: p.Num(), Proto: string(p.Proto())})
			}
		}
	}
	return out, nil
}

// monitorConn is the starter's end of the sync socket.
type monitorConn struct {
	sync  *os.File
	enc   *json.Encoder
	dec   *json.Decoder
	owner layout.Owner
	cmd   *exec.Cmd
}

func (m *monitorConn) read() (syncMsg, error) {
	var msg syncMsg
	if err := m.dec.Decode(&msg); err != nil {
		return msg, fmt.Errorf("the container's monitor (PID %d) ended before the container started: %w", m.owner.PID, err)
	}
	if msg.Type == "error" {
		return msg, startError(msg.Error)
	}
	return msg, nil
}

// spawnMonitor starts this program as the container's monitor: a session
// of its own, a mount namespace of its own, no stdio but the sync socket
// (and the starter's stderr with --trace).
func (e *Engine) spawnMonitor(p plan) (*monitorConn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync")
	defer theirs.Close()
	extra := []*os.File{theirs}
	if p.Trace {
		extra = append(extra, os.Stderr)
	}
	cmd := &exec.Cmd{
		Path:       e.Exe,
		Args:       []string{layout.MonitorName, p.ID},
		Env:        []string{monitorEnv + "=3", monitorGOMAXPROCS, monitorPATH},
		ExtraFiles: extra,
		// Setsid: Ctrl-C in the starter's terminal is not the monitor's.
		// CLONE_NEWNS: the overlay it mounts is seen by it and the
		// container only (Go makes / private in it first, as unshare -m).
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Unshareflags: unix.CLONE_NEWNS},
	}
	if err := cmd.Start(); err != nil {
		mine.Close()
		return nil, fmt.Errorf("start the container's monitor: %w", err)
	}
	_, start, _ := layout.ProcStat(cmd.Process.Pid)
	m := &monitorConn{sync: mine, enc: json.NewEncoder(mine), dec: json.NewDecoder(mine), owner: layout.Owner{PID: cmd.Process.Pid, Start: start}, cmd: cmd}
	go func() { _ = cmd.Wait() }() // reaped here while this program lives (a server)
	if err := m.enc.Encode(p); err != nil {
		mine.Close()
		return nil, fmt.Errorf("talk to the container's monitor: %w", err)
	}
	return m, nil
}

// ---------------------------------------------------------------------------
// Attaching

// Attachment is a client attached to a running container's monitor.
type Attachment struct {
	conn  *net.UnixConn
	mu    sync.Mutex
	first *frame // read by dial, for Copy
}

// Attach attaches to the running container arg names.
func (e *Engine) Attach(arg string, opt AttachOptions) (*Attachment, error) {
	c, err := e.Get(arg)
	if err != nil {
		return nil, err
	}
	if !c.Running() {
		return nil, &ConflictError{Msg: "You cannot attach to a stopped container, start it first"}
	}
	return e.dial(c.ID, opt)
}

func (e *Engine) dial(id string, opt AttachOptions) (*Attachment, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: filepath.Join(e.runDir(id), "attach.sock"), Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("attach to container %s: %w", id[:12], err)
	}
	hello, _ := json.Marshal(opt)
	if err := writeFrame(conn, streamHello, hello); err != nil {
		conn.Close()
		return nil, err
	}
	// Wait until the monitor has the client: the monitor serves each
	// client in a goroutine of its own, so a start sent right after the
	// hello could otherwise run the container before the client is
	// there to see its first output (docker run, start -a).
	a := &Attachment{conn: conn}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	stream, p, err := readFrame(conn)
	_ = conn.SetReadDeadline(time.Time{})
	if err == nil && stream != streamReady {
		a.first = &frame{stream, p} // a monitor of an older cfs says nothing first
	}
	return a, nil
}

type frame struct {
	stream byte
	p      []byte
}

// Copy copies stdin (nil: none) to the container and its output to
// stdout and stderr until it exits, and returns how it exited. The
// caller closes the attachment.
func (a *Attachment) Copy(stdin io.Reader, stdout, stderr io.Writer) (ExitStatus, error) {
	if stdin != nil {
		go func() {
			buf := make([]byte, 32*1024)
			for {
				n, err := stdin.Read(buf)
				if n > 0 {
					if a.send(streamStdin, buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					_ = a.send(streamStdin, nil) // the end of input
					return
				}
			}
		}()
	}
	for {
		stream, p, err := a.next()
		if err != nil {
			return ExitStatus{}, errors.New("the container's monitor went away before the container's end")
		}
		switch stream {
		case streamStdout:
			_, _ = stdout.Write(p)
		case streamStderr:
			_, _ = stderr.Write(p)
		case streamExit:
			var st ExitStatus
			err := json.Unmarshal(p, &st)
			return st, err
		}
	}
}

// next is the next frame from the monitor.
func (a *Attachment) next() (byte, []byte, error) {
	if f := a.first; f != nil {
		a.first = nil
		return f.stream, f.p, nil
	}
	return readFrame(a.conn)
}

func (a *Attachment) send(stream byte, p []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return writeFrame(a.conn, stream, p)
}

// Resize sets the size of the container's terminal.
func (a *Attachment) Resize(height, width uint16) error {
	return a.send(streamResize, []byte(fmt.Sprintf("%d %d", height, width)))
}

// Close detaches.
func (a *Attachment) Close() error { return a.conn.Close() }

// ensure the network package's modes and the record's agree.
var _ = network.Bridge
