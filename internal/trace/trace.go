// Package trace narrates, for a stage's --trace and --step flags, what the
// stage asks the kernel to do, as it does it. It is a teaching aid, not a
// lesson: the stages call it next to each system call that matters.
//
// Every line goes to stderr and has one of these forms (docs/trace.md):
//
//	[cfs SIDE] CALL  ≈ SHELL    a step, printed just before it is taken
//	[cfs SIDE]   DETAIL         more about the step above (an nft rule, …)
//	[cfs SIDE] → RESULT         what the step above returned
//	[cfs look] COMMAND          a command to type in another terminal
//
// SIDE is "parent" (the stage, on the host) or "child" (cfs-init, inside the
// new namespaces); the engine's are "monitor", "init" (its container's
// init, inside) and "registry". "  ≈ SHELL", when present, is a shell
// command that asks the kernel for the same thing. With --step, the stage
// waits after each step's lines until Enter is pressed on the controlling
// terminal.
package trace

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Prompt is what --step writes to the terminal while it waits.
const Prompt = "[cfs step] press Enter to go on "

// Tracer prints the steps of one side. A nil *Tracer prints nothing and
// never waits, so the stages call it unconditionally. A write to its output
// that fails (a reader that went away: `2>&1 | head`) is dropped: the trace
// is for people watching, and the run goes on without them.
type Tracer struct {
	side string
	out  io.Writer
	tty  *os.File // with --step: the terminal to wait on
	// running: the host's side is set up and the container goes on (see
	// LookAt); a signal no longer ends the run from a pause.
	running bool
}

// New returns the tracer for side, or nil when both flags are off. With
// step, it opens the controlling terminal (/dev/tty), so that waiting for
// Enter never reads the container's stdin, which may be a pipe or a file.
func New(side string, on, step bool) (*Tracer, error) {
	if !on && !step {
		return nil, nil
	}
	t := &Tracer{side: side, out: os.Stderr}
	if step {
		tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("--step waits for Enter on the terminal, and there is none (%v): run it in a terminal, or use --trace alone", err)
		}
		t.tty = tty
	}
	return t, nil
}

// NewTo returns a tracer that writes side's steps to w and never waits:
// for a program that keeps a log of what it asks the kernel.
func NewTo(side string, w io.Writer) *Tracer {
	return &Tracer{side: side, out: w}
}

// File is the file the tracer writes to, or nil when it writes elsewhere
// or is nil: for a process that narrates its own steps on the same output
// (the runtime hands it to a container's init).
func (t *Tracer) File() *os.File {
	if t == nil {
		return nil
	}
	f, _ := t.out.(*os.File)
	return f
}

// Step prints a step before it is taken, with any detail lines, and with
// --step waits for Enter. It returns an *Interrupted error when a signal
// ended the pause while the parent was still setting up the host: the
// caller then does not take the step, and returns the error, so that the
// run ends through its ordinary clean-up (see wait).
func (t *Tracer) Step(call, shell string, detail ...string) error {
	if t == nil {
		return nil
	}
	line := "[cfs " + t.side + "] " + call
	if shell != "" {
		line += "  ≈ " + shell
	}
	var b strings.Builder
	b.WriteString(line + "\n")
	for _, d := range detail {
		b.WriteString("[cfs " + t.side + "]   " + d + "\n")
	}
	_, _ = io.WriteString(t.out, b.String())
	return t.wait()
}

// Result prints what the step before returned.
func (t *Tracer) Result(format string, a ...any) {
	if t == nil {
		return
	}
	fmt.Fprintf(t.out, "[cfs %s] → %s\n", t.side, fmt.Sprintf(format, a...))
}

// Look prints a command with which to look at the container from another
// terminal.
func (t *Tracer) Look(format string, a ...any) {
	if t == nil {
		return
	}
	fmt.Fprintf(t.out, "[cfs look] %s\n", fmt.Sprintf(format, a...))
}

// LookAt prints the ways to look at any container whose first process is
// pid on the host: its namespaces, a shell in all of them, and lsns. The
// stages call it when the set-up on the host is done, just before they let
// the container go on.
func (t *Tracer) LookAt(pid int) {
	if t == nil {
		return
	}
	t.running = true
	t.Look("sudo ls -l /proc/%d/ns", pid)
	t.Look("sudo nsenter -t %d -a sh", pid)
	t.Look("sudo lsns -p %d", pid)
}

// wait blocks until a whole line is read from the terminal. It reads one
// byte at a time so that it never takes input meant for the next wait, or
// for the other side, which waits on the same terminal.
func (t *Tracer) wait() error {
	if t.tty == nil {
		return nil
	}
	t.foreground()
	// Ctrl-C at one of the parent's pauses. While the stage sets up (until
	// LookAt), it ends the run from there: Step returns *Interrupted, which
	// the stage returns like any other error, and its deferred clean-ups
	// take down what was made so far. The pauses stop for good, so that
	// the clean-up runs to its end. Once the container runs, the stage's
	// own handler has the signal too and passes it on; the pauses just
	// stop. The child needs none of this: the signal from the terminal
	// reaches it too, and ends it as without --step.
	var sigs chan os.Signal
	if t.side == "parent" {
		sigs = make(chan os.Signal, 1)
		signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
		defer signal.Stop(sigs)
	}
	_, _ = io.WriteString(t.tty, Prompt)
	enter := make(chan struct{})
	go func() {
		defer close(enter)
		var b [1]byte
		for {
			n, err := t.tty.Read(b[:])
			if err != nil || (n == 1 && (b[0] == '\n' || b[0] == '\r')) {
				return
			}
		}
	}()
	select {
	case <-enter:
	case s := <-sigs: // never, when sigs is nil
		_, _ = io.WriteString(t.tty, "\n")
		t.tty.Close() // ends the read above, which must not take the command's input
		t.tty = nil
		<-enter
		if !t.running {
			return &Interrupted{Signal: s.(unix.Signal)}
		}
	}
	return nil
}

// Interrupted is the error Step returns when a signal ends a pause of the
// parent's set-up. The stage returns it up to run, which reports it with
// Interrupted and exits as the signal would have: 128+N.
type Interrupted struct{ Signal unix.Signal }

func (i *Interrupted) Error() string { return "interrupted by " + i.Signal.String() }

// Interrupted prints, once the run's clean-ups are done, that the run
// ended at a pause and the host is as it was.
func (t *Tracer) Interrupted(i *Interrupted) {
	t.Result("%v: cleaned up", i)
}

// foreground gives the terminal back to this process's group when the
// group that held it is gone: the command's, which took the terminal to run
// and has exited. Reading from the background would stop this process
// (SIGTTIN) in the middle of its clean-up.
func (t *Tracer) foreground() {
	// Through SyscallConn, not Fd(): Fd would make reads block in the
	// kernel, where Close could no longer interrupt them.
	rc, err := t.tty.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		fg, err := unix.IoctlGetInt(int(fd), unix.TIOCGPGRP)
		me := unix.Getpgrp()
		if err != nil || fg == me || unix.Kill(-fg, 0) != unix.ESRCH {
			return // ours, or another job's that the shell put there: leave it
		}
		// Changing the foreground group from the background sends
		// SIGTTOU, which would stop this process too, unless it is
		// ignored (as shells do).
		signal.Ignore(unix.SIGTTOU)
		defer signal.Reset(unix.SIGTTOU)
		_ = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPGRP, me)
	})
}

// names of the flags the stages pass to clone(2), in the order of the
// CLONE_NEW* constants' documentation (man 2 clone), with the unshare(1)
// option that asks for the same namespace.
var cloneNames = []struct {
	flag                uintptr
	name, unshare, kind string
}{
	{unix.CLONE_NEWUSER, "CLONE_NEWUSER", "--user", "user"},
	{unix.CLONE_NEWUTS, "CLONE_NEWUTS", "--uts", "UTS"},
	{unix.CLONE_NEWPID, "CLONE_NEWPID", "--pid --fork", "PID"},
	{unix.CLONE_NEWNS, "CLONE_NEWNS", "--mount", "mount"},
	{unix.CLONE_NEWIPC, "CLONE_NEWIPC", "--ipc", "IPC"},
	{unix.CLONE_NEWNET, "CLONE_NEWNET", "--net", "network"},
	{unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP", "--cgroup", "cgroup"},
}

// Clone describes clone(2) with flags, and the unshare(1) command that
// makes the same namespaces.
func Clone(flags uintptr) (call, shell string) {
	var opts []string
	for _, c := range cloneNames {
		if flags&c.flag != 0 {
			opts = append(opts, c.unshare)
		}
	}
	return "clone(" + CloneFlags(flags) + ")", "unshare " + strings.Join(opts, " ")
}

// CloneFlags writes the namespace flags of clone(2) as C does:
// "CLONE_NEWUTS|CLONE_NEWPID".
func CloneFlags(flags uintptr) string {
	var names []string
	for _, c := range cloneNames {
		if flags&c.flag != 0 {
			names = append(names, c.name)
		}
	}
	return strings.Join(names, "|")
}

// Namespaces names, for a sentence, the namespaces that flags make:
// "UTS, PID and mount".
func Namespaces(flags uintptr) string {
	var names []string
	for _, c := range cloneNames {
		if flags&c.flag != 0 {
			names = append(names, c.kind)
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// IDMaps describes, as detail lines of the clone step, what os/exec does
// for a user namespace's maps between clone(2) and the child's execve of
// argv0, while the child waits. Unprivileged, setgroups is denied.
func IDMaps(uids, gids syscall.SysProcIDMap, unprivileged bool, argv0 string) []string {
	write := func(file, value string) string {
		return fmt.Sprintf("write(/proc/CHILD/%s, %q)  ≈ echo %s > /proc/CHILD/%s", file, value, value, file)
	}
	setgroups, creds := "allow", "setgroups([]), setgid(0), setuid(0)"
	if unprivileged {
		setgroups, creds = "deny", "setgid(0), setuid(0)"
	}
	return []string{
		write("uid_map", fmt.Sprintf("%d %d %d", uids.ContainerID, uids.HostID, uids.Size)),
		write("setgroups", setgroups),
		write("gid_map", fmt.Sprintf("%d %d %d", gids.ContainerID, gids.HostID, gids.Size)),
		"then, in the child: " + creds + ", " + Exec("/proc/self/exe", []string{argv0}),
	}
}

// Unshare describes unshare(2) with flags.
func Unshare(flags uintptr) (call, shell string) {
	call, shell = Clone(flags)
	return "unshare" + strings.TrimPrefix(call, "clone"), shell
}

var mountNames = []struct {
	flag      uintptr
	name, opt string
}{
	{unix.MS_BIND, "MS_BIND", ""},
	{unix.MS_REC, "MS_REC", ""},
	{unix.MS_PRIVATE, "MS_PRIVATE", ""},
	{unix.MS_RDONLY, "MS_RDONLY", "ro"},
	{unix.MS_NOSUID, "MS_NOSUID", "nosuid"},
	{unix.MS_NODEV, "MS_NODEV", "nodev"},
	{unix.MS_NOEXEC, "MS_NOEXEC", "noexec"},
	{unix.MS_STRICTATIME, "MS_STRICTATIME", "strictatime"},
	{unix.MS_REMOUNT, "MS_REMOUNT", "remount"},
	{unix.MS_SLAVE, "MS_SLAVE", ""},
	{unix.MS_SHARED, "MS_SHARED", ""},
	{unix.MS_UNBINDABLE, "MS_UNBINDABLE", ""},
	{unix.MS_MOVE, "MS_MOVE", ""},
	{unix.MS_NOATIME, "MS_NOATIME", "noatime"},
	{unix.MS_NODIRATIME, "MS_NODIRATIME", "nodiratime"},
	{unix.MS_RELATIME, "MS_RELATIME", "relatime"},
}

// Mount describes mount(2) with its arguments, and the mount(8) command
// that does the same.
func Mount(source, target, fstype string, flags uintptr, data string) (call, shell string) {
	var names, opts []string
	for _, m := range mountNames {
		if flags&m.flag != 0 {
			names = append(names, m.name)
			if m.opt != "" {
				opts = append(opts, m.opt)
			}
		}
	}
	flagText := strings.Join(names, "|")
	if flagText == "" {
		flagText = "0"
	}
	call = fmt.Sprintf("mount(%q, %q, %q, %s, %q)", source, target, fstype, flagText, data)

	switch {
	case flags&unix.MS_REMOUNT != 0:
		if flags&unix.MS_BIND != 0 {
			opts = append([]string{"bind"}, opts...)
		}
		return call, "mount -o " + strings.Join(opts, ",") + " " + target
	case flags&(unix.MS_PRIVATE|unix.MS_SLAVE|unix.MS_SHARED|unix.MS_UNBINDABLE) != 0:
		kind := map[uintptr]string{unix.MS_PRIVATE: "private", unix.MS_SLAVE: "slave", unix.MS_SHARED: "shared",
			unix.MS_UNBINDABLE: "unbindable"}[flags&(unix.MS_PRIVATE|unix.MS_SLAVE|unix.MS_SHARED|unix.MS_UNBINDABLE)]
		if flags&unix.MS_REC != 0 {
			kind = "r" + kind
		}
		return call, "mount --make-" + kind + " " + target
	case flags&unix.MS_MOVE != 0:
		return call, "mount --move " + source + " " + target
	case flags&unix.MS_BIND != 0:
		bind := "--bind"
		if flags&unix.MS_REC != 0 {
			bind = "--rbind"
		}
		return call, fmt.Sprintf("mount %s %s %s", bind, source, target)
	}
	if data != "" {
		opts = append(opts, data)
	}
	shell = "mount -t " + fstype
	if len(opts) > 0 {
		shell += " -o " + strings.Join(opts, ",")
	}
	return call, shell + " " + source + " " + target
}

// Exec describes execve(2) of path with argv.
func Exec(path string, argv []string) string {
	return fmt.Sprintf("execve(%q, %s)", path, Argv(argv))
}

// Argv writes an argument vector as C programmers write one.
func Argv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Quote writes argv as a shell command line, quoting what the shell would
// otherwise split or expand.
func Quote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = a
		if a == "" || strings.ContainsFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
