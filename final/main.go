// Command final is the cfs engine, a small docker-like program built from
// what the stages teach. Each subcommand is one function below; for now
// there is doctor, which checks that this host can run the stages.
//
//	sudo env "PATH=$PATH" go run ./final doctor
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"cfs/internal/doctor"
)

const prog = "final"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// A command runs one subcommand with its arguments and returns the exit
// status: 0 for success, 1 when the command ran and found a problem, 2 for
// bad input.
type command struct {
	name, args, summary string
	run                 func(args []string, stdout, stderr io.Writer) int
}

// commands, in the order usage lists them. `cleanup` (remove what killed
// runs left behind) comes next, here.
var commands = []command{
	{"doctor", "[--json]", "check this host for what the stages need, with a fix for each problem", doctorCmd},
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
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", prog, args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s COMMAND [ARG...]\n\n", prog)
	fmt.Fprintf(w, "cfs, the container engine the stages build up to.\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-18s %s\n", c.name+" "+c.args, c.summary)
	}
	fmt.Fprintf(w, "\nExamples:\n")
	fmt.Fprintf(w, "  sudo env \"PATH=$PATH\" go run ./%s doctor\n", prog)
	fmt.Fprintf(w, "  sudo env \"PATH=$PATH\" go run ./%s doctor --json | jq '.[] | select(.status != \"ok\")'\n", prog)
}

// ---------------------------------------------------------------------------
// doctor

// newHost is the host doctor checks; tests replace it.
var newHost = doctor.System

func doctorCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog+" doctor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print the results as a JSON array, for scripts")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: %s doctor [--json]\n\n", prog)
			fmt.Fprintf(stdout, "Checks this host for what the stages need and prints one line per check\n")
			fmt.Fprintf(stdout, "(ok, warn or FAIL), with a fix under each problem. Exits 1 when a check\n")
			fmt.Fprintf(stdout, "that a stage needs fails. Run it as root: some checks try a real mount.\n\n")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			fmt.Fprintf(stdout, "\nExample:\n  sudo env \"PATH=$PATH\" go run ./%s doctor\n", prog)
			return 0
		}
		fmt.Fprintf(stderr, "%s doctor: %v\n(see: %s doctor --help)\n", prog, err, prog)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s doctor: unexpected argument %q\n(see: %s doctor --help)\n", prog, fs.Arg(0), prog)
		return 2
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
