package runccli

// The verbs. Each parses runc's flags for it and makes one or two calls
// of the runtime package.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"cfs/final/runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"
)

func specCmd(e *env, args []string) error {
	fs := newFlags("spec")
	bundle := fs.String("bundle", "", "`DIR` to write config.json into (default: the current directory)")
	fs.StringVar(bundle, "b", "", "same as --bundle")
	rootless := fs.Bool("rootless", false, "a config for an ordinary user: a user namespace, no cgroups")
	if _, err := e.parse(fs, args, "spec", 0, true); err != nil {
		return err
	}
	s := runtime.DefaultSpec()
	if *rootless {
		s = runtime.RootlessSpec()
	}
	p := filepath.Join(*bundle, "config.json")
	if _, err := os.Stat(p); err == nil {
		return fmt.Errorf("file %s exists: remove it first", p)
	}
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(p, append(data, '\n'), 0o666)
}

// createFlags are the flags create and run share.
type createFlags struct {
	bundle, pidFile, consoleSocket *string
	noPivot, noNewKeyring          *bool
	preserveFDs                    *int
}

func addCreateFlags(fs interface {
	String(string, string, string) *string
	StringVar(*string, string, string, string)
	Bool(string, bool, string) *bool
	Int(string, int, string) *int
}) createFlags {
	var f createFlags
	f.bundle = fs.String("bundle", "", "the bundle `DIR`, with config.json (default: the current directory)")
	fs.StringVar(f.bundle, "b", "", "same as --bundle")
	f.pidFile = fs.String("pid-file", "", "`FILE` to write the init's host PID to")
	f.consoleSocket = fs.String("console-socket", "", "unix `SOCKET` to send the terminal's master to (process.terminal)")
	f.noPivot = fs.Bool("no-pivot", false, "enter the root with MS_MOVE and chroot, not pivot_root (a root on the initramfs)")
	f.noNewKeyring = fs.Bool("no-new-keyring", false, "keep the caller's session keyring")
	f.preserveFDs = fs.Int("preserve-fds", 0, "pass `N` more file descriptors (3 to 3+N-1) to the container")
	return f
}

func (f createFlags) options() runtime.CreateOptions {
	return runtime.CreateOptions{
		Bundle: *f.bundle, ConsoleSocket: *f.consoleSocket, NoPivot: *f.noPivot,
		NoNewKeyring: *f.noNewKeyring, PreserveFDs: *f.preserveFDs,
	}
}

func createCmd(e *env, args []string) error {
	fs := newFlags("create")
	f := addCreateFlags(fs)
	rest, err := e.parse(fs, args, "create", 1, true)
	if err != nil {
		return err
	}
	_, err = e.create(rest[0], f.options(), *f.pidFile)
	return err
}

// create creates the container and writes its init's PID to pidFile, if
// one is given; on an error, nothing is left.
func (e *env) create(id string, opt runtime.CreateOptions, pidFile string) (*runtime.Container, error) {
	c, err := e.rt.Create(id, opt)
	if err != nil {
		return nil, err
	}
	if err := writePidFile(pidFile, c.Pid()); err != nil {
		_ = c.Delete(true)
		return nil, err
	}
	return c, nil
}

// The verbs whose only argument is a container's ID.
var (
	startCmd  = onContainer("start", func(_ *env, c *runtime.Container) error { return c.Start() })
	stateCmd  = onContainer("state", func(e *env, c *runtime.Container) error { return writeJSON(e.stdout, c.State()) })
	pauseCmd  = onContainer("pause", func(_ *env, c *runtime.Container) error { return c.Pause() })
	resumeCmd = onContainer("resume", func(_ *env, c *runtime.Container) error { return c.Resume() })
)

func onContainer(v string, op func(e *env, c *runtime.Container) error) func(*env, []string) error {
	return func(e *env, args []string) error {
		c, _, err := e.container(newFlags(v), args, v, true)
		if err != nil {
			return err
		}
		return op(e, c)
	}
}

func runCmd(e *env, args []string) error {
	fs := newFlags("run")
	f := addCreateFlags(fs)
	detach := fs.Bool("detach", false, "return once the container runs, instead of waiting for it")
	fs.BoolVar(detach, "d", false, "same as --detach")
	keep := fs.Bool("keep", false, "do not delete the container once it has exited")
	rest, err := e.parse(fs, args, "run", 1, true)
	if err != nil {
		return err
	}
	id := rest[0]
	opt := f.options()
	// The config is read while the signals are taken: both must be done
	// before anything of the container exists, and both are slow the first
	// time, about 1 ms each here (encoding/json meets the config's types;
	// each of sixty signals is a round trip to the Go runtime's signal
	// thread).
	taken := make(chan *fg)
	go func() { taken <- foreground(!*detach) }()
	spec, bundle, err := runtime.LoadBundle(or(opt.Bundle, "."))
	fg := <-taken
	defer fg.stop()
	if err != nil {
		return err
	}
	opt.Spec, opt.Bundle = spec, bundle
	// Without --detach and --console-socket, run drives the terminal
	// itself.
	if !*detach && opt.ConsoleSocket == "" && spec.Process.Terminal {
		if err := fg.withTerminal(); err != nil {
			return err
		}
	}
	opt.ConsoleConn = fg.theirs
	c, err := e.create(id, opt, *f.pidFile)
	if err != nil {
		return err
	}
	if err := fg.attach(e); err != nil {
		_ = c.Delete(true)
		return err
	}
	if err := c.Start(); err != nil {
		if !*detach {
			_ = c.Delete(true)
		}
		return err
	}
	if *detach {
		return nil
	}
	status, err := fg.wait(func(s syscall.Signal) { _ = c.Signal(s, false) }, c.Wait)
	if !*keep {
		if derr := c.Delete(true); derr != nil && err == nil {
			err = derr
		}
	}
	if err != nil {
		return err
	}
	return &exitError{status}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func listCmd(e *env, args []string) error {
	fs := newFlags("list")
	quiet := fs.Bool("quiet", false, "print the IDs only")
	fs.BoolVar(quiet, "q", false, "same as --quiet")
	format := fs.String("format", "table", "`FORMAT`: table or json")
	fs.StringVar(format, "f", "table", "same as --format")
	if _, err := e.parse(fs, args, "list", 0, true); err != nil {
		return err
	}
	cs, err := e.rt.List()
	if err != nil {
		return err
	}
	states := make([]runtime.State, 0, len(cs))
	for _, c := range cs {
		states = append(states, c.State())
	}
	switch {
	case *quiet:
		for _, s := range states {
			fmt.Fprintln(e.stdout, s.ID)
		}
	case *format == "json":
		return writeJSON(e.stdout, states)
	case *format == "table":
		w := tabwriter.NewWriter(e.stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, s := range states {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
		}
		return w.Flush()
	default:
		return usagef("list: --format %q: want table or json", *format)
	}
	return nil
}

func killCmd(e *env, args []string) error {
	fs := newFlags("kill")
	all := fs.Bool("all", false, "signal every process of the container, not only its init")
	fs.BoolVar(all, "a", false, "same as --all")
	rest, err := e.parse(fs, args, "kill", 1, false)
	if err != nil {
		return err
	}
	sigText := "SIGTERM"
	switch len(rest) {
	case 1:
	case 2:
		sigText = rest[1]
	default:
		return usagef("kill: unexpected argument %q", rest[2])
	}
	sig, err := runtime.ParseSignal(sigText)
	if err != nil {
		return usagef("kill: %v", err)
	}
	c, err := e.rt.Get(rest[0])
	if err != nil {
		return err
	}
	return c.Signal(sig, *all)
}

func deleteCmd(e *env, args []string) error {
	fs := newFlags("delete")
	force := fs.Bool("force", false, "kill the container first if it still runs")
	fs.BoolVar(force, "f", false, "same as --force")
	rest, err := e.parse(fs, args, "delete", 1, true)
	if err != nil {
		return err
	}
	c, err := e.rt.Get(rest[0])
	if errors.Is(err, runtime.ErrNotExist) && *force {
		return nil // nothing to delete: done, as runc says
	}
	if err != nil {
		if *force && runtime.CheckID(rest[0]) == nil {
			// A create killed before it wrote its state: remove what it
			// left, as far as the directory tells.
			return e.rt.RemoveAborted(rest[0])
		}
		return err
	}
	return c.Delete(*force)
}

// stringList is a repeatable flag (--env, --cap).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func execCmd(e *env, args []string) error {
	fs := newFlags("exec")
	process := fs.String("process", "", "`FILE` with the process as JSON (runtime-spec's process); - for stdin")
	fs.StringVar(process, "p", "", "same as --process")
	tty := fs.Bool("tty", false, "give the process a terminal")
	fs.BoolVar(tty, "t", false, "same as --tty")
	detach := fs.Bool("detach", false, "return once the process runs")
	fs.BoolVar(detach, "d", false, "same as --detach")
	pidFile := fs.String("pid-file", "", "`FILE` to write the process's host PID to")
	consoleSocket := fs.String("console-socket", "", "unix `SOCKET` to send the terminal's master to")
	cwd := fs.String("cwd", "", "working `DIR` in the container")
	var envs, caps, gids stringList
	fs.Var(&envs, "env", "set `NAME=VALUE` (repeatable)")
	fs.Var(&envs, "e", "same as --env")
	user := fs.String("user", "", "`UID[:GID]` to run as")
	fs.StringVar(user, "u", "", "same as --user")
	fs.Var(&gids, "additional-gids", "one more `GID` (repeatable)")
	fs.Var(&gids, "g", "same as --additional-gids")
	fs.Var(&caps, "cap", "add a `CAPABILITY` (repeatable)")
	fs.Var(&caps, "c", "same as --cap")
	noNewPrivs := fs.Bool("no-new-privs", false, "set no_new_privs")
	preserve := fs.Int("preserve-fds", 0, "pass `N` more file descriptors (3 to 3+N-1)")
	c, rest, err := e.container(fs, args, "exec", false)
	if err != nil {
		return err
	}
	var p *specs.Process
	if *process != "" {
		data, err := e.readInput(*process)
		if err != nil {
			return fmt.Errorf("read --process: %w", err)
		}
		p = &specs.Process{}
		if err := json.Unmarshal(data, p); err != nil {
			return fmt.Errorf("--process %s: %w", *process, err)
		}
	} else {
		if len(rest) < 2 {
			return usagef("exec: give a command, or --process FILE")
		}
		// The container's own process settings, changed by the flags.
		base := *c.Config().Process
		p = &base
		p.Args, p.Terminal = rest[1:], *tty
		p.ConsoleSize = nil
		p.Env = append(append([]string(nil), p.Env...), envs...)
		if *cwd != "" {
			p.Cwd = *cwd
		}
		if *user != "" {
			u, g, hasG := strings.Cut(*user, ":")
			uid, err := strconv.ParseUint(u, 10, 32)
			if err != nil {
				return usagef("exec: --user %q: want UID[:GID], numbers", *user)
			}
			p.User.UID = uint32(uid)
			if hasG {
				gid, err := strconv.ParseUint(g, 10, 32)
				if err != nil {
					return usagef("exec: --user %q: want UID[:GID], numbers", *user)
				}
				p.User.GID = uint32(gid)
			}
		}
		for _, g := range gids {
			n, err := strconv.ParseUint(g, 10, 32)
			if err != nil {
				return usagef("exec: --additional-gids %q: not a number", g)
			}
			p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
		}
		if len(caps) > 0 && p.Capabilities != nil {
			cp := *p.Capabilities
			for _, name := range caps {
				cp.Bounding, cp.Effective, cp.Permitted = append(cp.Bounding, name), append(cp.Effective, name), append(cp.Permitted, name)
			}
			p.Capabilities = &cp
		}
		if *noNewPrivs {
			p.NoNewPrivileges = true
		}
	}
	opt := runtime.ExecOptions{ConsoleSocket: *consoleSocket, PreserveFDs: *preserve}
	fg := foreground(!*detach)
	defer fg.stop()
	if !*detach && p.Terminal && opt.ConsoleSocket == "" {
		if err := fg.withTerminal(); err != nil {
			return err
		}
	}
	opt.ConsoleConn = fg.theirs
	proc, err := c.Exec(p, opt)
	if err != nil {
		return err
	}
	if err := writePidFile(*pidFile, proc.Pid); err != nil {
		return err
	}
	if *detach {
		return nil
	}
	if err := fg.attach(e); err != nil {
		return err
	}
	status, err := fg.wait(func(s syscall.Signal) { _ = unix.Kill(proc.Pid, s) }, proc.Wait)
	if err != nil {
		return err
	}
	return &exitError{status}
}

func psCmd(e *env, args []string) error {
	fs := newFlags("ps")
	format := fs.String("format", "table", "`FORMAT`: table (ps's own) or json (host PIDs)")
	fs.StringVar(format, "f", "table", "same as --format")
	c, rest, err := e.container(fs, args, "ps", false)
	if err != nil {
		return err
	}
	pids, err := c.Pids()
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		if pids == nil {
			pids = []int{}
		}
		data, _ := json.Marshal(pids)
		fmt.Fprintf(e.stdout, "%s\n", data)
		return nil
	case "table":
	default:
		return usagef("ps: --format %q: want table or json", *format)
	}
	// As runc does: ps(1) over the whole host, then only the lines whose
	// PID column is one of the container's.
	psArgs := rest[1:]
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps %s prints no PID column", strings.Join(psArgs, " "))
	}
	in := map[string]bool{}
	for _, p := range pids {
		in[strconv.Itoa(p)] = true
	}
	fmt.Fprintln(e.stdout, lines[0])
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > col && in[f[col]] {
			fmt.Fprintln(e.stdout, l)
		}
	}
	return nil
}

func updateCmd(e *env, args []string) error {
	fs := newFlags("update")
	resources := fs.String("resources", "", "`FILE` with linux.resources as JSON; - for stdin")
	fs.StringVar(resources, "r", "", "same as --resources")
	u := addUpdateFlags(fs)
	rest, err := e.parse(fs, args, "update", 1, true)
	if err != nil {
		return err
	}
	r := &specs.LinuxResources{}
	if *resources != "" {
		data, err := e.readInput(*resources)
		if err != nil {
			return fmt.Errorf("read --resources: %w", err)
		}
		if err := json.Unmarshal(data, r); err != nil {
			return fmt.Errorf("--resources: %w", err)
		}
	}
	if err := u.apply(fs, r); err != nil {
		return err
	}
	c, err := e.rt.Get(rest[0])
	if err != nil {
		return err
	}
	return c.Update(r)
}

// eventsCmd prints runc's events: with --stats the usage once; without,
// a stream of JSON lines, the usage every --interval and an "oom" line as
// soon as the OOM killer strikes, until the container stops.
func eventsCmd(e *env, args []string) error {
	fs := newFlags("events")
	stats := fs.Bool("stats", false, "display the container's stats then exit")
	interval := fs.Duration("interval", 5*time.Second, "set the stats collection interval")
	c, rest, err := e.container(fs, args, "events", true)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	if *stats {
		if c.Status() == runtime.Stopped {
			return fmt.Errorf("container %s is not running: it has stopped (its usage is gone with its cgroup's processes)", rest[0])
		}
		s, err := c.Stats()
		if err != nil {
			return err
		}
		return enc.Encode(runtime.Event{Type: "stats", ID: c.ID(), Data: s})
	}
	return c.Events(*interval, func(ev runtime.Event) error { return enc.Encode(ev) })
}

func featuresCmd(e *env, args []string) error {
	if _, err := e.parse(newFlags("features"), args, "features", 0, true); err != nil {
		return err
	}
	yes, no := true, false
	var ns []string
	for _, n := range []specs.LinuxNamespaceType{specs.CgroupNamespace, specs.IPCNamespace, specs.MountNamespace, specs.NetworkNamespace, specs.PIDNamespace, specs.UserNamespace, specs.UTSNamespace} {
		ns = append(ns, string(n))
	}
	f := features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specVersion(),
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  runtime.MountOptionNames(),
		Linux: &features.Linux{
			Namespaces:   ns,
			Capabilities: runtime.CapNames(),
			Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &no},
			Seccomp: &features.Seccomp{
				Enabled: &yes, Actions: runtime.SeccompActions(), Operators: runtime.SeccompOperators(),
				Archs: []string{"SCMP_ARCH_X86_64"}, KnownFlags: []string{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"},
				SupportedFlags: []string{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"},
			},
			Apparmor: &features.Apparmor{Enabled: &no},
			Selinux:  &features.Selinux{Enabled: &no},
			IntelRdt: &features.IntelRdt{Enabled: &no},
		},
		Annotations: map[string]string{"org.cfs.runtime.version": Version},
	}
	return writeJSON(e.stdout, f)
}

func specVersion() string { return specs.Version }
