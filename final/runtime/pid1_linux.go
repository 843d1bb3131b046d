package runtime

// A container's PID 1 that stays (docker run --init, which runs tini):
// stage 02's init, here on request. Without it the user's program is PID
// 1 itself, and PID 1 has two duties a program written for a terminal
// does not know about: a signal it has no handler for is ignored (so
// Ctrl-C and `docker stop` do nothing), and orphans are handed to it to
// reap, or they stay zombies. With the annotation InitAnnotation the init
// runs the program as its child instead of becoming it, passes every
// signal on to it, reaps every child, and exits with the program's status.

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"cfs/internal/kernel"

	"golang.org/x/sys/unix"
)

// InitAnnotation, set to "true" in a config's annotations, keeps the init
// as PID 1 (stage 02's init) instead of making it the user's program.
const InitAnnotation = "dev.cfs.init"

// stayAsInit runs path as the init's child and acts as PID 1 until it
// exits; it returns only if the program cannot be started.
func stayAsInit(path string, args, env []string) error {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	cmd := &exec.Cmd{Path: path, Args: args, Env: env, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if err := kernel.ForkExec(itr, cmd); err != nil {
		return execve(path, args, env) // the same error as without --init
	}
	closeInitTrace()
	child := cmd.Process.Pid
	for sig := range sigs {
		if sig == unix.SIGURG {
			continue // the Go runtime's own preemption signal
		}
		if sig != unix.SIGCHLD {
			// Passed on, as tini does: the program decides.
			_ = unix.Kill(child, sig.(syscall.Signal))
			continue
		}
		// Reap every child that exited: the program, and any orphan the
		// kernel handed to PID 1.
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if pid <= 0 || err != nil {
				break
			}
			if pid == child {
				if ws.Signaled() {
					os.Exit(128 + int(ws.Signal()))
				}
				os.Exit(ws.ExitStatus())
			}
		}
	}
	return nil
}
