package doctor

import (
	"cfs/internal/hint"

	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The machine: who runs doctor, where Go is, which kernel, and whether this
// "VM" is really WSL or a container.

func checkRoot(h *Host) Result {
	r := Result{Name: "root", NeededBy: from(Stages[0])}
	if h.Euid == 0 {
		r.Status, r.Detail = OK, "running as root"
		return r
	}
	r.Status = Warn
	r.Detail = fmt.Sprintf("running as uid %d: the stages need root, and the trial mount and namespaces below are skipped", h.Euid)
	r.Fix = Command
	return r
}

// checkSudoGo finds out whether `sudo go` finds go: sudo replaces PATH with
// its secure_path (Debian, Ubuntu and Fedora all set one), and Go's
// installer puts go in /usr/local/go/bin, which is not in it. That matters
// only for the old form, sudo go run or sudo env "PATH=$PATH" go run:
// `go run -exec sudo` runs go as the user and only the program as root.
func checkSudoGo(h *Host) Result {
	r := Result{Name: "sudo-go"}
	goPath, goErr := h.LookPath("go")
	if _, err := h.LookPath("sudo"); err != nil {
		r.Status, r.Detail = OK, "no sudo on this host: run the stages as root"
		return r
	}
	sp, src, err := h.securePath()
	if err != nil {
		r.Status = Warn
		r.Detail = fmt.Sprintf("cannot read sudo's settings: %v", err)
		r.Fix = Command
		return r
	}
	if sp == "" {
		r.Status, r.Detail = OK, "sudo keeps your PATH (no secure_path is set)"
		return r
	}
	for _, dir := range filepath.SplitList(sp) {
		if fi, err := os.Stat(filepath.Join(h.Root, dir, "go")); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			r.Status = OK
			r.Detail = fmt.Sprintf("sudo finds %s through secure_path (%s)", filepath.Join(dir, "go"), src)
			return r
		}
	}
	// Not a warning: the README's form never runs go through sudo.
	r.Status = OK
	r.Detail = fmt.Sprintf("root has no go: sudo sets PATH to secure_path %s (%s), which holds none; "+
		"fine for go run -exec sudo, which runs go as you, but `sudo go run` says \"go: command not found\" "+
		"(the old form passes PATH along: sudo env \"PATH=$PATH\" go run", sp, src)
	if goErr == nil {
		r.Detail += fmt.Sprintf("; or link it once: sudo ln -s %s /usr/local/bin/go", goPath)
	}
	r.Detail += ")"
	return r
}

// securePath returns the last secure_path that sudoers and the files in
// sudoers.d set, and the file that set it.
func (h *Host) securePath() (path, file string, err error) {
	files := []string{h.etc("sudoers")}
	if entries, err := os.ReadDir(h.etc("sudoers.d")); err == nil {
		var names []string
		for _, e := range entries {
			// sudo skips names with a dot or ending in '~' (editor backups).
			if n := e.Name(); !strings.Contains(n, ".") && !strings.HasSuffix(n, "~") {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			files = append(files, h.etc("sudoers.d", n))
		}
	}
	for i, f := range files {
		data, rerr := os.ReadFile(f)
		if rerr != nil {
			if i == 0 && !os.IsNotExist(rerr) {
				return "", "", rerr
			}
			continue
		}
		if p, ok := parseSecurePath(string(data)); ok {
			path, file = p, "/etc/"+strings.TrimPrefix(f, h.Etc+"/")
		}
	}
	return path, file, nil
}

// parseSecurePath finds `Defaults secure_path="..."` in a sudoers file.
func parseSecurePath(data string) (string, bool) {
	val, found := "", false
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "Defaults" {
			continue // Defaults:user, Defaults>runas… apply to someone else
		}
		rest := strings.Join(f[1:], " ")
		for _, setting := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(setting), "=")
			if ok && strings.TrimSpace(k) == "secure_path" {
				val, found = strings.Trim(strings.TrimSpace(v), `"`), true
			}
		}
	}
	return val, found
}

// minKernel is the oldest kernel of the distributions the course supports
// (Ubuntu 20.04 LTS ships 5.4); older ones lack pieces the stages use, such
// as pidfd_open(2) and a complete cgroup v2.
var minKernel = [2]int{5, 4}

func checkKernel(h *Host) Result {
	r := Result{Name: "kernel"}
	rel, err := readTrim(h.proc("sys/kernel/osrelease"))
	if err != nil {
		r.Status, r.Detail = Warn, fmt.Sprintf("cannot read the kernel release: %v", err)
		return r
	}
	major, minor, ok := parseRelease(rel)
	switch {
	case !ok:
		r.Status, r.Detail = Warn, fmt.Sprintf("Linux %s: cannot tell the version", rel)
	case major < minKernel[0] || major == minKernel[0] && minor < minKernel[1]:
		r.Status = Warn
		r.Detail = fmt.Sprintf("Linux %s is older than %d.%d: stages may fail in ways these checks do not know", rel, minKernel[0], minKernel[1])
		r.Fix = "use a current distribution (Debian 12, Ubuntu 22.04 or later, Fedora)"
	default:
		r.Status, r.Detail = OK, "Linux "+rel
	}
	return r
}

// parseRelease reads "6.8.0-45-generic" as 6, 8.
func parseRelease(rel string) (major, minor int, ok bool) {
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	num := func(s string) (int, bool) {
		end := 0
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(s[:end])
		return n, err == nil
	}
	major, ok1 := num(parts[0])
	minor, ok2 := num(parts[1])
	return major, minor, ok1 && ok2
}

// checkWSL: WSL 1 translates Linux system calls without namespaces or
// cgroups; WSL 2 is a real kernel in a VM, with Windows drives on 9p.
func checkWSL(h *Host) Result {
	r := Result{Name: "wsl"}
	rel, _ := readTrim(h.proc("sys/kernel/osrelease"))
	lower := strings.ToLower(rel)
	wsl := strings.Contains(lower, "microsoft") || exists(h.proc("sys/fs/binfmt_misc/WSLInterop")) || h.Getenv("WSL_DISTRO_NAME") != ""
	switch {
	case !wsl:
		r.Status, r.Detail = OK, "not WSL"
	case strings.Contains(rel, "Microsoft") && !strings.Contains(lower, "wsl2"):
		r.Status = Fail
		r.Detail = fmt.Sprintf("WSL 1 (kernel %s) emulates Linux without namespaces or cgroups", rel)
		r.Fix = "convert the distribution to WSL 2, in PowerShell: wsl --set-version <distro> 2"
		r.NeededBy = from(Stages[0])
	default:
		r.Status = Warn
		r.Detail = fmt.Sprintf("WSL 2 (kernel %s): Windows drives such as /mnt/c are 9p, with no overlay, and cgroups need systemd", rel)
		r.Fix = "keep the repository and /var/lib/cfs on the Linux side (under ~, not /mnt/c), and turn systemd on: [boot] systemd=true in /etc/wsl.conf, then wsl --shutdown"
	}
	return r
}

// containerSigns lists what gives away that this "host" is a container.
func (h *Host) containerSigns() []string {
	return hint.Host{Root: h.Root, Proc: h.Proc, Run: h.Run}.ContainerSigns()
}

func checkContainer(h *Host) Result {
	r := Result{Name: "container"}
	why := h.containerSigns()
	if len(why) == 0 {
		r.Status, r.Detail = OK, "not inside a container"
		return r
	}
	r.Status = Warn
	r.Detail = "inside a container (" + strings.Join(why, "; ") + "): namespaces, mounts and cgroups need the privileges it was given"
	if m, ok := h.mountAt("/"); ok && m.FSType == "overlay" {
		r.Detail += ", and its overlay root cannot hold overlay upper dirs"
	}
	r.Fix = "use a VM if you can; with docker: docker run --privileged --cgroupns=host -v /var/lib/cfs …  (the volume gives /var/lib/cfs a real filesystem)"
	return r
}
