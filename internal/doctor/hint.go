package doctor

import (
	"errors"
	"strings"
	"syscall"
)

// Hint returns one line for a stage to print under an error that a host
// problem doctor knows causes: what is wrong with this host, and the
// command that checks it all. It returns "" for any other error.
//
//	if h := doctor.Hint(err); h != "" {
//		fmt.Fprintf(os.Stderr, "%s: %s\n", stage, h)
//	}
func Hint(err error) string {
	h := System()
	h.TryOverlay = nil // a hint reads; it does not mount
	return h.Hint(err)
}

// Hint is the package's Hint for this host.
func (h *Host) Hint(err error) string {
	if err == nil {
		return ""
	}
	cause := h.cause(err)
	if cause == "" {
		return ""
	}
	return cause + "; run `" + Command + "`"
}

// cause recognises a stage's error by the errno at the end of its chain
// and the operation its messages name, and asks the matching check for
// this host's reason.
func (h *Host) cause(err error) string {
	msg := err.Error()
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(msg, w) {
				return true
			}
		}
		return false
	}
	denied := errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES)
	// notOK returns a check's detail when the check finds a problem.
	notOK := func(check func(*Host) Result) string {
		if r := check(h); r.Status != OK {
			return r.Detail
		}
		return ""
	}
	switch {
	case has("pivot_root") && errors.Is(err, syscall.EINVAL):
		if m, ok := h.mountAt("/"); ok && m.Shared {
			return "pivot_root(2) refuses a shared mount, and / is shared (systemd's default): make it private in the container's mount namespace first (mount --make-rprivate /)"
		}
		return "pivot_root(2) needs the new root to be a mount point (bind it onto itself first) and refuses shared mounts and the initramfs root"

	// With user.max_user_namespaces reached (or 0), the kernel says ENOSPC.
	case (denied || errors.Is(err, syscall.ENOSPC)) && has("CLONE_NEWUSER", "user namespace", "uid_map", "gid_map", "setgroups"):
		if c := notOK(checkUserNS); c != "" {
			return c
		}
		return "the kernel refused a user namespace (user.max_user_namespaces, AppArmor's kernel.apparmor_restrict_unprivileged_userns, or a container's seccomp profile)"

	case denied && has("clone", "CLONE_NEW", "unshare", "setns"):
		if why := h.containerSigns(); len(why) > 0 {
			return "creating namespaces was refused inside a container (" + strings.Join(why, "; ") + "): it needs docker run --privileged"
		}
		if c := notOK(checkNamespaces); c != "" {
			return c
		}
		return "creating namespaces was refused: not root, or a security module forbids it"

	case has("cgroup"):
		r := checkCgroups(h)
		if r.Status != OK {
			return r.Detail
		}
		if errors.Is(err, syscall.ENOENT) {
			// Most often a v1 path on a v2 host, or the reverse.
			return "no such cgroup file on this host, which has " + r.Detail
		}
		return ""

	case has("overlay") && (errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.EOPNOTSUPP) || denied):
		if errors.Is(err, syscall.ENODEV) {
			return "the kernel has no overlay filesystem (sudo modprobe overlay)"
		}
		if c := notOK(checkOverlay); c != "" && !strings.Contains(c, "not tried") {
			return c
		}
		return "the kernel refused the overlay mount: upper and work dirs must be on one filesystem that holds overlay upper dirs (not an overlay, as inside Docker; not 9p, as on WSL's /mnt/c); `sudo dmesg | tail` says why"
	}
	return ""
}
