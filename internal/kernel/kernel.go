// Package kernel is the stages' and the engine's way of asking the kernel
// for something: one call that narrates the request for --trace and --step
// (internal/trace), makes it, and wraps a failure in an *Error that says
// what was asked. So each request is written once, and the trace cannot
// drift from the code.
//
//	if err := kernel.Mount(tr, "proc", "/r/proc", "proc", unix.MS_NOSUID, ""); err != nil {
//		return err // mount proc on /r/proc (type proc): no such device
//	}
//
// A nil tracer narrates nothing. When a signal ends a --step pause before
// a request, the request is not made and the call returns the tracer's
// *trace.Interrupted instead.
package kernel

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"cfs/internal/trace"

	"golang.org/x/sys/unix"
)

// Error is a request the kernel refused, or could not carry out.
type Error struct {
	// Op is the system call or message: "mount", "pivot_root", "clone",
	// "unshare", "sethostname", "write", "mkdir", "netlink", "nft", …
	Op string
	// Arg is what, of the request, tells failures apart: a mount's
	// filesystem type, the namespaces of a clone ("CLONE_NEWUSER|…"), the
	// file of a write.
	Arg string
	// What the request was for, as the message says it.
	What string
	Err  error
}

func (e *Error) Error() string { return e.What + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Do narrates a request as call (how the trace writes it) and shell (a
// command that asks for the same, or ""), then makes it: each of fns in
// turn, up to the first that fails, for the requests that only make sense
// together. A failure says shell, or call when there is no shell.
func Do(tr *trace.Tracer, call, shell string, fns ...func() error) error {
	if err := tr.Step(call, shell); err != nil {
		return err
	}
	for _, fn := range fns {
		if err := fn(); err != nil {
			what := shell
			if what == "" {
				what = call
			}
			op, _, _ := strings.Cut(call, "(")
			op, _, _ = strings.Cut(op, " ")
			return &Error{Op: op, What: what, Err: err}
		}
	}
	return nil
}

// Mount is mount(2). Same as the mount(8) command the trace shows. A new
// filesystem (fstype given) gets its mount point made first if it is
// missing, as `mount --mkdir` does; a bind or a change of propagation
// needs its target to exist.
func Mount(tr *trace.Tracer, source, target, fstype string, flags uintptr, data string) error {
	if fstype != "" && flags&unix.MS_REMOUNT == 0 {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return &Error{Op: "mkdir", Arg: target, What: "create mount point " + target, Err: err}
		}
	}
	call, shell := trace.Mount(source, target, fstype, flags, data)
	if err := tr.Step(call, shell); err != nil {
		return err
	}
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		what := shell // a bind or a change of propagation says it best
		if fstype != "" {
			what = fmt.Sprintf("mount %s on %s (type %s)", source, target, fstype)
			if data != "" {
				what = fmt.Sprintf("mount %s on %s (type %s, %s)", source, target, fstype, data)
			}
		}
		return &Error{Op: "mount", Arg: fstype, What: what, Err: err}
	}
	return nil
}

// Unmount is umount2(2). Same as `umount -l TARGET` with MNT_DETACH.
func Unmount(tr *trace.Tracer, target string, flags int) error {
	call, shell := fmt.Sprintf("umount2(%q, 0)", target), "umount "+target
	if flags == unix.MNT_DETACH {
		call, shell = fmt.Sprintf("umount2(%q, MNT_DETACH)", target), "umount -l "+target
	}
	if err := tr.Step(call, shell); err != nil {
		return err
	}
	if err := unix.Unmount(target, flags); err != nil {
		return &Error{Op: "umount2", What: shell, Err: err}
	}
	return nil
}

// PivotRoot makes root the root of the caller's mount namespace, the old
// root stacked on top of it (pivot_root(".", ".") from inside root), and
// leaves the caller in root. Same as `cd ROOT && pivot_root . .`.
func PivotRoot(tr *trace.Tracer, root string) error {
	if err := tr.Step(fmt.Sprintf(`chdir(%q) + pivot_root(".", ".")`, root), "cd "+root+" && pivot_root . ."); err != nil {
		return err
	}
	if err := unix.Chdir(root); err != nil {
		return &Error{Op: "chdir", What: "chdir " + root, Err: err}
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return &Error{Op: "pivot_root", What: "pivot_root to " + root, Err: err}
	}
	return nil
}

// Sethostname is sethostname(2). Same as `hostname NAME`.
func Sethostname(tr *trace.Tracer, name string) error {
	if err := tr.Step(fmt.Sprintf("sethostname(%q)", name), "hostname "+name); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return &Error{Op: "sethostname", What: "sethostname", Err: err}
	}
	return nil
}

// Mknod makes the character device node path for (major, minor), usable
// by everyone. Same as `mknod PATH c MAJOR MINOR`.
func Mknod(tr *trace.Tracer, path string, major, minor uint32) error {
	shell := fmt.Sprintf("mknod %s c %d %d", path, major, minor)
	if err := tr.Step(fmt.Sprintf("mknod(%q, S_IFCHR|0666, makedev(%d, %d))", path, major, minor), shell); err != nil {
		return err
	}
	if err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(major, minor))); err != nil {
		return &Error{Op: "mknod", Arg: path, What: shell, Err: err}
	}
	// mknod applies the umask; the nodes must be usable by everyone.
	if err := unix.Chmod(path, 0o666); err != nil {
		return &Error{Op: "chmod", Arg: path, What: "chmod 0666 " + path, Err: err}
	}
	return nil
}

// Write writes value to a kernel file (a cgroup's, /proc/sys's) in one
// write(2): such files take one value per write, so no buffering and no
// appending. Same as `echo VALUE > PATH`.
func Write(tr *trace.Tracer, path, value string) error {
	if err := tr.Step(fmt.Sprintf("write(%s, %q)", path, value), fmt.Sprintf("echo %s > %s", value, path)); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return &Error{Op: "write", Arg: path, What: fmt.Sprintf("write %q to %s", value, path), Err: err}
	}
	return nil
}

// Sysctl sets a kernel parameter, named as under /proc/sys
// ("net/ipv4/ip_forward"), unless it has the value already. Same as
// `sysctl -w net.ipv4.ip_forward=1`.
func Sysctl(tr *trace.Tracer, name, value string) error {
	path := "/proc/sys/" + name
	if cur, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(cur)) == value {
		return nil
	}
	shell := fmt.Sprintf("sysctl -w %s=%s", strings.ReplaceAll(name, "/", "."), value)
	if err := tr.Step(fmt.Sprintf("write(%s, %q)", path, value), shell); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return &Error{Op: "write", Arg: path, What: shell, Err: err}
	}
	return nil
}

// Mkdir makes a directory in a kernel filesystem (a cgroup). With all, it
// makes the missing parents too, as `mkdir -p` does.
func Mkdir(tr *trace.Tracer, dir string, all bool) error {
	shell, mkdir := "mkdir "+dir, os.Mkdir
	if all {
		shell, mkdir = "mkdir -p "+dir, os.MkdirAll
	}
	if err := tr.Step(fmt.Sprintf("mkdir(%s)", dir), shell); err != nil {
		return err
	}
	if err := mkdir(dir, 0o755); err != nil {
		return &Error{Op: "mkdir", Arg: dir, What: "create " + dir, Err: err}
	}
	return nil
}

// Rmdir removes a directory of a kernel filesystem (a cgroup, which goes
// only once no process is in it). Same as `rmdir DIR`.
func Rmdir(tr *trace.Tracer, dir string) error {
	if err := tr.Step(fmt.Sprintf("rmdir(%s)", dir), "rmdir "+dir); err != nil {
		return err
	}
	if err := unix.Rmdir(dir); err != nil {
		return &Error{Op: "rmdir", Arg: dir, What: "remove " + dir, Err: err}
	}
	return nil
}

// Clone starts cmd, whose SysProcAttr.Cloneflags name the new namespaces,
// narrated as clone(2) with detail lines, and says the host PID it got.
// Same as `unshare` with the options the trace shows.
func Clone(tr *trace.Tracer, cmd *exec.Cmd, detail ...string) error {
	flags := cmd.SysProcAttr.Cloneflags
	call, shell := trace.Clone(flags)
	if err := tr.Step(call, shell, detail...); err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		names := trace.CloneFlags(flags)
		return &Error{Op: "clone", Arg: names, What: "start the container process (clone with " + names + ")", Err: err}
	}
	tr.Result("host PID %d, the container's first process", cmd.Process.Pid)
	return nil
}

// Unshare is unshare(2): it moves the calling thread into new namespaces.
func Unshare(tr *trace.Tracer, flags uintptr) error {
	call, shell := trace.Unshare(flags)
	if err := tr.Step(call, shell); err != nil {
		return err
	}
	if err := unix.Unshare(int(flags)); err != nil {
		names := trace.CloneFlags(flags)
		return &Error{Op: "unshare", Arg: names, What: "unshare " + names, Err: err}
	}
	return nil
}

// ForkExec starts cmd as a child of the caller: fork(2), then execve(2) in
// the child. Same as the shell running the command.
func ForkExec(tr *trace.Tracer, cmd *exec.Cmd) error {
	if err := tr.Step("fork() + "+trace.Exec(cmd.Path, cmd.Args), "exec "+trace.Quote(cmd.Args)); err != nil {
		return err
	}
	return cmd.Start()
}

// Exec replaces the caller with the program at path: execve(2). It
// returns only on failure.
func Exec(tr *trace.Tracer, path string, argv, env []string) error {
	if err := tr.Step(trace.Exec(path, argv), "exec "+trace.Quote(argv)); err != nil {
		return err
	}
	return unix.Exec(path, argv, env)
}
