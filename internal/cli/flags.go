package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"cfs/internal/trace"
)

// Flags is a stage's command line: the flags every stage has (--hostname,
// --trace, --step and -h), the stage's own, which it registers on the
// embedded FlagSet, and COMMAND [ARG...] after them.
type Flags struct {
	*flag.FlagSet
	// About says more than the namespaces, for the usage: a sentence.
	About string

	stage, namespaces string
	example           []string
	hostname, rootfs  *string
	trace, step       *bool
}

// NewFlags starts the command line of stage, whose container gets the
// namespaces that cloneFlags make. The first example line is a command
// line of the stage; the usage shows it after `go run -exec sudo ./STAGE`.
// Later lines are shown as they are.
func NewFlags(stage string, cloneFlags uintptr, example ...string) *Flags {
	f := &Flags{FlagSet: flag.NewFlagSet(stage, flag.ContinueOnError), stage: stage, example: example}
	f.SetOutput(io.Discard)
	f.FlagSet.Usage = func() {} // errors are printed by the stage, help by Parse
	f.namespaces = "a new " + trace.Namespaces(cloneFlags) + " namespace"
	if cloneFlags&(cloneFlags-1) != 0 {
		f.namespaces = "new " + trace.Namespaces(cloneFlags) + " namespaces"
	}
	f.hostname = f.String("hostname", "", "`NAME` of the container's host (default: a random 12-hex-digit ID)")
	f.trace = f.Bool("trace", false, "print each step the kernel is asked to do, on stderr")
	f.step = f.Bool("step", false, "like --trace, and wait for Enter on the terminal before each step")
	return f
}

// Container is what every stage's config holds from the command line,
// filled in by Parse.
type Container struct {
	ID       string   // names the container: its default hostname; from stage 05 on, its host resources
	Hostname string   // --hostname, checked, or the ID
	Command  []string // COMMAND [ARG...], /bin/sh when none is given
	Env      []string // a clean environment (see Env)
	Trace    bool     // --trace: narrate each step on stderr
	Step     bool     // --step: and wait for Enter before each one
}

// RootfsVar adds --rootfs DIR, which Parse checks and makes absolute
// into p (see Rootfs).
func (f *Flags) RootfsVar(p *string, usage string) {
	f.rootfs = p
	f.StringVar(p, "rootfs", "", usage)
}

// Parse parses args into c (and --rootfs, when the stage has it). For -h
// or --help it prints the usage on stdout and returns flag.ErrHelp.
func (f *Flags) Parse(args []string, c *Container) (err error) {
	err = f.FlagSet.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		f.usage(os.Stdout)
	}
	if err != nil {
		return err
	}
	c.ID, c.Command = NewID(), f.Command()
	c.Trace, c.Step = f.Tracing()
	if c.Hostname, err = f.Hostname(c.ID); err != nil {
		return err
	}
	if f.rootfs != nil {
		if *f.rootfs, err = Rootfs(*f.rootfs); err != nil {
			return err
		}
	}
	c.Env = Env(c.Hostname)
	return nil
}

func (f *Flags) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s [flags] [--] [COMMAND [ARG...]]\n\n", f.stage)
	fmt.Fprintf(w, "Runs COMMAND (default /bin/sh) in %s.\n", f.namespaces)
	if f.About != "" {
		fmt.Fprintln(w, f.About)
	}
	fmt.Fprintf(w, "\nFlags:\n")
	PrintFlags(w, f.FlagSet)
	fmt.Fprintf(w, "\nExample:\n")
	for i, e := range f.example {
		if i == 0 {
			e = fmt.Sprintf("go run -exec sudo ./%s %s", f.stage, e)
		}
		fmt.Fprintf(w, "  %s\n", e)
	}
}

// Hostname is --hostname, checked, or id when it was not given.
func (f *Flags) Hostname(id string) (string, error) {
	name := *f.hostname
	if name == "" && !f.IsSet("hostname") {
		name = id
	}
	return name, CheckHostname(name)
}

// Tracing is what --trace and --step ask for: step implies trace.
func (f *Flags) Tracing() (trace, step bool) { return *f.trace || *f.step, *f.step }

// Command is COMMAND [ARG...], /bin/sh when none is given.
func (f *Flags) Command() []string {
	if f.NArg() == 0 {
		return []string{"/bin/sh"}
	}
	return f.Args()
}

// IsSet reports whether the flag name was given on the command line.
func (f *Flags) IsSet(name string) bool {
	set := false
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// Rootfs checks a --rootfs DIR and makes it absolute; "" stays "".
func Rootfs(dir string) (string, error) {
	if dir == "" {
		return "", nil
	}
	abs, err := filepath.Abs(dir)
	if fi, serr := os.Stat(abs); err != nil || serr != nil || !fi.IsDir() {
		return "", Usagef("--rootfs %s: not a directory", dir)
	}
	return abs, nil
}

// ContainerPath is the command search path inside a container.
const ContainerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Env is a container's environment: a clean one, as docker gives, since
// the host's variables describe the host, not the container. TERM is
// passed on, so that programs draw on the terminal the way it expects.
func Env(hostname string) []string {
	env := []string{"PATH=" + ContainerPath, "HOSTNAME=" + hostname, "HOME=/root"}
	if term := os.Getenv("TERM"); term != "" {
		env = append(env, "TERM="+term)
	}
	return env
}
