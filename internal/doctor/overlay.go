package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

var layerStages = from("stage08-layers")

// probeDir is the state directory, or the nearest directory above it that
// exists: the filesystem the state directory is, or will be, on.
func (h *Host) probeDir() string {
	dir := h.StateDir
	for !exists(dir) && filepath.Dir(dir) != dir {
		dir = filepath.Dir(dir)
	}
	return dir
}

// checkOverlay mounts a real overlay with its upper directory where the
// layers stage will put its own. Only the kernel knows which filesystems
// can hold an upper directory (it needs xattrs, d_type, whiteouts), and it
// says why it refuses only in its log: "overlay: filesystem on … not
// supported as upperdir" when that filesystem is itself an overlay, as
// inside Docker.
func checkOverlay(h *Host) Result {
	r := Result{Name: "overlay", NeededBy: layerStages}
	dir := h.probeDir()
	fstype := "unknown filesystem"
	if h.FSType != nil {
		if t, err := h.FSType(dir); err == nil {
			fstype = t
		}
	}
	where := fmt.Sprintf("%s (%s)", dir, fstype)
	if h.TryOverlay == nil || h.Euid != 0 {
		r.Status = Warn
		r.Detail = "trial overlay mount in " + where + " not tried: needs root"
		r.Fix = Command
		if fstype == "overlay" {
			r.Detail = where + " is itself an overlay, which the kernel refuses as an upper directory"
			r.Fix = overlayFix(h, fstype)
		}
		return r
	}
	if err := h.TryOverlay(dir); err != nil {
		r.Status = Fail
		r.Detail = fmt.Sprintf("overlay with its upper dir in %s: %v", where, err)
		if fstype == "overlay" {
			r.Detail += " (an overlay cannot be an upper directory)"
		}
		r.Fix = overlayFix(h, fstype)
		return r
	}
	r.Status, r.Detail = OK, "an overlay mounts and takes writes with its upper dir in "+where
	return r
}

// overlayFix names the way out for the filesystem that refused.
func overlayFix(h *Host, fstype string) string {
	switch fstype {
	case "overlay":
		return "give " + h.StateDir + " a filesystem of its own: a volume (docker run -v cfs-state:" + h.StateDir + " …) or, for one session, sudo mount -t tmpfs tmpfs " + h.StateDir
	case "9p", "v9fs", "drvfs":
		return "keep " + h.StateDir + " and the repository on the Linux side (ext4), not on a Windows drive"
	}
	if fs, err := os.ReadFile(h.proc("filesystems")); err == nil && !strings.Contains(string(fs), "\toverlay\n") {
		return "load overlayfs: sudo modprobe overlay"
	}
	return "put " + h.StateDir + " on a filesystem that holds overlay upper dirs (ext4, xfs with ftype=1, btrfs, tmpfs); the kernel says why it refused in `sudo dmesg | tail`"
}
