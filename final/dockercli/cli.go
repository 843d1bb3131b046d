// Package dockercli is cfs's docker-compatible command line: the image
// commands of part 2 (pull, push, images, image inspect, history, tag,
// rmi, image prune, save, load, import) and the container commands of
// part 3 (run, create, start, attach, ps, logs, exec, stop, restart, kill,
// rm, inspect, wait, top, stats, pause, unpause, port, rename, export,
// diff, commit, cp, update, system df and prune; containers.go, run.go,
// detach.go, ps.go, exec.go, cp.go) and network ls and inspect
// (network.go). Each command parses
// its flags, calls the engine's packages in-process, and prints what
// docker prints, in docker's formats and with docker's exit codes: 0, 1
// when the command failed, 125 for a bad flag or an engine error of run,
// 126 and 127 for a command that cannot run or is not there.
//
// Role: command line. It calls the engine (final/engine) and the image
// store (final/image), never the kernel or a registry itself. No stage teaches it: it is the face that
// docker users know. Flags are parsed by github.com/spf13/cobra and
// spf13/pflag, as docker's own CLI does, so that they behave as docker's:
// combined short flags (-qa), --flag=value, flags after arguments.
package dockercli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"

	"cfs/final/engine"
	"cfs/final/image"
	"cfs/final/registry"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// StoreEnv, when set, is the image store's directory instead of
// /var/lib/cfs/images (benchmarks and experiments; tests set CLI.Root).
const StoreEnv = "CFS_IMAGE_STORE"

// CLI is one run of the command line.
type CLI struct {
	Prog     string // the program's name in messages: final, cfs
	In       io.Reader
	Out, Err io.Writer
	// Root is the store's directory; "" is $CFS_IMAGE_STORE or
	// /var/lib/cfs/images.
	Root string
	// Registry, when not nil, is used instead of one made from the
	// settings (tests: an in-process registry's transport).
	Registry *registry.Client

	// global flags
	trace      bool
	configFile string
	mirrors    []string
	insecure   []string
}

// Commands are the top-level commands this package handles.
var Commands = []string{"pull", "push", "images", "image", "history", "tag", "rmi", "save", "load", "import"}

// Handles reports whether name is one of Commands, of the container
// commands, or a global flag (cfs --trace run …).
func Handles(name string) bool {
	for _, c := range slices.Concat(Commands, containerCommands, systemCommands) {
		if c == name {
			return true
		}
	}
	return strings.HasPrefix(name, "--trace") || strings.HasPrefix(name, "--registry-mirror") ||
		strings.HasPrefix(name, "--insecure-registry") || strings.HasPrefix(name, "--config-file")
}

// Usage lists the commands, for the program's own usage.
func Usage(w io.Writer) {
	root := newRoot(&CLI{})
	for _, group := range []struct {
		title string
		names []string
	}{{"Containers", containerCommands}, {"Images", Commands}, {"System", systemCommands}} {
		fmt.Fprintf(w, "\n%s (docker's commands and flags; COMMAND --help for each):\n", group.title)
		for _, c := range root.Commands() {
			if c.Hidden || !slices.Contains(group.names, c.Name()) {
				continue
			}
			fmt.Fprintf(w, "  %-9s %s\n", c.Name(), c.Short)
		}
	}
	fmt.Fprintf(w, "\nGlobal options of these commands (--trace for every one; the registry ones for pull and push):\n%s", root.PersistentFlags().FlagUsages())
}

// Run runs args (a command and its arguments) and returns the exit status.
func Run(prog string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &CLI{Prog: prog, In: stdin, Out: stdout, Err: stderr}
	return c.Run(args)
}

// statusError carries an exit status other than 1; a bare one's message
// is printed as it is, without the command's name (docker's "Error
// response from daemon: …" and "Error: …").
type statusError struct {
	msg  string
	code int
	bare bool
}

func (e *statusError) Error() string { return e.msg }

// Run runs args with c's streams.
func (c *CLI) Run(args []string) int {
	root := newRoot(c)
	root.SetArgs(args)
	root.SetIn(c.In)
	root.SetOut(c.Out)
	root.SetErr(c.Err)
	// Ctrl-C cancels the work; what was half done is cleaned up by the
	// store (nothing half-written is ever kept).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	name := c.Prog
	if cmd != nil && cmd != root {
		name = c.Prog + " " + strings.TrimPrefix(cmd.CommandPath(), root.Name()+" ")
	}
	var se *statusError
	if errors.As(err, &se) {
		switch {
		case se.bare:
			fmt.Fprintln(c.Err, se.msg)
		case se.msg != "":
			fmt.Fprintf(c.Err, "%s: %s\n", name, se.msg)
		}
		return se.code
	}
	var conflict *engine.ConflictError
	if errors.Is(err, engine.ErrNotFound) || errors.As(err, &conflict) {
		// No such container, not running: dockerd's words, as docker's
		// CLI prints them.
		fmt.Fprintf(c.Err, "Error response from daemon: %v\n", err)
		return 1
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(c.Err, "%s: canceled; nothing half-written was kept\n", name)
		return 130
	}
	fmt.Fprintf(c.Err, "%s: %v\n", name, err)
	return 1
}

func newRoot(c *CLI) *cobra.Command {
	root := &cobra.Command{
		Use:           c.Prog,
		SilenceErrors: true,
		// A command's Use line says its arguments and [OPTIONS] already.
		DisableFlagsInUseLine: true,
		SilenceUsage:          true,
		// docker's flag errors: the message, a pointer to --help, 125.
		FParseErrWhitelist: cobra.FParseErrWhitelist{},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &statusError{msg: fmt.Sprintf("%v\nSee '%s --help'.", err, c.path(cmd)), code: 125}
	})
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetUsageTemplate(usageTemplate)
	root.SetHelpTemplate("{{.UsageString}}")
	root.SetHelpCommand(&cobra.Command{Hidden: true})
	pf := root.PersistentFlags()
	pf.BoolVar(&c.trace, "trace", false, "print every kernel step and registry request on stderr (docs/trace.md)")
	pf.StringVar(&c.configFile, "config-file", registry.ConfigPath, "read the registry settings from `FILE` (the keys of docker's daemon.json)")
	pf.StringArrayVar(&c.mirrors, "registry-mirror", nil, "a mirror of Docker Hub to try first (`URL`, repeatable)")
	pf.StringArrayVar(&c.insecure, "insecure-registry", nil, "a registry allowed plain HTTP and unchecked certificates (`HOST[:PORT]` or CIDR, repeatable)")

	pull, push := c.pullCmd(), c.pushCmd()
	images, inspect, history := c.imagesCmd(), c.inspectCmd(), c.historyCmd()
	tag, rmi := c.tagCmd(), c.rmiCmd()
	save, load, imp := c.saveCmd(), c.loadCmd(), c.importCmd()
	root.AddCommand(pull, push, images, history, tag, rmi, save, load, imp)
	root.AddCommand(c.runCmd(), c.createCmd(), c.startCmd(), c.attachCmd(), c.psCmd(), c.logsCmd(), c.execCmd(), c.stopCmd(),
		c.restartCmd(), c.killCmd(), c.rmCmd(), c.inspectAnyCmd(), c.waitCmd(), c.topCmd(), c.statsCmd(),
		c.pauseCmd("pause"), c.pauseCmd("unpause"), c.portCmd(), c.renameCmd(), c.exportCmd(), c.diffCmd(), c.cpCmd(), c.commitCmd(), c.updateCmd())

	// docker image SUBCOMMAND and docker container SUBCOMMAND: the same
	// commands under their newer names, and image and container prune.
	root.AddCommand(c.group("image", "Manage images: image ls, inspect, pull, push, rm, prune, tag, history, save, load, import",
		inspect, c.pullCmd(), c.pushCmd(), alias(c.imagesCmd(), "ls", "list"), c.historyCmd(), c.tagCmd(),
		alias(c.rmiCmd(), "rm", "remove"), c.imagePruneCmd(), c.saveCmd(), c.loadCmd(), c.importCmd()))
	ctrInspect := c.inspectAnyCmd()
	_ = ctrInspect.Flags().Set("type", "container")
	root.AddCommand(c.group("container", "Manage containers: container ls, rm, prune, and the commands above",
		c.runCmd(), c.createCmd(), c.startCmd(), c.attachCmd(), alias(c.psCmd(), "ls", "list"), c.logsCmd(), c.execCmd(),
		c.stopCmd(), c.restartCmd(), c.killCmd(), alias(c.rmCmd(), "rm", "remove"), ctrInspect, c.waitCmd(), c.topCmd(),
		c.statsCmd(), c.pauseCmd("pause"), c.pauseCmd("unpause"), c.portCmd(), c.renameCmd(), c.exportCmd(), c.diffCmd(), c.cpCmd(),
		c.commitCmd(), c.updateCmd(), c.pruneCmd()))
	root.AddCommand(c.networkCmd(), c.volumeCmd(), c.group("system", "Manage cfs: system info, events, df, prune", c.infoCmd(), c.eventsCmd(), c.dfCmd(), c.systemPruneCmd()))
	root.AddCommand(c.infoCmd(), c.versionCmd(), c.eventsCmd())
	var noFlagsInUse func(*cobra.Command)
	noFlagsInUse = func(cmd *cobra.Command) {
		cmd.DisableFlagsInUseLine = true
		for _, sub := range cmd.Commands() {
			noFlagsInUse(sub)
		}
	}
	noFlagsInUse(root)
	return root
}

// usageTemplate is docker's layout of a command's help.
const usageTemplate = `Usage:  {{.UseLine}}

{{.Short}}
{{if .HasAvailableSubCommands}}
Commands:{{range .Commands}}{{if .IsAvailableCommand}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}
{{end}}{{if .HasAvailableLocalFlags}}
Options:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}
{{end}}{{if .HasAvailableInheritedFlags}}
Global options (--trace for every command; the registry ones for pull and push, also in /etc/cfs/daemon.json):
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}
{{end}}`

// group is docker's command that groups others: `docker image ls`.
func (c *CLI) group(name, short string, cmds ...*cobra.Command) *cobra.Command {
	group := &cobra.Command{Use: name + " COMMAND", Short: short, Args: cobra.ArbitraryArgs}
	group.AddCommand(cmds...)
	group.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return &statusError{msg: fmt.Sprintf("unknown command %q\nSee '%s %s --help'.", args[0], c.Prog, name), code: 125}
		}
		return cmd.Help()
	}
	return group
}

// alias renames a command (images → image ls) and keeps its old name too.
func alias(cmd *cobra.Command, name string, aliases ...string) *cobra.Command {
	old := cmd.Name()
	cmd.Use = name + strings.TrimPrefix(cmd.Use, old)
	cmd.Aliases = append(aliases, old)
	return cmd
}

// command is one of docker's commands: its usage line, its line of help,
// how many arguments it takes (max -1: any number) and what it does.
func (c *CLI) command(use, short string, min, max int, run func(cmd *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: c.args(min, max), RunE: run}
}

// withStore is a command's work with the image store open.
func (c *CLI) withStore(fn func(cmd *cobra.Command, s *image.Store, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := c.store()
		if err != nil {
			return err
		}
		return fn(cmd, s, args)
	}
}

// path is a command's name as the user typed it: "final pull".
func (c *CLI) path(cmd *cobra.Command) string {
	return c.Prog + strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name())
}

// args checks the number of arguments as docker does, with its words.
func (c *CLI) args(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min && (max < 0 || len(args) <= max) {
			return nil
		}
		var want string
		switch {
		case max == 0:
			want = "" // docker's NoArgs: "accepts no arguments"
		case min == max:
			want = fmt.Sprintf("exactly %d argument%s", min, plural(min))
		case max < 0:
			want = fmt.Sprintf("at least %d argument%s", min, plural(min))
		case min == 0:
			want = fmt.Sprintf("at most %d argument%s", max, plural(max))
		default:
			want = fmt.Sprintf("at least %d and at most %d arguments", min, max)
		}
		problem := "requires " + want
		if want == "" {
			problem = "accepts no arguments"
		}
		return &statusError{msg: fmt.Sprintf("%q %s.\nSee '%s --help'.\n\nUsage:  %s %s\n\n%s",
			c.path(cmd), problem, c.path(cmd), c.path(cmd), strings.TrimPrefix(cmd.Use, cmd.Name()+" "), cmd.Short), code: 1}
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// store opens the image store, with the registry settings of the flags
// and the config file.
func (c *CLI) store() (*image.Store, error) {
	root := c.Root
	if root == "" {
		root = os.Getenv(StoreEnv)
	}
	s, err := image.Open(root)
	if err != nil {
		return nil, err
	}
	if _, err := (registry.Config{}).With(c.mirrors, c.insecure); err != nil {
		return nil, err
	}
	if c.Registry != nil {
		s.Registry = c.Registry
	} else {
		cfg, err := registry.LoadConfig(c.configFile)
		if err != nil {
			return nil, err
		}
		if cfg, err = cfg.With(c.mirrors, c.insecure); err != nil {
			return nil, err
		}
		s.Registry = &registry.Client{Config: cfg}
	}
	if c.trace {
		s.Registry.Trace = registry.NewTracer(c.Err)
	}
	return s, nil
}
