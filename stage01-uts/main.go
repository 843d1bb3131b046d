// Stage 01: a UTS namespace, so the container has a hostname of its own.
//
//	go run -exec sudo ./stage01-uts --hostname box hostname
//
// Read beside docs/01-uts.md, man 7 uts_namespaces, man 2 clone and
// man 2 sethostname.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"cfs/internal/cli"
	"cfs/internal/doctor"
	"cfs/internal/trace"

	"golang.org/x/sys/unix"
)

const stage = "stage01-uts"

// initArg0 is the name this program gives itself when it starts again as the
// container's first process; main reads it to know which side it runs on.
const initArg0 = "cfs-init"

// containerPath is the command search path inside the container.
const containerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// config is what the parent tells the child. It travels as JSON over a pipe
// (file descriptor 3 in the child), so nothing leaks into the command's
// arguments or environment.
type config struct {
	Hostname string
	Command  []string
	Env      []string
	Trace    bool // --trace: narrate each step on stderr
	Step     bool // --step: and wait for Enter before each one
}

// tr narrates this side's steps for --trace and --step (docs/trace.md);
// when both are off it is nil and prints nothing.
var tr *trace.Tracer

func main() {
	if os.Args[0] == initArg0 {
		os.Exit(child())
	}
	os.Exit(run(os.Args[1:]))
}

// run parses the command line and runs one container. It returns 2 for bad
// input, 125 when the stage itself fails (as docker does), and otherwise the
// command's own exit status.
func run(args []string) (status int) {
	defer trace.Recover(&status) // Ctrl-C at a --step pause
	cfg, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n(see: %s --help)\n", stage, err, stage)
		return 2
	}
	if err := cli.NeedRoot(stage); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", stage, err)
		return 125
	}
	if tr, err = trace.New("parent", cfg.Trace, cfg.Step); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", stage, err)
		return 2
	}
	status, err = parent(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", stage, err)
		hint(err)
		return 125
	}
	return status
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet(stage, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	hostname := fs.String("hostname", "", "`NAME` of the container's host (default: a random 12-hex-digit ID)")
	traceOn := fs.Bool("trace", false, "print each step the kernel is asked to do, on stderr")
	step := fs.Bool("step", false, "like --trace, and wait for Enter on the terminal before each step")
	fs.Usage = func() {} // parse errors are printed by run, help below
	usage := func() {
		fmt.Printf("Usage: %s [flags] [--] [COMMAND [ARG...]]\n\n", stage)
		fmt.Printf("Runs COMMAND (default /bin/sh) in a new UTS namespace.\n\nFlags:\n")
		cli.PrintFlags(os.Stdout, fs)
		fmt.Printf("\nExample:\n  go run -exec sudo ./%s --hostname box hostname\n", stage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
		}
		return config{}, err
	}
	cfg := config{Hostname: *hostname, Command: fs.Args()}
	cfg.Trace, cfg.Step = *traceOn || *step, *step
	if cfg.Hostname == "" && !flagSet(fs, "hostname") {
		cfg.Hostname = cli.NewID()
	}
	if err := cli.CheckHostname(cfg.Hostname); err != nil {
		return config{}, err
	}
	if len(cfg.Command) == 0 {
		cfg.Command = []string{"/bin/sh"}
	}
	// A clean environment, as docker gives: the host's variables describe
	// the host, not the container.
	cfg.Env = []string{
		"PATH=" + containerPath,
		"HOSTNAME=" + cfg.Hostname,
		"HOME=/root",
	}
	if term := os.Getenv("TERM"); term != "" {
		cfg.Env = append(cfg.Env, "TERM="+term)
	}
	return cfg, nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// ---------------------------------------------------------------------------
// The parent side: runs on the host, starts the child in new namespaces and
// waits for it.

func parent(cfg config) (int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("create config pipe: %w", err)
	}
	defer w.Close()

	// Go cannot call clone(2) and go on running Go code in the child, so the
	// stage asks the kernel to start this same program again (/proc/self/exe)
	// inside the new namespaces; the copy finishes the set-up from inside.
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{initArg0},
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: []*os.File{r},
		SysProcAttr: &syscall.SysProcAttr{
			// CLONE_NEWUTS gives the child its own copy of the hostname and
			// NIS domain name. It starts equal to the host's; what the child
			// sets later is seen only by processes in this namespace.
			Cloneflags: unix.CLONE_NEWUTS,
			// If the stage dies, even by SIGKILL, the kernel kills the
			// child too: no container outlives the program that owns it.
			Pdeathsig: unix.SIGKILL,
		},
	}

	// Ctrl-C and kill must not stop the stage and leave the command running:
	// catch them and pass them on, so the command decides.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	defer signal.Stop(sigs)

	tr.Step(trace.Clone(cmd.SysProcAttr.Cloneflags))
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the container process (clone with CLONE_NEWUTS): %w", err)
	}
	tr.Result("host PID %d, the container's first process", cmd.Process.Pid)
	r.Close()
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()

	tr.LookAt(cmd.Process.Pid)

	// Writing the config and closing the pipe is the child's signal to go on.
	if err := json.NewEncoder(w).Encode(cfg); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, fmt.Errorf("send config to the container process: %w", err)
	}
	w.Close()

	return cli.ExitStatus(cmd.Wait())
}

// ---------------------------------------------------------------------------
// The child side: runs inside the new namespaces, as initArg0.

func child() int {
	cfg, err := readConfig()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: container: %v\n", stage, err)
		return 125
	}
	if tr, err = trace.New("child", cfg.Trace, cfg.Step); err != nil {
		fmt.Fprintf(os.Stderr, "%s: container: %v\n", stage, err)
		return 125
	}

	// sethostname(2) changes the name of the UTS namespace the caller is in.
	// This process is the first one in a new namespace, so the host's
	// hostname stays as it was. Same as `hostname NAME` in the container.
	tr.Step(fmt.Sprintf("sethostname(%q)", cfg.Hostname), "hostname "+cfg.Hostname)
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		fmt.Fprintf(os.Stderr, "%s: container: %v\n", stage, os.NewSyscallError("sethostname", err))
		return 125
	}

	return execCommand(cfg.Command, cfg.Env)
}

// hint prints, under an error that a known problem of the host causes,
// what the problem is and the command that checks the whole host.
func hint(err error) {
	if h := doctor.Hint(err); h != "" {
		fmt.Fprintf(os.Stderr, "%s: %s\n", stage, h)
	}
}

// readConfig reads the parent's config from fd 3 and closes it, so the
// command does not inherit the pipe.
func readConfig() (config, error) {
	f := os.NewFile(3, "config")
	defer f.Close()
	var cfg config
	if err := json.NewDecoder(f).Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("read config from the parent: %w", err)
	}
	return cfg, nil
}

// execCommand replaces this process with the command (execve(2)): the
// command keeps this PID and every namespace set up so far. It returns only
// on failure, with the status a shell would give (127 not found, 126 not
// executable).
func execCommand(argv, env []string) int {
	os.Setenv("PATH", containerPath) // exec.LookPath searches this process's PATH
	path, err := exec.LookPath(argv[0])
	if err == nil {
		tr.Step(trace.Exec(path, argv), "exec "+trace.Quote(argv))
		err = unix.Exec(path, argv, env)
	}
	fmt.Fprintf(os.Stderr, "%s: container: exec %q: %v\n", stage, argv[0], err)
	return cli.ExecFailure(err)
}
