// Stage 07: a cgroup per container, with memory, CPU and process limits,
// and a cgroup namespace in which the container sees only its own cgroup.
//
//	go run -exec sudo ./stage07-cgroups --memory 64m --cpus 0.5 --pids 50 sh
//
// Read beside docs/07-cgroups.md, man 7 cgroups, man 7 cgroup_namespaces
// and the kernel's Documentation/admin-guide/cgroup-v2.rst. The cgroup
// work is in cgroup.go; user IDs in user.go; the network in net.go and
// ledger.go.
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
	"runtime"
	"strings"
	"syscall"

	"cfs/internal/cli"
	"cfs/internal/doctor"
	"cfs/internal/rootfs"
	"cfs/internal/trace"

	"golang.org/x/sys/unix"
)

const stage = "stage07-cgroups"

// initArg0 is the name this program gives itself when it starts again as the
// container's first process; main reads it to know which side it runs on.
const initArg0 = "cfs-init"

// containerPath is the command search path inside the container.
const containerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// config is what the parent tells the child. It travels as JSON over a pipe
// (file descriptor 3 in the child), so nothing leaks into the command's
// arguments or environment.
type config struct {
	ID       string // names the container's host resources: veth, state, rules
	Rootfs   string
	Hostname string
	Command  []string
	Env      []string
	Terminal bool // the stage holds the terminal: the command may take it

	// EtcDir holds this container's own hosts, hostname and resolv.conf;
	// empty when running unprivileged, without a network of the host's.
	EtcDir string
	// Unprivileged: started by an ordinary user, whose container has one
	// user (root, which is them), no veth network and no cgroup.
	Unprivileged bool
	// Cgroup is the container's cgroup, made by the parent; nil when
	// running unprivileged.
	Cgroup *cgroup
	// Limits are what --memory, --cpus and --pids ask for; only the parent
	// needs them.
	Limits limits `json:"-"`
	// Net is what the command line says about the network; only the
	// parent needs it.
	Net   netFlags `json:"-"`
	Trace bool     // --trace: narrate each step on stderr
	Step  bool     // --step: and wait for Enter before each one
}

// tr narrates this side's steps for --trace and --step (docs/trace.md);
// when both are off it is nil and prints nothing.
var tr *trace.Tracer

// init keeps the main goroutine on the process's main thread. unshare(2)
// moves only the calling thread into a new namespace, and the kernel shows
// the main thread's namespaces in /proc/PID/ns, so the child makes its
// cgroup namespace from there.
func init() {
	runtime.LockOSThread()
}

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
	// An ordinary user may create a user namespace, and inside it every
	// other kind; only the host's side of the network needs root.
	if os.Geteuid() != 0 {
		if cfg.Net.Mode == "bridge" && (len(cfg.Net.Ports) > 0 || cfg.Net.Subnet.IsValid()) || cfg.Limits != (limits{}) {
			fmt.Fprintf(os.Stderr, "%s: -p, --subnet, --memory, --cpus and --pids need root (try: go run -exec sudo ./%s)\n", stage, stage)
			return 2
		}
		fmt.Fprintf(os.Stderr, "%s: not root: running unprivileged, with loopback only and no limits (a veth network and cgroups need root)\n", stage)
		cfg.Unprivileged, cfg.Net.Mode = true, "none"
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
	var nf netFlags
	fs.Var(&nf.Ports, "p", "publish a container port on the host: `HOSTPORT:CTRPORT[/tcp|/udp]` (repeatable)")
	fs.StringVar(&nf.Mode, "net", "bridge", "network `MODE`: bridge (eth0 on "+bridgeName+", NAT to the outside) or none (loopback only)")
	memory := fs.String("memory", "", "memory limit, `SIZE` with k, m or g (e.g. 256m); the container is OOM-killed above it")
	cpus := fs.Float64("cpus", 0, "CPU limit, in `CPUS` (e.g. 0.5 is half of one CPU's time)")
	pids := fs.Int64("pids", 0, "at most `N` processes and threads in the container")
	fs.Func("subnet", "IPv4 `CIDR` of "+bridgeName+" (default: the first of "+candidateList()+" free of host routes)", func(v string) error {
		p, err := parseSubnet(v)
		nf.Subnet = p
		return err
	})
	fs.Usage = func() {} // parse errors are printed by run, help below
	usage := func() {
		fmt.Printf("Usage: %s [flags] [--] [COMMAND [ARG...]]\n\n", stage)
		fmt.Printf("Runs COMMAND (default /bin/sh) in new user, UTS, PID, mount, IPC, network and cgroup\n")
		fmt.Printf("namespaces, in a cgroup of its own with the limits asked for.\n")
		fmt.Printf("Without root it runs unprivileged: you are root inside, with loopback only and no limits.\n\nFlags:\n")
		cli.PrintFlags(os.Stdout, fs)
		fmt.Printf("\nExample:\n  go run -exec sudo ./%s --memory 64m --cpus 0.5 --pids 50 sh\n", stage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
		}
		return config{}, err
	}
	cfg := config{ID: cli.NewID(), Rootfs: *root, Hostname: *hostname, Command: fs.Args(), Net: nf}
	cfg.Trace, cfg.Step = *traceOn || *step, *step
	var err error
	if cfg.Limits, err = parseLimits(*memory, *cpus, *pids, flagSet(fs, "cpus"), flagSet(fs, "pids")); err != nil {
		return config{}, err
	}
	if cfg.Hostname == "" && !flagSet(fs, "hostname") {
		cfg.Hostname = cfg.ID
	}
	if err := nf.check(); err != nil {
		return config{}, err
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
	// Ctrl-C and kill must not stop the stage and leave the command running:
	// catch them and pass them on, so the command decides. Caught from here
	// on, so that whatever the set-up below makes is always taken down again.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	defer signal.Stop(sigs)

	if cfg.Rootfs == "" {
		dir, err := defaultRootfs(cfg.Unprivileged)
		if err != nil {
			return 0, fmt.Errorf("default root filesystem: %w (or pass --rootfs DIR)", err)
		}
		cfg.Rootfs = dir
	}

	// The container's IDs and the host IDs they stand for; then a copy of
	// the root filesystem that the container's root owns. Made before any
	// process exists, removed after the container ends, whatever happens.
	uids, gids := idMaps(!cfg.Unprivileged)
	dir, err := containersDir(!cfg.Unprivileged)
	if err != nil {
		return 0, err
	}
	sweepContainers(dir)
	ctrDir := filepath.Join(dir, cfg.ID)
	defer os.RemoveAll(ctrDir)
	if cfg.Rootfs, err = containerRootfs(ctrDir, cfg.Rootfs, uids, gids, cfg.Unprivileged); err != nil {
		return 0, err
	}

	// The host's side of the network comes first, before any process
	// exists: the bridge, an address for the container, its published
	// ports, its /etc files. A bad port or subnet fails here with nothing
	// running, and whatever happens later, release undoes it.
	var nw *hostNet
	if !cfg.Unprivileged {
		if nw, err = setupHost(&cfg); err != nil {
			return 0, err
		}
		defer nw.release()
	}

	// The container's cgroup and its limits, made before the container's
	// first process exists, so that the process can be moved in before it
	// runs anything of the command's. A cgroup left by a killed stage goes
	// first.
	if !cfg.Unprivileged {
		removeStaleCgroups(dir)
		cg, err := newCgroup(cfg.ID, cfg.Limits)
		if err != nil {
			return 0, err
		}
		defer cg.remove()
		cfg.Cgroup = cg
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
		// The pids controller counts threads, and the container's init is
		// a Go program: one P keeps its threads few, whatever the host's
		// CPU count, so that --pids is spent on the command.
		Env: append(os.Environ(), "GOMAXPROCS=1"),
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
			//
			// CLONE_NEWIPC gives the child empty tables of System V shared
			// memory segments, semaphores and message queues, and its own
			// POSIX message queues. Processes share memory through these by
			// a numeric key; with separate tables, a container cannot attach
			// to (or guess) another's segments.
			//
			// CLONE_NEWNET gives the child a network stack of its own: no
			// devices but a loopback that is down, empty routing tables, its
			// own ports, firewall rules and /proc/sys/net. The child can reach
			// nothing until the parent plugs a cable in: see attach in net.go.
			//
			// CLONE_NEWUSER gives the child its own user and group IDs and
			// its own set of capabilities. The kernel makes it first, so the
			// other new namespaces belong to it: root in the container has
			// every capability over its own hostname, mounts, processes,
			// IPC and network, and none over the host's. Its IDs stand for
			// host IDs only once the maps are written (UidMappings below).
			Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET,
			// The maps must be written before the child runs this program
			// again: execve(2) drops every capability of a process that is
			// not root in its user namespace, and until the maps exist no
			// process is. So the child waits on a pipe right after clone
			// while the parent writes /proc/CHILD/uid_map and gid_map (same
			// as `echo 0 100000 65536 > /proc/CHILD/uid_map`), then becomes
			// the namespace's root (setgroups, setgid 0, setuid 0) and only
			// then calls execve. Go's os/exec does exactly these steps when
			// given the maps; runc does them in C before Go starts.
			UidMappings: []syscall.SysProcIDMap{uids},
			GidMappings: []syscall.SysProcIDMap{gids},
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

	// A signal caught during the set-up above ends the run here, before the
	// container exists, and the deferred clean-ups undo the set-up. Passed
	// on later, it could reach cfs-init before cfs-init has a handler, and
	// be lost.
	select {
	case s := <-sigs:
		return 128 + int(s.(unix.Signal)), nil
	default:
	}

	call, shell := trace.Clone(cmd.SysProcAttr.Cloneflags)
	tr.Step(call, shell, mapSteps(uids, gids, cfg.Unprivileged)...)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the container process (clone with CLONE_NEWUSER|CLONE_NEWUTS|CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWNET): %w", err)
	}
	tr.Result("host PID %d, the container's first process", cmd.Process.Pid)
	r.Close()
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()

	// The child waits for its config: move it into its cgroup now, so the
	// command and everything it forks are counted and limited from their
	// first instruction.
	if cfg.Cgroup != nil {
		if err := cfg.Cgroup.join(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return 0, err
		}
	}

	// The child now waits for its config in a network namespace of its own,
	// which the host can still reach by its PID: plug the container in
	// before letting it go on, so the network is there when the command
	// starts.
	if nw != nil {
		if err := nw.attach(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return 0, err
		}
	}

	// A stage started in the background (`&`) must leave the terminal to
	// the shell, so the command takes it only if this stage's process group
	// is the terminal's foreground group.
	if fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP); err == nil && fg == unix.Getpgrp() {
		cfg.Terminal = true
	}

	tr.LookAt(cmd.Process.Pid)
	tr.Look("sudo cat /proc/%d/mountinfo", cmd.Process.Pid)
	tr.Look("sudo nsenter -t %d -i ipcs", cmd.Process.Pid)
	if nw != nil && nw.mode == "bridge" {
		tr.Look("ip link show %s; sudo nsenter -t %d -n ip addr", nw.veth, cmd.Process.Pid)
		tr.Look("sudo nft list table ip %s", tableName)
	}
	tr.Look("cat /proc/%d/uid_map /proc/%d/gid_map", cmd.Process.Pid, cmd.Process.Pid)
	if cfg.Cgroup != nil {
		tr.Look("cat /proc/%d/cgroup; ls %s", cmd.Process.Pid, strings.Join(cfg.Cgroup.dirs(), " "))
	}

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

	// The parent has moved this process into the container's cgroup. A
	// new cgroup namespace takes the caller's cgroup as its root, so from
	// here on the container sees its cgroup as "/" in /proc/self/cgroup
	// and in the cgroup filesystem. Same as `unshare --cgroup`. The
	// namespace belongs to the calling thread only (Go runs many): this is
	// the main thread (see init), where the mounts and the command's fork
	// happen too.
	if cfg.Cgroup != nil {
		tr.Step(trace.Unshare(unix.CLONE_NEWCGROUP))
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			fmt.Fprintf(os.Stderr, "%s: container: %v\n", stage, os.NewSyscallError("unshare CLONE_NEWCGROUP", err))
			return 125
		}
	}

	// Unprivileged, the parent cannot set this network namespace up: a Go
	// program (many threads) cannot join a user namespace, and joining the
	// network namespace alone needs CAP_SYS_ADMIN on the host. The child is
	// root here, so it brings its own loopback up. Same as `ip link set lo up`.
	if cfg.Unprivileged {
		if err := loopbackUp(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: container: %v\n", stage, err)
			return 125
		}
	}

	// sethostname(2) changes the name of the UTS namespace the caller is in.
	// This process is the first one in a new namespace, so the host's
	// hostname stays as it was. Same as `hostname NAME` in the container.
	tr.Step(fmt.Sprintf("sethostname(%q)", cfg.Hostname), "hostname "+cfg.Hostname)
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		fmt.Fprintf(os.Stderr, "%s: container: %v\n", stage, os.NewSyscallError("sethostname", err))
		return 125
	}

	if err := setupRoot(cfg.Rootfs, cfg.EtcDir, cfg.Cgroup); err != nil {
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
// that programs expect to find there (its cgroups among them, when cg is
// not nil), and this container's files from etcDir over the shared ones in
// /etc.
func setupRoot(root, etcDir string, cg *cgroup) error {
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

	// Many containers share one root filesystem, but /etc/hosts,
	// /etc/hostname and /etc/resolv.conf must speak of this one: its name,
	// its address, name servers it can reach. The parent wrote them in
	// etcDir; bind each over the shared file. The bind exists in this mount
	// namespace only, so the directory on disk never changes. Same as
	// `mount --bind /run/cfs/ID/hosts ROOT/etc/hosts`.
	for _, name := range etcFiles {
		if etcDir == "" {
			break
		}
		target := filepath.Join(root, "etc", name)
		// Only over a regular file: a root filesystem without it does not
		// get one (creating it would change the shared directory), and a
		// symbolic link would be followed on the host's side.
		if fi, err := os.Lstat(target); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		tr.Step(trace.Mount(filepath.Join(etcDir, name), target, "", unix.MS_BIND, ""))
		if err := unix.Mount(filepath.Join(etcDir, name), target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s over %s: %w", filepath.Join(etcDir, name), target, err)
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
	if cg != nil {
		if err := cg.mountInside(root); err != nil {
			return err
		}
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
	// kernel's driver for that number does the work. In a user namespace
	// mknod(2) fails for every device: the kernel lets no namespace mint
	// its own keys to drivers. So bind the host's own nodes, one by one,
	// over empty files. Same as `mount --bind /dev/null ROOT/dev/null`.
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		target := filepath.Join(dev, name)
		if err := os.WriteFile(target, nil, 0o666); err != nil {
			return fmt.Errorf("create %s: %w", target, err)
		}
		tr.Step(trace.Mount("/dev/"+name, target, "", unix.MS_BIND, ""))
		if err := unix.Mount("/dev/"+name, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s onto %s: %w", name, target, err)
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
	// POSIX message queues (mq_open) are files of an mqueue filesystem. A
	// new mount of it shows the queues of the mounting process's IPC
	// namespace: the container's.
	if err := mount("mqueue", filepath.Join(dev, "mqueue"), "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
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
