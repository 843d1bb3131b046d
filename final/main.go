// Command final is the cfs engine, a small docker-like program built from
// what the stages teach (go build -o cfs ./final). Each subcommand is one
// function below: doctor checks that this host can run the stages,
// cleanup removes what killed runs left on it, and runtime is an OCI
// runtime with runc's command line (final/runccli over final/runtime);
// docker's commands (cfs run, ps, pull, …) are final/dockercli's, over the
// engine (final/engine), and serve is the Docker Engine API over the same
// engine (final/api). The same binary is also started again as a
// container's init (final/runtime) and as its monitor (final/engine).
// Started under the name cfs-runc (a symlink), the binary is that runtime
// alone, so that containerd and dockerd can use it in runc's place.
//
//	go run -exec sudo ./final doctor
//	go run -exec sudo ./final cleanup --dry-run
//	sudo ./cfs runtime run --bundle DIR ID
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"cfs/final/api"
	"cfs/final/dockercli"
	"cfs/final/engine"
	"cfs/final/runccli"
	"cfs/final/runtime"
	"cfs/internal/cleanup"
	"cfs/internal/cli"
	"cfs/internal/doctor"
	"cfs/internal/layout"
)

// prog is the program's name in its messages and usage, and invoke how
// its examples start it: final and go run under go run ./final, the name
// it was started by otherwise (cfs, after go build -o cfs ./final), as
// docker's messages say docker. main sets them; tests keep final.
var prog, invoke = "final", "go run -exec sudo ./final"

// names gives prog and invoke for a program started as arg0 (os.Args[0]).
func names(arg0 string) (prog, invoke string) {
	prog = filepath.Base(arg0)
	if prog == "final" || prog == "." || prog == "/" {
		// go run ./final builds a program named final in a
		// temporary directory: the examples say how to start it.
		return "final", "go run -exec sudo ./final"
	}
	return prog, "sudo " + arg0
}

// runcName is the name under which the binary is the runtime alone.
const runcName = "cfs-runc"

func main() {
	// A container's init, or a process exec'd into a container: this
	// program started again by the runtime (final/runtime).
	if runtime.IsInit() {
		os.Exit(runtime.Init())
	}
	// A container's monitor: this program started again by the engine
	// (final/engine), for as long as the container runs.
	if engine.IsMonitor() {
		os.Exit(engine.MonitorMain())
	}
	if filepath.Base(os.Args[0]) == runcName {
		os.Exit(runccli.Main(runcName, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	prog, invoke = names(os.Args[0])
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// A command runs one subcommand with its arguments and returns the exit
// status: 0 for success, 1 when the command ran and found a problem, 2 for
// bad input.
type command struct {
	name, args, summary string
	run                 func(args []string, stdout, stderr io.Writer) int
}

// commands, in the order usage lists them.
var commands = []command{
	{"doctor", "[--json]", "check this host for what the stages need, with a fix for each problem", doctorCmd},
	{"cleanup", "[--dry-run] [--all] [--caches]", "remove what killed runs left on this host (running containers stay, unless --all)", cleanupCmd},
	{"runtime", "COMMAND [ARG...]", "the OCI runtime, with runc's command line (runtime --help lists its commands)", runtimeCmd},
	{"serve", "[--host unix:///PATH]", "serve the Docker Engine API, so that the docker CLI drives cfs (docs/12-api.md)", serveCmd},
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	if dockercli.Handles(args[0]) { // docker's command line: pull, images, …
		return dockercli.Run(prog, args, os.Stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", prog, args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s COMMAND [ARG...]\n\n", prog)
	fmt.Fprintf(w, "cfs, the container engine the stages build up to.\n\nCommands:\n")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name+" "+c.args))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name+" "+c.args, c.summary)
	}
	dockercli.Usage(w)
	fmt.Fprintf(w, "\nExamples:\n")
	fmt.Fprintf(w, "  %s doctor\n", invoke)
	fmt.Fprintf(w, "  %s doctor --json | jq '.[] | select(.status != \"ok\")'\n", invoke)
	fmt.Fprintf(w, "  %s cleanup --dry-run\n", invoke)
	fmt.Fprintf(w, "  %s --trace run --rm --network none cfs/base true\n", invoke)
}

// ---------------------------------------------------------------------------
// runtime

// runtimeCmd is runc's command line (final/runccli); its global flags come
// after "runtime", before the verb, as they come before runc's.
func runtimeCmd(args []string, stdout, stderr io.Writer) int {
	return runccli.Main("cfs runtime", args, os.Stdin, stdout, stderr)
}

// ---------------------------------------------------------------------------
// serve

// serveCmd is the Docker Engine API on a socket (final/api).
func serveCmd(args []string, stdout, stderr io.Writer) int {
	return api.Main("cfs", args, stdout, stderr)
}

// parseFlags parses the flags of a command that takes no arguments. For
// --help it prints help, the flags and an example; for bad input, the
// error and where to look. ok is false then, and code the exit status.
func parseFlags(fs *flag.FlagSet, args []string, name, help string, stdout, stderr io.Writer) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, help)
		cli.PrintFlags(stdout, fs)
		fmt.Fprintf(stdout, "\nExample:\n  %s %s\n", invoke, strings.TrimSpace(name+" "+example[name]))
		return 0, false
	case err != nil:
		fmt.Fprintf(stderr, "%s %s: %v\n(see: %s %s --help)\n", prog, name, err, prog, name)
		return 2, false
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "%s %s: unexpected argument %q\n(see: %s %s --help)\n", prog, name, fs.Arg(0), prog, name)
		return 2, false
	}
	return 0, true
}

// example is the flags of each command's example in its help.
var example = map[string]string{"cleanup": "--dry-run"}

// ---------------------------------------------------------------------------
// doctor

// newHost is the host doctor checks; tests replace it.
var newHost = doctor.System

func doctorCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog+" doctor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print the results as a JSON array, for scripts")
	help := fmt.Sprintf(`Usage: %s doctor [--json]

Checks this host for what the stages need and prints one line per check
(ok, warn or FAIL), with a fix under each problem. Exits 1 when a check
that a stage needs fails. Run it as root: some checks try a real mount.

`, prog)
	if code, ok := parseFlags(fs, args, "doctor", help, stdout, stderr); !ok {
		return code
	}

	results := newHost().Checks()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			fmt.Fprintf(stderr, "%s doctor: %v\n", prog, err)
			return 1
		}
	} else {
		printReport(stdout, results)
	}
	for _, r := range results {
		if r.Failed() {
			return 1
		}
	}
	return 0
}

// printReport prints one aligned line per check, the fix under each warning
// and failure, and a summary.
//
//	ok   kernel        Linux 6.1.0-25-amd64
//	warn ip-forward    net.ipv4.ip_forward=0: …
//	                   fix: sudo sysctl -w net.ipv4.ip_forward=1 …
func printReport(w io.Writer, results []doctor.Result) {
	width := 0
	for _, r := range results {
		width = max(width, len(r.Name))
	}
	indent := strings.Repeat(" ", 5+width+2)
	var warns, fails int
	var stopped []string
	for _, r := range results {
		label := map[doctor.Status]string{doctor.OK: "ok", doctor.Warn: "warn", doctor.Fail: "FAIL"}[r.Status]
		fmt.Fprintf(w, "%-4s %-*s  %s\n", label, width, r.Name, r.Detail)
		if r.Status == doctor.OK {
			continue
		}
		if r.Fix != "" {
			fmt.Fprintf(w, "%sfix: %s\n", indent, r.Fix)
		}
		if r.Status == doctor.Warn {
			warns++
			continue
		}
		fails++
		if len(r.NeededBy) > 0 {
			fmt.Fprintf(w, "%sneeded by %s\n", indent, r.NeededByText())
			stopped = append(stopped, r.Name)
		}
	}
	switch {
	case fails > 0:
		fmt.Fprintf(w, "\n%s, %s: fix the failures (%s) before running the stages that need them.\n",
			plural(fails, "failure"), plural(warns, "warning"), strings.Join(stopped, ", "))
	case warns > 0:
		fmt.Fprintf(w, "\n%s, no failures: the stages can run; read the warnings if one surprises you.\n", plural(warns, "warning"))
	default:
		fmt.Fprintf(w, "\nAll checks passed.\n")
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// ---------------------------------------------------------------------------
// cleanup

// runCleanup does the work of cleanup; tests replace it.
var runCleanup = cleanup.Run

func cleanupCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog+" cleanup", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dryRun := fs.Bool("dry-run", false, "list what would be removed, and remove nothing")
	all := fs.Bool("all", false, "remove running containers too: kill their stages and processes first")
	caches := fs.Bool("caches", false, "also remove the caches ("+strings.Join(cleanup.Caches, ", ")+"), which the next run builds again")
	help := fmt.Sprintf(`Usage: %s cleanup [--dry-run] [--all] [--caches]

Removes what cfs left on this host when a stage or container was killed (kill -9, a
crash): cfs-init processes, mounts under %s and %s, the links %s and
cfsXXXXXXXX, the nft table ip %s and its rules in other tables, cgroups %s/ID, address
leases, container state, the tests' network namespaces, and the containers of `+"`cfs runtime`"+`
whose init is gone (state in %s, cgroups %s/ID). It touches nothing else.
A container whose stage still runs is left alone, unless --all. Prints one line per
resource; exits 1 when something could not be removed. Network links and rules are
cleaned in the network namespace it runs in. Run it as root.

`, prog, cleanup.StateDir, cleanup.RunDir, cleanup.BridgeName, cleanup.TableName, cleanup.CgroupParent,
		cleanup.RuntimeRoot, layout.RuntimeCgroupParent)
	if code, ok := parseFlags(fs, args, "cleanup", help, stdout, stderr); !ok {
		return code
	}

	rep, err := runCleanup(cleanup.Options{DryRun: *dryRun, All: *all, Caches: *caches, Out: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "%s cleanup: %v\n", prog, err)
		return 1
	}
	fmt.Fprintln(stdout, rep.Summary())
	if len(rep.Failed) > 0 {
		return 1
	}
	return 0
}
