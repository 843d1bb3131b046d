package doctor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// cgroupControllers are the controllers the cgroup stage limits.
var cgroupControllers = []string{"cpu", "memory", "pids"}

var cgroupStages = from("stage07-cgroups")

// subsys is one line of /proc/cgroups: the v1 hierarchy a controller is
// bound to (0 when it is free for cgroup v2) and whether it is enabled at
// all (cgroup_disable= on the kernel command line turns one off).
type subsys struct {
	hierarchy int
	enabled   bool
}

func (h *Host) subsystems() map[string]subsys {
	out := map[string]subsys{}
	data, _ := os.ReadFile(h.proc("cgroups"))
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		hier, _ := strconv.Atoi(f[1])
		out[f[0]] = subsys{hierarchy: hier, enabled: f[3] == "1"}
	}
	return out
}

// checkCgroups tells the layout, which decides the paths a student must
// use: cgroup v2 alone (/sys/fs/cgroup/cfs/memory.max), v1 (a hierarchy per
// controller: /sys/fs/cgroup/memory/cfs/memory.limit_in_bytes), or hybrid
// (v1 controllers, plus an empty cgroup2 at /sys/fs/cgroup/unified).
func checkCgroups(h *Host) Result {
	r := Result{Name: "cgroups", NeededBy: cgroupStages}
	if exists(h.sys("fs/cgroup/cgroup.controllers")) {
		return cgroupV2(h, r)
	}
	subs := h.subsystems()
	var v1, absent, disabled []string
	for _, c := range cgroupControllers {
		s, known := subs[c]
		switch {
		case known && !s.enabled:
			disabled = append(disabled, c)
		case exists(h.sys("fs/cgroup", c, "tasks")):
			v1 = append(v1, c)
		default:
			absent = append(absent, c)
		}
	}
	unified := exists(h.sys("fs/cgroup/unified/cgroup.controllers"))
	if len(v1) == 0 && !unified && len(disabled) == 0 {
		r.Status = Fail
		r.Detail = "no cgroup filesystem is mounted at /sys/fs/cgroup"
		r.Fix = "mount cgroup v2: sudo mount -t cgroup2 none /sys/fs/cgroup (on WSL 2, turn systemd on: [boot] systemd=true in /etc/wsl.conf)"
		return r
	}
	layout := "cgroup v1"
	if unified {
		layout = "hybrid (cgroup v1 controllers; cgroup2 at /sys/fs/cgroup/unified holds none)"
	}
	switch {
	case len(disabled) > 0:
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s: %s disabled on the kernel command line", layout, strings.Join(disabled, ", "))
		r.Fix = disabledFix(disabled)
	case len(absent) > 0:
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s: no v1 hierarchy for %s", layout, strings.Join(absent, ", "))
		r.Fix = fmt.Sprintf("mount one: sudo mkdir -p /sys/fs/cgroup/%s && sudo mount -t cgroup -o %s none /sys/fs/cgroup/%s", absent[0], absent[0], absent[0])
	case readOnly(h, "/sys/fs/cgroup/"+v1[0]):
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s: /sys/fs/cgroup/%s is mounted read-only", layout, v1[0])
		r.Fix = "inside a container, cgroups are writable only with docker run --privileged"
	default:
		r.Status = OK
		r.Detail = fmt.Sprintf("%s: %s, each at /sys/fs/cgroup/CONTROLLER/%s (v1 paths, not v2's /sys/fs/cgroup/%s)", layout, strings.Join(v1, " "), CgroupParent, CgroupParent)
	}
	return r
}

// cgroupV2 checks the controllers where the project creates its cgroups:
// a controller reaches a cgroup only if its parent lists it in
// cgroup.subtree_control, all the way down from the root.
func cgroupV2(h *Host, r Result) Result {
	avail := readFields(h.sys("fs/cgroup/cgroup.controllers"))
	subs := h.subsystems()
	if gone := missing(cgroupControllers, avail); len(gone) > 0 {
		var why []string
		for _, c := range gone {
			switch s, known := subs[c]; {
			case known && !s.enabled:
				why = append(why, c+" is disabled on the kernel command line")
				r.Fix = disabledFix([]string{c})
			case known && s.hierarchy != 0:
				why = append(why, c+" is held by a cgroup v1 hierarchy")
				if r.Fix == "" {
					r.Fix = fmt.Sprintf("unmount the v1 hierarchy (sudo umount /sys/fs/cgroup/%s), or boot with systemd.unified_cgroup_hierarchy=1", c)
				}
			default:
				why = append(why, c+" is not offered by the kernel")
				if r.Fix == "" {
					r.Fix = "boot a kernel built with the controller (CONFIG_MEMCG, CONFIG_CGROUP_PIDS, CONFIG_CGROUP_SCHED)"
				}
			}
		}
		r.Status = Fail
		r.Detail = "cgroup v2: " + strings.Join(why, "; ")
		return r
	}
	if readOnly(h, "/sys/fs/cgroup") {
		r.Status = Fail
		r.Detail = "cgroup v2 is mounted read-only at /sys/fs/cgroup"
		r.Fix = "inside a container, cgroups are writable only with docker run --privileged --cgroupns=host"
		return r
	}
	where := "/sys/fs/cgroup/" + CgroupParent
	have := readFields(h.sys("fs/cgroup", CgroupParent, "cgroup.controllers"))
	if !exists(h.sys("fs/cgroup", CgroupParent)) {
		// Not created yet: its children will get what the root passes on.
		have = readFields(h.sys("fs/cgroup/cgroup.subtree_control"))
	}
	if off := missing(cgroupControllers, have); len(off) > 0 {
		r.Status = Warn
		r.Detail = fmt.Sprintf("cgroup v2: %s not enabled for %s (the root's cgroup.subtree_control lacks them)", strings.Join(off, ", "), where)
		r.Fix = fmt.Sprintf("echo \"+%s\" | sudo tee /sys/fs/cgroup/cgroup.subtree_control (inside a container this fails with \"device or resource busy\" until its processes leave the root cgroup)", strings.Join(off, " +"))
		return r
	}
	r.Status = OK
	r.Detail = fmt.Sprintf("cgroup v2: %s enabled for %s", strings.Join(cgroupControllers, " "), where)
	return r
}

func disabledFix(ctrls []string) string {
	return fmt.Sprintf("remove cgroup_disable=%s from the kernel command line (Raspberry Pi: add cgroup_enable=memory cgroup_memory=1 to /boot/firmware/cmdline.txt) and reboot", ctrls[0])
}

// readOnly reports whether the mount at point is read-only.
func readOnly(h *Host, point string) bool {
	m, ok := h.mountAt(point)
	return ok && (contains(strings.Split(m.Options, ","), "ro") || contains(strings.Split(m.SuperOpts, ","), "ro"))
}
