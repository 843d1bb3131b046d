// Stage 06: a user namespace, so root in the container is an unprivileged
// user on the host: root inside, nobody outside.
//
//	go run -exec sudo ./stage06-user sh -c 'id; touch /f; ls -ln /f'
//	go run ./stage06-user id        # without sudo: the same, minus the veth network
//
// Read beside docs/06-user.md, man 7 user_namespaces and man 7
// capabilities. The host side of the network is in net.go.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"cfs/internal/cli"
	"cfs/internal/hint"
	"cfs/internal/hostnet"
	"cfs/internal/idmap"
	"cfs/internal/kernel"
	"cfs/internal/layers"
	"cfs/internal/layout"
	"cfs/internal/trace"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const stage = "stage06-user"

// config is what the parent tells the child. It travels as JSON over a pipe
// (file descriptor 3 in the child), so nothing leaks into the command's
// arguments or environment.
type config struct {
	// ID, Hostname, Command, Env, Trace and Step: what every stage's
	// command line says (internal/cli).
	cli.Container
	Rootfs   string
	Terminal bool // the stage holds the terminal: the command may take it

	// EtcDir holds this container's own hosts, hostname and resolv.conf.
	EtcDir string
	// Net is what the command line says about the network; only the
	// parent needs it.
	Net hostnet.Flags `json:"-"`
	// Unprivileged: started by an ordinary user, whose container has one
	// user (root, which is them) and no network of the host's (no EtcDir).
	Unprivileged bool
	// UIDs and GIDs: the host IDs that the container's stand for.
	UIDs, GIDs idmap.Map `json:"-"`
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
	// An ordinary user may create a user namespace, and inside it every
	// other kind; only the host's side of the network needs root.
	if os.Geteuid() != 0 {
		if cfg.Net.Mode == "bridge" && (len(cfg.Net.Ports) > 0 || cfg.Net.Subnet.IsValid()) {
			fmt.Fprintf(os.Stderr, "%s: -p and --subnet need root (try: go run -exec sudo ./%s)\n", stage, stage)
			return 2
		}
		fmt.Fprintf(os.Stderr, "%s: not root: running unprivileged, with loopback only (a veth network needs root)\n", stage)
		cfg.Unprivileged, cfg.Net.Mode = true, "none"
	}
	if tr, err = trace.New("parent", cfg.Trace, cfg.Step); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", stage, err)
		return 2
	}
	status, err := parent(cfg)
	return cli.Exit(stage, tr, status, err)
}

func parseFlags(args []string) (cfg config, err error) {
	fs := cli.NewFlags(stage, cloneFlags, "sh -c 'id; cat /proc/self/uid_map'", "go run ./"+stage+" id    # without sudo: root inside, you outside")
	fs.About = "Without root it runs unprivileged: you are root inside, with loopback only."
	fs.RootfsVar(&cfg.Rootfs, "root filesystem `DIR` (default: built once in "+layout.RootfsDir+")")
	cfg.Net.Register(fs.FlagSet)
	if err := fs.Parse(args, &cfg.Container); err != nil {
		return cfg, err
	}
	return cfg, cfg.Net.Check()
}

// ---------------------------------------------------------------------------
// The parent side: runs on the host, in the phases every stage follows:
// prepare the host (from stage 03 on), start the child in new namespaces,
// plug it in (from stage 05 on), let it go, and wait for it. What it makes
// on the host is taken down by the deferred calls, in reverse order,
// however the run ends: the command's exit, an error, Ctrl-C or kill.

// cloneFlags are the new namespaces the child starts in.
//
// CLONE_NEWUSER gives the child its own user and group IDs and its own set
// of capabilities. The kernel makes it first, so the other new namespaces
// belong to it: root in the container has every capability over its own
// hostname, mounts, processes, IPC and network, and none over the host's.
// Its IDs stand for host IDs only once the maps are written (startChild).
//
// CLONE_NEWUTS gives the child its own copy of the hostname and NIS domain
// name. It starts equal to the host's; what the child sets later is seen
// only by processes in this namespace.
//
// CLONE_NEWPID starts a new numbering of processes: the child is PID 1 in
// it, and sees only its own descendants. The host still sees the child
// under an ordinary PID of its own.
//
// CLONE_NEWNS copies the host's table of mounts for the child. From then
// on, mounting and unmounting in the child changes only its copy (as long
// as propagation is off: see setupRoot).
//
// CLONE_NEWIPC gives the child empty tables of System V shared memory
// segments, semaphores and message queues, and its own POSIX message
// queues. Processes share memory through these by a numeric key; with
// separate tables, a container cannot attach to (or guess) another's
// segments.
//
// CLONE_NEWNET gives the child a network stack of its own: no devices but
// a loopback that is down, empty routing tables, its own ports, firewall
// rules and /proc/sys/net. The child can reach nothing until the parent
// plugs a cable in: see attach in net.go.
const cloneFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET

func parent(cfg config) (status int, err error) {
	// Ctrl-C and kill must not stop the stage and leave the command running:
	// catch them and pass them on, so the command decides. Caught from the
	// start, so that what the set-up makes is always taken down again.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	defer signal.Stop(sigs)

	// Prepare the host: what the container needs before it exists. The host
	// IDs that its IDs stand for (internal/idmap: root's subordinate range,
	// or an ordinary user's own IDs), and a directory of its own, removed
	// with it:
	cfg.UIDs, cfg.GIDs = idmap.For(!cfg.Unprivileged)
	state, ctrDir, err := layers.NewContainer(cfg.ID, !cfg.Unprivileged)
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(ctrDir)
	// Its root filesystem, owned by its root: a copy of the default one
	// (made once per range and shared) or of --rootfs DIR, with every
	// file's owner shifted into the container's range (internal/layers).
	// Without it, root in the container would see every file as owned by
	// "nobody" (65534), an ID outside its maps, and could change none.
	if cfg.Rootfs, err = layers.Rootfs(cfg.Rootfs, state, ctrDir, cfg.UIDs, cfg.GIDs, !cfg.Unprivileged); err != nil {
		return 0, err
	}
	// The host's side of its network, with its published ports and /etc
	// files (net.go). A bad port or subnet fails here, with nothing running.
	nw, err := setupHost(&cfg)
	if err != nil {
		return 0, err
	}
	defer nw.release()

	// Start the child in its new namespaces, where it waits for its config.
	cmd, config, err := startChild(cfg, sigs)
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

	// Plug it in: the host reaches the child's namespaces by its PID, so the
	// network is complete before the command starts.
	if err := nw.attach(cmd.Process.Pid); err != nil {
		return 0, err
	}

	// Let it go, after saying how to look at it from outside.
	tr.LookAt(cmd.Process.Pid)
	tr.Look("sudo cat /proc/%d/mountinfo", cmd.Process.Pid)
	tr.Look("sudo nsenter -t %d -i ipcs", cmd.Process.Pid)
	tr.Look("cat /proc/%d/uid_map /proc/%d/gid_map", cmd.Process.Pid, cmd.Process.Pid)
	if nw.mode == "bridge" {
		tr.Look("ip link show %s; sudo nsenter -t %d -n ip addr", nw.veth, cmd.Process.Pid)
		tr.Look("sudo nft list table ip %s", layout.NftTable)
	}
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
func startChild(cfg config, sigs chan os.Signal) (*exec.Cmd, *os.File, error) {
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
			// The maps must be written before the child runs this program
			// again: execve(2) drops every capability of a process that is
			// not root in its user namespace, and until the maps exist no
			// process is. So the child waits on a pipe right after clone
			// while the parent writes /proc/CHILD/uid_map and gid_map (same
			// as `echo 0 100000 65536 > /proc/CHILD/uid_map`), then becomes
			// the namespace's root (setgroups, setgid 0, setuid 0) and only
			// then calls execve. Go's os/exec does exactly these steps when
			// given the maps; runc does them in C before Go starts.
			UidMappings: []syscall.SysProcIDMap{cfg.UIDs},
			GidMappings: []syscall.SysProcIDMap{cfg.GIDs},
			// An unprivileged parent must deny setgroups(2) in the
			// namespace before writing gid_map: otherwise the container's
			// root could drop a group that a host file uses to keep it out.
			GidMappingsEnableSetgroups: !cfg.Unprivileged,
			Credential:                 &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: cfg.Unprivileged},
			// If the stage dies, even by SIGKILL, the kernel kills the
			// child too: no container outlives the program that owns it.
			Pdeathsig: unix.SIGKILL,
		},
	}
	if err := kernel.Clone(tr, cmd, trace.IDMaps(cfg.UIDs, cfg.GIDs, cfg.Unprivileged, layout.InitName)...); err != nil {
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
	// Unprivileged, the parent cannot set this network namespace up: a Go
	// program (many threads) cannot join a user namespace, and joining the
	// network namespace alone needs CAP_SYS_ADMIN on the host. The child is
	// root here, so it brings its own loopback up. Same as `ip link set lo up`.
	if err == nil && cfg.Unprivileged {
		err = kernel.Do(tr, "netlink RTM_NEWLINK(lo up)", "ip link set lo up", func() error { return netlink.LinkSetUp(hostnet.Link("lo")) })
	}
	// sethostname(2) changes the name of the UTS namespace the caller is in.
	// This process is the first one in a new namespace, so the host's
	// hostname stays as it was. Same as `hostname NAME` in the container.
	if err == nil {
		err = kernel.Sethostname(tr, cfg.Hostname)
	}
	if err == nil {
		err = setupRoot(cfg.Rootfs, cfg.EtcDir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: container: %v\n", stage, err)
		hint.Print(os.Stderr, stage, err)
		return 125
	}
	return initProcess(cfg.Command, cfg.Env, cfg.Terminal)
}

// setupRoot makes rootfs the container's / and mounts the kernel's views
// that programs expect to find there, and this container's files from
// etcDir over the shared ones in /etc.
func setupRoot(root, etcDir string) error {
	// The copied mount table still shares events with the host's: on systemd
	// hosts / is "shared", so a mount made here would appear on the host too,
	// and pivot_root(2) refuses to work (EINVAL) when the current root or the
	// new one is shared. Marking every mount private, recursively, cuts that
	// link. Same as `mount --make-rprivate /`.
	if err := kernel.Mount(tr, "", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}

	// pivot_root needs the new root to be a mount point, and a directory is
	// not one until something is mounted there: bind it onto itself.
	// Same as `mount --rbind ROOT ROOT`.
	if err := kernel.Mount(tr, root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}

	// Many containers share one root filesystem, but /etc/hosts,
	// /etc/hostname and /etc/resolv.conf must speak of this one: its name,
	// its address, name servers it can reach. The parent wrote them in
	// etcDir; bind each over the shared file. The bind exists in this mount
	// namespace only, so the directory on disk never changes. Same as
	// `mount --bind /run/cfs/ID/hosts ROOT/etc/hosts`.
	for _, b := range hostnet.EtcBinds(etcDir, root) {
		if err := kernel.Mount(tr, b[0], b[1], "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}

	// The kernel's views that programs expect to find, mounted under the
	// new root while the old root is still in place, as runc does: in a
	// user namespace the kernel allows a new proc or sysfs only while a
	// full view of them is mounted, and the host's device nodes that
	// setupDev binds are reachable only now. A new proc instance shows the
	// processes of the PID namespace of the process that mounts it: ours.
	// The /proc we inherited showed the host's, which is why `ps` listed
	// them in stage 02.
	if err := kernel.Mount(tr, "proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	if err := setupDev(root); err != nil {
		return err
	}
	// sysfs describes the host's devices and kernel; programs read it, so
	// mount it, but read-only, so root in the container cannot change it.
	if err := kernel.Mount(tr, "sysfs", filepath.Join(root, "sys"), "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}

	// pivot_root moves the whole old root away and puts ROOT in its place
	// for every process of this mount namespace. chroot(2) would only change
	// this process's idea of /, and a root process could climb back out
	// with a second chroot and "..": the old root would still be mounted.
	// Passing "." twice stacks the old root on top of the new one, where a
	// lazy unmount detaches it for good (man 2 pivot_root, NOTES).
	if err := kernel.PivotRoot(tr, root); err != nil {
		return err
	}
	if err := kernel.Unmount(tr, ".", unix.MNT_DETACH); err != nil {
		return err
	}
	return os.Chdir("/")
}

// setupDev builds a minimal /dev on a tmpfs: the host's /dev holds every
// disk and device, which a container must not reach.
func setupDev(root string) error {
	dev := filepath.Join(root, "dev")
	if err := kernel.Mount(tr, "tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	// A device node is only a name for a (type, major, minor) triple; the
	// kernel's driver for that number does the work. In a user namespace
	// mknod(2) fails for every device: the kernel lets no namespace mint
	// its own keys to drivers. So bind the host's own nodes, one by one,
	// over empty files. Same as `mount --bind /dev/null ROOT/dev/null`.
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		target := filepath.Join(dev, name)
		if err := os.WriteFile(target, nil, 0o666); err != nil {
			return fmt.Errorf("create %s: %w", target, err)
		}
		if err := kernel.Mount(tr, "/dev/"+name, target, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	// A private devpts instance: terminals opened in the container are
	// numbered from 0 and the host's /dev/pts/N are not visible.
	if err := kernel.Mount(tr, "devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	// POSIX shared memory (shm_open) lives in files under /dev/shm.
	if err := kernel.Mount(tr, "shm", filepath.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return err
	}
	// POSIX message queues (mq_open) are files of an mqueue filesystem. A
	// new mount of it shows the queues of the mounting process's IPC
	// namespace: the container's.
	if err := kernel.Mount(tr, "mqueue", filepath.Join(dev, "mqueue"), "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
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
