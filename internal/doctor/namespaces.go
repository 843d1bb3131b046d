package doctor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// namespaceKinds are the namespaces the stages create, as /proc/self/ns
// names them, with the stage that first needs each.
var namespaceKinds = []struct{ kind, stage, config string }{
	{"uts", "stage01-uts", "CONFIG_UTS_NS"},
	{"pid", "stage02-pid", "CONFIG_PID_NS"},
	{"mnt", "stage03-mount", "CONFIG_NAMESPACES"},
	{"ipc", "stage04-ipc", "CONFIG_IPC_NS"},
	{"net", "stage05-net", "CONFIG_NET_NS"},
	{"user", "stage06-user", "CONFIG_USER_NS"},
	{"cgroup", "stage07-cgroups", "CONFIG_CGROUPS"},
}

// checkNamespaces looks for each kind in /proc/self/ns (the kernel lists
// the kinds it was built with) and, as root, creates one of each: a
// container's seccomp profile or a security module can refuse what the
// kernel has. User namespaces have their own check.
func checkNamespaces(h *Host) Result {
	r := Result{Name: "namespaces"}
	entries, err := os.ReadDir(h.proc("self/ns"))
	if err != nil {
		r.Status, r.NeededBy = Fail, from(Stages[0])
		r.Detail = fmt.Sprintf("cannot list the namespaces: %v", err)
		r.Fix = "mount proc on /proc: sudo mount -t proc proc /proc"
		return r
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	var absent, refused, kinds []string
	var configs []string
	for _, k := range namespaceKinds {
		kinds = append(kinds, k.kind)
		if !have[k.kind] {
			absent = append(absent, k.kind)
			configs = append(configs, k.config)
			if r.NeededBy == nil {
				r.NeededBy = from(k.stage)
			}
			continue
		}
		if k.kind == "user" || h.Euid != 0 || h.TryNamespace == nil {
			continue
		}
		if err := h.TryNamespace(k.kind); err != nil {
			refused = append(refused, fmt.Sprintf("%s (%v)", k.kind, errnoOf(err)))
			if r.NeededBy == nil {
				r.NeededBy = from(k.stage)
			}
		}
	}
	switch {
	case len(absent) > 0:
		r.Status = Fail
		r.Detail = "the kernel has no " + strings.Join(absent, ", ") + " namespaces"
		r.Fix = "boot a kernel built with " + strings.Join(configs, ", ") + " (every distribution kernel is; WSL 1 and OpenVZ containers are not)"
	case len(refused) > 0:
		r.Status = Fail
		r.Detail = "the kernel refused to create: " + strings.Join(refused, ", ")
		if len(h.containerSigns()) > 0 {
			r.Fix = "inside a container, namespaces need its privileges: docker run --privileged …"
		} else {
			r.Fix = "a security module or seccomp filter refuses unshare(2): look for the denial in `sudo dmesg` or `journalctl -k`"
		}
	case h.Euid != 0 || h.TryNamespace == nil:
		r.Status, r.Detail = OK, strings.Join(kinds, " ")+" (present; creating them was not tried: not root)"
	default:
		r.Status, r.Detail = OK, strings.Join(kinds, " ")+": all present, and root can create them"
	}
	return r
}

// errnoOf returns the errno inside err, which names the cause without the
// path of the program that was started.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// checkUserNS: user namespaces are the one kind that distributions
// restrict. user.max_user_namespaces=0 stops everyone, root included (the
// RHEL 7 default); Ubuntu 23.10 and later let unprivileged users create one
// only under an AppArmor profile that allows it; Debian's older kernels had
// kernel.unprivileged_userns_clone. Root's own try catches the rest, such as
// docker's seccomp profile.
func checkUserNS(h *Host) Result {
	r := Result{Name: "userns", NeededBy: from("stage06-user")}
	maxNS, err := readTrim(h.proc("sys/user/max_user_namespaces"))
	if err != nil {
		r.Status, r.Detail = Fail, fmt.Sprintf("no user namespaces: %v", err)
		r.Fix = "boot a kernel built with CONFIG_USER_NS"
		return r
	}
	if maxNS == "0" {
		r.Status = Fail
		r.Detail = "user.max_user_namespaces=0: nobody, not even root, can create a user namespace"
		r.Fix = "sudo sysctl -w user.max_user_namespaces=15000 (and put user.max_user_namespaces=15000 in /etc/sysctl.d/99-cfs.conf to keep it)"
		return r
	}
	if h.Euid == 0 && h.TryNamespace != nil {
		if err := h.TryNamespace("user"); err != nil {
			r.Status = Fail
			r.Detail = fmt.Sprintf("root cannot create a user namespace: %v", errnoOf(err))
			if len(h.containerSigns()) > 0 {
				r.Fix = "docker's seccomp profile refuses CLONE_NEWUSER to a container without CAP_SYS_ADMIN: docker run --privileged …"
			} else {
				r.Fix = "a security module or seccomp filter refuses it: look for the denial in `sudo dmesg`"
			}
			return r
		}
	}
	aa, _ := readTrim(h.proc("sys/kernel/apparmor_restrict_unprivileged_userns"))
	clone, _ := readTrim(h.proc("sys/kernel/unprivileged_userns_clone"))
	switch {
	case aa == "1":
		r.Status = Warn
		r.Detail = "kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 23.10+): root is not affected, but as yourself `unshare --user --map-root-user` fails with \"write failed /proc/self/uid_map: Operation not permitted\""
		r.Fix = "run the stages with sudo, as the README does; to experiment without root: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (until reboot)"
	case clone == "0":
		r.Status = Warn
		r.Detail = "kernel.unprivileged_userns_clone=0: root is not affected, but only root may create user namespaces"
		r.Fix = "run the stages with sudo; to experiment without root: sudo sysctl -w kernel.unprivileged_userns_clone=1"
	default:
		r.Status = OK
		r.Detail = "user.max_user_namespaces=" + maxNS + "; unprivileged user namespaces allowed"
		if h.Euid == 0 && h.TryNamespace != nil {
			r.Detail += "; root created one"
		}
	}
	return r
}

// idRange is one line of /etc/subuid or /etc/subgid: "user:start:count".
type idRange struct {
	owner        string // a name or a numeric ID
	start, count int
}

func readIDRanges(path string) ([]idRange, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []idRange
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(p) != 3 || strings.HasPrefix(p[0], "#") {
			continue
		}
		start, err1 := strconv.Atoi(p[1])
		count, err2 := strconv.Atoi(p[2])
		if err1 == nil && err2 == nil {
			out = append(out, idRange{p[0], start, count})
		}
	}
	return out, sc.Err()
}

// uidOf finds a user's numeric ID in /etc/passwd, since subuid lines may
// name an owner either way.
func (h *Host) uidOf(user string) string {
	data, _ := os.ReadFile(h.etc("passwd"))
	for _, line := range strings.Split(string(data), "\n") {
		if p := strings.Split(line, ":"); len(p) > 2 && p[0] == user {
			return p[2]
		}
	}
	return ""
}

// fullRange is how many IDs a container needs to hold every ID a
// distribution's files use (0 to 65535).
const fullRange = 65536

// checkSubuid: /etc/subuid and /etc/subgid give each user a range of host
// IDs to map into a user namespace; newuidmap(1) and the user stage read
// them.
func checkSubuid(h *Host) Result {
	r := Result{Name: "subuid", NeededBy: []string{"stage06-user"}}
	users := []string{"root"}
	if u := h.Getenv("SUDO_USER"); u != "" && u != "root" {
		users = append(users, u)
	}
	var found, lacking []string
	lackingIn := map[string][]string{} // user → the files without a range
	end := 100000
	for _, file := range []string{"subuid", "subgid"} {
		ranges, err := readIDRanges(h.etc(file))
		if err != nil && !os.IsNotExist(err) {
			r.Status, r.Detail = Warn, fmt.Sprintf("cannot read /etc/%s: %v", file, err)
			return r
		}
		for _, rg := range ranges {
			end = max(end, rg.start+rg.count)
		}
		for _, u := range users {
			uid := h.uidOf(u)
			ok := false
			for _, rg := range ranges {
				if (rg.owner == u || rg.owner == uid && uid != "") && rg.count >= fullRange {
					ok = true
					if file == "subuid" {
						found = append(found, fmt.Sprintf("%s %d-%d", u, rg.start, rg.start+rg.count-1))
					}
					break
				}
			}
			if !ok {
				lackingIn[u] = append(lackingIn[u], "/etc/"+file)
			}
		}
	}
	if len(lackingIn) == 0 {
		r.Status, r.Detail = OK, "subordinate IDs: "+strings.Join(found, ", ")
		return r
	}
	var fixes []string
	for _, u := range users {
		if files := lackingIn[u]; len(files) > 0 {
			lacking = append(lacking, u+" in "+strings.Join(files, " and "))
			fixes = append(fixes, fmt.Sprintf("sudo usermod --add-subuids %d-%d --add-subgids %d-%d %s", end, end+fullRange-1, end, end+fullRange-1, u))
			end += fullRange
		}
	}
	r.Status = Warn
	r.Detail = fmt.Sprintf("no range of %d subordinate IDs for %s", fullRange, strings.Join(lacking, ", "))
	r.Fix = strings.Join(fixes, "; ")
	return r
}
