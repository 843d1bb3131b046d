package runtime

// The container's root filesystem, from inside its new mount namespace:
// stage 03's setupRoot, with the mounts, devices and paths the config
// lists instead of a fixed set. Three parts: prepareRoot mounts everything
// under the new root while the host's is still there; enterRoot makes it
// "/" with pivot_root; finishRoot does what must be done from inside
// (sysctls, read-only and masked paths, a read-only root).

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func prepareRoot(cfg *initConfig) error {
	spec, root := cfg.Spec, cfg.Rootfs
	// The copied mount table still shares events with the host's (on
	// systemd hosts / is "shared"): make every mount a slave, so the host's
	// new mounts still reach the container and none of the container's
	// reach the host (or what rootfsPropagation asks). Same as `mount
	// --make-rslave /`. Stage 03 made them private; runc's default is
	// slave.
	prop, _ := rootPropagation(spec.Linux.RootfsPropagation)
	if prop&unix.MS_SHARED != 0 {
		prop = unix.MS_SLAVE | unix.MS_REC // shared is set on the new root, below
	}
	if err := mount("", "/", "/", "", prop, ""); err != nil {
		return fmt.Errorf("set the propagation of / (mount --make-rslave /): %w", err)
	}
	// pivot_root refuses a new root whose parent mount is shared: make
	// that one private.
	if err := makeParentPrivate(root); err != nil {
		return err
	}
	// pivot_root needs the new root to be a mount point: bind it onto
	// itself (stage 03). Same as `mount --rbind ROOT ROOT`.
	if err := mount(root, root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s onto itself: %w", root, err)
	}
	setupDev := true
	for _, m := range spec.Mounts {
		if filepath.Clean(m.Destination) == "/dev" && parseMountOptions(m.Type, m.Options).Bind {
			setupDev = false // the host's /dev, bound: nothing to create
		}
		if err := mountInRoot(cfg, m); err != nil {
			return err
		}
	}
	if setupDev {
		if err := createDevices(root, spec.Linux.Devices, cfg.UserNS); err != nil {
			return err
		}
	} else if err := createDevicesOnly(root, spec.Linux.Devices, cfg.UserNS); err != nil {
		return err
	}
	return nil
}

// makeParentPrivate makes the mount holding dir private, if it is shared.
func makeParentPrivate(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	best := ""
	shared := false
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 7 {
			continue
		}
		point := unescape(f[4])
		if (dir == point || strings.HasPrefix(dir, strings.TrimSuffix(point, "/")+"/")) && len(point) >= len(best) {
			best = point
			shared = false
			for _, opt := range f[6:] {
				if opt == "-" {
					break
				}
				shared = shared || strings.HasPrefix(opt, "shared:")
			}
		}
	}
	if best == "" || !shared {
		return nil
	}
	if err := mount("", best, best, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private (mount --make-private): %w", best, err)
	}
	return nil
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountInRoot mounts one of the config's mounts under the new root. The
// destination is resolved inside the root (securejoin.go), created if
// missing (a directory, or an empty file for a file bound over it), and
// opened: the mount is made on the opened file, through /proc/self/fd/N,
// so a symbolic link swapped in after the check cannot send it elsewhere.
func mountInRoot(cfg *initConfig, m specs.Mount) error {
	o := parseMountOptions(m.Type, m.Options)
	source := m.Source
	if o.Bind && !filepath.IsAbs(source) {
		source = filepath.Join(cfg.Bundle, source)
	}
	switch {
	case m.Type == "cgroup" || m.Type == "cgroup2":
		return mountCgroups(cfg, m, o)
	}
	dirTarget := true
	if o.Bind {
		fi, err := os.Stat(source)
		if err != nil {
			return fmt.Errorf("mount %s: bind source: %w", m.Destination, err)
		}
		dirTarget = fi.IsDir()
	}
	target, real, closeTarget, err := openTarget(cfg.Rootfs, m.Destination, dirTarget)
	if err != nil {
		return err
	}
	defer closeTarget()
	if o.Bind {
		flags := uintptr(unix.MS_BIND)
		if o.Rec {
			flags |= unix.MS_REC
		}
		if err := mount(source, target, real, "", flags, ""); err != nil {
			return fmt.Errorf("bind %s on %s: %w", source, m.Destination, err)
		}
		// The descriptor still names the directory under the new mount;
		// what follows acts on the mount, by its path.
		target = real
		// A bind takes no other flags: ro, nosuid… come with a remount
		// of the new mount point. In a user namespace the source's own
		// nosuid, nodev… are locked and must be kept.
		if rest := o.Flags &^ (unix.MS_REMOUNT | unix.MS_BIND); rest != 0 {
			if err := remountBind(target, rest|lockedFlags(source)); err != nil {
				return fmt.Errorf("remount %s with %v: %w", m.Destination, m.Options, err)
			}
		}
	} else {
		data := o.Data
		if m.Type == "proc" || m.Type == "sysfs" || m.Type == "mqueue" {
			// These three take no data options.
			data = ""
		}
		if err := mount(source, target, real, m.Type, o.Flags, data); err != nil {
			if m.Type == "sysfs" && errors.Is(err, unix.EPERM) && cfg.UserNS {
				// A new sysfs needs a network namespace of the user
				// namespace's own; without one, bind the host's, read-only.
				return mountInRoot(cfg, specs.Mount{Destination: m.Destination, Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}})
			}
			return fmt.Errorf("mount %s on %s (type %s, options %q): %w", source, m.Destination, m.Type, strings.Join(m.Options, ","), err)
		}
		target = real
	}
	if o.Propagation != 0 {
		if err := mount("", target, target, "", o.Propagation, ""); err != nil {
			return fmt.Errorf("set the propagation of %s: %w", m.Destination, err)
		}
	}
	return nil
}

// openTarget resolves dest inside root, creates it (a directory, or an
// empty file), opens it with O_PATH and checks that what was opened is
// inside root. It returns /proc/self/fd/N to mount on, and the path it
// resolved to, for the steps on the mount once made.
func openTarget(root, dest string, dir bool) (fdPath, real string, done func(), err error) {
	p, err := secureJoin(root, dest)
	if err != nil {
		return "", "", nil, fmt.Errorf("mount %s: %w", dest, err)
	}
	if dir {
		err = os.MkdirAll(p, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(p, os.O_CREATE|os.O_RDONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return "", "", nil, fmt.Errorf("create the mount point %s: %w", dest, err)
	}
	fd, err := unix.Open(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", "", nil, fmt.Errorf("open the mount point %s: %w", dest, err)
	}
	done = func() { unix.Close(fd) }
	fdPath = "/proc/self/fd/" + strconv.Itoa(fd)
	real, err = os.Readlink(fdPath)
	if err != nil || !(real == root || strings.HasPrefix(real, root+"/")) {
		done()
		return "", "", nil, fmt.Errorf("mount %s: the mount point resolved to %s, outside the root %s", dest, real, root)
	}
	return fdPath, real, done, nil
}

// remountBind changes the flags of a bind mount. Same as `mount -o
// remount,bind,ro TARGET`.
func remountBind(target string, flags uintptr) error {
	return mount("", target, target, "", unix.MS_REMOUNT|unix.MS_BIND|flags, "")
}

// lockedFlags are the flags of the mount holding path that a user
// namespace may not drop (man 7 mount_namespaces, "locked" mounts).
func lockedFlags(path string) uintptr {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return 0
	}
	var f uintptr
	for _, x := range []struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_RDONLY, unix.MS_RDONLY},
	} {
		if uintptr(st.Flags)&x.st != 0 {
			f |= x.ms
		}
	}
	return f
}

// mountCgroups mounts the container's view of its cgroups (stage 07's
// mountInside). In a cgroup namespace a new cgroup filesystem shows the
// container's own cgroup as its root; without one, the container's
// directories are bound from the host, so it still sees only its own.
func mountCgroups(cfg *initConfig, m specs.Mount, o mountOpts) error {
	fdPath, target, done, err := openTarget(cfg.Rootfs, m.Destination, true)
	if err != nil {
		return err
	}
	defer done()
	flags := o.Flags | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if cfg.Cgroup.Version == 2 {
		if cfg.NewCgroupNS {
			err = mount("cgroup2", fdPath, target, "cgroup2", flags, "")
		} else {
			err = mount(cfg.Cgroup.Dirs[""], fdPath, target, "", unix.MS_BIND, "")
			if err == nil {
				err = remountBind(target, flags)
			}
		}
		if err != nil {
			return fmt.Errorf("mount cgroup2 on %s: %w", m.Destination, err)
		}
		return nil
	}
	// v1: a tmpfs holding one mount per hierarchy, named as on the host.
	if err := mount("tmpfs", fdPath, target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return fmt.Errorf("mount a tmpfs for the cgroups on %s: %w", m.Destination, err)
	}
	var options map[string]string // mount point → controllers, read once
	if cfg.NewCgroupNS {
		options = cgroupMountOptions()
	}
	done2 := map[string]bool{}
	for _, ctrl := range sortedKeys(cfg.Cgroup.Dirs) {
		host := cfg.Cgroup.Dirs[ctrl]
		mnt := strings.TrimSuffix(host, cfg.Cgroup.Path) // /sys/fs/cgroup/cpu
		name := filepath.Base(mnt)
		if done2[name] {
			continue
		}
		done2[name] = true
		dst := filepath.Join(target, name)
		if err := os.Mkdir(dst, 0o755); err != nil {
			return err
		}
		if cfg.NewCgroupNS {
			opt, ok := options[mnt]
			if !ok {
				opt = name
			}
			err = mount("cgroup", dst, dst, "cgroup", flags, opt)
		} else {
			err = mount(host, dst, dst, "", unix.MS_BIND, "")
			if err == nil {
				err = remountBind(dst, flags)
			}
		}
		if err != nil {
			return fmt.Errorf("mount the %s cgroup on %s: %w", name, filepath.Join(m.Destination, name), err)
		}
	}
	if o.Flags&unix.MS_RDONLY != 0 {
		return remountBind(target, flags|unix.MS_RDONLY)
	}
	return nil
}

// cgroupMountOptions maps each v1 hierarchy's mount point to the
// controller list it is mounted with ("cpu,cpuacct"), from the super
// options in mountinfo: one read, however many hierarchies.
func cgroupMountOptions() map[string]string {
	out := map[string]string{}
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		for i, fld := range f {
			if fld == "-" && len(f) > i+3 && f[i+1] == "cgroup" && len(f) > 4 {
				var opts []string
				for _, o := range strings.Split(f[i+3], ",") {
					if o != "rw" && o != "ro" {
						opts = append(opts, o)
					}
				}
				if _, seen := out[f[4]]; !seen {
					out[f[4]] = strings.Join(opts, ",")
				}
			}
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	for i := 1; i < len(k); i++ {
		for j := i; j > 0 && k[j] < k[j-1]; j-- {
			k[j], k[j-1] = k[j-1], k[j]
		}
	}
	return k
}

// defaultDevices are the nodes every container's /dev has (runtime-spec's
// config-linux.md, "Default Devices").
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}, {Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7}, {Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9}, {Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// createDevices fills a fresh /dev (stage 03's setupDev): the default
// nodes and the config's, the links programs expect, /dev/ptmx leading to
// the container's own devpts.
func createDevices(root string, devices []specs.LinuxDevice, userns bool) error {
	all := append(append([]specs.LinuxDevice(nil), defaultDevices...), devices...)
	if err := createDevicesOnly(root, all, userns); err != nil {
		return err
	}
	for _, l := range [][2]string{
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"}, {"pts/ptmx", "ptmx"},
	} {
		if l[1] == "core" && !exists("/proc/kcore") {
			continue // a kernel without /proc/kcore: no link to nothing, as runc
		}
		p := filepath.Join(root, "dev", l[1])
		_ = os.Remove(p) // a /dev/ptmx node in the image gives way to the link
		err := step(fmt.Sprintf("symlink(%q, %q)", l[0], p), fmt.Sprintf("ln -s %s %s", l[0], p), func() error { return os.Symlink(l[0], p) })
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// createDevicesOnly makes each device node. A device node is only a name
// for a (type, major, minor) triple. In a user namespace mknod(2) fails
// for every device, so the host's own node is bound instead (stage 06).
func createDevicesOnly(root string, devices []specs.LinuxDevice, userns bool) error {
	for _, d := range devices {
		p, err := secureJoin(root, d.Path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if userns {
			if err := os.WriteFile(p, nil, 0o666); err != nil {
				return fmt.Errorf("create %s: %w", d.Path, err)
			}
			if err := mount(d.Path, p, p, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind the host's %s (a user namespace cannot mknod): %w", d.Path, err)
			}
			continue
		}
		mode := uint32(0o666)
		if d.FileMode != nil {
			mode = uint32(d.FileMode.Perm())
		}
		typ := map[string]uint32{"c": unix.S_IFCHR, "u": unix.S_IFCHR, "b": unix.S_IFBLK, "p": unix.S_IFIFO}[d.Type]
		_ = os.Remove(p)
		err = step(fmt.Sprintf("mknod(%q, %s|%#o, makedev(%d, %d))", p, map[string]string{"c": "S_IFCHR", "u": "S_IFCHR", "b": "S_IFBLK", "p": "S_IFIFO"}[d.Type], mode, d.Major, d.Minor),
			fmt.Sprintf("mknod -m %#o %s %s %d %d", mode, p, d.Type, d.Major, d.Minor),
			func() error { return unix.Mknod(p, typ|mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))) })
		if err != nil {
			return fmt.Errorf("mknod %s %s %d %d: %w", d.Path, d.Type, d.Major, d.Minor, err)
		}
		// mknod applies the umask; the mode must be what was asked.
		if err := unix.Chmod(p, mode); err != nil {
			return err
		}
		uid, gid := 0, 0
		if d.UID != nil {
			uid = int(*d.UID)
		}
		if d.GID != nil {
			gid = int(*d.GID)
		}
		if err := unix.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// enterRoot makes the new root "/" for every process of the namespace
// with pivot_root (stage 03), or with MS_MOVE and chroot for --no-pivot.
func enterRoot(cfg *initConfig) error {
	root := cfg.Rootfs
	if err := step(fmt.Sprintf("chdir(%q)", root), "cd "+root, func() error { return unix.Chdir(root) }); err != nil {
		return fmt.Errorf("chdir %s: %w", root, err)
	}
	if cfg.NoPivot {
		// The initramfs cannot be pivoted away from: move the new root
		// over / and chroot into it. Same as `mount --move . /; chroot .`.
		if err := mount(root, "/", "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move %s to / (--no-pivot): %w", root, err)
		}
		if err := step(`chroot(".")`, "chroot .", func() error { return unix.Chroot(".") }); err != nil {
			return os.NewSyscallError("chroot", err)
		}
	} else {
		// Passing "." twice stacks the old root on top of the new one,
		// where a lazy unmount detaches it for good (man 2 pivot_root).
		if err := step(`pivot_root(".", ".")`, "pivot_root . .", func() error { return unix.PivotRoot(".", ".") }); err != nil {
			return fmt.Errorf("pivot_root to %s: %w", root, err)
		}
		// The old root is a slave of the host's now: detaching it must not
		// travel back.
		if err := mount("", ".", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("make the old root a slave: %w", err)
		}
		if err := step(`umount2(".", MNT_DETACH)`, "umount -l .", func() error { return unix.Unmount(".", unix.MNT_DETACH) }); err != nil {
			return fmt.Errorf("detach the old root: %w", err)
		}
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if p := cfg.Spec.Linux.RootfsPropagation; p != "" {
		flag, _ := rootPropagation(p)
		if err := mount("", "/", "/", "", flag, ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation %s: %w", p, err)
		}
	}
	return nil
}

// finishRoot does the steps that need the container's own /proc: sysctls,
// read-only paths, masked paths, and last the read-only root.
func finishRoot(cfg *initConfig) error {
	l := cfg.Spec.Linux
	for key, value := range l.Sysctl {
		p := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
		err := step(fmt.Sprintf("write(%s, %q)", p, value), fmt.Sprintf("sysctl -w %s=%s", key, value), func() error { return os.WriteFile(p, []byte(value), 0) })
		if err != nil {
			return fmt.Errorf("linux.sysctl %s=%s: write %s: %w", key, value, p, err)
		}
	}
	// Read-only: bind the path onto itself and remount the bind
	// read-only. Same as `mount --bind P P; mount -o remount,bind,ro P`.
	for _, p := range l.ReadonlyPaths {
		if err := mount(p, p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("linux.readonlyPaths %s: %w", p, err)
		}
		if err := remountBind(p, unix.MS_RDONLY|lockedFlags(p)); err != nil {
			return fmt.Errorf("linux.readonlyPaths %s: remount read-only: %w", p, err)
		}
	}
	// Masked: what is under the path is hidden by an empty read-only
	// tmpfs (a directory) or by /dev/null (a file). Same as `mount --bind
	// /dev/null /proc/kcore`.
	for _, p := range l.MaskedPaths {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("linux.maskedPaths %s: %w", p, err)
		}
		if fi.IsDir() {
			err = mount("tmpfs", p, p, "tmpfs", unix.MS_RDONLY, "")
		} else {
			err = mount("/dev/null", p, p, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("linux.maskedPaths %s: %w", p, err)
		}
	}
	if cfg.Spec.Root.Readonly {
		if err := remountBind("/", unix.MS_RDONLY|lockedFlags("/")); err != nil {
			return fmt.Errorf("root.readonly: remount / read-only: %w", err)
		}
	}
	return nil
}
