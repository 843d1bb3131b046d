package runtime

// Create: the parent's side of starting a container, from the host. It is
// stages 01 to 07's parent function driven by a config: clone with the
// namespaces asked for (stages 01-06), the uid/gid maps written while the
// child waits (stage 06), the child moved into its cgroup before it runs
// anything (stage 07). What stages did with a config pipe, this does with
// a socket, both ways: the init reports each step back, and says when it
// is ready, waiting for Start.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"syscall"
	"time"

	"cfs/final/cgroups"
	"cfs/internal/kernel"
	"cfs/internal/layout"
	"cfs/internal/trace"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// CreateOptions are create's flags.
type CreateOptions struct {
	// Bundle is the directory with config.json (default: the current one).
	Bundle string
	// ConsoleSocket is a unix socket on which the pseudo-terminal's master
	// is sent (process.terminal). ConsoleConn, when set, is used instead: a
	// connected socket (Run makes one for itself).
	ConsoleSocket string
	ConsoleConn   *os.File
	// NoPivot enters the root with MS_MOVE and chroot instead of
	// pivot_root, for a root on the initramfs, which pivot_root refuses.
	NoPivot bool
	// NoNewKeyring keeps the caller's session keyring instead of a new one.
	NoNewKeyring bool
	// PreserveFDs passes the caller's file descriptors 3 to 3+N-1 on to the
	// container, at the same numbers (systemd's socket activation).
	PreserveFDs int
	// Stdin, Stdout and Stderr become the container's, when it has no
	// terminal; nil is this process's own.
	Stdin, Stdout, Stderr *os.File
	// Spec, when set, is the bundle's config as LoadBundle read and
	// checked it, and Bundle the directory LoadBundle returned: a caller
	// that needed the config first does not read it twice.
	Spec *specs.Spec
}

// initEnv marks a process as a container's init or exec'd process (with
// layout.InitName as argv[0]); its value is the sync socket's descriptor.
const initEnv = layout.RuntimeInitEnv

// initConfig is what the parent sends the init (and an exec'd process)
// first, as one JSON line on the sync socket.
type initConfig struct {
	Mode         string                 `json:"mode"` // "init" or "exec"
	ID           string                 `json:"id"`
	Spec         *initSpec              `json:"spec"`    // mode init
	Process      *specs.Process         `json:"process"` // mode exec; the spec's for init
	Rootfs       string                 `json:"rootfs"`
	Bundle       string                 `json:"bundle"`
	NoPivot      bool                   `json:"noPivot,omitempty"`
	NoNewKeyring bool                   `json:"noNewKeyring,omitempty"`
	PreserveFDs  int                    `json:"preserveFds,omitempty"`
	FifoFd       int                    `json:"fifoFd"`         // the exec fifo, opened read-write; -1 in exec
	ConsoleFd    int                    `json:"consoleFd"`      // the console socket, or -1
	Join         []specs.LinuxNamespace `json:"join,omitempty"` // namespaces to setns into (pid excepted: joined by the parent)
	NewCgroupNS  bool                   `json:"newCgroupNS,omitempty"`
	Cgroup       cgroups.State          `json:"cgroup"`
	UserNS       bool                   `json:"userNS,omitempty"`  // the process is in a new user namespace
	Seccomp      *specs.LinuxSeccomp    `json:"seccomp,omitempty"` // mode exec: the container's
	TraceFd      int                    `json:"traceFd,omitempty"` // the runtime's trace, to narrate on (inittrace_linux.go)
}

// initSpec is the part of the config the init acts on itself; the rest
// (namespaces, ID maps, the cgroup and its limits, process.oomScoreAdj)
// is the runtime's. Only this part crosses the sync socket, because
// encoding/json, the first time it meets a type, prepares an encoder for
// every type reachable from it, and from specs.Spec that is every
// platform's and every controller's settings: 0.5 ms of each init's
// start, before it can do anything (bench/RESULTS.md).
type initSpec struct {
	Root        specs.Root        `json:"root"`
	Mounts      []specs.Mount     `json:"mounts,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	Domainname  string            `json:"domainname,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Linux       initLinux         `json:"linux"`
}

// initLinux is the part of the config's linux object the init acts on.
type initLinux struct {
	Devices           []specs.LinuxDevice `json:"devices,omitempty"`
	Sysctl            map[string]string   `json:"sysctl,omitempty"`
	RootfsPropagation string              `json:"rootfsPropagation,omitempty"`
	MaskedPaths       []string            `json:"maskedPaths,omitempty"`
	ReadonlyPaths     []string            `json:"readonlyPaths,omitempty"`
	Seccomp           *specs.LinuxSeccomp `json:"seccomp,omitempty"`
}

// initSpecOf takes the init's part of a validated config (root and linux
// are there).
func initSpecOf(s *specs.Spec) *initSpec {
	l := s.Linux
	return &initSpec{
		Root: *s.Root, Mounts: s.Mounts, Hooks: s.Hooks, Hostname: s.Hostname, Domainname: s.Domainname, Annotations: s.Annotations,
		Linux: initLinux{
			Devices: l.Devices, Sysctl: l.Sysctl, RootfsPropagation: l.RootfsPropagation,
			MaskedPaths: l.MaskedPaths, ReadonlyPaths: l.ReadonlyPaths, Seccomp: l.Seccomp,
		},
	}
}

// syncMsg is one message on the sync socket, either way.
type syncMsg struct {
	Type  string       `json:"type"` // init → parent: "hooks", "ready", "error"; parent → init: "ok"
	Error string       `json:"error,omitempty"`
	State *specs.State `json:"state,omitempty"`
}

// cloneFlags are the namespaces clone(2) makes new; a cgroup namespace is
// made later, by the init itself, once it is in its cgroup (stage 07).
var cloneFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace: unix.CLONE_NEWNS, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
}

// LoadBundle reads and checks a bundle's config.json.
func LoadBundle(bundle string) (*specs.Spec, string, error) {
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(filepath.Join(abs, "config.json"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("%s has no config.json: is it a bundle? (cfs runtime spec writes one)", abs)
		}
		return nil, "", err
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, "", fmt.Errorf("config.json: %w", err)
	}
	if err := Validate(&s, abs); err != nil {
		return nil, "", err
	}
	return &s, abs, nil
}

// Create makes container id from the bundle and leaves its init waiting
// for Start. On any error it removes what it made: no process, cgroup,
// mount or state stays.
func (r *Runtime) Create(id string, opt CreateOptions) (c *Container, retErr error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	if opt.Bundle == "" {
		opt.Bundle = "."
	}
	spec, bundle := opt.Spec, opt.Bundle
	var err error
	if spec == nil {
		if spec, bundle, err = LoadBundle(opt.Bundle); err != nil {
			return nil, err
		}
	}
	if spec.Process.Terminal && opt.ConsoleSocket == "" && opt.ConsoleConn == nil {
		return nil, errors.New("process.terminal is true, but no --console-socket was given to send the terminal to (or run without -d, or set terminal to false)")
	}
	if !spec.Process.Terminal && (opt.ConsoleSocket != "" || opt.ConsoleConn != nil) {
		return nil, errors.New("--console-socket was given, but process.terminal is false in config.json")
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if rootfs, err = filepath.EvalSymlinks(rootfs); err != nil {
		return nil, err
	}
	cgPath, err := cgroups.Path(spec.Linux.CgroupsPath, id, r.SystemdCgroup)
	if err != nil {
		return nil, err
	}

	// The state directory first: mkdir(2) either makes it or fails, so two
	// creates of one ID cannot both go on.
	if err := os.MkdirAll(r.root(), 0o711); err != nil {
		return nil, fmt.Errorf("create the state root %s: %w", r.root(), err)
	}
	dir := filepath.Join(r.root(), id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("container %s exists already (cfs runtime delete %s removes it)", id, id)
		}
		return nil, fmt.Errorf("create the state directory: %w", err)
	}
	c = &Container{r: r, dir: dir, rec: record{ID: id, Bundle: bundle, Rootfs: rootfs, Created: time.Now().UTC(), Spec: spec}}
	if u, err := user.Current(); err == nil {
		c.rec.Owner = u.Username
	}
	made := c
	defer func() {
		if retErr != nil {
			_ = made.destroy()
		}
	}()

	// The cgroup, with its limits, before the init exists (stage 07).
	cg, err := cgroups.New(cgPath)
	if err != nil {
		return nil, err
	}
	c.cg = cg
	err = cg.Create()
	c.rec.Cgroup = cg.State()
	if err != nil {
		return nil, err
	}
	// Recorded now, so that `delete --force` can clean up after a create
	// that is killed from here on.
	if err := c.save(); err != nil {
		return nil, err
	}
	if err := cg.Set(spec.Linux.Resources); err != nil {
		return nil, err
	}
	r.debugf("cgroup %s", cgPath)
	for _, ctrl := range sortedKeys(c.rec.Cgroup.Dirs) {
		r.Trace.Result("cgroup %s, its limits written (stage 07)", c.rec.Cgroup.Dirs[ctrl])
	}

	// The exec fifo: the init waits reading it, Start writes one byte.
	// The init gets it already open (read-write: opening a fifo so does not
	// block), so it needs no path to it once inside its own root.
	fifo := filepath.Join(dir, fifoFile)
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		return nil, os.NewSyscallError("mkfifo "+fifo, err)
	}
	fifoF, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer fifoF.Close()

	cfg := &initConfig{
		Mode: "init", ID: id, Spec: initSpecOf(spec), Process: spec.Process, Rootfs: rootfs, Bundle: bundle,
		NoPivot: opt.NoPivot, NoNewKeyring: opt.NoNewKeyring, PreserveFDs: opt.PreserveFDs,
		Cgroup: c.rec.Cgroup, ConsoleFd: -1,
	}
	var flags uintptr
	var pidns string
	for _, n := range spec.Linux.Namespaces {
		switch {
		case n.Path != "" && n.Type == specs.PIDNamespace:
			pidns = n.Path
		case n.Path != "":
			cfg.Join = append(cfg.Join, n)
		case n.Type == specs.CgroupNamespace:
			cfg.NewCgroupNS = true
		default:
			flags |= cloneFlags[n.Type]
		}
	}
	cfg.UserNS = flags&unix.CLONE_NEWUSER != 0
	p, err := r.spawn(cfg, spawnOptions{
		flags: flags, pidns: pidns, fifo: fifoF, consoleSocket: opt.ConsoleSocket, consoleConn: opt.ConsoleConn, preserveFDs: opt.PreserveFDs,
		stdin: opt.Stdin, stdout: opt.Stdout, stderr: opt.Stderr, spec: spec, cg: cg,
	})
	if p != nil {
		c.init = p.cmd
		c.rec.Init = p.owner
		if err := c.save(); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	// The init answers "hooks" when its mounts are done and it is about to
	// enter its root: the runtime's hooks run now, from the host, with the
	// init's PID to act on (a network plugin moves a veth into it).
	err = p.talk(func(m syncMsg) (*syncMsg, error) {
		st := c.rec.specState(Creating)
		h := hooksOf(spec)
		if err := runHooks("prestart", h.Prestart, st); err != nil { //nolint:staticcheck // deprecated, still run
			return nil, err
		}
		if err := runHooks("createRuntime", h.CreateRuntime, st); err != nil {
			return nil, err
		}
		st.Status = specs.StateCreated
		return &syncMsg{Type: "ok", State: &st}, nil
	})
	if err != nil {
		return nil, err
	}
	c.rec.Ready = true
	if err := c.save(); err != nil {
		return nil, err
	}
	r.debugf("container %s created: init PID %d waits", id, c.rec.Init.PID)
	return c, nil
}

// spawnOptions say how to start a process in a container.
type spawnOptions struct {
	flags                 uintptr
	pidns                 string // a PID namespace to start the process in
	userns                string // a user namespace to join, through nsenter
	nsenter               string // nsenter(1)'s path, with userns
	fifo                  *os.File
	consoleSocket         string
	consoleConn           *os.File
	preserveFDs           int
	stdin, stdout, stderr *os.File
	spec                  *specs.Spec
	cg                    cgroups.Manager
}

// child is a started init or exec'd process, and its end of the sync
// socket.
type child struct {
	cmd   *exec.Cmd
	owner layout.Owner
	sync  *os.File
	enc   *json.Encoder
	dec   *json.Decoder
}

// spawn starts this program again as a container's process (argv[0]
// cfs-init), from the sealed copy of its binary (exe_linux.go), in new
// namespaces or in the container's PID namespace, moves it into the
// cgroup, and sends it cfg. The process then works through its steps
// on its own; talk follows them.
func (r *Runtime) spawn(cfg *initConfig, o spawnOptions) (ch *child, retErr error) {
	exe, err := sealedExe()
	if err != nil {
		return nil, err
	}
	// A socket pair both ways; SOCK_CLOEXEC, so that only the descriptor
	// passed on purpose reaches the child.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	parentEnd, childEnd := os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync")
	defer childEnd.Close()
	defer func() {
		if retErr != nil {
			parentEnd.Close()
		}
	}()

	// The child's descriptors: 0-2 its stdio; 3 to 3+N-1 the caller's
	// preserved ones, at the same numbers; then the runtime's own, which
	// the child closes before it runs the user's program.
	var extra []*os.File
	for i := 0; i < o.preserveFDs; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved"))
	}
	next := func(f *os.File) int {
		extra = append(extra, f)
		return 2 + len(extra)
	}
	syncFd := next(childEnd)
	exeFd := next(exe)
	cfg.FifoFd = -1
	if o.fifo != nil {
		cfg.FifoFd = next(o.fifo)
	}
	if o.consoleSocket != "" {
		conn, err := net.Dial("unix", o.consoleSocket)
		if err != nil {
			return nil, fmt.Errorf("connect to the console socket %s: %w", o.consoleSocket, err)
		}
		f, err := conn.(*net.UnixConn).File()
		conn.Close()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cfg.ConsoleFd = next(f)
	} else if o.consoleConn != nil {
		cfg.ConsoleFd = next(o.consoleConn)
	}
	if f := r.Trace.File(); f != nil {
		cfg.TraceFd = next(f)
	}

	cmd := &exec.Cmd{
		Path: "/proc/self/fd/" + strconv.Itoa(exeFd),
		Args: []string{layout.InitName},
		// The Go runtime's own settings; the user's program gets
		// process.env. One P keeps the init's threads few: the pids
		// controller counts them (stage 07).
		Env:        []string{initEnv + "=" + strconv.Itoa(syncFd), "GOMAXPROCS=1"},
		ExtraFiles: extra,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: o.flags,
			// A terminal's process must lead a session of its own to make
			// the terminal its controlling one.
			Setsid: cfg.Process.Terminal,
		},
	}
	if o.userns != "" {
		// nsenter(1) joins the user namespace and becomes uid and gid 0
		// there, then executes this program, from the same descriptor:
		// /proc/self/fd/N is nsenter's then, and leads to the same sealed
		// binary (/proc/self/exe would be nsenter's own). Descriptors pass
		// through it, and without --pid it does not fork: the process
		// started here is the one that execs the user's program. nsenter
		// cannot set argv[0]: IsInit knows the path for it.
		cmd.Args = []string{"nsenter", "--user=" + o.userns, "--", cmd.Path}
		cmd.Path = o.nsenter
	}
	if cfg.Process.Terminal {
		// Only the terminal: never the runtime's own stdout and stderr,
		// which a caller reading them to the end would wait on forever.
		// /dev/null is opened here, not by cmd.Start: that runs in the
		// container's cgroup, whose device rules may not allow it.
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		defer null.Close()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	} else {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = or(o.stdin, os.Stdin), or(o.stdout, os.Stdout), or(o.stderr, os.Stderr)
	}
	if o.flags&unix.CLONE_NEWUSER != 0 {
		// The maps are written while the child waits, before it runs this
		// program again: execve drops the capabilities of a process that is
		// not root in its user namespace (stage 06).
		for _, m := range o.spec.Linux.UIDMappings {
			cmd.SysProcAttr.UidMappings = append(cmd.SysProcAttr.UidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		for _, m := range o.spec.Linux.GIDMappings {
			cmd.SysProcAttr.GidMappings = append(cmd.SysProcAttr.GidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	err = startIn(r.Trace, cmd, o.pidns, o.cg, func() error {
		if r.Trace != nil {
			// Narrated as the stages narrate their clone (kernel.Clone),
			// or, into the namespaces of a running container (exec), as
			// the fork of a shell's command.
			if o.pidns == "" {
				return kernel.Clone(r.Trace, cmd)
			}
			return kernel.ForkExec(r.Trace, cmd)
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start the container's process (clone %s): %w", cloneNames(o.flags), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ch = &child{cmd: cmd, sync: parentEnd, enc: json.NewEncoder(parentEnd), dec: json.NewDecoder(parentEnd)}
	_, start, _ := layout.ProcStat(cmd.Process.Pid)
	ch.owner = layout.Owner{PID: cmd.Process.Pid, Start: start}
	defer func() {
		if retErr != nil {
			ch.kill()
		}
	}()
	childEnd.Close()

	// The OOM score is the host's to set, from /proc.
	if adj := cfg.Process.OOMScoreAdj; adj != nil {
		p := fmt.Sprintf("/proc/%d/oom_score_adj", cmd.Process.Pid)
		if err := os.WriteFile(p, []byte(strconv.Itoa(*adj)), 0); err != nil {
			return ch, fmt.Errorf("set process.oomScoreAdj: write %s: %w", p, err)
		}
	}
	if err := ch.enc.Encode(cfg); err != nil {
		return ch, fmt.Errorf("send the config to the container's process: %w", ch.failure(err))
	}
	return ch, nil
}

func or(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

// startIn starts the container's process with start (cmd.Start, or
// kernel.Clone when traced): born in the container's cgroup (stage 07), so
// that it runs nothing of the user's outside it, and with pidns, in that
// PID namespace. Both are the calling thread's business: a child is born
// in the cgroups of the thread that forks it (cgroups.Manager.ForkInto),
// and setns(2) into a PID namespace moves no one but decides where the
// thread's *next* child is born. So all of it happens on a thread of its
// own that is then thrown away (a goroutine that ends while locked to its
// thread takes the thread with it).
func startIn(tr *trace.Tracer, cmd *exec.Cmd, pidns string, cg cgroups.Manager, start func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		errc <- func() error {
			if pidns != "" {
				f, err := os.Open(pidns)
				if err != nil {
					return err
				}
				defer f.Close()
				// Same as `nsenter --pid=PIDNS`, for the next child.
				err = kernel.Do(tr, fmt.Sprintf("setns(%s, CLONE_NEWPID)", pidns), "nsenter --pid="+pidns, func() error {
					return unix.Setns(int(f.Fd()), unix.CLONE_NEWPID)
				})
				if err != nil {
					return fmt.Errorf("join the PID namespace: %w", err)
				}
			}
			done, err := cg.ForkInto(cmd.SysProcAttr)
			if err != nil {
				return fmt.Errorf("prepare to start the container's process in its cgroup: %w", err)
			}
			err = start()
			if derr := done(); derr != nil && err == nil {
				// The child is born, but this thread stays in the
				// container's cgroup: fail rather than have the cgroup
				// list the runtime among the container's processes.
				_ = cmd.Process.Kill()
				_, _ = cmd.Process.Wait()
				err = fmt.Errorf("leave the container's cgroup: %w", derr)
			}
			return err
		}()
	}()
	return <-errc
}

// talk follows the child's messages until it is ready: onHooks answers
// "hooks"; "error" ends with the child's error.
func (ch *child) talk(onHooks func(syncMsg) (*syncMsg, error)) error {
	for {
		var m syncMsg
		if err := ch.dec.Decode(&m); err != nil {
			return ch.failure(err)
		}
		switch m.Type {
		case "ready":
			ch.sync.Close()
			return nil
		case "error":
			return errors.New(m.Error)
		case "hooks":
			reply, err := onHooks(m)
			if err != nil {
				return err
			}
			if err := ch.enc.Encode(reply); err != nil {
				return ch.failure(err)
			}
		default:
			return fmt.Errorf("unexpected message %q from the container's process", m.Type)
		}
	}
}

// failure explains a broken sync socket: the child died.
func (ch *child) failure(err error) error {
	var ws unix.WaitStatus
	if pid, _ := unix.Wait4(ch.cmd.Process.Pid, &ws, unix.WNOHANG, nil); pid > 0 {
		ch.cmd.Process.Release()
		if ws.Signaled() {
			return fmt.Errorf("the container's process was killed by %v before it was ready", ws.Signal())
		}
		return fmt.Errorf("the container's process exited with status %d before it was ready", ws.ExitStatus())
	}
	return fmt.Errorf("the container's process stopped talking: %w", err)
}

// kill ends a child that failed halfway, and reaps it.
func (ch *child) kill() {
	_ = ch.cmd.Process.Kill()
	_, _ = ch.cmd.Process.Wait()
	ch.sync.Close()
}

func cloneNames(flags uintptr) string {
	s := ""
	for _, n := range []struct {
		f    uintptr
		name string
	}{{unix.CLONE_NEWUSER, "NEWUSER"}, {unix.CLONE_NEWPID, "NEWPID"}, {unix.CLONE_NEWNS, "NEWNS"},
		{unix.CLONE_NEWUTS, "NEWUTS"}, {unix.CLONE_NEWIPC, "NEWIPC"}, {unix.CLONE_NEWNET, "NEWNET"}} {
		if flags&n.f != 0 {
			if s != "" {
				s += "|"
			}
			s += "CLONE_" + n.name
		}
	}
	if s == "" {
		return "no new namespaces"
	}
	return s
}

// destroy removes what Create made, for a create that failed and for
// Delete: the processes left in the cgroup, the cgroup, the state
// directory. Each step is idempotent.
func (c *Container) destroy() error {
	var errs []error
	if c.init != nil && c.init.ProcessState == nil {
		_ = c.init.Process.Kill()
		_, _ = c.init.Process.Wait()
	}
	// Only a cgroup this container made: a create refused because its
	// cgroup exists must not kill what runs in someone else's.
	if c.cg != nil && c.cg.State().Owned() {
		killAll(c.cg)
	}
	if c.cg != nil {
		if err := c.cg.Destroy(); err != nil {
			errs = append(errs, err)
		} else {
			for _, ctrl := range sortedKeys(c.rec.Cgroup.Dirs) {
				c.r.Trace.Result("cgroup %s removed (stage 07)", c.rec.Cgroup.Dirs[ctrl])
			}
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
