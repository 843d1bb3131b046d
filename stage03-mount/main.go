// Stage 03: a mount namespace and a root filesystem of its own, entered with
// pivot_root, with fresh /proc, /dev and /sys.
//
//	go run -exec sudo ./stage03-mount ps
//
// Read beside docs/03-mount.md, man 7 mount_namespaces and man 2
// pivot_root.
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
	"path/filepath"
	"syscall"

	"cfs/internal/cli"
	"cfs/internal/doctor"
	"cfs/internal/rootfs"
	"cfs/internal/trace"

	"golang.org/x/sys/unix"
)

const stage = "stage03-mount"

// initArg0 is the name this program gives itself when it starts again as the
// container's first process; main reads it to know which side it runs on.
const initArg0 = "cfs-init"

// containerPath is the command search path inside the container.
const containerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// config is what the parent tells the child. It travels as JSON over a pipe
// (file descriptor 3 in the child), so nothing leaks into the command's
// arguments or environment.
type config struct {
	Rootfs   string
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
	root := fs.String("rootfs", "", "root filesystem `DIR` (default: built once in "+rootfs.DefaultDir+")")
	fs.Usage = func() {} // parse errors are printed by run, help below
	usage := func() {
		fmt.Printf("Usage: %s [flags] [--] [COMMAND [ARG...]]\n\n", stage)
		fmt.Printf("Runs COMMAND (default /bin/sh) in new UTS, PID and mount namespaces.\n\nFlags:\n")
		cli.PrintFlags(os.Stdout, fs)
		fmt.Printf("\nExample:\n  go run -exec sudo ./%s --hostname box hostname\n", stage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
		}
		return config{}, err
	}
	cfg := config{Rootfs: *root, Hostname: *hostname, Command: fs.Args()}
	cfg.Trace, cfg.Step = *traceOn || *step, *step
	if cfg.Hostname == "" && !flagSet(fs, "hostname") {
		cfg.Hostname = cli.NewID()
	}
	if err := cli.CheckHostname(cfg.Hostname); err != nil {
		return config{}, err
	}
	if cfg.Rootfs != "" {
		abs, err := filepath.Abs(cfg.Rootfs)
		if fi, serr := os.Stat(abs); err != nil || serr != nil || !fi.IsDir() {
			return config{}, cli.Usagef("--rootfs %s: not a directory", cfg.Rootfs)
		}
		cfg.Rootfs = abs
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
	if cfg.Rootfs == "" {
		dir, err := rootfs.Ensure(os.Stderr)
		if err != nil {
			return 0, fmt.Errorf("default root filesystem: %w (or pass --rootfs DIR)", err)
		}
		cfg.Rootfs = dir
	}

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
			//
			// CLONE_NEWNS copies the host's table of mounts for the child.
			// From then on, mounting and unmounting in the child changes only
			// its copy (as long as propagation is off: see setupRoot).
			Cloneflags: unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWNS,
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
		return 0, fmt.Errorf("start the container process (clone with CLONE_NEWUTS|CLONE_NEWPID|CLONE_NEWNS): %w", err)
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
	tr.Look("sudo cat /proc/%d/mountinfo", cmd.Process.Pid)

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

	if err := setupRoot(cfg.Rootfs); err != nil {
		fmt.Fprintf(os.Stderr, "%s: container: %v\n", stage, err)
		hint(err)
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

// setupRoot makes rootfs the container's / and mounts the kernel's views
// that programs expect to find there.
func setupRoot(root string) error {
	// The copied mount table still shares events with the host's: on systemd
	// hosts / is "shared", so a mount made here would appear on the host too,
	// and pivot_root(2) refuses to work (EINVAL) when the current root or the
	// new one is shared. Marking every mount private, recursively, cuts that
	// link. Same as `mount --make-rprivate /`.
	tr.Step(trace.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""))
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private (mount --make-rprivate /): %w", err)
	}

	// pivot_root needs the new root to be a mount point, and a directory is
	// not one until something is mounted there: bind it onto itself.
	// Same as `mount --rbind ROOT ROOT`.
	tr.Step(trace.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""))
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s onto itself: %w", root, err)
	}

	// The kernel's views that programs expect to find, mounted under the
	// new root while the old root is still in place, as runc does (stage 06
	// shows why the order matters). A new proc instance shows the
	// processes of the PID namespace of the process that mounts it: ours.
	// The /proc we inherited showed the host's, which is why `ps` listed
	// them in stage 02.
	if err := mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	if err := setupDev(root); err != nil {
		return err
	}
	// sysfs describes the host's devices and kernel; programs read it, so
	// mount it, but read-only, so root in the container cannot change it.
	if err := mount("sysfs", filepath.Join(root, "sys"), "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}

	// pivot_root moves the whole old root away and puts ROOT in its place
	// for every process of this mount namespace. chroot(2) would only change
	// this process's idea of /, and a root process could climb back out
	// with a second chroot and "..": the old root would still be mounted.
	// Passing "." twice stacks the old root on top of the new one, where a
	// lazy unmount detaches it for good (man 2 pivot_root, NOTES).
	tr.Step(fmt.Sprintf(`chdir(%q) + pivot_root(".", ".")`, root), "cd "+root+" && pivot_root . .")
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir %s: %w", root, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root to %s: %w", root, err)
	}
	tr.Step(`umount2(".", MNT_DETACH)`, "umount -l .")
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// setupDev builds a minimal /dev on a tmpfs: the host's /dev holds every
// disk and device, which a container must not reach.
func setupDev(root string) error {
	dev := filepath.Join(root, "dev")
	if err := mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	// A device node is only a name for a (type, major, minor) triple; the
	// kernel's driver for that number does the work. These are the numbers
	// listed in the kernel's Documentation/admin-guide/devices.txt.
	for _, d := range []struct {
		name         string
		major, minor uint32
	}{
		{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
		{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
	} {
		path := filepath.Join(dev, d.name)
		tr.Step(fmt.Sprintf("mknod(%q, S_IFCHR|0666, makedev(%d, %d))", path, d.major, d.minor), fmt.Sprintf("mknod %s c %d %d", path, d.major, d.minor))
		if err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			return fmt.Errorf("mknod %s c %d %d: %w", path, d.major, d.minor, err)
		}
		// mknod applies the umask; the nodes must be usable by everyone.
		if err := unix.Chmod(path, 0o666); err != nil {
			return fmt.Errorf("chmod %s: %w", path, err)
		}
	}
	// A private devpts instance: terminals opened in the container are
	// numbered from 0 and the host's /dev/pts/N are not visible.
	if err := mount("devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	// POSIX shared memory (shm_open) lives in files under /dev/shm.
	if err := mount("shm", filepath.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return err
	}
	for _, l := range [][2]string{
		{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"},
	} {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return err
		}
	}
	return nil
}

// mount is unix.Mount with the error saying what was mounted where.
func mount(source, target, fstype string, flags uintptr, data string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("create mount point %s: %w", target, err)
	}
	tr.Step(trace.Mount(source, target, fstype, flags, data))
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s (type %s): %w", source, target, fstype, err)
	}
	return nil
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
