package engine

// The OCI config of a container: the image's config and docker's flags
// turned into runtime-spec, with docker's defaults. Every field is a
// stage's lesson written as data, which final/runtime carries out:
// namespaces (stages 01-05), mounts and /dev (stage 03), the user (stage
// 06), linux.resources (stage 07); the root is the overlay of the image's
// layers (stage 08), mounted by the monitor.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"cfs/final/cgroups"
	"cfs/final/runtime"

	"github.com/moby/moby/api/types/container"
	mseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultCaps is docker's default capability set: what a root process in
// a container keeps (moby's oci/caps/defaults.go).
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Docker masks these paths of /proc and /sys, and makes these read-only.
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
		"/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// defaultDevices are the device cgroup rules docker's containers get:
// nothing, but mknod of anything and the few devices every /dev has.
func defaultDevices() []specs.LinuxDeviceCgroup {
	i := func(n int64) *int64 { return &n }
	wild := int64(-1)
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: &wild, Minor: &wild, Access: "m"},
		{Allow: true, Type: "b", Major: &wild, Minor: &wild, Access: "m"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(3), Access: "rwm"},    // null
		{Allow: true, Type: "c", Major: i(1), Minor: i(5), Access: "rwm"},    // zero
		{Allow: true, Type: "c", Major: i(1), Minor: i(7), Access: "rwm"},    // full
		{Allow: true, Type: "c", Major: i(1), Minor: i(8), Access: "rwm"},    // random
		{Allow: true, Type: "c", Major: i(1), Minor: i(9), Access: "rwm"},    // urandom
		{Allow: true, Type: "c", Major: i(5), Minor: i(0), Access: "rwm"},    // tty
		{Allow: true, Type: "c", Major: i(5), Minor: i(1), Access: "rwm"},    // console
		{Allow: true, Type: "c", Major: i(5), Minor: i(2), Access: "rwm"},    // ptmx
		{Allow: true, Type: "c", Major: i(136), Minor: &wild, Access: "rwm"}, // pts/*
	}
}

// userDevices is docker's --device HOST[:CTR][:PERMS]: the host's device
// node made again in the container's /dev (a node is only a name for a
// type, major and minor number: `mknod CTR c MAJOR MINOR`), and a device
// cgroup rule that lets the container use it as PERMS says (r, w, m:
// mknod). A directory (/dev/snd) gives every device under it.
func userDevices(m container.DeviceMapping) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	perms := m.CgroupPermissions
	if perms == "" {
		perms = "rwm"
	}
	if !ValidDeviceMode(perms) {
		return nil, nil, fmt.Errorf("invalid device mode %q for %s: use one or more of r, w and m", perms, m.PathOnHost)
	}
	ctr := m.PathInContainer
	if ctr == "" {
		ctr = m.PathOnHost
	}
	if !filepath.IsAbs(ctr) {
		return nil, nil, fmt.Errorf("%s is not an absolute path", ctr)
	}
	host := m.PathOnHost
	if real, err := filepath.EvalSymlinks(host); err == nil {
		host = real // /dev/disk/by-id/… names a node elsewhere
	}
	var devs []specs.LinuxDevice
	var rules []specs.LinuxDeviceCgroup
	add := func(path, dst string) error {
		d, err := deviceNode(path, dst)
		if err == nil {
			devs = append(devs, d)
			rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: &d.Major, Minor: &d.Minor, Access: perms})
		}
		return err
	}
	err := add(host, ctr)
	if fi, serr := os.Stat(host); err != nil && serr == nil && fi.IsDir() {
		_ = filepath.WalkDir(host, func(path string, _ fs.DirEntry, _ error) error {
			rel, _ := filepath.Rel(host, path)
			_ = add(path, filepath.Join(ctr, rel)) // what is not a device is not taken
			return nil
		})
	}
	if len(devs) == 0 {
		var errno unix.Errno
		if errors.As(err, &errno) {
			err = errno // docker's words: "no such file or directory"
		}
		return nil, nil, fmt.Errorf("error gathering device information while adding custom device %q: %v", m.PathOnHost, err)
	}
	if !strings.HasPrefix(filepath.Clean(ctr), "/dev/") {
		// (the container's /dev is a tmpfs; a node elsewhere would be
		// kept in its writable layer)
		return nil, nil, fmt.Errorf("%s: cfs makes a device under the container's /dev only", ctr)
	}
	return devs, rules, nil
}

// deviceNode is the host's device node at path, to be made at dst in the
// container with its type, numbers, mode and owner.
func deviceNode(path, dst string) (specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return specs.LinuxDevice{}, err
	}
	typ := map[uint32]string{unix.S_IFCHR: "c", unix.S_IFBLK: "b"}[st.Mode&unix.S_IFMT]
	if typ == "" {
		return specs.LinuxDevice{}, errors.New("not a device node")
	}
	mode, uid, gid := os.FileMode(st.Mode&0o777), st.Uid, st.Gid
	return specs.LinuxDevice{Path: dst, Type: typ, Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
		FileMode: &mode, UID: &uid, GID: &gid}, nil
}

// hostDevices are the host's device nodes, which --privileged gives the
// container, as runc's HostDevices finds them: /dev but its pts, shm,
// mqueue and fd (the container has its own) and /dev/console (its own
// terminal).
func hostDevices() []specs.LinuxDevice {
	var out []specs.LinuxDevice
	_ = filepath.WalkDir("/dev", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil // gone meanwhile
		case d.IsDir() && slices.Contains([]string{"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}, d.Name()):
			return fs.SkipDir
		case path == "/dev/console":
			return nil
		}
		if dev, err := deviceNode(path, path); err == nil {
			out = append(out, dev)
		}
		return nil
	})
	return out
}

// ParseDeviceRule reads --device-cgroup-rule, the device cgroup's own
// form (v1's devices.allow): TYPE MAJOR:MINOR ACCESS, TYPE one of a, b,
// c, MAJOR and MINOR numbers or *, ACCESS some of r, w, m.
func ParseDeviceRule(s string) (specs.LinuxDeviceCgroup, error) {
	r := specs.LinuxDeviceCgroup{Allow: true}
	f := strings.Fields(s)
	bad := fmt.Errorf("invalid device cgroup rule %q: want TYPE MAJOR:MINOR ACCESS, as 'c 1:3 rwm' or 'b 8:* r'", s)
	if len(f) != 3 || (f[0] != "a" && f[0] != "b" && f[0] != "c") || !ValidDeviceMode(f[2]) {
		return r, bad
	}
	major, minor, ok := strings.Cut(f[1], ":")
	if !ok {
		return r, bad
	}
	num := func(v string) (*int64, bool) {
		if v == "*" {
			return nil, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return &n, err == nil && n >= 0
	}
	var okMajor, okMinor bool
	r.Major, okMajor = num(major)
	r.Minor, okMinor = num(minor)
	if !okMajor || !okMinor {
		return r, bad
	}
	r.Type, r.Access = f[0], f[2]
	return r, nil
}

// ValidDeviceMode reports whether mode is --device's PERMS: some of r, w
// and m, each at most once.
func ValidDeviceMode(mode string) bool {
	seen := map[rune]bool{}
	for _, c := range mode {
		if !strings.ContainsRune("rwm", c) || seen[c] {
			return false
		}
		seen[c] = true
	}
	return mode != ""
}

// DefaultPath is the PATH a container without one gets.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Spec builds container c's OCI config. lowers are the image's layers,
// top first, for resolving -u names in its /etc/passwd.
func (e *Engine) Spec(c *Container, lowers []string) (*specs.Spec, error) {
	cfg, hc := c.Config, c.HostConfig
	dir := e.Dir(c.ID)
	layers := append([]string{filepath.Join(dir, "upper")}, lowers...)
	user, err := resolveUser(cfg.User, layers)
	if err != nil {
		return nil, err
	}
	// --group-add: more groups, by name (the image's /etc/group) or number.
	for _, g := range hc.GroupAdd {
		gid, err := resolveGroup(readImageFile(layers, "etc/group"), g)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(user.AdditionalGids, gid) {
			user.AdditionalGids = append(user.AdditionalGids, gid)
		}
	}
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	args := append([]string{c.Path}, c.Args...)
	s := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: cfg.Tty, Args: args, Env: withHome(containerEnv(c), user.UID, layers), Cwd: cwd, User: user,
			Capabilities: capabilities(hc.CapAdd, hc.CapDrop, hc.Privileged),
			// No rlimits: the container keeps the host's (containerd raises
			// open files to 1048576, which needs CAP_SYS_RESOURCE).
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: hc.ReadonlyRootfs},
		Hostname: cfg.Hostname,
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", shmSize(hc.ShmSize)}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			Resources:     &specs.LinuxResources{Devices: defaultDevices()},
			MaskedPaths:   append([]string(nil), maskedPaths...),
			ReadonlyPaths: append([]string(nil), readonlyPaths...),
		},
		Annotations: map[string]string{"org.opencontainers.image.ref.name": c.Image, "dev.cfs.engine.name": c.Name},
	}
	// The terminal's first size, as the client's (docker run -t sends
	// HostConfig.ConsoleSize): the program's first look at it is right,
	// before the first resize arrives.
	if cs := hc.ConsoleSize; cfg.Tty && cs[0] > 0 && cs[1] > 0 {
		s.Process.ConsoleSize = &specs.Box{Height: cs[0], Width: cs[1]}
	}
	// --ulimit: setrlimit(2) in the container's init, as `ulimit -n`.
	for _, u := range hc.Ulimits {
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Hard: uint64(u.Hard), Soft: uint64(u.Soft)})
	}
	// --sysctl: written in the container's /proc/sys, as `sysctl -w`; only
	// those of its own namespaces (CheckConfig).
	s.Linux.Sysctl = hc.Sysctls
	if hc.NetworkMode != "host" {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	// --pid, --ipc, --uts: the host's namespace (none of its own), or
	// another container's, joined by its path (setns(2), as `nsenter`).
	for _, n := range []struct {
		typ  specs.LinuxNamespaceType
		mode string
	}{{specs.PIDNamespace, string(hc.PidMode)}, {specs.IPCNamespace, string(hc.IpcMode)}, {specs.UTSNamespace, string(hc.UTSMode)}} {
		i := slices.IndexFunc(s.Linux.Namespaces, func(x specs.LinuxNamespace) bool { return x.Type == n.typ })
		other, isOther := strings.CutPrefix(n.mode, "container:")
		switch {
		case n.mode == "host":
			s.Linux.Namespaces = slices.Delete(s.Linux.Namespaces, i, i+1)
		case isOther:
			path, err := e.namespaceOf(other, n.typ)
			if err != nil {
				return nil, err
			}
			s.Linux.Namespaces[i].Path = path
		}
	}
	if hc.UTSMode == "host" {
		s.Hostname = "" // the host's, which a container without a UTS namespace cannot set
	}
	if hc.IpcMode == "host" {
		// The host's IPC namespace, and its /dev/shm, as docker gives it.
		i := slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/dev/shm" })
		s.Mounts[i] = specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "rprivate"}}
	}
	// A cgroup namespace of its own where the host has cgroup v2, as
	// docker does; on v1 docker keeps the host's.
	if isCgroup2() {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	// The container's own /etc/hosts, /etc/hostname and /etc/resolv.conf,
	// bound over the image's (stage 05's hostnet.WriteEtc, per container).
	for _, f := range []string{"hostname", "hosts", "resolv.conf"} {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/" + f, Type: "bind", Source: filepath.Join(dir, f), Options: []string{"rbind", "rprivate"}})
	}
	for _, bind := range e.mounts(c) {
		opts := []string{"rbind", "rprivate"}
		if bind.ReadOnly {
			opts = append(opts, "ro")
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: bind.Destination, Type: "bind", Source: bind.Source, Options: opts})
	}
	for dst, o := range hc.Tmpfs {
		opts := []string{"nosuid", "nodev", "noexec"}
		if o != "" {
			opts = append(opts, strings.Split(o, ",")...)
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: opts})
	}
	l := limits(&hc)
	s.Linux.Resources.Memory, s.Linux.Resources.CPU, s.Linux.Resources.Pids = l.Memory, l.CPU, l.Pids
	for _, m := range hc.Devices {
		devs, rules, err := userDevices(m)
		if err != nil {
			return nil, err
		}
		s.Linux.Devices = append(s.Linux.Devices, devs...)
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, rules...)
	}
	// --device-cgroup-rule: a rule alone, for nodes the container makes
	// itself (mknod) or is given later.
	for _, r := range hc.DeviceCgroupRules {
		rule, err := ParseDeviceRule(r)
		if err != nil {
			return nil, err
		}
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, rule)
	}
	// --oom-score-adj: the init's /proc/PID/oom_score_adj, which its
	// children inherit: the OOM killer's choice among the host's processes.
	if hc.OomScoreAdj != 0 {
		adj := hc.OomScoreAdj
		s.Process.OOMScoreAdj = &adj
	}
	if hc.Privileged {
		// docker's --privileged, beyond every capability and no seccomp:
		// the host's devices, each allowed by the device cgroup; /proc
		// unmasked, /sys and /sys/fs/cgroup writable.
		s.Linux.Devices = append(hostDevices(), s.Linux.Devices...)
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		for i, m := range s.Mounts {
			if m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup" {
				s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
			}
		}
	}
	if hc.Init != nil && *hc.Init {
		s.Annotations[runtime.InitAnnotation] = "true"
	}
	for _, o := range hc.SecurityOpt {
		if o == "no-new-privileges" || o == "no-new-privileges:true" || o == "no-new-privileges=true" {
			s.Process.NoNewPrivileges = true
		}
	}
	if !hc.Privileged && !securityOpt(hc.SecurityOpt, "seccomp=unconfined") {
		// Docker's default seccomp profile, with the rules that depend on
		// the capabilities the container holds (moby/profiles/seccomp).
		sc, err := mseccomp.GetDefaultProfile(s)
		if err != nil {
			return nil, fmt.Errorf("docker's default seccomp profile: %w", err)
		}
		s.Linux.Seccomp = sc
	}
	return s, nil
}

func securityOpt(opts []string, want string) bool {
	for _, o := range opts {
		if o == want || strings.ReplaceAll(o, ":", "=") == want {
			return true
		}
	}
	return false
}

func isCgroup2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// containerEnv is docker's environment: PATH (unless the image sets one),
// HOSTNAME, TERM with a terminal, then the image's and the user's.
func containerEnv(c *Container) []string {
	env := []string{DefaultPath, "HOSTNAME=" + c.Config.Hostname}
	if c.Config.Tty {
		env = append(env, "TERM=xterm")
	}
	return setEnv(env, c.Config.Env...)
}

// withHome adds HOME, the user's home in the image's /etc/passwd ("/"
// without one), to an environment that has none, as runc does for
// docker: `cd` and ~ work in the container's shell.
func withHome(env []string, uid uint32, layers []string) []string {
	if hasEnv(env, "HOME") {
		return env
	}
	home := "/"
	if e := findEntry(readImageFile(layers, "etc/passwd"), "", strconv.FormatUint(uint64(uid), 10)); len(e) > 5 && e[5] != "" {
		home = e[5]
	}
	return append(env, "HOME="+home)
}

// hasEnv reports whether env sets k.
func hasEnv(env []string, k string) bool {
	for _, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			return true
		}
	}
	return false
}

// setEnv sets each KEY=VALUE of kvs in env: in the place of the same
// key, or at the end.
func setEnv(env []string, kvs ...string) []string {
next:
	for _, kv := range kvs {
		k, _, _ := strings.Cut(kv, "=")
		for i, e := range env {
			if ek, _, _ := strings.Cut(e, "="); ek == k {
				env[i] = kv
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

// capabilities is docker's set with --cap-add and --cap-drop applied
// ("ALL" in either means every capability).
func capabilities(add, drop []string, privileged bool) *specs.LinuxCapabilities {
	norm := func(c string) string { return "CAP_" + strings.TrimPrefix(strings.ToUpper(c), "CAP_") }
	set := map[string]bool{}
	for _, c := range DefaultCaps {
		set[c] = true
	}
	for _, c := range drop {
		if strings.EqualFold(c, "ALL") {
			set = map[string]bool{}
			continue
		}
		delete(set, norm(c))
	}
	// ALL is every capability this engine holds: a host (or a sandbox, a
	// container) may have dropped some from its bounding set, and
	// capset(2) refuses to give what is not there.
	all := func() {
		for i, n := range runtime.CapNames() {
			if held, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(i), 0, 0, 0); err == nil && held == 1 {
				set[n] = true
			}
		}
	}
	for _, c := range add {
		if strings.EqualFold(c, "ALL") {
			all()
			continue
		}
		set[norm(c)] = true
	}
	if privileged {
		all()
	}
	var list []string
	for _, n := range runtime.CapNames() { // in the kernel's order
		if set[n] {
			list = append(list, n)
		}
	}
	return &specs.LinuxCapabilities{Bounding: list, Effective: list, Permitted: list}
}

// resolveUser turns -u USER[:GROUP] (names or numbers) into IDs, from the
// image's /etc/passwd and /etc/group, as docker does; a number needs no
// entry. The user's other groups come along.
func resolveUser(spec string, layers []string) (specs.User, error) {
	var u specs.User
	if spec == "" {
		spec = "0"
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	passwd := readImageFile(layers, "etc/passwd")
	groups := readImageFile(layers, "etc/group")
	if uid, err := strconv.ParseUint(name, 10, 32); err == nil {
		u.UID, u.GID = uint32(uid), 0
		if e := findEntry(passwd, "", name); e != nil && len(e) > 3 {
			if g, err := strconv.ParseUint(e[3], 10, 32); err == nil {
				u.GID = uint32(g)
			}
			name = e[0]
		}
	} else {
		e := findEntry(passwd, name, "")
		if e == nil || len(e) < 4 {
			return u, fmt.Errorf("unable to find user %s: no matching entries in passwd file", name)
		}
		uid, err1 := strconv.ParseUint(e[2], 10, 32)
		gid, err2 := strconv.ParseUint(e[3], 10, 32)
		if err1 != nil || err2 != nil {
			return u, fmt.Errorf("user %s: bad entry in /etc/passwd", name)
		}
		u.UID, u.GID = uint32(uid), uint32(gid)
	}
	if hasGroup {
		gid, err := resolveGroup(groups, group)
		if err != nil {
			return u, err
		}
		u.GID = gid
	}
	// The primary group is a supplementary one too, as dockerd sets it
	// (id: groups=33(web),29(audio)).
	u.AdditionalGids = []uint32{u.GID}
	if !hasGroup {
		// The groups the user is a member of, by name.
		sc := bufio.NewScanner(bytes.NewReader(groups))
		for sc.Scan() {
			f := strings.Split(sc.Text(), ":")
			if len(f) < 4 {
				continue
			}
			for _, m := range strings.Split(f[3], ",") {
				if m == name && m != "" {
					if g, err := strconv.ParseUint(f[2], 10, 32); err == nil && uint32(g) != u.GID {
						u.AdditionalGids = append(u.AdditionalGids, uint32(g))
					}
				}
			}
		}
	}
	return u, nil
}

// namespaceOf is the path of a namespace of the running container arg
// names, for another to join: its init's /proc/PID/ns/pid or ipc.
func (e *Engine) namespaceOf(arg string, typ specs.LinuxNamespaceType) (string, error) {
	c, err := e.Get(arg)
	if err != nil {
		return "", err
	}
	file := map[specs.LinuxNamespaceType]string{specs.PIDNamespace: "pid", specs.IPCNamespace: "ipc"}[typ]
	if !c.Running() {
		return "", &ConflictError{Msg: fmt.Sprintf("cannot join %s namespace of a non running container: %s", strings.ToUpper(file), arg)}
	}
	return fmt.Sprintf("/proc/%d/ns/%s", c.State.Pid, file), nil
}

// resolveGroup is the ID of group, a number or a name in the image's
// /etc/group (groups).
func resolveGroup(groups []byte, group string) (uint32, error) {
	if gid, err := strconv.ParseUint(group, 10, 32); err == nil {
		return uint32(gid), nil
	}
	e := findEntry(groups, group, "")
	if e == nil || len(e) < 3 {
		return 0, fmt.Errorf("unable to find group %s: no matching entries in group file", group)
	}
	g, err := strconv.ParseUint(e[2], 10, 32)
	if err != nil {
		return 0, fmt.Errorf("group %s: bad entry in /etc/group", group)
	}
	return uint32(g), nil
}

// dnsLines are the resolv.conf lines of --dns, --dns-search and
// --dns-option.
func dnsLines(hc *container.HostConfig) []string {
	var lines []string
	for _, d := range hc.DNS {
		lines = append(lines, "nameserver "+d.String())
	}
	if len(hc.DNSSearch) > 0 {
		lines = append(lines, "search "+strings.Join(hc.DNSSearch, " "))
	}
	if len(hc.DNSOptions) > 0 {
		lines = append(lines, "options "+strings.Join(hc.DNSOptions, " "))
	}
	return lines
}

// shmSize is /dev/shm's size option: --shm-size, docker's 64 MiB if none.
func shmSize(n int64) string {
	if n <= 0 {
		n = 64 << 20
	}
	return fmt.Sprintf("size=%dk", (n+1023)/1024)
}

// findEntry finds a passwd or group line by name or by ID (field 3).
func findEntry(data []byte, name, id string) []string {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 {
			continue
		}
		if name != "" && f[0] == name || id != "" && f[2] == id {
			return f
		}
	}
	return nil
}

// readImageFile reads a file of the container's filesystem from its
// layers, top first, as overlay would show it: the first layer that has
// it (or deletes it, with a whiteout) decides.
func readImageFile(layers []string, rel string) []byte {
	for _, l := range layers {
		p := filepath.Join(l, rel)
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil || fi.Mode()&os.ModeCharDevice != 0 || !fi.Mode().IsRegular() {
			return nil // a whiteout, or not a plain file
		}
		data, _ := os.ReadFile(p)
		return data
	}
	return nil
}

// limits are the container's cgroup limits (stage 07's files) from its
// -m, --memory-swap, --memory-reservation, --cpus, --cpu-shares,
// --cpuset-cpus, --cpuset-mems and --pids-limit.
func limits(hc *container.HostConfig) *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if hc.Memory > 0 {
		r.Memory = &specs.LinuxMemory{Limit: &hc.Memory}
		// Swap, as docker: --memory-swap counts memory and swap together
		// (-1: swap without limit); without it, as much swap again as
		// memory, where the kernel accounts swap per cgroup. Without a
		// swap limit, a host with swap would swap the container out
		// rather than hold it to -m.
		swap := hc.MemorySwap
		if swap == 0 && cgroups.SwapAccounted() {
			swap = 2 * hc.Memory
		}
		if swap != 0 {
			r.Memory.Swap = &swap
		}
	}
	if hc.MemoryReservation > 0 {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		r.Memory.Reservation = &hc.MemoryReservation // the soft limit: reclaimed first
	}
	if hc.NanoCPUs > 0 || hc.CPUPeriod != 0 || hc.CPUQuota != 0 || hc.CPUShares > 0 || hc.CpusetCpus != "" || hc.CpusetMems != "" {
		r.CPU = &specs.LinuxCPU{Cpus: hc.CpusetCpus, Mems: hc.CpusetMems}
		if hc.NanoCPUs > 0 {
			// --cpus N: N periods' worth of CPU time in each period.
			period := uint64(100000)
			quota := hc.NanoCPUs * int64(period) / 1e9
			r.CPU.Quota, r.CPU.Period = &quota, &period
		}
		if hc.CPUPeriod != 0 {
			period := uint64(hc.CPUPeriod)
			r.CPU.Period = &period
		}
		if hc.CPUQuota != 0 {
			r.CPU.Quota = &hc.CPUQuota // -1: no limit
		}
		if hc.CPUShares > 0 {
			shares := uint64(hc.CPUShares) // a weight against the others: cpu.shares, or cpu.weight on v2
			r.CPU.Shares = &shares
		}
	}
	if p := hc.PidsLimit; p != nil && *p > 0 {
		r.Pids = &specs.LinuxPids{Limit: *p}
	}
	return r
}
