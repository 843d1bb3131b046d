package runtime

// Exec: a new process in a running container (`runc exec`, `docker exec`,
// `ctr task exec`). The same program started again, as for the init, but
// instead of new namespaces it enters the init's: the PID namespace by the
// parent (setns decides where the next child is born), the others by the
// process itself, on its main thread, from /proc/INIT/ns/* (stage 01's
// exercise with setns, and nsenter(1)). It joins the container's cgroup,
// takes its process settings, and becomes the program.
//
// A container with a user namespace of its own is entered through that
// namespace first, and that is the one step Go cannot take itself: the
// kernel lets only a single-threaded process setns(2) into a user
// namespace (a process's threads share one set of credentials, and the
// new ones must hold for all of them), and a Go program has several
// threads before main runs. runc takes the step in C (its nsexec), in a
// constructor that runs before the Go runtime starts. Here a small C
// program every distribution has takes it: util-linux's nsenter(1) is
// started in place of this program, joins the user namespace, becomes
// root there, and executes this program, which goes on as always, now
// with every capability in the container's user namespace, which owns
// the namespaces it joins next. Same as
// `nsenter --user=/proc/INIT/ns/user -- cfs-init`.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOptions are exec's flags.
type ExecOptions struct {
	ConsoleSocket         string
	ConsoleConn           *os.File
	PreserveFDs           int
	Stdin, Stdout, Stderr *os.File
}

// Process is a process Exec started.
type Process struct {
	Pid int
	cmd *exec.Cmd
}

// Wait waits for the process and returns its status as a shell reports
// it. Only the process that called Exec can wait (exec without --detach).
func (p *Process) Wait() (int, error) {
	err := p.cmd.Wait()
	return exitStatus(p.cmd.ProcessState, err)
}

// nsFiles are the names of /proc/PID/ns/* that an exec'd process joins.
var nsFiles = []struct {
	typ  specs.LinuxNamespaceType
	file string
}{
	{specs.IPCNamespace, "ipc"}, {specs.UTSNamespace, "uts"}, {specs.NetworkNamespace, "net"},
	{specs.CgroupNamespace, "cgroup"}, {specs.MountNamespace, "mnt"},
}

// Exec starts p in the container and returns once it is about to run.
func (c *Container) Exec(p *specs.Process, opt ExecOptions) (*Process, error) {
	switch st := c.Status(); st {
	case Running, Created:
	default:
		return nil, fmt.Errorf("cannot exec in container %s: it is %s", c.rec.ID, st)
	}
	if err := validateProcess(p); err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	if p.Terminal && opt.ConsoleSocket == "" && opt.ConsoleConn == nil {
		return nil, errors.New("the process wants a terminal (--tty), but no --console-socket was given to send it to")
	}
	pid := c.rec.Init.PID
	cfg := &initConfig{
		Mode: "exec", ID: c.rec.ID, Process: p, Cgroup: c.rec.Cgroup, ConsoleFd: -1,
		PreserveFDs: opt.PreserveFDs, Seccomp: c.rec.Spec.Linux.Seccomp,
	}
	var userns, nsenter string
	for _, n := range c.rec.Spec.Linux.Namespaces {
		if n.Type == specs.UserNamespace {
			userns = fmt.Sprintf("/proc/%d/ns/user", pid)
		}
	}
	if userns != "" {
		var err error
		if nsenter, err = exec.LookPath("nsenter"); err != nil {
			return nil, fmt.Errorf("cannot exec in container %s: it has a user namespace of its own, which is entered with nsenter(1) (setns(2) into a user namespace needs a single-threaded caller, and a Go program has many threads), and there is no nsenter on PATH: install util-linux (apt-get install util-linux)", c.rec.ID)
		}
		cfg.UserNS = true
	}
	for _, n := range nsFiles {
		path := fmt.Sprintf("/proc/%d/ns/%s", pid, n.file)
		// Inside the container's user namespace, a namespace it shares
		// with the host (no network namespace of its own, say) belongs
		// to the host's user namespace, and setns into it is refused,
		// even though the process is in it already: leave it out.
		if userns != "" && sameFile(path, "/proc/self/ns/"+n.file) {
			continue
		}
		cfg.Join = append(cfg.Join, specs.LinuxNamespace{Type: n.typ, Path: path})
	}
	ch, err := c.r.spawn(cfg, spawnOptions{
		pidns: fmt.Sprintf("/proc/%d/ns/pid", pid), userns: userns, nsenter: nsenter, consoleSocket: opt.ConsoleSocket, consoleConn: opt.ConsoleConn,
		preserveFDs: opt.PreserveFDs, stdin: opt.Stdin, stdout: opt.Stdout, stderr: opt.Stderr,
		spec: c.rec.Spec, cg: c.cg,
	})
	if err != nil {
		return nil, err
	}
	if err := ch.talk(func(syncMsg) (*syncMsg, error) { return nil, errors.New("unexpected hooks request") }); err != nil {
		ch.kill()
		return nil, err
	}
	return &Process{Pid: ch.cmd.Process.Pid, cmd: ch.cmd}, nil
}

// execProcess is the exec'd process's side: into the container's
// namespaces, then the same last steps as the init.
func (s *initSide) execProcess() error {
	if err := joinNamespaces(s.cfg.Join); err != nil {
		return err
	}
	return s.become(s.cfg.Process, s.cfg.Seccomp)
}

// sameFile reports whether two paths lead to one file: for namespaces,
// one namespace (as readlink shows, net:[INODE]).
func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
