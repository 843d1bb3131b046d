package dockercli

// exec: a command run in a running container, joining its namespaces and
// its cgroup, with docker's flags and exit statuses.

import (
	"errors"
	"io"
	"os"
	"strconv"

	"cfs/final/engine"
	"cfs/final/runtime"

	"github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

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
			ctr, err := e.Get(args[0]) // found again by Exec; here for its events
			if !detach {
				// As docker's: "no such container" comes first.
				if errors.Is(err, engine.ErrNotFound) {
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
			// docker's three events of an exec, under an ID of its own.
			execID := engine.NewID()
			event := func(action events.Action, exitCode string) {
				a := map[string]string{"execID": execID}
				if exitCode != "" {
					a["exitCode"] = exitCode
				}
				if ctr != nil {
					e.ContainerEvent(ctr, action, a)
				}
			}
			event(events.ActionExecCreate, "")
			event(events.ActionExecStart, "")
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
			event(events.ActionExecDie, strconv.Itoa(status))
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
