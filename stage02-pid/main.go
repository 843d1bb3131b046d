// Stage 02: a PID namespace, so the container numbers its own processes and
// its first process is PID 1, with PID 1's duties.
//
//	go run -exec sudo ./stage02-pid sh -c 'echo $$; ps'
//
// Read beside docs/02-pid.md, man 7 pid_namespaces and man 2 wait4.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"cfs/internal/cli"
	"cfs/internal/hint"
	"cfs/internal/kernel"
	"cfs/internal/layout"
	"cfs/internal/trace"

	"golang.org/x/sys/unix"
)

const stage = "stage02-pid"

// config is what the parent tells the child. It travels as JSON over a pipe
// (file descriptor 3 in the child), so nothing leaks into the command's
// arguments or environment.
type config struct {
	// ID, Hostname, Command, Env, Trace and Step: what every stage's
	// command line says (internal/cli).
	cli.Container
	Terminal bool // the stage holds the terminal: the command may take it
}

// tr narrates this side's steps for --trace and --step (docs/trace.md);
// when both are off it is nil and prints nothing.
var tr *trace.Tracer

func main() {
	cli.KeepGoingOnSIGPIPE() // `2>&1 | head` must not end the set-up half-way
	if os.Args[0] == layout.InitName {
		os.Exit(child())
	}
	os.Exit(run(os.Args[1:]))
}

// run parses the command line and runs one container. It returns 2 for bad
// input, 125 when the stage itself fails (as docker does), 128+N when
// signal N ends the set-up, and otherwise the command's own exit status
// (internal/cli says each failure on stderr).
func run(args []string) int {
	cfg, err := parseFlags(args)
	if err != nil {
		return cli.BadInput(stage, err) // 0 for --help, which prints the usage
	}
	if err := cli.NeedRoot(stage); err != nil {
		return cli.Exit(stage, nil, 0, err)
	}
	if tr, err = trace.New("parent", cfg.Trace, cfg.Step); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", stage, err)
		return 2
	}
	status, err := parent(cfg)
	return cli.Exit(stage, tr, status, err)
}

func parseFlags(args []string) (cfg config, err error) {
	fs := cli.NewFlags(stage, cloneFlags, "sh -c 'echo $$; ps'")
	return cfg, fs.Parse(args, &cfg.Container)
}

// ---------------------------------------------------------------------------
// The parent side: runs on the host, in the phases every stage follows:
// prepare the host (from stage 03 on), start the child in new namespaces,
// plug it in (from stage 05 on), let it go, and wait for it. What it makes
// on the host is taken down by the deferred calls, in reverse order,
// however the run ends: the command's exit, an error, Ctrl-C or kill.

// cloneFlags are the new namespaces the child starts in.
//
// CLONE_NEWUTS gives the child its own copy of the hostname and NIS domain
// name. It starts equal to the host's; what the child sets later is seen
// only by processes in this namespace.
//
// CLONE_NEWPID starts a new numbering of processes: the child is PID 1 in
// it, and sees only its own descendants. The host still sees the child
// under an ordinary PID of its own.
const cloneFlags = unix.CLONE_NEWUTS | unix.CLONE_NEWPID

func parent(cfg config) (status int, err error) {
	// Ctrl-C and kill must not stop the stage and leave the command running:
	// catch them and pass them on, so the command decides. Caught from the
	// start, so that what the set-up makes is always taken down again.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	defer signal.Stop(sigs)

	// Start the child in its new namespaces, where it waits for its config.
	cmd, config, err := startChild(sigs)
	if err != nil {
		return 0, err
	}
	defer func() { // a failure from here on ends the child too
		config.Close()
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	// Let it go, after saying how to look at it from outside.
	tr.LookAt(cmd.Process.Pid)
	if err := letGo(config, cfg); err != nil {
		return 0, err
	}

	// Wait: the command's exit status is the stage's.
	return cli.ExitStatus(cmd.Wait())
}

// startChild starts this same program again as the container's first
// process, in new namespaces, and returns the write end of its config
// pipe. Go cannot call clone(2) and go on running Go code in the child, so
// the kernel starts /proc/self/exe anew inside the namespaces; the copy
// reads its config and finishes the set-up from inside.
func startChild(sigs chan os.Signal) (*exec.Cmd, *os.File, error) {
	// A signal caught during the set-up ends the run here, before the
	// container exists. Passed on later, it could reach cfs-init before
	// cfs-init has a handler, and be lost.
	select {
	case s := <-sigs:
		return nil, nil, &trace.Interrupted{Signal: s.(unix.Signal)}
	default:
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("create config pipe: %w", err)
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{layout.InitName},
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: []*os.File{r},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: cloneFlags,
			// If the stage dies, even by SIGKILL, the kernel kills the
			// child too: no container outlives the program that owns it.
			Pdeathsig: unix.SIGKILL,
		},
	}
	if err := kernel.Clone(tr, cmd); err != nil {
		w.Close()
		return nil, nil, err
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	return cmd, w, nil
}

// letGo sends the config: the end of the pipe is the child's go-ahead.
func letGo(w *os.File, cfg config) error {
	// A stage started in the background (`&`) must leave the terminal to
	// the shell, so the command takes it only if this stage's process group
	// is the terminal's foreground group.
	if fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP); err == nil && fg == unix.Getpgrp() {
		cfg.Terminal = true
	}
	if err := json.NewEncoder(w).Encode(cfg); err != nil {
		return fmt.Errorf("send config to the container process: %w", err)
	}
	return w.Close()
}

// ---------------------------------------------------------------------------
// The child side: runs inside the new namespaces, as cfs-init.

func child() int {
	// The config comes on fd 3; closed once read, so that the command does
	// not inherit the pipe.
	var cfg config
	config := os.NewFile(3, "config")
	err := json.NewDecoder(config).Decode(&cfg)
	config.Close()
	if err != nil {
		err = fmt.Errorf("read config from the parent: %w", err)
	} else {
		tr, err = trace.New("child", cfg.Trace, cfg.Step)
	}
	// sethostname(2) changes the name of the UTS namespace the caller is in.
	// This process is the first one in a new namespace, so the host's
	// hostname stays as it was. Same as `hostname NAME` in the container.
	if err == nil {
		err = kernel.Sethostname(tr, cfg.Hostname)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: container: %v\n", stage, err)
		hint.Print(os.Stderr, stage, err)
		return 125
	}
	return initProcess(cfg.Command, cfg.Env, cfg.Terminal)
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

	os.Setenv("PATH", cli.ContainerPath) // exec.LookPath searches this process's PATH
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
		err = kernel.ForkExec(tr, cmd)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: container: exec %q: %v\n", stage, argv[0], cli.ExecCause(err))
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
