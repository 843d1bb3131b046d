package runtime

// The init: this program started again inside the container's new
// namespaces, as layout.InitName. It sets the container up from inside
// (stage 03's child, grown), tells the parent it is ready, waits on the
// exec fifo until Start, and then *becomes* the user's program with
// execve(2): unlike the stages' init, it does not stay as PID 1 to reap
// and forward signals. That is runc's model, and what containerd expects:
// the PID in the pid file is the process whose exit is the container's.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"unsafe"

	"cfs/internal/layout"
	"cfs/internal/trace"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// IsInit reports whether this process was started as a container's init
// or exec'd process; main then calls Init and nothing else. Its argv[0] is
// layout.InitName, or, when nsenter(1) started it (exec into a user
// namespace, exec_linux.go), the /proc/self/fd/N nsenter was told to run.
func IsInit() bool {
	if len(os.Args) == 0 || os.Getenv(initEnv) == "" {
		return false
	}
	return os.Args[0] == layout.InitName || strings.HasPrefix(os.Args[0], "/proc/self/fd/")
}

// init keeps the main goroutine on the process's main thread in an init
// process. Namespaces (setns, unshare), capabilities, the seccomp filter
// and the no_new_privs bit belong to a thread, not a process, and execve(2)
// keeps the calling thread's: so every step, and the final execve, happen
// on this one thread.
func init() {
	if IsInit() {
		goruntime.LockOSThread()
	}
}

// Init runs the init or exec'd process's side. It returns only on
// failure, with the exit status; on success the process is the user's
// program.
func Init() int {
	fd, err := strconv.Atoi(os.Getenv(initEnv))
	if err != nil {
		fmt.Fprintf(os.Stderr, "cfs-init: bad %s\n", initEnv)
		return 125
	}
	os.Unsetenv(initEnv)
	// The kernel named this process after the file it ran, /proc/self/fd/N:
	// "N". Give it its name back, for ps and pgrep. Same as prctl(1)'s
	// PR_SET_NAME.
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte(layout.InitName + "\x00")[0])), 0, 0, 0)
	sync := os.NewFile(uintptr(fd), "sync")
	unix.CloseOnExec(fd)
	enc, dec := json.NewEncoder(sync), json.NewDecoder(sync)
	var cfg initConfig
	if err := dec.Decode(&cfg); err != nil {
		fmt.Fprintf(os.Stderr, "cfs-init: read the config from the runtime: %v\n", err)
		return 125
	}
	openInitTrace(cfg.TraceFd)
	s := &initSide{cfg: &cfg, enc: enc, dec: dec}
	switch cfg.Mode {
	case "init":
		err = s.initContainer()
	case "exec":
		err = s.execProcess()
	default:
		err = fmt.Errorf("unknown mode %q", cfg.Mode)
	}
	// Only errors come back here: execve does not return when it works.
	if s.ready {
		// Start has returned already: the user sees this on the
		// container's stderr, as a shell's "not found".
		fmt.Fprintf(os.Stderr, "cfs-init: %v\n", err)
		if errors.Is(err, errNotFound) {
			return 127
		}
		return 126
	}
	_ = enc.Encode(syncMsg{Type: "error", Error: err.Error()})
	return 1
}

// initSide is the process's end of the conversation with the runtime.
type initSide struct {
	cfg   *initConfig
	enc   *json.Encoder
	dec   *json.Decoder
	state *specs.State // from the runtime, for createContainer and startContainer hooks
	ready bool         // "ready" sent: the runtime no longer listens
}

// initContainer sets the container up in the order runc does, each step
// a stage's lesson, then waits for Start and runs the user's program.
func (s *initSide) initContainer() error {
	spec, p := s.cfg.Spec, s.cfg.Process

	// Namespaces given by path (a pod's network, say) are joined first,
	// on this thread.
	if err := joinNamespaces(s.cfg.Join); err != nil {
		return err
	}
	// The runtime moved this process into its cgroup before sending the
	// config, so a new cgroup namespace now takes that cgroup as its root
	// (stage 07). Same as `unshare --cgroup`.
	if s.cfg.NewCgroupNS {
		call, shell := trace.Unshare(unix.CLONE_NEWCGROUP)
		if err := step(call, shell, func() error { return unix.Unshare(unix.CLONE_NEWCGROUP) }); err != nil {
			return os.NewSyscallError("unshare CLONE_NEWCGROUP", err)
		}
	}
	// The hostname and NIS domain name of the new UTS namespace (stage 01).
	if h := spec.Hostname; h != "" {
		if err := step(fmt.Sprintf("sethostname(%q)", h), "hostname "+h, func() error { return unix.Sethostname([]byte(h)) }); err != nil {
			return os.NewSyscallError("sethostname", err)
		}
	}
	if d := spec.Domainname; d != "" {
		if err := step(fmt.Sprintf("setdomainname(%q)", d), "domainname "+d, func() error { return unix.Setdomainname([]byte(d)) }); err != nil {
			return os.NewSyscallError("setdomainname", err)
		}
	}
	// A session keyring of its own, so that keys the host's root added
	// (keyctl(1)) are not the container's to read.
	if !s.cfg.NoNewKeyring {
		name := "_ses." + s.cfg.ID
		err := step(fmt.Sprintf("keyctl(KEYCTL_JOIN_SESSION_KEYRING, %q)", name), "keyctl session "+name, func() error {
			_, err := unix.KeyctlJoinSessionKeyring(name)
			return err
		})
		if err != nil && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("join a new session keyring (keyctl; --no-new-keyring skips it): %w", err)
		}
	}

	// The root filesystem and its mounts, under the new root while the
	// old one is still there (stage 03).
	if err := prepareRoot(s.cfg); err != nil {
		return err
	}
	// Mounts done, root not yet entered: the runtime's hooks run now, on
	// the host, then the container's, here.
	if err := s.enc.Encode(syncMsg{Type: "hooks"}); err != nil {
		return err
	}
	var reply syncMsg
	if err := s.dec.Decode(&reply); err != nil {
		return fmt.Errorf("wait for the runtime's hooks: %w", err)
	}
	if reply.Type != "ok" {
		return fmt.Errorf("the runtime answered %q", reply.Type)
	}
	s.state = reply.State
	if spec.Hooks != nil {
		if err := runHooks("createContainer", spec.Hooks.CreateContainer, *s.state); err != nil {
			return err
		}
	}
	if err := enterRoot(s.cfg); err != nil {
		return err
	}
	if err := finishRoot(s.cfg); err != nil {
		return err
	}
	return s.become(p, spec.Linux.Seccomp)
}

// become turns this process into the user's program: the terminal, the
// limits, the working directory, the user and capabilities, then "ready",
// the wait for Start (init only), the seccomp filter and execve.
func (s *initSide) become(p *specs.Process, sc *specs.LinuxSeccomp) error {
	if s.cfg.ConsoleFd >= 0 {
		if err := setupConsole(s.cfg.ConsoleFd, p); err != nil {
			return err
		}
	}
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	if err := step(fmt.Sprintf("chdir(%q)", p.Cwd), "cd "+p.Cwd, func() error { return unix.Chdir(p.Cwd) }); err != nil {
		return fmt.Errorf("process.cwd %s: %w", p.Cwd, err)
	}
	env := p.Env
	path, err := lookPath(p.Args[0], env)
	if err != nil {
		return err
	}
	// Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which
	// the user's process may not keep: install it first, as runc does.
	// With it, install it last, so that the fewest system calls of this
	// program run under it.
	if sc != nil && !p.NoNewPrivileges {
		if err := loadSeccomp(sc); err != nil {
			return err
		}
	}
	if err := setUserAndCaps(p, s.cfg.UserNS); err != nil {
		return err
	}
	if err := s.enc.Encode(syncMsg{Type: "ready"}); err != nil {
		return err
	}
	s.ready = true

	// Created: wait here until Start writes a byte to the exec fifo.
	if s.cfg.FifoFd >= 0 {
		if err := waitFifo(s.cfg.FifoFd); err != nil {
			return err
		}
		if h := s.cfg.Spec.Hooks; h != nil && len(h.StartContainer) > 0 {
			st := *s.state
			st.Status = specs.StateRunning
			if err := runHooks("startContainer", h.StartContainer, st); err != nil {
				return err
			}
		}
	}
	// Every descriptor above the preserved ones closes at execve: the sync
	// socket, the fifo, the runtime's binary, whatever the Go runtime
	// opened. Same as close_range(3+N, ~0, CLOSE_RANGE_CLOEXEC).
	first := uint(3 + s.cfg.PreserveFDs)
	err = step(fmt.Sprintf("close_range(%d, ~0, CLOSE_RANGE_CLOEXEC)", first), "", func() error {
		return unix.CloseRange(first, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	})
	if err != nil {
		return os.NewSyscallError("close_range", err)
	}
	if p.NoNewPrivileges {
		// From here, execve never grants privileges: set-user-ID bits and
		// file capabilities are ignored (man 2 prctl, PR_SET_NO_NEW_PRIVS).
		err := step("prctl(PR_SET_NO_NEW_PRIVS, 1)", "setpriv --no-new-privs", func() error { return unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })
		if err != nil {
			return os.NewSyscallError("prctl PR_SET_NO_NEW_PRIVS", err)
		}
		if sc != nil {
			if err := loadSeccomp(sc); err != nil {
				return err
			}
		}
	}
	if s.cfg.Mode == "init" && s.cfg.Spec.Annotations[InitAnnotation] == "true" {
		return stayAsInit(path, p.Args, env)
	}
	return execve(path, p.Args, env)
}

// waitFifo blocks until Start writes to the exec fifo.
func waitFifo(fd int) error {
	b := make([]byte, 1)
	for {
		n, err := unix.Read(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("read the exec fifo", err)
		}
		if n == 1 {
			return nil
		}
	}
}

// joinNamespaces enters namespaces by path, on this thread. The files are
// opened first: once in another mount namespace, the paths may not be
// there. A mount namespace can be entered only by a thread whose
// filesystem information (root, cwd) is not shared with other threads,
// and a Go program's threads share it: unshare(CLONE_FS) gives this one
// its own copy first.
func joinNamespaces(join []specs.LinuxNamespace) error {
	type open struct {
		n specs.LinuxNamespace
		f *os.File
	}
	var fs []open
	for _, n := range join {
		f, err := os.Open(n.Path)
		if err != nil {
			return fmt.Errorf("open the %s namespace to join: %w", n.Type, err)
		}
		defer f.Close()
		fs = append(fs, open{n, f})
	}
	for _, o := range fs {
		if o.n.Type == specs.MountNamespace {
			if err := step("unshare(CLONE_FS)", "", func() error { return unix.Unshare(unix.CLONE_FS) }); err != nil {
				return os.NewSyscallError("unshare CLONE_FS", err)
			}
		}
		err := step(fmt.Sprintf("setns(%s, 0)", o.n.Path), fmt.Sprintf("nsenter --%s=%s", nsenterFlag(string(o.n.Type)), o.n.Path), func() error {
			return unix.Setns(int(o.f.Fd()), 0)
		})
		if err != nil {
			return fmt.Errorf("join the %s namespace %s: %w", o.n.Type, o.n.Path, os.NewSyscallError("setns", err))
		}
	}
	return nil
}
