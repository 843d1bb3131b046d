// Stage 02: a PID namespace, so the container numbers its own processes and
// its first process is PID 1, with PID 1's duties.
//
//	go run -exec sudo ./stage02-pid sh -c 'echo $$; ps'
//
// Read beside docs/02-pid.md, man 7 pid_namespaces and man 2 wait4.
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

const stage = "stage02-pid"

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
	Terminal bool // the stage holds the terminal: the command may take it
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
		fmt.Printf("Runs COMMAND (default /bin/sh) in new UTS and PID namespaces.\n\nFlags:\n")
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
			//
			// CLONE_NEWPID starts a new numbering of processes: the child is
			// PID 1 in it, and sees only its own descendants. The host still
			// sees the child under an ordinary PID of its own.
			Cloneflags: unix.CLONE_NEWUTS | unix.CLONE_NEWPID,
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
		return 0, fmt.Errorf("start the container process (clone with CLONE_NEWUTS|CLONE_NEWPID): %w", err)
	}
	tr.Result("host PID %d, the container's first process", cmd.Process.Pid)
	r.Close()
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()

	// A stage started in the background (`&`) must leave the terminal to
	// the shell, so the command takes it only if this stage's process group
	// is the terminal's foreground group.
	if fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP); err == nil && fg == unix.Getpgrp() {
		cfg.Terminal = true
	}

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

	return initProcess(cfg.Command, cfg.Env, cfg.Terminal)
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

// initProcess does what PID 1 must do in any PID namespace. It runs the
// command as its child and, until the command exits:
//
//   - reaps every child that exits. A process whose parent dies is handed
//     to PID 1 of its namespace; when it exits it stays a zombie (an entry
//     in the process table) until PID 1 calls wait(2) for it.
//   - passes SIGINT, SIGTERM, SIGHUP and SIGQUIT on to the command. The
//     kernel delivers to PID 1 only the signals it has a handler for, so
//     without this the command would never hear `docker stop`'s SIGTERM.
//
// When the command exits, PID 1 exits with its status; the kernel then
// kills every other process left in the namespace.
func initProcess(argv, env []string, terminal bool) int {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)

	os.Setenv("PATH", containerPath) // exec.LookPath searches this process's PATH
	path, err := exec.LookPath(argv[0])
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	// An interactive shell takes the terminal for its process group and
	// hands it back at exit. The group it was born in lives in the host's
	// PID namespace, which it cannot name from here, so give the command a
	// group of its own and put that group in the terminal's foreground.
	if terminal {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: true, Ctty: 0}
	}
	if err == nil {
		// Go's exec starts a child with clone(2) (a fork) and execve(2).
		tr.Step("fork() + "+trace.Exec(path, argv), "exec "+trace.Quote(argv))
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: container: exec %q: %v\n", stage, argv[0], err)
		return cli.ExecFailure(err)
	}
	tr.Result("the command is PID %d in the container", cmd.Process.Pid)

	for {
		if status, done := reap(cmd.Process.Pid); done {
			return status
		}
		if s := <-sigs; s != unix.SIGCHLD {
			_ = cmd.Process.Signal(s)
		}
	}
}

// reap collects every exited child with wait4(2), without blocking, and
// reports the command's status once the command is among them.
func reap(command int) (status int, done bool) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return 0, false // no more exited children for now
		}
		if pid != command {
			continue // an orphan: collecting it is all that was needed
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), true
		}
		return ws.ExitStatus(), true
	}
}
