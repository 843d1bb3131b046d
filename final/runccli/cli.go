// Package runccli is runc's command line over final/runtime: `cfs runtime
// VERB …`, or the cfs binary started as cfs-runc. The verbs, flags,
// outputs and exit statuses are runc's, as containerd's shim (through
// go-runc), dockerd and the OCI validation suite call them
// (shared/reference/client-contracts.md, parts B and C); each verb is a few
// lines over one call of the runtime package, which does the work.
//
//	cfs-runc [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--systemd-cgroup] VERB [FLAGS] ID …
package runccli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"cfs/final/runtime"
	"cfs/internal/cli"
)

// Version is the runtime's version, as `--version` prints it.
const Version = "0.1.0"

// env is one command's world: its streams, and its settings.
type env struct {
	name           string // how the user called us: "cfs runtime" or "cfs-runc"
	stdin          *os.File
	stdout, stderr io.Writer
	rt             *runtime.Runtime
	log            *logger
}

// usageError is bad input: exit status 2, with a hint to the help.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// exitError carries a status other than 1: `run` and `exec` exit with
// their process's.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

type verb struct {
	name, args, summary string
	run                 func(e *env, args []string) error
}

var verbs []verb

func init() {
	verbs = []verb{
		{"spec", "[--bundle DIR] [--rootless]", "write a default config.json into the bundle", specCmd},
		{"create", "[--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID", "create a container: its init waits for start", createCmd},
		{"start", "ID", "start a created container's program", startCmd},
		{"run", "[--bundle DIR] [--detach] ID", "create and start a container; without --detach, wait for it and delete it", runCmd},
		{"state", "ID", "print a container's state as JSON", stateCmd},
		{"list", "[-q] [--format table|json]", "list the containers", listCmd},
		{"kill", "[--all] ID [SIGNAL]", "send a signal (default SIGTERM) to a container's init, or with --all to all its processes", killCmd},
		{"delete", "[--force] ID", "delete a stopped container (--force: kill it first)", deleteCmd},
		{"exec", "[--process FILE] [--tty] [--detach] ID [COMMAND [ARG...]]", "run a new process in a running container", execCmd},
		{"ps", "[--format table|json] ID [PS_ARGS...]", "list a container's processes", psCmd},
		{"pause", "ID", "freeze every process of a container", pauseCmd},
		{"resume", "ID", "thaw a paused container", resumeCmd},
		{"update", "[--resources FILE|-] [--memory SIZE] [--cpu-quota N] … ID", "change a container's limits", updateCmd},
		{"events", "[--stats] [--interval DURATION] ID", "print a container's usage every --interval and its OOM kills as they happen, until it stops (--stats: the usage once)", eventsCmd},
		{"features", "", "print what this runtime supports, as JSON", featuresCmd},
	}
}

// Main runs runc's command line with args (without the program's name)
// and returns the exit status, with which the caller exits at once: a
// foreground run or exec leaves its signal handlers in place (fg.stop).
// name is how usage names the program.
func Main(name string, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	e := &env{name: name, stdin: stdin, stdout: stdout, stderr: stderr, log: &logger{now: time.Now}}
	err := e.main(args)
	if e.log.closer != nil {
		defer e.log.closer.Close()
	}
	var ee *exitError
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %v\n(see: %s --help)\n", name, err, name)
		return 2
	}
	e.log.Errorf("%v", err)
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}

func (e *env) main(args []string) error {
	fs := newFlags("")
	root := fs.String("root", runtime.DefaultRoot, "`DIR` of the containers' state")
	logFile := fs.String("log", "", "`FILE` to append log lines to (default: none)")
	logFormat := fs.String("log-format", "text", "log line `FORMAT`: text or json")
	debugOn := fs.Bool("debug", false, "log each step")
	systemd := fs.Bool("systemd-cgroup", false, "read cgroupsPath as systemd's slice:prefix:name")
	version := fs.Bool("version", false, "print the version")
	fs.BoolVar(version, "v", false, "print the version")
	_ = fs.Bool("rootless", false, "accepted for runc's command line; ignored")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			e.usage(e.stdout, fs)
			return nil
		}
		return usagef("%v", err)
	}
	if *version {
		e.printVersion()
		return nil
	}
	if *logFormat != "text" && *logFormat != "json" {
		return usagef("--log-format %q: want text or json", *logFormat)
	}
	e.log.json, e.log.debug = *logFormat == "json", *debugOn
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("open the log %s: %w", *logFile, err)
		}
		e.log.w, e.log.closer = f, f
	} else if *debugOn {
		e.log.w = e.stderr
	}
	e.rt = &runtime.Runtime{Root: *root, SystemdCgroup: *systemd, Debugf: e.log.Debugf}
	rest := fs.Args()
	if len(rest) == 0 {
		e.usage(e.stderr, fs)
		return &exitError{2}
	}
	switch rest[0] {
	case "help":
		e.usage(e.stdout, fs)
		return nil
	case "version":
		e.printVersion()
		return nil
	}
	for _, v := range verbs {
		if v.name == rest[0] {
			e.log.Debugf("%s %s", v.name, strings.Join(rest[1:], " "))
			return v.run(e, rest[1:])
		}
	}
	return usagef("unknown command %q", rest[0])
}

func (e *env) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s [GLOBAL FLAGS] COMMAND [FLAGS] [ARG...]\n\n", e.name)
	fmt.Fprintf(w, "An OCI runtime with runc's command line: it runs a bundle (a directory with\n")
	fmt.Fprintf(w, "config.json and a root filesystem) as a container. docs/09-runtime.md explains it.\n\n")
	fmt.Fprintf(w, "Commands:\n")
	width := 0
	for _, v := range verbs {
		width = max(width, len(v.name))
	}
	for _, v := range verbs {
		fmt.Fprintf(w, "  %-*s  %s\n", width, v.name, v.summary)
	}
	fmt.Fprintf(w, "\nGlobal flags (before the command):\n")
	printFlags(w, fs)
	fmt.Fprintf(w, "\nExample:\n  mkdir -p demo/rootfs && cd demo && sudo cp -a /var/lib/cfs/rootfs/. rootfs/\n")
	fmt.Fprintf(w, "  sudo %s spec && sudo %s run demo\n", e.name, e.name)
}

// printVersion prints runc's three lines, which dockerd parses.
func (e *env) printVersion() {
	commit := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	fmt.Fprintf(e.stdout, "cfs-runc version %s\ncommit: %s\nspec: %s\n", Version, commit, specVersion())
}

// newFlags makes a verb's flag set: errors are returned, not printed.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses a verb's flags and checks its positional arguments: want
// of them at least, or exactly when exact.
func (e *env) parse(fs *flag.FlagSet, args []string, v string, want int, exact bool) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			for _, x := range verbs {
				if x.name == v {
					fmt.Fprintf(e.stdout, "Usage: %s %s %s\n\n%s.\n\n", e.name, v, x.args, strings.ToUpper(x.summary[:1])+x.summary[1:])
				}
			}
			printFlags(e.stdout, fs)
			return nil, &exitError{0}
		}
		return nil, usagef("%s: %v", v, err)
	}
	rest := fs.Args()
	switch {
	case len(rest) < want && want == 1:
		return nil, usagef("%s: missing the container ID", v)
	case len(rest) < want:
		return nil, usagef("%s: want %d arguments, got %d", v, want, len(rest))
	case exact && len(rest) > want:
		return nil, usagef("%s: unexpected argument %q", v, rest[want])
	}
	return rest, nil
}

// container parses a verb whose first argument is a container's ID (and,
// when exact, nothing more), and finds that container.
func (e *env) container(fs *flag.FlagSet, args []string, v string, exact bool) (*runtime.Container, []string, error) {
	rest, err := e.parse(fs, args, v, 1, exact)
	if err != nil {
		return nil, nil, err
	}
	c, err := e.rt.Get(rest[0])
	if err != nil {
		return nil, nil, err
	}
	return c, rest, nil
}

// printFlags lists flags as runc's help does: two dashes, the default.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := cli.FlagHelp(f)
		lines = append(lines, fmt.Sprintf("%-32s %s", name, usage))
	})
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

// writeJSON prints v indented, as runc prints state and list.
func writeJSON(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// writePidFile writes the PID as digits only (go-runc reads it with
// strconv.Atoi), to a temporary file renamed into place, so that a reader
// never sees it half written.
func writePidFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs)+".tmp")
	if err := os.WriteFile(tmp, []byte(fmt.Sprint(pid)), 0o644); err != nil {
		return fmt.Errorf("write the pid file: %w", err)
	}
	return os.Rename(tmp, abs)
}

// readInput reads a file, or stdin for "-".
func (e *env) readInput(path string) ([]byte, error) {
	if path == "-" {
		var b bytes.Buffer
		_, err := io.Copy(&b, e.stdin)
		return b.Bytes(), err
	}
	return os.ReadFile(path)
}
