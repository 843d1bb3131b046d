package dockercli

// The container commands (part 3): run, create, start, ps, logs, exec,
// stop, kill, rm, inspect, wait, top, stats, pause, unpause, port,
// export, commit; each a thin layer over final/engine that prints what
// docker prints and exits as docker does: 125 when cfs itself fails or
// the input is bad, 126 when the command cannot be run, 127 when it is
// not found, and otherwise the container's own status.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"text/template"
	"time"

	"cfs/final/engine"
	"cfs/final/image"
	"cfs/final/runtime"
	"cfs/internal/trace"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// containerCommands are the container commands' names, for Handles.
var containerCommands = []string{"run", "create", "start", "ps", "logs", "exec", "stop", "kill", "rm", "inspect",
	"wait", "top", "stats", "pause", "unpause", "port", "export", "commit", "restart"}

// engine opens the engine on the image store.
func (c *CLI) engine() (*engine.Engine, error) {
	s, err := c.store()
	if err != nil {
		return nil, err
	}
	e, err := engine.Open(s)
	if err != nil {
		return nil, err
	}
	if c.trace {
		e.Trace = trace.NewTo("parent", c.Err)
	}
	return e, nil
}

// engineError turns the engine's errors into docker's exit statuses.
func engineError(err error, code int) error {
	var se *statusError
	if err == nil || errors.As(err, &se) {
		return err
	}
	var start *engine.StartError
	if errors.As(err, &start) {
		return &statusError{msg: start.Msg, code: start.Code}
	}
	return &statusError{msg: err.Error(), code: code}
}

// daemonError is an error of the engine as docker's CLI prints one of
// dockerd's: "Error response from daemon: …", status 1.
func daemonError(msg string) error {
	return &statusError{msg: "Error response from daemon: " + msg, code: 1, bare: true}
}

// withEngine is a command's work with the engine open; an engine that
// will not open fails the command with code (docker's 125 for run,
// create and exec, whose own failures are 125, 126 and 127; 1 otherwise).
func (c *CLI) withEngine(code int, fn func(cmd *cobra.Command, e *engine.Engine, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, err := c.engine()
		if err != nil {
			return engineError(err, code)
		}
		return fn(cmd, e, args)
	}
}

// perContainer is a command on one or more containers (stop, kill, rm,
// pause, wait, …): it opens the engine and runs op for each argument in
// turn, as docker does; see each for what it prints.
func (c *CLI) perContainer(use, short string, op func(e *engine.Engine, arg string) (string, error)) *cobra.Command {
	return c.command(use, short, 1, -1,
		c.withEngine(1, func(_ *cobra.Command, e *engine.Engine, args []string) error {
			return c.each(args, func(a string) (string, error) { return op(e, a) })
		}))
}

// each runs fn for every argument and prints, as docker does, what fn
// returns on stdout (the argument as given; wait's exit status) and
// each failure on stderr as "Error response from daemon: …"; the
// command fails with 1 if one did.
func (c *CLI) each(args []string, fn func(arg string) (string, error)) error {
	failed := false
	for _, a := range args {
		out, err := fn(a)
		if err != nil {
			fmt.Fprintf(c.Err, "Error response from daemon: %v\n", err)
			var nf notFailure
			failed = failed || !errors.As(err, &nf)
			continue
		}
		fmt.Fprintln(c.Out, out)
	}
	if failed {
		return &statusError{code: 1}
	}
	return nil
}

// notFailure is an error each prints but that does not fail the command:
// rm -f of a container that is not there.
type notFailure struct{ error }

func (e notFailure) Unwrap() error { return e.error }

// ---------------------------------------------------------------------------
// run and create

// runFlags are the flags run and create share.
type runFlags struct {
	name, hostname, workdir, user, network, memory, cpus string
	memorySwap                                           string
	entrypoint                                           *string
	env, envFile, publish, volumes, tmpfs                []string
	capAdd, capDrop, securityOpt                         []string
	pidsLimit                                            int64
	interactive, tty, publishAll, readOnly, init, rm     bool
	privileged                                           bool
}

func (f *runFlags) register(fs *pflag.FlagSet) {
	// -h is docker's --hostname here, not --help.
	fs.Bool("help", false, "print usage")
	fs.StringVar(&f.name, "name", "", "assign a name to the container")
	fs.StringVarP(&f.hostname, "hostname", "h", "", "container host name")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set environment variables (`KEY=VALUE`, or KEY to take the host's)")
	fs.StringArrayVar(&f.envFile, "env-file", nil, "read in a file of environment variables")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fs.StringVarP(&f.user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	fs.String("entrypoint", "", "overwrite the default ENTRYPOINT of the image")
	fs.StringVarP(&f.memory, "memory", "m", "", "memory limit (e.g. 64m)")
	fs.StringVar(&f.memorySwap, "memory-swap", "", "swap limit equal to memory plus swap: -1 to enable unlimited swap (default: twice --memory)")
	fs.StringVar(&f.cpus, "cpus", "", "number of CPUs (e.g. 0.5)")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "tune container pids limit (set -1 for unlimited)")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a container's port(s) to the host (`[HOSTPORT:]CTRPORT[/PROTO]`)")
	fs.BoolVarP(&f.publishAll, "publish-all", "P", false, "publish all exposed ports to random ports")
	fs.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind mount a host directory (`HOST:CTR[:ro]`)")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs directory (`PATH[:OPTIONS]`)")
	fs.StringVar(&f.network, "network", "default", "connect a container to a network: bridge, host or none")
	fs.StringVar(&f.network, "net", "default", "")
	_ = fs.MarkHidden("net")
	fs.BoolVar(&f.readOnly, "read-only", false, "mount the container's root filesystem as read only")
	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "add Linux capabilities")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "drop Linux capabilities")
	fs.StringArrayVar(&f.securityOpt, "security-opt", nil, "security options (no-new-privileges, seccomp=unconfined)")
	fs.BoolVar(&f.init, "init", false, "run an init inside the container that forwards signals and reaps processes")
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open even if not attached")
	fs.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fs.BoolVar(&f.privileged, "privileged", false, "give extended privileges to this container")
}

// options turns the flags into docker's Config and HostConfig, checking
// each as docker's CLI does.
func (f *runFlags) options(cmd *cobra.Command, args []string) (engine.CreateOptions, error) {
	var o engine.CreateOptions
	o.Name = f.name
	cfg := &o.Config
	hc := &o.HostConfig
	cfg.Image = args[0]
	if len(args) > 1 {
		cfg.Cmd = args[1:]
	}
	if cmd.Flags().Changed("entrypoint") {
		ep, _ := cmd.Flags().GetString("entrypoint")
		cfg.Entrypoint = []string{}
		if ep != "" {
			cfg.Entrypoint = []string{ep}
		}
	}
	cfg.Hostname, cfg.WorkingDir, cfg.User = f.hostname, f.workdir, f.user
	cfg.Tty, cfg.OpenStdin = f.tty, f.interactive
	if f.hostname != "" {
		if err := checkHostname(f.hostname); err != nil {
			return o, err
		}
	}
	if f.workdir != "" && !strings.HasPrefix(f.workdir, "/") {
		return o, fmt.Errorf("the working directory '%s' is invalid, it needs to be an absolute path", f.workdir)
	}
	for _, file := range f.envFile {
		env, err := readEnvFile(file)
		if err != nil {
			return o, err
		}
		cfg.Env = append(cfg.Env, env...)
	}
	env, err := envFlags(f.env)
	if err != nil {
		return o, err
	}
	cfg.Env = append(cfg.Env, env...)
	if f.memory != "" {
		n, err := units.RAMInBytes(f.memory)
		if err != nil || n <= 0 {
			return o, fmt.Errorf("invalid argument %q for \"-m, --memory\" flag: invalid size: '%s'", f.memory, f.memory)
		}
		hc.Memory = n
	}
	if f.memorySwap != "" {
		n, err := units.RAMInBytes(f.memorySwap)
		switch {
		case f.memorySwap == "-1":
			n = -1
		case err != nil || n <= 0:
			return o, fmt.Errorf("invalid argument %q for \"--memory-swap\" flag: invalid size: '%s'", f.memorySwap, f.memorySwap)
		case hc.Memory == 0 && n > 0:
			return o, errors.New("You should always set the Memory limit when using Memoryswap limit, see usage") // docker's words
		case n > 0 && n < hc.Memory:
			return o, errors.New("Minimum memoryswap limit should be larger than memory limit, see usage")
		}
		hc.MemorySwap = n
	}
	if f.cpus != "" {
		v, err := strconv.ParseFloat(f.cpus, 64)
		if err != nil || v <= 0 {
			return o, fmt.Errorf("invalid argument %q for \"--cpus\" flag: failed to parse %s as a rational number", f.cpus, f.cpus)
		}
		hc.NanoCPUs = int64(v * 1e9)
	}
	if f.pidsLimit != 0 {
		hc.PidsLimit = &f.pidsLimit
	}
	hc.NetworkMode = container.NetworkMode(f.network)
	for _, p := range f.publish {
		port, binding, err := parsePublish(p)
		if err != nil {
			return o, err
		}
		if hc.PortBindings == nil {
			hc.PortBindings = network.PortMap{}
		}
		hc.PortBindings[port] = append(hc.PortBindings[port], binding)
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		cfg.ExposedPorts[port] = struct{}{}
	}
	hc.PublishAllPorts = f.publishAll
	hc.Binds = f.volumes
	for _, t := range f.tmpfs {
		dst, opts, _ := strings.Cut(t, ":")
		if hc.Tmpfs == nil {
			hc.Tmpfs = map[string]string{}
		}
		hc.Tmpfs[dst] = opts
	}
	hc.ReadonlyRootfs = f.readOnly
	hc.CapAdd, hc.CapDrop, hc.SecurityOpt = f.capAdd, f.capDrop, f.securityOpt
	hc.Privileged = f.privileged
	if f.init {
		hc.Init = &f.init
	}
	hc.AutoRemove = f.rm
	err = engine.CheckConfig(cfg, hc)
	return o, err
}

// parsePublish reads docker's -p: [[0.0.0.0:]HOSTPORT:]CTRPORT[/tcp|/udp].
func parsePublish(s string) (network.Port, network.PortBinding, error) {
	spec, proto, _ := strings.Cut(s, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return network.Port{}, network.PortBinding{}, fmt.Errorf("invalid proto: %s", proto)
	}
	parts := strings.Split(spec, ":")
	var host, ctr string
	switch len(parts) {
	case 1:
		ctr = parts[0]
	case 2:
		host, ctr = parts[0], parts[1]
	case 3:
		if parts[0] != "" && parts[0] != "0.0.0.0" {
			return network.Port{}, network.PortBinding{}, fmt.Errorf("-p %s: cfs publishes on every address of the host (give 0.0.0.0 or no address)", s)
		}
		host, ctr = parts[1], parts[2]
	default:
		return network.Port{}, network.PortBinding{}, fmt.Errorf("invalid port format for --publish: %s", s)
	}
	n, err := strconv.Atoi(ctr)
	if err != nil || n < 1 || n > 65535 {
		return network.Port{}, network.PortBinding{}, fmt.Errorf("invalid containerPort: %s", ctr)
	}
	if host != "" {
		h, err := strconv.Atoi(host)
		if err != nil || h < 1 || h > 65535 {
			return network.Port{}, network.PortBinding{}, fmt.Errorf("invalid hostPort: %s", host)
		}
	}
	port, _ := network.PortFrom(uint16(n), network.IPProtocol(proto))
	return port, network.PortBinding{HostPort: host}, nil
}

// checkHostname applies the kernel's and RFC 1123's rules.
func checkHostname(h string) error {
	if len(h) > 64 {
		return fmt.Errorf("invalid hostname %q: at most 64 characters", h)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("invalid hostname %q", h)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("invalid hostname %q", h)
			}
		}
	}
	return nil
}

// envFlags checks -e's values as docker's CLI does, for run and exec:
// KEY=VALUE as it is, KEY alone for the host's value (left out if the
// host has none), and no empty KEY.
func envFlags(list []string) ([]string, error) {
	var env []string
	for _, kv := range list {
		k, _, has := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid argument %q for \"-e, --env\" flag: invalid environment variable: %s", kv, kv)
		}
		if !has {
			v, ok := os.LookupEnv(k)
			if !ok {
				continue
			}
			kv += "=" + v
		}
		env = append(env, kv)
	}
	return env, nil
}

// readEnvFile reads docker's --env-file: KEY=VALUE lines, # comments,
// and KEY alone to take the host's value.
func readEnvFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, errors.Unwrap(err))
	}
	var env []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimLeft(line, " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, has := strings.Cut(line, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%s:%d: variable '%s' contains whitespaces", path, i+1, k)
		}
		if !has {
			v, ok := os.LookupEnv(k)
			if !ok {
				continue
			}
			line = k + "=" + v
		}
		env = append(env, line)
	}
	return env, nil
}

// isBase reports whether ref names cfs/base.
func isBase(ref string) bool {
	switch ref {
	case "cfs/base", "cfs/base:latest", "docker.io/cfs/base", image.BaseName:
		return true
	}
	return false
}

// create makes the container, pulling its image first if it is not here,
// as docker does ("Unable to find image … locally").
func (c *CLI) create(ctx context.Context, e *engine.Engine, o engine.CreateOptions) (*engine.Container, error) {
	ctr, err := e.Create(o)
	var missing *engine.ImageNotFoundError
	if !errors.As(err, &missing) {
		return ctr, err
	}
	if isBase(o.Config.Image) {
		// cfs/base is made here, from the stages' root filesystem.
		if _, err := e.Images.EnsureBase(); err != nil {
			return nil, err
		}
		return e.Create(o)
	}
	ref := o.Config.Image
	if !hasTagOrDigest(ref) {
		ref += ":latest"
	}
	fmt.Fprintf(c.Err, "Unable to find image '%s' locally\n", ref)
	if _, err := e.Images.Pull(ctx, o.Config.Image, image.PullOptions{Progress: newDisplay(c.Err, false).event}); err != nil {
		return nil, err
	}
	return e.Create(o)
}

// createFromFlags is what run and create share: it checks the flags and
// arguments, opens the engine and creates the container; run's attach
// settings go into the config through set. Every failure is docker's 125.
func (c *CLI) createFromFlags(cmd *cobra.Command, f *runFlags, args []string, set func(*container.Config)) (*engine.Engine, *engine.Container, error) {
	o, err := f.options(cmd, args)
	if err != nil {
		return nil, nil, &statusError{msg: err.Error(), code: 125}
	}
	set(&o.Config)
	e, err := c.engine()
	if err != nil {
		return nil, nil, engineError(err, 125)
	}
	ctr, err := c.create(cmd.Context(), e, o)
	if err != nil {
		return nil, nil, engineError(err, 125)
	}
	return e, ctr, nil
}

func (c *CLI) runCmd() *cobra.Command {
	var f runFlags
	var detach bool
	cmd := c.command("run [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image", 1, -1,
		func(cmd *cobra.Command, args []string) error {
			if !detach {
				if err := c.checkTTY(f.interactive, f.tty); err != nil {
					return err
				}
			}
			// -d and --rm work together, as in docker since 1.13.
			e, ctr, err := c.createFromFlags(cmd, &f, args, func(cfg *container.Config) {
				cfg.AttachStdin = f.interactive && !detach
				cfg.AttachStdout, cfg.AttachStderr = !detach, !detach
				cfg.StdinOnce = f.interactive && !detach
			})
			if err != nil {
				return err
			}
			if detach {
				// The ID first, as docker's CLI prints it once the
				// container is made: a start that fails leaves it Created
				// (unless --rm), and the ID says which.
				fmt.Fprintln(c.Out, ctr.ID)
				if _, err := e.Start(ctr.ID, engine.StartOptions{}); err != nil {
					c.removeAfterFailedStart(e, ctr)
					return engineError(err, 125)
				}
				return nil
			}
			att, err := e.Start(ctr.ID, engine.StartOptions{Attach: &engine.AttachOptions{Stdin: f.interactive, Stdout: true, Stderr: true}})
			if err != nil {
				c.removeAfterFailedStart(e, ctr)
				return engineError(err, 125)
			}
			return c.attached(e, ctr, att, f.interactive, f.tty)
		})
	fs := cmd.Flags()
	fs.SetInterspersed(false) // flags after the image belong to the command
	f.register(fs)
	fs.BoolVarP(&detach, "detach", "d", false, "run container in background and print container ID")
	fs.BoolVar(&f.rm, "rm", false, "automatically remove the container and its associated anonymous volumes when it exits")
	return cmd
}

// checkTTY refuses -it when this program's stdin is not a terminal (a
// pipe, a file, a CI job), before anything is made, as docker's CLI does:
// the container's terminal would have nothing to read keys from.
func (c *CLI) checkTTY(stdin, tty bool) error {
	if !stdin || !tty {
		return nil
	}
	if f, ok := c.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &statusError{msg: "the input device is not a TTY", code: 1}
}

// removeAfterFailedStart removes a --rm container whose start failed, as
// docker does.
func (c *CLI) removeAfterFailedStart(e *engine.Engine, ctr *engine.Container) {
	if ctr.HostConfig.AutoRemove {
		_ = e.Remove(ctr.ID, true)
	}
}

// attached copies the terminal or the streams until the container exits,
// and returns its status as the command's. Without a terminal, the
// signals cfs gets go to the container (docker's --sig-proxy); with one,
// Ctrl-C is a byte for the container's terminal, and the window's size
// follows this terminal's.
func (c *CLI) attached(e *engine.Engine, ctr *engine.Container, att *engine.Attachment, stdin, tty bool) error {
	defer att.Close()
	var in io.Reader
	if stdin {
		in = c.In
	}
	if tty {
		if f, ok := c.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			if stdin {
				if old, err := term.MakeRaw(int(f.Fd())); err == nil {
					defer term.Restore(int(f.Fd()), old)
				}
			}
			resize := func() {
				if w, h, err := term.GetSize(int(f.Fd())); err == nil {
					_ = att.Resize(uint16(h), uint16(w))
				}
			}
			resize()
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, unix.SIGWINCH)
			defer signal.Stop(winch)
			go func() {
				for range winch {
					resize()
				}
			}()
		}
	} else {
		sigs := make(chan os.Signal, 8)
		signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
		defer signal.Stop(sigs)
		go func() {
			for s := range sigs {
				_ = e.Kill(ctr.ID, s.(syscall.Signal))
			}
		}()
	}
	st, err := att.Copy(in, c.Out, c.Err)
	if err != nil {
		// The monitor was killed: the record, repaired, says how it ended.
		w, werr := e.Wait(ctr.ID)
		if werr != nil {
			return engineError(err, 125)
		}
		st = w
	}
	if st.Error != "" {
		fmt.Fprintf(c.Err, "%s: %s\n", c.Prog, st.Error)
	}
	if st.StatusCode != 0 {
		return &statusError{code: st.StatusCode}
	}
	return nil
}

func (c *CLI) createCmd() *cobra.Command {
	var f runFlags
	cmd := c.command("create [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", 1, -1,
		func(cmd *cobra.Command, args []string) error {
			_, ctr, err := c.createFromFlags(cmd, &f, args, func(*container.Config) {})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, ctr.ID)
			return nil
		})
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	f.register(fs)
	fs.BoolVar(&f.rm, "rm", false, "automatically remove the container when it exits")
	return cmd
}

func (c *CLI) startCmd() *cobra.Command {
	var attach, interactive bool
	cmd := c.command("start [OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers", 1, -1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			if attach || interactive {
				if len(args) > 1 {
					return &statusError{msg: "you cannot start and attach multiple containers at once", code: 1}
				}
				ctr, err := e.Get(args[0])
				if err != nil {
					return err
				}
				att, err := e.Start(ctr.ID, engine.StartOptions{Attach: &engine.AttachOptions{Stdin: interactive && ctr.Config.OpenStdin, Stdout: true, Stderr: true}})
				var start *engine.StartError
				if errors.As(err, &start) {
					// docker start's 1, not run's 126 or 127: the start failed.
					return daemonError(start.Msg)
				}
				if err != nil {
					return err
				}
				if att == nil {
					return nil
				}
				return c.attached(e, ctr, att, interactive && ctr.Config.OpenStdin, ctr.Config.Tty)
			}
			var failed []string
			err := c.each(args, func(a string) (string, error) {
				_, err := e.Start(a, engine.StartOptions{})
				if err != nil {
					failed = append(failed, a)
				}
				return a, err
			})
			if err != nil {
				// docker's CLI ends with the list of those that failed.
				fmt.Fprintf(c.Err, "Error: failed to start containers: %s\n", strings.Join(failed, ", "))
			}
			return err
		}))
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach container's STDIN")
	return cmd
}

// ---------------------------------------------------------------------------
// ps

func (c *CLI) psCmd() *cobra.Command {
	var all, quiet, noTrunc, latest bool
	var format string
	last := -1
	cmd := c.command("ps [OPTIONS]", "List containers", 0, 0,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			list, err := e.List() // newest first
			if err != nil {
				return err
			}
			if latest {
				last = 1
			}
			if last >= 0 {
				// -n N, -l: the N last created, in every state, as docker's.
				all = true
				list = list[:min(last, len(list))]
			}
			tw := newTable(c.Out)
			var tmpl *template.Template
			if format != "" && format != "table" && !quiet {
				// As docker's: "table " for a header, \t and \n as typed
				// in single quotes.
				text, table := strings.CutPrefix(format, "table ")
				text = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(strings.TrimSpace(text))
				funcs := template.FuncMap{"json": func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
					"join": strings.Join, "upper": strings.ToUpper, "lower": strings.ToLower}
				if tmpl, err = template.New("format").Funcs(funcs).Parse(text); err != nil {
					return &statusError{msg: fmt.Sprintf("template parsing error: %v", err), code: 1}
				}
				if table {
					if err := psLine(tw, tmpl, psHeader{}); err != nil {
						return err
					}
				} else {
					tw = nil
				}
			}
			if !quiet && tmpl == nil {
				fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
			}
			for _, ctr := range list {
				if !all && !ctr.Running() {
					continue
				}
				if tmpl != nil {
					w := io.Writer(c.Out)
					if tw != nil {
						w = tw
					}
					if err := psLine(w, tmpl, psRow{ctr, noTrunc}); err != nil {
						return err
					}
					continue
				}
				id := ctr.ShortID()
				if noTrunc {
					id = ctr.ID
				}
				if quiet {
					fmt.Fprintln(c.Out, id)
					continue
				}
				command := strconv.Quote(engine.Command(ctr))
				if !noTrunc {
					command = strconv.Quote(ellipsis(engine.Command(ctr), 20))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, ctr.Image, command, ago(ctr.Created),
					ctr.StatusText(), strings.Join(psPorts(ctr), ", "), ctr.Name)
			}
			if tw == nil {
				return nil
			}
			return tw.Flush()
		}))
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.StringVar(&format, "format", "", "format output using a Go template ('{{.Names}}'; 'table {{.ID}}\\t{{.Status}}' for a table with its header)")
	f.IntVarP(&last, "last", "n", -1, "show n last created containers (includes all states)")
	f.BoolVarP(&latest, "latest", "l", false, "show the latest created container (includes all states)")
	return cmd
}

// psLine writes one line of ps --format.
func psLine(w io.Writer, tmpl *template.Template, v any) error {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, v); err != nil {
		return &statusError{msg: fmt.Sprintf("template: %v", err), code: 1}
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// psRow is a container as docker ps --format sees it: docker's names
// for its fields, each a string as the table shows it.
type psRow struct {
	c       *engine.Container
	noTrunc bool
}

func (r psRow) ID() string {
	if r.noTrunc {
		return r.c.ID
	}
	return r.c.ShortID()
}
func (r psRow) Image() string { return r.c.Image }
func (r psRow) Command() string {
	if r.noTrunc {
		return strconv.Quote(engine.Command(r.c))
	}
	return strconv.Quote(ellipsis(engine.Command(r.c), 20))
}
func (r psRow) CreatedAt() string  { return r.c.Created.Format("2006-01-02 15:04:05 -0700 MST") }
func (r psRow) RunningFor() string { return ago(r.c.Created) }
func (r psRow) Ports() string      { return strings.Join(psPorts(r.c), ", ") }
func (r psRow) State() string      { return r.c.State.Status }
func (r psRow) Status() string     { return r.c.StatusText() }
func (r psRow) Names() string      { return r.c.Name }
func (r psRow) Networks() string   { return string(r.c.HostConfig.NetworkMode) }
func (r psRow) Labels() string {
	var kv []string
	for k, v := range r.c.Config.Labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}
func (r psRow) Label(name string) string { return r.c.Config.Labels[name] }

// psHeader is the header line of ps --format 'table …': each field's
// column title, docker's.
type psHeader struct{}

func (psHeader) ID() string            { return "CONTAINER ID" }
func (psHeader) Image() string         { return "IMAGE" }
func (psHeader) Command() string       { return "COMMAND" }
func (psHeader) CreatedAt() string     { return "CREATED AT" }
func (psHeader) RunningFor() string    { return "CREATED" }
func (psHeader) Ports() string         { return "PORTS" }
func (psHeader) State() string         { return "STATE" }
func (psHeader) Status() string        { return "STATUS" }
func (psHeader) Names() string         { return "NAMES" }
func (psHeader) Networks() string      { return "NETWORKS" }
func (psHeader) Labels() string        { return "LABELS" }
func (psHeader) Label(_ string) string { return "LABEL" }

// psPorts is docker ps's PORTS: "0.0.0.0:8080->80/tcp".
func psPorts(ctr *engine.Container) []string {
	var out []string
	if ctr.Network != nil && ctr.Running() {
		for _, p := range ctr.Network.Ports {
			out = append(out, fmt.Sprintf("0.0.0.0:%d->%d/%s", p.Host, p.Ctr, p.Proto))
		}
	}
	sort.Strings(out)
	return out
}

// ---------------------------------------------------------------------------
// logs

func (c *CLI) logsCmd() *cobra.Command {
	var follow, timestamps bool
	var tail string
	n := -1 // --tail all
	cmd := c.command("logs [OPTIONS] CONTAINER", "Fetch the logs of a container", 1, 1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			return e.Logs(cmd.Context(), args[0], engine.LogsOptions{Follow: follow, Tail: n}, func(l engine.LogLine) error {
				w := c.Out
				if l.Stream == "stderr" {
					w = c.Err
				}
				if timestamps {
					// docker's RFC3339NanoFixed: always nine digits, so that
					// the lines' text starts in one column.
					fmt.Fprint(w, l.Time.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")+" ")
				}
				_, err := io.WriteString(w, l.Text)
				return err
			})
		}))
	cmd.PreRunE = func(*cobra.Command, []string) error {
		if tail == "all" {
			return nil
		}
		var err error
		if n, err = strconv.Atoi(tail); err != nil {
			return &statusError{msg: fmt.Sprintf("invalid value for \"tail\": %q is not a number or \"all\"", tail), code: 1}
		}
		return nil
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "follow log output")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	f.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end of the logs")
	return cmd
}

// ---------------------------------------------------------------------------
// exec

func (c *CLI) execCmd() *cobra.Command {
	var interactive, tty, detach bool
	var env []string
	var workdir, user string
	cmd := c.command("exec [OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container", 2, -1,
		c.withEngine(125, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			env, err := envFlags(env)
			if err != nil {
				return &statusError{msg: err.Error(), code: 125}
			}
			if !detach {
				// As docker's: "no such container" comes first.
				if _, err := e.Get(args[0]); errors.Is(err, engine.ErrNotFound) {
					return daemonError(err.Error())
				}
				if err := c.checkTTY(interactive, tty); err != nil {
					return err
				}
			}
			opt := engine.ExecOptions{Cmd: args[1:], Env: env, WorkingDir: workdir, User: user, Tty: tty}
			var console *os.File
			var cleanups []func()
			defer func() {
				for _, f := range cleanups {
					f()
				}
			}()
			switch {
			case detach:
			case tty:
				fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					return err
				}
				opt.ConsoleConn = os.NewFile(uintptr(fds[0]), "console")
				console = os.NewFile(uintptr(fds[1]), "console")
				defer console.Close()
			default:
				if interactive {
					f, done, err := readerFile(c.In)
					if err != nil {
						return err
					}
					opt.Stdin = f
					cleanups = append(cleanups, done)
				}
				var err error
				var done func()
				if opt.Stdout, done, err = writerFile(c.Out); err != nil {
					return err
				}
				cleanups = append(cleanups, done)
				if opt.Stderr, done, err = writerFile(c.Err); err != nil {
					return err
				}
				cleanups = append(cleanups, done)
			}
			proc, err := e.Exec(args[0], opt)
			if opt.ConsoleConn != nil {
				opt.ConsoleConn.Close()
			}
			for _, f := range []*os.File{opt.Stdin, opt.Stdout, opt.Stderr} {
				if f != nil && f != os.Stdin && f != os.Stdout && f != os.Stderr {
					f.Close() // the process has its own copy
				}
			}
			var conflict *engine.ConflictError
			if errors.Is(err, engine.ErrNotFound) || errors.As(err, &conflict) {
				// Not there, not running, paused: docker's 1, not 126
				// (the command was never tried).
				return daemonError(err.Error())
			}
			if err != nil {
				return engineError(err, 126)
			}
			if detach {
				return nil
			}
			if tty {
				if err := c.execTerminal(console, interactive); err != nil {
					return err
				}
			}
			for _, f := range cleanups {
				f()
			}
			cleanups = nil
			status, err := proc.Wait()
			if err != nil {
				return err
			}
			if status != 0 {
				return &statusError{code: status}
			}
			return nil
		}))
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&interactive, "interactive", "i", false, "keep STDIN open even if not attached")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.BoolVarP(&detach, "detach", "d", false, "detached mode: run command in the background")
	f.StringArrayVarP(&env, "env", "e", nil, "set environment variables")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVarP(&user, "user", "u", "", "username or UID (format: \"<name|uid>[:<group|gid>]\")")
	return cmd
}

// execTerminal drives an exec'd process's terminal from this one: raw
// mode, the window's size, input and output, until the process closes it.
func (c *CLI) execTerminal(console *os.File, interactive bool) error {
	master, err := runtime.RecvConsole(console)
	if err != nil {
		return err
	}
	defer master.Close()
	if f, ok := c.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if interactive {
			if old, err := term.MakeRaw(int(f.Fd())); err == nil {
				defer term.Restore(int(f.Fd()), old)
			}
		}
		if w, h, err := term.GetSize(int(f.Fd())); err == nil {
			_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(h), Col: uint16(w)})
		}
	}
	if interactive {
		go func() { _, _ = io.Copy(master, c.In) }()
	}
	_, _ = io.Copy(c.Out, master) // ends with EIO once the process closes its side
	return nil
}

// readerFile gives a reader as a file a process can have as its stdin:
// the file itself, or a pipe fed from it.
func readerFile(r io.Reader) (*os.File, func(), error) {
	if f, ok := r.(*os.File); ok {
		return f, func() {}, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	go func() { _, _ = io.Copy(pw, r); pw.Close() }()
	return pr, func() {}, nil
}

// writerFile gives a writer as a file a process can write to: the file
// itself, or a pipe copied into it (done waits for the copy's end).
func writerFile(w io.Writer) (*os.File, func(), error) {
	if f, ok := w.(*os.File); ok {
		return f, func() {}, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(w, pr); pr.Close(); close(copied) }()
	return pw, func() { <-copied }, nil
}

// ---------------------------------------------------------------------------
// stop, kill, rm, restart, pause, unpause, wait

func (c *CLI) stopCmd() *cobra.Command {
	var timeout int
	cmd := c.perContainer("stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers",
		func(e *engine.Engine, a string) (string, error) {
			return a, e.Stop(a, time.Duration(timeout)*time.Second)
		})
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 10, "seconds to wait before killing the container")
	cmd.Flags().IntVar(&timeout, "time", 10, "")
	_ = cmd.Flags().MarkHidden("time")
	return cmd
}

func (c *CLI) restartCmd() *cobra.Command {
	var timeout int
	cmd := c.perContainer("restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers",
		func(e *engine.Engine, a string) (string, error) {
			if err := e.Stop(a, time.Duration(timeout)*time.Second); err != nil {
				return a, err
			}
			_, err := e.Start(a, engine.StartOptions{})
			return a, err
		})
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 10, "seconds to wait before killing the container")
	return cmd
}

func (c *CLI) killCmd() *cobra.Command {
	var sig string
	var s syscall.Signal
	cmd := c.perContainer("kill [OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers",
		func(e *engine.Engine, a string) (string, error) { return a, e.Kill(a, s) })
	// A bad signal fails the command before any container is touched.
	cmd.PreRunE = func(*cobra.Command, []string) error {
		var err error
		if s, err = runtime.ParseSignal(sig); err != nil {
			return &statusError{msg: fmt.Sprintf("invalid signal: %s", sig), code: 1}
		}
		return nil
	}
	cmd.Flags().StringVarP(&sig, "signal", "s", "KILL", "signal to send to the container")
	return cmd
}

func (c *CLI) rmCmd() *cobra.Command {
	var force bool
	cmd := c.perContainer("rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers",
		func(e *engine.Engine, a string) (string, error) {
			err := e.Remove(a, force)
			if force && errors.Is(err, engine.ErrNotFound) {
				// docker's CLI says so on stderr and exits 0.
				return "", notFailure{err}
			}
			return a, err
		})
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolP("volumes", "v", false, "remove anonymous volumes (cfs has none)")
	return cmd
}

func (c *CLI) pauseCmd(name string) *cobra.Command {
	short := map[string]string{"pause": "Pause all processes within one or more containers", "unpause": "Unpause all processes within one or more containers"}[name]
	return c.perContainer(name+" CONTAINER [CONTAINER...]", short, func(e *engine.Engine, a string) (string, error) {
		if name == "pause" {
			return a, e.Pause(a)
		}
		return a, e.Unpause(a)
	})
}

func (c *CLI) waitCmd() *cobra.Command {
	return c.perContainer("wait CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes",
		func(e *engine.Engine, a string) (string, error) {
			st, err := e.Wait(a)
			if err != nil {
				return "", err
			}
			return strconv.Itoa(st.StatusCode), nil
		})
}

// ---------------------------------------------------------------------------
// inspect, port, top, stats

// inspectAnyCmd is docker inspect: a container, or else an image.
func (c *CLI) inspectAnyCmd() *cobra.Command {
	var format, typ string
	cmd := c.command("inspect [OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on containers or images", 1, -1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			var out []any
			var missing []string
			for _, a := range args {
				if typ == "" || typ == "container" {
					if ctr, err := e.Get(a); err == nil {
						out = append(out, withLegacyNetwork(e.Inspect(ctr)))
						continue
					} else if !errors.Is(err, engine.ErrNotFound) {
						return err
					}
				}
				if typ == "" || typ == "image" {
					if img, err := e.Images.Get(a); err == nil {
						out = append(out, img.Inspect())
						continue
					}
				}
				missing = append(missing, a)
			}
			if err := c.printInspect(out, format); err != nil {
				return err
			}
			if len(missing) > 0 {
				return &statusError{msg: "Error: No such object: " + strings.Join(missing, ", "), code: 1, bare: true}
			}
			return nil
		}))
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a custom template ('{{.State.Status}}', '{{json .Config}}')")
	cmd.Flags().StringVar(&typ, "type", "", "only inspect objects of the given type (container or image)")
	return cmd
}

// inspectedContainer is docker inspect's container as Debian's dockerd
// (20.10) shows it, with NetworkSettings' fields of before API 1.44.
type inspectedContainer struct {
	container.InspectResponse
	NetworkSettings *legacyNetworkSettings // shadows the embedded one
}

// legacyNetworkSettings has, beside the networks, the bridge network's
// address at the top, which tutorials read with
// `docker inspect -f '{{.NetworkSettings.IPAddress}}' CONTAINER`.
type legacyNetworkSettings struct {
	Bridge                 string
	SandboxID              string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	Ports                  network.PortMap
	SandboxKey             string
	SecondaryIPAddresses   []string
	SecondaryIPv6Addresses []string
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
	Networks               map[string]*network.EndpointSettings
}

// withLegacyNetwork adds the bridge network's fields at the top of
// NetworkSettings, as dockerd 20.10 does (empty on none and host).
func withLegacyNetwork(r container.InspectResponse) inspectedContainer {
	ns := r.NetworkSettings
	if ns == nil {
		ns = &container.NetworkSettings{}
	}
	l := &legacyNetworkSettings{SandboxID: ns.SandboxID, SandboxKey: ns.SandboxKey, Ports: ns.Ports, Networks: ns.Networks}
	addr := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	if ep := ns.Networks["bridge"]; ep != nil {
		l.EndpointID, l.Gateway, l.IPAddress, l.IPPrefixLen = ep.EndpointID, addr(ep.Gateway), addr(ep.IPAddress), ep.IPPrefixLen
		l.IPv6Gateway, l.GlobalIPv6Address, l.GlobalIPv6PrefixLen = addr(ep.IPv6Gateway), addr(ep.GlobalIPv6Address), ep.GlobalIPv6PrefixLen
		if len(ep.MacAddress) > 0 {
			l.MacAddress = net.HardwareAddr(ep.MacAddress).String()
		}
	}
	return inspectedContainer{InspectResponse: r, NetworkSettings: l}
}

// printInspect prints docker inspect's JSON array, or each object
// through a Go template that sees the JSON's names.
func (c *CLI) printInspect(out []any, format string) error {
	if format == "" {
		if out == nil {
			out = []any{}
		}
		b, err := json.MarshalIndent(out, "", "    ")
		if err != nil {
			return err
		}
		fmt.Fprintln(c.Out, string(b))
		return nil
	}
	tmpl, err := template.New("format").Funcs(template.FuncMap{
		"json": func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
		"join": strings.Join,
	}).Parse(format)
	if err != nil {
		return &statusError{msg: fmt.Sprintf("template parsing error: %v", err), code: 1}
	}
	for _, v := range out {
		raw, _ := json.Marshal(v)
		var m any
		_ = json.Unmarshal(raw, &m)
		var b bytes.Buffer
		if err := tmpl.Execute(&b, m); err != nil {
			return &statusError{msg: fmt.Sprintf("template: %v", err), code: 1}
		}
		fmt.Fprintln(c.Out, b.String())
	}
	return nil
}

func (c *CLI) portCmd() *cobra.Command {
	return c.command("port CONTAINER [PRIVATE_PORT[/PROTO]]", "List port mappings or a specific mapping for the container", 1, 2,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			ctr, err := e.Get(args[0])
			if err != nil {
				return err
			}
			lines := ctr.PortLines()
			if len(args) == 2 {
				want := args[1]
				if !strings.Contains(want, "/") {
					want += "/tcp"
				}
				found := false
				for _, l := range lines {
					if p, hostAddr, _ := strings.Cut(l, " -> "); p == want {
						fmt.Fprintln(c.Out, hostAddr)
						found = true
					}
				}
				if !found {
					return &statusError{msg: fmt.Sprintf("Error: No public port '%s' published for %s", want, args[0]), code: 1, bare: true}
				}
				return nil
			}
			for _, l := range lines {
				fmt.Fprintln(c.Out, l)
			}
			return nil
		}))
}

func (c *CLI) topCmd() *cobra.Command {
	cmd := c.command("top CONTAINER [ps OPTIONS]", "Display the running processes of a container", 1, -1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			titles, rows, err := e.Top(args[0], args[1:])
			if err != nil {
				return err
			}
			// docker top's own table: columns at least 20 wide.
			tw := tabwriter.NewWriter(c.Out, 20, 1, 3, ' ', 0)
			fmt.Fprintln(tw, strings.Join(titles, "\t"))
			for _, f := range rows {
				fmt.Fprintln(tw, strings.Join(f, "\t"))
			}
			return tw.Flush()
		}))
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func (c *CLI) statsCmd() *cobra.Command {
	var noStream, all bool
	cmd := c.command("stats [OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage statistics", 0, -1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			var ctrs []*engine.Container
			if len(args) == 0 {
				list, err := e.List()
				if err != nil {
					return err
				}
				for _, ctr := range list {
					if all || ctr.Running() {
						ctrs = append(ctrs, ctr)
					}
				}
			}
			for _, a := range args {
				ctr, err := e.Get(a)
				if err != nil {
					return err
				}
				ctrs = append(ctrs, ctr)
			}
			prev := map[string]*engine.Stats{}
			sample := func() map[string]*engine.Stats {
				cur := map[string]*engine.Stats{}
				for _, ctr := range ctrs {
					if s, err := e.Stats(ctr); err == nil {
						cur[ctr.ID] = s
					}
				}
				return cur
			}
			prev = sample()
			// CPU % needs two samples: the time used between them.
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for first := true; ; first = false {
				select {
				case <-cmd.Context().Done():
					return nil
				case <-tick.C:
				}
				cur := sample()
				if !noStream {
					fmt.Fprint(c.Out, "\033[2J\033[H")
				}
				tw := newTable(c.Out)
				fmt.Fprintln(tw, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
				for _, ctr := range ctrs {
					s, ok := cur[ctr.ID]
					if !ok { // not running: docker's line of zeros
						fmt.Fprintf(tw, "%s\t%s\t0.00%%\t0B / 0B\t0.00%%\t0B / 0B\t0B / 0B\t0\n", ctr.ShortID(), ctr.Name)
						continue
					}
					mem := 0.0
					if s.MemLimit > 0 {
						mem = float64(s.MemUsage) / float64(s.MemLimit) * 100
					}
					fmt.Fprintf(tw, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%s / %s\t%s / %s\t%d\n", ctr.ShortID(), ctr.Name,
						engine.CPUPercent(prev[ctr.ID], s), units.BytesSize(float64(s.MemUsage)), units.BytesSize(float64(s.MemLimit)), mem,
						humanSize(int64(s.NetRx)), humanSize(int64(s.NetTx)), humanSize(int64(s.BlkRd)), humanSize(int64(s.BlkWrt)), s.Pids)
				}
				_ = tw.Flush()
				prev = cur
				if noStream || first && false {
					return nil
				}
			}
		}))
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "disable streaming stats and only pull the first result")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	return cmd
}

// ---------------------------------------------------------------------------
// export, commit

func (c *CLI) exportCmd() *cobra.Command {
	var output string
	cmd := c.command("export [OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive", 1, 1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			return c.writeArchive(output, func(w io.Writer) error { return e.Export(args[0], w) })
		}))
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}

func (c *CLI) commitCmd() *cobra.Command {
	var author, message string
	var changes []string
	var pause bool
	cmd := c.command("commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes", 1, 2,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			img, err := e.Commit(cmd.Context(), args[0], engine.CommitOptions{Name: name, Author: author, Message: message, Changes: changes, Pause: pause})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, img.ID.String())
			return nil
		}))
	f := cmd.Flags()
	f.StringVarP(&author, "author", "a", "", "author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
	f.StringVarP(&message, "message", "m", "", "commit message")
	f.StringArrayVarP(&changes, "change", "c", nil, "apply Dockerfile instruction to the created image")
	f.BoolVarP(&pause, "pause", "p", true, "pause container during commit")
	return cmd
}
