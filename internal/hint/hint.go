// Package hint turns an error of a stage into one line that names the
// problem of the host behind it, when there is a known one, and points to
// `doctor`, which checks the whole host and prints the fix:
//
//	stage06-user: start the container process (clone with CLONE_NEWUSER|…): operation not permitted
//	stage06-user: user.max_user_namespaces=0: nobody, not even root, can create a user namespace; run `…doctor`
//
// It goes by the type of the error (a *kernel.Error: which request failed,
// with which errno), never by the words of its message, and looks at a few
// files of the host to say which of the usual causes it is.
package hint

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"cfs/internal/kernel"
	"cfs/internal/layout"
	"cfs/internal/mountinfo"

	"golang.org/x/sys/unix"
)

// Doctor is how a student runs doctor; hints point to it.
const Doctor = `go run -exec sudo ./final doctor`

// Print writes "STAGE: HINT" to w when err has a hint.
func Print(w io.Writer, stage string, err error) {
	if h := For(err); h != "" {
		fmt.Fprintf(w, "%s: %s\n", stage, h)
	}
}

// For returns the hint for err on this host, or "".
func For(err error) string { return System().For(err) }

// Host is what a hint looks at: the directories that stand for /, /proc,
// /sys and /run (the real ones, or a fake tree in tests), and the
// directory that holds overlay upper directories.
type Host struct {
	Root, Proc, Sys, Run, StateDir string
	// FSType names the filesystem that holds path ("ext4", "overlay").
	FSType func(path string) (string, error)
}

// System is this host.
func System() Host {
	return Host{Root: "/", Proc: "/proc", Sys: "/sys", Run: "/run", StateDir: layout.StateDir, FSType: FSType}
}

// For returns the hint for err on h, or "".
func (h Host) For(err error) string {
	var ke *kernel.Error
	if !errors.As(err, &ke) {
		return ""
	}
	if cause := h.cause(ke); cause != "" {
		return cause + "; run `" + Doctor + "`"
	}
	return ""
}
func (h Host) cause(e *kernel.Error) string {
	denied := errors.Is(e.Err, syscall.EPERM) || errors.Is(e.Err, syscall.EACCES)
	switch {
	case e.Op == "pivot_root" && errors.Is(e.Err, syscall.EINVAL):
		if m, ok := h.rootMount(); ok && m.Shared() {
			return "pivot_root(2) refuses a shared mount, and / is shared (systemd's default): make it private in the container's mount namespace first (mount --make-rprivate /)"
		}
		return "pivot_root(2) needs the new root to be a mount point (bind it onto itself first) and refuses shared mounts and the initramfs root"

	// With user.max_user_namespaces reached (or 0), the kernel says
	// ENOSPC. The maps written for a new user namespace fail inside the
	// same clone.
	case (e.Op == "clone" || e.Op == "unshare") && strings.Contains(e.Arg, "CLONE_NEWUSER") && (denied || errors.Is(e.Err, syscall.ENOSPC)):
		if max, _ := h.read(h.Proc, "sys/user/max_user_namespaces"); max == "0" {
			return "user.max_user_namespaces=0: nobody, not even root, can create a user namespace"
		}
		if len(h.ContainerSigns()) > 0 {
			return "docker's seccomp profile refuses CLONE_NEWUSER to a container without CAP_SYS_ADMIN: it needs docker run --privileged"
		}
		return "the kernel refused a user namespace (user.max_user_namespaces, AppArmor's kernel.apparmor_restrict_unprivileged_userns, or a container's seccomp profile)"

	case (e.Op == "clone" || e.Op == "unshare" || e.Op == "setns") && denied:
		if why := h.ContainerSigns(); len(why) > 0 {
			return "creating namespaces was refused inside a container (" + strings.Join(why, "; ") + "): it needs docker run --privileged"
		}
		return "creating namespaces was refused: not root, or a security module forbids it"

	case strings.HasPrefix(e.Arg, filepath.Join(h.Sys, "fs/cgroup")+"/") || e.Op == "cgroup":
		layout := h.cgroupLayout()
		if errors.Is(e.Err, syscall.ENOENT) {
			// Most often a v1 path on a v2 host, or the reverse.
			return "no such cgroup file on this host, which has " + layout
		}
		if errors.Is(e.Err, syscall.EROFS) {
			return "/sys/fs/cgroup is read-only here (" + layout + "): inside a container, it needs docker run --privileged --cgroupns=host"
		}
		return ""

	case e.Op == "mount" && e.Arg == "overlay" && (errors.Is(e.Err, syscall.EINVAL) || errors.Is(e.Err, syscall.ENODEV) || errors.Is(e.Err, syscall.EOPNOTSUPP) || denied):
		if errors.Is(e.Err, syscall.ENODEV) {
			return "the kernel has no overlay filesystem (sudo modprobe overlay)"
		}
		if fs, err := h.FSType(h.StateDir); err == nil && fs == "overlay" {
			return h.StateDir + " is itself an overlay (as inside Docker), which cannot hold an overlay's upper directory: give it a filesystem of its own (a volume)"
		}
		return "the kernel refused the overlay mount: upper and work dirs must be on one filesystem that holds overlay upper dirs (not an overlay, as inside Docker; not 9p, as on WSL's /mnt/c); `sudo dmesg | tail` says why"

	case e.Op == "nft" && (errors.Is(e.Err, syscall.EOPNOTSUPP) || errors.Is(e.Err, syscall.EPROTONOSUPPORT) || errors.Is(e.Err, syscall.ENOENT)):
		return "the kernel has no nf_tables, or it is not loaded (sudo modprobe nf_tables)"
	case e.Op == "netlink" && strings.Contains(e.What, "type bridge") && (errors.Is(e.Err, syscall.EOPNOTSUPP) || errors.Is(e.Err, syscall.EPROTONOSUPPORT)):
		return "the kernel has no bridge driver, or it is not loaded (sudo modprobe bridge)"
	case e.Op == "netlink" && strings.Contains(e.What, "type veth") && (errors.Is(e.Err, syscall.EOPNOTSUPP) || errors.Is(e.Err, syscall.EPROTONOSUPPORT)):
		return "the kernel has no veth driver, or it is not loaded (sudo modprobe veth)"
	}
	return ""
}

// ContainerSigns lists what gives away that this "host" is a container.
func (h Host) ContainerSigns() []string {
	var why []string
	if _, err := os.Stat(filepath.Join(h.Root, ".dockerenv")); err == nil {
		why = append(why, "/.dockerenv exists (docker)")
	}
	if _, err := os.Stat(filepath.Join(h.Run, ".containerenv")); err == nil {
		why = append(why, "/run/.containerenv exists (podman)")
	}
	if env, err := os.ReadFile(filepath.Join(h.Proc, "1/environ")); err == nil {
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, "container="); ok {
				why = append(why, "PID 1 has container="+v)
			}
		}
	}
	if cg, err := os.ReadFile(filepath.Join(h.Proc, "1/cgroup")); err == nil {
		for _, marker := range []string{"/docker", "/kubepods", "/lxc", "/libpod"} {
			if strings.Contains(string(cg), marker) {
				why = append(why, "PID 1's cgroup is under "+marker)
				break
			}
		}
	}
	if m, ok := h.rootMount(); ok && m.FSType == "overlay" {
		why = append(why, "/ is an overlay mount")
	}
	return why
}

func (h Host) rootMount() (mountinfo.Mount, bool) {
	ms, err := mountinfo.Read(filepath.Join(h.Proc, "self/mountinfo"))
	if err != nil {
		return mountinfo.Mount{}, false
	}
	return mountinfo.At(ms, "/")
}

// cgroupLayout says which cgroups the host has, as a student needs to know
// it to find the files: v2 alone, v1, or v1 with an empty v2 beside it.
func (h Host) cgroupLayout() string {
	dir := filepath.Join(h.Sys, "fs/cgroup")
	switch {
	case exists(filepath.Join(dir, "cgroup.controllers")):
		return "cgroup v2 only (/sys/fs/cgroup/cfs/ID/memory.max)"
	case exists(filepath.Join(dir, "unified/cgroup.controllers")):
		return "hybrid cgroups: the controllers on v1 (/sys/fs/cgroup/memory/cfs/ID/memory.limit_in_bytes), an empty v2 at /sys/fs/cgroup/unified"
	}
	return "cgroup v1 (/sys/fs/cgroup/memory/cfs/ID/memory.limit_in_bytes)"
}

func (h Host) read(dir, name string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	return strings.TrimSpace(string(data)), err
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// fsMagic names the filesystems statfs(2) reports by number (man 2 statfs).
var fsMagic = map[int64]string{
	unix.EXT4_SUPER_MAGIC:      "ext4",
	unix.XFS_SUPER_MAGIC:       "xfs",
	unix.BTRFS_SUPER_MAGIC:     "btrfs",
	unix.TMPFS_MAGIC:           "tmpfs",
	unix.OVERLAYFS_SUPER_MAGIC: "overlay",
	unix.V9FS_MAGIC:            "9p",
	unix.FUSE_SUPER_MAGIC:      "fuse",
	unix.NFS_SUPER_MAGIC:       "nfs",
	0x2fc12fc1:                 "zfs",
	unix.ECRYPTFS_SUPER_MAGIC:  "ecryptfs",
	unix.SQUASHFS_MAGIC:        "squashfs",
	unix.RAMFS_MAGIC:           "ramfs",
	0x61756673:                 "aufs",
}

// FSType names the filesystem that holds path ("ext4", "overlay"), by
// the number statfs(2) reports.
func FSType(path string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return "", &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	if name, ok := fsMagic[int64(st.Type)]; ok {
		return name, nil
	}
	return fmt.Sprintf("filesystem 0x%x", st.Type), nil
}
