package engine

// The monitor: one small process per running container, as conmon is for
// podman and the shim for containerd. It is this program started again as
// cfs-monitor, in a session of its own (so a terminal's Ctrl-C does not
// reach it) and in a mount namespace of its own (so the container's
// overlay is mounted where only it and the container see it, and goes
// away with them even after kill -9). It
//
//  1. mounts the image's layers and the writable layer with overlayfs (stage 08);
//  2. takes an address on cfs0 (stage 05), and writes /etc/hosts and friends;
//  3. creates the container with the runtime, in-process, so that the
//     init is its child: it alone can wait for it (stages 01-04, 06, 07);
//  4. plugs the container into the bridge while the init waits;
//  5. starts it when the starter says so, after the starter's clients
//     have attached, so that they miss no output;
//  6. copies the container's output to the log and to attached clients,
//     and attached input to the container, until the init exits;
//  7. records the exit, takes the container down (runtime delete, the
//     network, the overlay), and with --rm removes it;
//  8. if its restart policy says so, waits and starts it again, as
//     `cfs start` would, with a new monitor; and ends.
//
// While it runs it holds an exclusive flock on /run/cfs/engine/ID/monitor.lock:
// `cfs wait` and `cfs stop` wait for the monitor by taking it shared.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"cfs/final/image"
	"cfs/final/network"
	"cfs/final/runtime"
	"cfs/internal/hostnet"
	"cfs/internal/kernel"
	"cfs/internal/layout"
	"cfs/internal/trace"

	"github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"
)

// monitorEnv marks this program as a monitor; its value is the sync
// socket's descriptor.
const monitorEnv = "_CFS_MONITOR_SYNC_FD"

// A monitor's environment besides: one P (it mostly waits), and a PATH
// for the runtime's hooks and lookups.
const (
	monitorGOMAXPROCS = "GOMAXPROCS=1"
	monitorPATH       = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// IsMonitor reports whether this process was started as a monitor; main
// then calls MonitorMain and nothing else.
func IsMonitor() bool {
	return len(os.Args) > 0 && os.Args[0] == layout.MonitorName && (os.Getenv(monitorEnv) != "" || os.Getenv(slimEnv) != "")
}

// plan is what the starter tells the monitor, as the first line on the
// sync socket.
type plan struct {
	ID          string   `json:"id"`
	Root        string   `json:"root"` // Engine.Root
	RunRoot     string   `json:"runRoot"`
	RuntimeRoot string   `json:"runtimeRoot"`
	ImagesRoot  string   `json:"imagesRoot"`
	Lowers      []string `json:"lowers"` // the image's layers, top first
	Network     string   `json:"network"`
	Ports       []Port   `json:"ports"`
	Hostname    string   `json:"hostname"`
	ExtraHosts  []string `json:"extraHosts,omitempty"` // --add-host
	DNS         []string `json:"dns,omitempty"`        // --dns, --dns-search, --dns-option: resolv.conf's lines
	Tty         bool     `json:"tty"`
	OpenStdin   bool     `json:"openStdin"`
	StdinOnce   bool     `json:"stdinOnce"`
	AutoRemove  bool     `json:"autoRemove"`
	Cwd         string   `json:"cwd"`
	Fill        []Bind   `json:"fill,omitempty"` // the volumes, filled from the image if empty (fillVolume)
	UID         uint32   `json:"uid"`
	GID         uint32   `json:"gid"`
	Trace       bool     `json:"trace"`
	// TraceToEnd: the starter stays attached until the container ends
	// (run without -d, start -a), so the monitor narrates on its stderr
	// to the end: the container taken down too.
	TraceToEnd bool `json:"traceToEnd,omitempty"`
}

// syncMsg is one message on the sync socket, either way.
type syncMsg struct {
	Type    string    `json:"type"` // monitor: created, started, error; starter: start
	Pid     int       `json:"pid,omitempty"`
	Network *Endpoint `json:"network,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// monitor is one monitor's state.
type monitor struct {
	p    plan
	e    *Engine
	tr   *trace.Tracer
	enc  *json.Encoder
	dec  *json.Decoder
	sync *os.File

	ctr     *runtime.Container
	rt      *runtime.Runtime // ctr's, narrating on tr while it does
	pid     int              // the init's, once slimmed (ctr is then nil)
	lock    *os.File         // the monitor's lock, held while it lives
	joined  bool
	mounted bool
	rootfs  string

	copying   sync.WaitGroup // the goroutines copying the container's output
	outs      []*output
	ln        *net.UnixListener
	serving   chan struct{} // closed when serveAttach returns
	mu        sync.Mutex
	conns     int // attach connections being served
	clients   []*attachClient
	stdin     io.WriteCloser // the container's stdin: a pipe, or the terminal
	stdinUsed bool
	master    *os.File // the terminal's master, with -t
	log       *os.File
	done      bool
}

// output is one of the container's outputs, which copyOut copies.
type output struct {
	r      *os.File
	stream byte
	lw     *logWriter
	ended  bool // the container's end is closed; r is closed
}

type attachClient struct {
	conn net.Conn
	opt  AttachOptions
	mu   sync.Mutex
}

// MonitorMain is the monitor's whole life; it returns the exit status of
// the monitor itself.
func MonitorMain() int {
	if s := os.Getenv(slimEnv); s != "" {
		lean()
		return resumeMonitor(s)
	}
	// No collection while setting up, which is on the way of every
	// container's start and makes a few MiB of garbage at most; lean()
	// once the container runs.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(64 << 20)
	fd, err := strconv.Atoi(os.Getenv(monitorEnv))
	if err != nil {
		return 125
	}
	os.Unsetenv(monitorEnv)
	sync := os.NewFile(uintptr(fd), "sync")
	unix.CloseOnExec(fd)
	m := &monitor{sync: sync, enc: json.NewEncoder(sync), dec: json.NewDecoder(sync)}
	if err := m.dec.Decode(&m.p); err != nil {
		return 125
	}
	if m.p.Trace {
		// Closed at an execve: the slimmed monitor (slim_linux.go) must
		// not hold the starter's stderr; the init gets it explicitly.
		unix.CloseOnExec(4)
		m.tr = trace.NewTo("monitor", os.NewFile(4, "trace"))
	}
	m.e = &Engine{Root: m.p.Root, RunRoot: m.p.RunRoot, RuntimeRoot: m.p.RuntimeRoot}
	if err := m.setUp(); err != nil {
		_ = m.enc.Encode(syncMsg{Type: "error", Error: err.Error()})
		m.tearDown()
		_ = os.RemoveAll(m.e.runDir(m.p.ID))
		return 1
	}
	if !m.p.TraceToEnd {
		m.stopTrace() // the starter's stderr is closed from here
	}
	// What setting up needed (the network's and the runtime's data) is
	// garbage now: give its pages back, for the container's lifetime.
	lean()
	debug.FreeOSMemory()
	if m.canSlim() {
		m.slimWhenQuiet() // returns only if the monitor stays as it is
	}
	status := m.run()
	m.finish(status)
	return 0
}

// lean sets the collector for a monitor whose container runs: little
// garbage, collected often; a monitor runs for as long as its container,
// and its memory counts against every container's.
func lean() {
	debug.SetGCPercent(20)
	debug.SetMemoryLimit(8 << 20)
}

// setUp does steps 1 to 5, answering the starter.
func (m *monitor) setUp() error {
	p := m.p
	dir := m.e.Dir(p.ID)
	run := m.e.runDir(p.ID)
	if err := os.MkdirAll(run, 0o711); err != nil {
		return err
	}
	// Held for the monitor's life; kept here, or the collector would
	// close the file, and with it the lock.
	lock, err := os.OpenFile(filepath.Join(run, "monitor.lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		_, err = flock(lock, unix.LOCK_EX)
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", run, err)
	}
	m.lock = lock

	// 1. The root: the image's layers under the writable one (stage 08).
	// Same as `mount -t overlay overlay -o lowerdir=…,upperdir=…,workdir=… rootfs`.
	m.rootfs = filepath.Join(dir, "rootfs")
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(p.Lowers, ":"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if err := kernel.Mount(m.tr, "overlay", m.rootfs, "overlay", 0, opts); err != nil {
		return err
	}
	m.mounted = true
	if err := m.makeWorkdir(); err != nil {
		return err
	}
	for _, b := range p.Fill {
		if err := fillVolume(m.rootfs, b); err != nil {
			return fmt.Errorf("copy the image's %s into volume %s: %w", b.Destination, b.Volume, err)
		}
	}

	// 2. An address on the bridge, and the /etc files that name it.
	var ep *network.Endpoint
	if p.Network == network.Bridge {
		var ports []network.Port
		for _, pt := range p.Ports {
			ports = append(ports, network.Port{Host: pt.Host, Ctr: pt.Ctr, Proto: pt.Proto})
		}
		var err error
		m.joined = true
		if ep, err = network.Join(m.tr, p.ID, ports); err != nil {
			return err
		}
	}
	if err := m.writeEtc(ep); err != nil {
		return err
	}

	// 3. The container, its init a child of this process.
	logf, err := os.OpenFile(filepath.Join(dir, p.ID+"-json.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	m.log = logf
	opt := runtime.CreateOptions{Bundle: dir}
	var outs []*os.File // the container's ends, closed here once it has them
	var stdoutR, stderrR, consoleEnd *os.File
	if p.Tty {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return os.NewSyscallError("socketpair", err)
		}
		opt.ConsoleConn = os.NewFile(uintptr(fds[0]), "console")
		consoleEnd = os.NewFile(uintptr(fds[1]), "console")
		outs = append(outs, opt.ConsoleConn)
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		stdoutR, opt.Stdout = r, w
		if r, w, err = os.Pipe(); err != nil {
			return err
		}
		stderrR, opt.Stderr = r, w
		outs = append(outs, opt.Stdout, opt.Stderr)
		if p.OpenStdin {
			r, w, err := os.Pipe()
			if err != nil {
				return err
			}
			opt.Stdin, m.stdin = r, w
			outs = append(outs, r)
		} else {
			devnull, err := os.Open(os.DevNull)
			if err != nil {
				return err
			}
			opt.Stdin = devnull
			outs = append(outs, devnull)
		}
	}
	m.rt = m.e.runtime()
	m.rt.Trace = m.tr
	c, err := m.rt.Create(p.ID, opt)
	for _, f := range outs {
		f.Close()
	}
	if err != nil {
		return err
	}
	m.ctr = c
	m.tr.Result("host PID %d, the container's init (runtime create)", c.Pid())
	if p.Tty {
		master, err := runtime.RecvConsole(consoleEnd)
		consoleEnd.Close()
		if err != nil {
			return err
		}
		m.master, m.stdin = master, master
	}

	// 4. The network, while the init waits.
	if p.Network != network.Host {
		if err := network.Attach(m.tr, p.ID, c.Pid(), ep); err != nil {
			return err
		}
	}
	var rec *Endpoint
	if ep != nil {
		ones := ep.Subnet.Bits()
		rec = &Endpoint{IP: ep.IP.String(), Gateway: ep.Gateway.String(), MAC: ep.MAC, PrefixLen: ones}
		for _, pt := range ep.Ports {
			rec.Ports = append(rec.Ports, Port{Host: pt.Host, Ctr: pt.Ctr, Proto: pt.Proto})
		}
	}

	// 5. The attach socket, then the starter's word.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(run, "attach.sock"), Net: "unix"})
	if err != nil {
		return err
	}
	m.serve(ln)
	if err := m.enc.Encode(syncMsg{Type: "created", Pid: c.Pid(), Network: rec}); err != nil {
		return err
	}
	var go_ syncMsg
	if err := m.dec.Decode(&go_); err != nil || go_.Type != "start" {
		return errors.New("the starter went away before it started the container")
	}
	m.tr.LookAt(c.Pid())
	if err := c.Start(); err != nil {
		return err
	}
	if stdoutR != nil {
		m.copyOut(stdoutR, streamStdout)
		m.copyOut(stderrR, streamStderr)
	} else {
		m.copyOut(m.master, streamStdout)
	}
	if err := m.enc.Encode(syncMsg{Type: "started"}); err != nil {
		return err
	}
	m.sync.Close()
	m.recordRunning(rec)
	if m.p.Trace && !m.p.TraceToEnd {
		_ = unix.Close(4) // the starter's stderr, for --trace
	}
	return nil
}

// stopTrace ends the narration: after the set-up for a starter that does
// not stay (run -d), after the teardown for one that does.
func (m *monitor) stopTrace() {
	if m.tr == nil {
		return
	}
	m.tr = nil
	if m.rt != nil {
		m.rt.Trace = nil
	}
	if m.p.TraceToEnd {
		_ = unix.Close(4)
	}
}

// recordRunning makes sure the record says the container runs, with this
// monitor: the starter writes it, and holds the container's lock until it
// has; a starter killed before it could leaves it to the monitor.
func (m *monitor) recordRunning(net *Endpoint) {
	c, unlock, err := m.e.lockRecord(m.p.ID)
	if err != nil {
		return
	}
	defer unlock()
	self := layout.Self()
	if c.State.Monitor == self {
		return
	}
	c.State = State{Status: Running, Pid: m.ctr.Pid(), Monitor: self, StartedAt: time.Now().UTC()}
	c.Network = net
	_ = m.e.save(c)
}

// makeWorkdir creates the working directory in the root if the image
// lacks it, as docker does, owned by the container's user.
func (m *monitor) makeWorkdir() error {
	if m.p.Cwd == "" || m.p.Cwd == "/" {
		return nil
	}
	p, err := runtime.SecureJoin(m.rootfs, m.p.Cwd)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("create the working directory %s: %w", m.p.Cwd, err)
	}
	return os.Chown(p, int(m.p.UID), int(m.p.GID))
}

// writeEtc writes the container's hostname, hosts and resolv.conf (stage
// 05's hostnet files), which config.json binds over the image's, with
// what --add-host and --dns say.
func (m *monitor) writeEtc(ep *network.Endpoint) error {
	dir := m.e.Dir(m.p.ID)
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if ep != nil {
		hosts += ep.IP.String() + "\t" + m.p.Hostname + "\n"
	}
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	systemdResolv, _ := os.ReadFile("/run/systemd/resolve/resolv.conf")
	resolv := withDNS(hostnet.ResolvConf(hostResolv, systemdResolv), m.p.DNS)
	hostname := m.p.Hostname + "\n"
	if m.p.Network == network.Host {
		// The host's network: its own files, as docker does.
		if h, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(h)
		}
		resolv = string(hostResolv)
	}
	for _, h := range m.p.ExtraHosts {
		name, ip, _ := ParseExtraHost(h) // checked at create
		if ip == HostGateway {
			ip = "127.0.0.1" // the host's own network
			if ep != nil {
				ip = ep.Gateway.String() // the bridge's address: the host, from the container
			}
		}
		hosts += ip + "\t" + name + "\n"
	}
	for name, content := range map[string]string{"hosts": hosts, "resolv.conf": resolv, "hostname": hostname} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// withDNS is resolv.conf with --dns's servers, --dns-search's domains and
// --dns-option's options (lines, as dnsLines gives them) in place of the
// host's: each given replaces those of its kind, as dockerd does.
func withDNS(resolv string, lines []string) string {
	if len(lines) == 0 {
		return resolv
	}
	kind := func(line string) string {
		k, _, _ := strings.Cut(line, " ")
		if k == "domain" {
			return "search" // search and domain: the last one wins, so one replaces both
		}
		return k
	}
	given := map[string]bool{}
	for _, l := range lines {
		given[kind(l)] = true
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(resolv, "\n"), "\n") {
		if !given[kind(l)] && !strings.HasPrefix(l, "# cfs:") {
			out = append(out, l)
		}
	}
	return strings.Join(append(lines, out...), "\n") + "\n"
}

// copyOut copies one of the container's outputs to the log and to the
// attached clients, until the container's end closes it.
func (m *monitor) copyOut(r *os.File, stream byte) {
	o := &output{r: r, stream: stream, lw: &logWriter{f: m.log, stream: streamName(stream)}}
	m.outs = append(m.outs, o)
	m.copy(o)
}

func (m *monitor) copy(o *output) {
	m.copying.Add(1)
	go func() {
		defer m.copying.Done()
		buf := make([]byte, 32*1024)
		for {
			n, err := o.r.Read(buf)
			if n > 0 {
				_, _ = o.lw.Write(buf[:n])
				m.broadcast(o.stream, buf[:n])
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return // slimming: paused, the pipe and a partial line kept
			}
			if err != nil {
				break // EOF, or EIO from a terminal whose last holder closed it
			}
		}
		_ = o.lw.flush()
		if o.r != m.master {
			o.r.Close()
		}
		o.ended = true
	}()
}

func (m *monitor) broadcast(stream byte, p []byte) {
	m.mu.Lock()
	clients := append([]*attachClient(nil), m.clients...)
	m.mu.Unlock()
	for _, c := range clients {
		if stream == streamStdout && !c.opt.Stdout || stream == streamStderr && !c.opt.Stderr {
			continue
		}
		c.mu.Lock()
		_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		err := writeFrame(c.conn, stream, p)
		c.mu.Unlock()
		if err != nil {
			m.drop(c) // a client that does not read does not hold the container up
		}
	}
}

func (m *monitor) drop(c *attachClient) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, have := range m.clients {
		if have == c {
			m.clients = append(m.clients[:i], m.clients[i+1:]...)
			c.conn.Close()
		}
	}
}

// serve accepts attach clients on ln until it fails (or slimming stops
// it): each says first what it attaches to; the first with stdin feeds
// the container's stdin.
func (m *monitor) serve(ln *net.UnixListener) {
	m.ln = ln
	m.serving = make(chan struct{})
	go func() {
		defer close(m.serving)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			m.mu.Lock()
			m.conns++
			m.mu.Unlock()
			go func() {
				m.attached(conn)
				m.mu.Lock()
				m.conns--
				m.mu.Unlock()
			}()
		}
	}()
}

func (m *monitor) attached(conn net.Conn) {
	stream, p, err := readFrame(conn)
	if err != nil || stream != streamHello {
		conn.Close()
		return
	}
	c := &attachClient{conn: conn}
	if json.Unmarshal(p, &c.opt) != nil {
		conn.Close()
		return
	}
	m.mu.Lock()
	if m.done {
		m.mu.Unlock()
		conn.Close()
		return
	}
	m.clients = append(m.clients, c)
	// Said under the lock, before any output can go to it: the client
	// that starts the container after this misses none of its output.
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_ = writeFrame(conn, streamReady, nil)
	feeds := c.opt.Stdin && m.stdin != nil && !m.stdinUsed
	if feeds && m.p.StdinOnce {
		m.stdinUsed = true
	}
	m.mu.Unlock()
	for {
		stream, p, err := readFrame(conn)
		if err != nil {
			if feeds && m.p.StdinOnce && !m.p.Tty {
				m.closeStdin()
			}
			if feeds && m.p.Tty {
				// A terminal outlives its client (detached with
				// Ctrl-P Ctrl-Q): the next to attach types into it.
				m.mu.Lock()
				m.stdinUsed = false
				m.mu.Unlock()
			}
			// The client went away (its clients never half-close): let
			// go of it now, not at the next output, which a client with
			// no streams (a waiter) never gets.
			m.drop(c)
			return
		}
		switch stream {
		case streamStdin:
			if !feeds {
				continue
			}
			if len(p) == 0 { // the client's stdin ended
				if m.p.Tty {
					continue // a terminal has no end of input but Ctrl-D, which is a byte
				}
				if m.p.StdinOnce {
					m.closeStdin()
				}
				continue
			}
			_, _ = m.stdin.Write(p)
		case streamResize:
			if h, w, ok := parseSize(string(p)); ok && m.master != nil {
				_ = unix.IoctlSetWinsize(int(m.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: h, Col: w})
			}
		}
	}
}

func (m *monitor) closeStdin() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stdin != nil && m.master == nil {
		m.stdin.Close()
		m.stdin = nil
	}
}

// run waits for the init to exit, and for its output to end.
func (m *monitor) run() int {
	status, err := m.wait()
	if err != nil {
		status = 255
	}
	if m.master != nil {
		// The terminal stays open while something holds the master: the
		// init is gone, and its PID namespace with everyone in it.
		m.copyingWait(2 * time.Second)
	} else {
		m.copying.Wait()
	}
	return status
}

func (m *monitor) copyingWait(d time.Duration) {
	done := make(chan struct{})
	go func() { m.copying.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// finish takes the container down, records the exit, and tells the
// attached clients, last, how it ended.
func (m *monitor) finish(status int) {
	id := m.p.ID
	// Down first (the runtime's state, the veth, with the last container
	// the bridge, the overlay): while the record says running and the
	// run directory holds the attach socket, a wait (cfs wait, rm -f)
	// dials this monitor and hears the end only after all of it.
	m.tearDown()
	m.stopTrace()
	// The record says exited, and the run directory goes, in one step
	// under the container's lock: a start that follows (restart) makes
	// its own, which this monitor must not remove. Clients attached
	// already keep their connections.
	var c *Container
	var again time.Duration
	if unlock, err := m.e.lock(id); err == nil {
		if c, err = m.e.load(id); err == nil {
			ran := time.Since(c.State.StartedAt)
			c.State.Status, c.State.ExitCode, c.State.Pid = Exited, status, 0
			c.State.FinishedAt = time.Now().UTC()
			c.State.Monitor = layout.Owner{}
			if d, ok := c.restartDelay(status, ran); ok {
				// This monitor stays, to wait; a stop kills it.
				again = d
				c.State.Status, c.State.Delay, c.State.Monitor = Restarting, d, layout.Self()
				c.State.Restarts++
				c.RestartCount++
			}
			_ = m.e.save(c)
			m.e.ContainerEvent(c, events.ActionDie, map[string]string{"exitCode": strconv.Itoa(status)})
		}
		_ = os.RemoveAll(m.e.runDir(id))
		unlock()
	} else {
		_ = os.RemoveAll(m.e.runDir(id))
	}
	errText := ""
	if m.p.AutoRemove {
		if s, err := image.Open(m.p.ImagesRoot); err == nil {
			m.e.Images = s
			if err := m.e.removeFiles(id); err != nil {
				errText = err.Error()
			} else if c != nil {
				m.e.ContainerEvent(c, events.ActionDestroy, nil)
				_ = m.e.removeAnonymousVolumes(c) // --rm: with its anonymous volumes, as docker's
			}
		}
	}
	m.mu.Lock()
	m.done = true
	clients := m.clients
	m.clients = nil
	m.mu.Unlock()
	data, _ := json.Marshal(ExitStatus{StatusCode: status, Error: errText})
	for _, c := range clients {
		c.mu.Lock()
		_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_ = writeFrame(c.conn, streamExit, data)
		c.conn.Close()
		c.mu.Unlock()
	}
	if again > 0 {
		m.restart(again)
	}
}

// restartDelay is dockerd's restart manager: whether c's restart policy
// starts it again now that it ended with status after running for ran,
// and after how long: 100 ms, twice as long each time, at most a minute,
// and 100 ms again after a run of 10 seconds or more.
func (c *Container) restartDelay(status int, ran time.Duration) (time.Duration, bool) {
	p := c.HostConfig.RestartPolicy
	switch {
	case p.IsNone(), c.State.Stopped:
		return 0, false
	case p.IsOnFailure() && (status == 0 || p.MaximumRetryCount > 0 && c.State.Restarts >= p.MaximumRetryCount):
		return 0, false
	}
	d := 2 * c.State.Delay
	if d == 0 || ran >= 10*time.Second {
		d = 100 * time.Millisecond
	}
	return min(d, time.Minute), true
}

// restart waits out the delay and starts the container again, unless it
// was stopped, removed or started meanwhile. The new monitor's mount
// namespace is a copy of this one's, which was the starter's when the
// container first started: a mount made on the host since is not seen.
func (m *monitor) restart(delay time.Duration) {
	time.Sleep(delay)
	s, err := image.Open(m.p.ImagesRoot)
	if err == nil {
		m.e.Images, m.e.Exe = s, "/proc/self/exe" // this program, even if replaced on disk
		_, err = m.e.Start(m.p.ID, StartOptions{again: true})
	}
	if err == nil {
		return
	}
	// Not started (its image removed, its port taken…): the record says
	// why, unless the start said it already.
	if c, unlock, lerr := m.e.lockRecord(m.p.ID); lerr == nil {
		if c.State.Status == Restarting {
			c.State.Status, c.State.Monitor, c.State.Error = Exited, layout.Owner{}, err.Error()
			_ = m.e.save(c)
		}
		unlock()
	}
}

// tearDown undoes what setUp did, in reverse; each step is idempotent.
func (m *monitor) tearDown() {
	if m.ctr != nil {
		_ = m.ctr.Delete(true)
	} else if c, err := m.e.runtime().Get(m.p.ID); err == nil {
		_ = c.Delete(true)
	} else {
		_ = m.e.runtime().RemoveAborted(m.p.ID)
	}
	if m.joined {
		_ = network.Leave(m.tr, m.p.ID)
	}
	if m.mounted {
		_ = kernel.Unmount(m.tr, m.rootfs, unix.MNT_DETACH)
	}
	if m.log != nil {
		m.log.Close()
	}
}
