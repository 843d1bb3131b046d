package runtime

// The last steps before the user's program: its limits, its user and
// groups, its capabilities, its seccomp filter, and execve. All of these
// belong to the calling thread (or are inherited through execve from it),
// which is why the init stays on its main thread (init_linux.go).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"cfs/internal/kernel"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// errNotFound marks a program that is not there: exit status 127, as a
// shell's.
var errNotFound = errors.New("executable file not found")

// setRlimits sets process.rlimits (man 2 setrlimit). syscall.Setrlimit,
// not x/sys/unix's: it also tells the Go runtime not to put back, at
// execve, the RLIMIT_NOFILE it raised for itself at start.
func setRlimits(rl []specs.POSIXRlimit) error {
	for _, r := range rl {
		lim := syscall.Rlimit{Cur: r.Soft, Max: r.Hard}
		err := step(fmt.Sprintf("setrlimit(%s, {%d, %d})", r.Type, r.Soft, r.Hard), fmt.Sprintf("prlimit --pid $$ --%s=%d:%d", strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_")), r.Soft, r.Hard),
			func() error { return syscall.Setrlimit(rlimits[r.Type], &lim) })
		if err != nil {
			return fmt.Errorf("process.rlimits %s soft %d hard %d: %w", r.Type, r.Soft, r.Hard, err)
		}
	}
	return nil
}

// lookPath finds the program as execvp(3) would, in the PATH of the
// container's environment (not this process's), inside the container.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
			return "", fmt.Errorf("exec %q: %w", file, err)
		}
		return file, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec %q: %w in $PATH (%s)", file, errNotFound, path)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: no such file", errNotFound)
	case err != nil:
		return err
	case fi.IsDir():
		return errors.New("permission denied: is a directory") // execve's EACCES, as runc reports it
	case fi.Mode()&0o111 == 0:
		return errors.New("permission denied: not executable")
	}
	return nil
}

// setUserAndCaps switches to process.user and to the capability sets the
// config gives, in the order that keeps what is needed until it is done
// with (runc's finalizeNamespace):
//
//  1. PR_SET_KEEPCAPS, so that leaving uid 0 does not empty the
//     permitted set;
//  2. drop from the bounding set what the config does not list (needs
//     CAP_SETPCAP, still held);
//  3. setgroups, setgid, setuid: the user (man 2 setresuid);
//  4. capset: effective, permitted and inheritable as listed;
//  5. raise the ambient ones, which survive execve for a user that is not
//     root (man 7 capabilities, "Ambient capability set").
func setUserAndCaps(p *specs.Process, userns bool) error {
	last := lastCap()
	var c specs.LinuxCapabilities
	if p.Capabilities != nil {
		c = *p.Capabilities
	}
	bounding, _ := capMask(c.Bounding, last)
	effective, _ := capMask(c.Effective, last)
	permitted, _ := capMask(c.Permitted, last)
	inheritable, _ := capMask(c.Inheritable, last)
	ambient, _ := capMask(c.Ambient, last)

	if err := step("prctl(PR_SET_KEEPCAPS, 1)", "", func() error { return unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0) }); err != nil {
		return os.NewSyscallError("prctl PR_SET_KEEPCAPS", err)
	}
	all := uint64(1)<<uint(last+1) - 1
	_ = itr.Step(fmt.Sprintf("prctl(PR_CAPBSET_DROP, …) for each capability not in the bounding set (%#x)", bounding),
		"capsh --drop="+capList(all&^bounding, last))
	for i := 0; i <= last; i++ {
		if bounding&(1<<uint(i)) == 0 {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(i), 0, 0, 0); err != nil {
				return fmt.Errorf("drop %s from the bounding set: %w", CapNames()[i], os.NewSyscallError("prctl PR_CAPBSET_DROP", err))
			}
		}
	}
	u := p.User
	groups := make([]int, len(u.AdditionalGids))
	for i, g := range u.AdditionalGids {
		groups[i] = int(g)
	}
	// In a user namespace whose setgroups is denied this fails; runc then
	// goes on without, as the kernel does not allow it anyway.
	shell := "setpriv --clear-groups"
	if len(groups) > 0 {
		shell = "setpriv --groups=" + joinInts(groups)
	}
	err := step(fmt.Sprintf("setgroups(%v)", groups), shell, func() error { return unix.Setgroups(groups) })
	if err != nil && !(userns && errors.Is(err, unix.EPERM) && len(groups) == 0) {
		return fmt.Errorf("process.user.additionalGids %v: %w", u.AdditionalGids, os.NewSyscallError("setgroups", err))
	}
	gid, uid := int(u.GID), int(u.UID)
	if err := step(fmt.Sprintf("setresgid(%d, %d, %d)", gid, gid, gid), fmt.Sprintf("setpriv --regid=%d", gid), func() error { return unix.Setresgid(gid, gid, gid) }); err != nil {
		return fmt.Errorf("process.user.gid %d: %w", u.GID, os.NewSyscallError("setresgid", err))
	}
	if err := step(fmt.Sprintf("setresuid(%d, %d, %d)", uid, uid, uid), fmt.Sprintf("setpriv --reuid=%d", uid), func() error { return unix.Setresuid(uid, uid, uid) }); err != nil {
		return fmt.Errorf("process.user.uid %d: %w", u.UID, os.NewSyscallError("setresuid", err))
	}
	if u.Umask != nil {
		unix.Umask(int(*u.Umask))
	} else {
		unix.Umask(0o022)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(effective), Permitted: uint32(permitted), Inheritable: uint32(inheritable)},
		{Effective: uint32(effective >> 32), Permitted: uint32(permitted >> 32), Inheritable: uint32(inheritable >> 32)},
	}
	call := fmt.Sprintf("capset(effective=%#x, permitted=%#x, inheritable=%#x)", effective, permitted, inheritable)
	err = step(call, "", func() error { return unix.Capset(&hdr, &data[0]) },
		"permitted: "+capList(permitted, last))
	if err != nil {
		return fmt.Errorf("process.capabilities: %w", os.NewSyscallError("capset", err))
	}
	if ambient != 0 {
		_ = itr.Step(fmt.Sprintf("prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, …) for each ambient capability (%#x)", ambient),
			"capsh --addamb="+capList(ambient, last))
	}
	for i := 0; i <= last; i++ {
		if ambient&(1<<uint(i)) != 0 {
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(i), 0, 0); err != nil {
				return fmt.Errorf("process.capabilities.ambient %s (it must be permitted and inheritable too): %w", CapNames()[i], err)
			}
		}
	}
	return unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)
}

// lastCap is the highest capability this kernel knows.
func lastCap() int {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return len(capNames) - 1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return len(capNames) - 1
	}
	return min(n, len(capNames)-1)
}

// loadSeccomp installs the filter on this thread (no TSYNC: the other
// threads of this Go program end at execve anyway).
func loadSeccomp(s *specs.LinuxSeccomp) error {
	f, err := seccompFilter(s)
	if err != nil {
		return err
	}
	err = step(fmt.Sprintf("seccomp(SECCOMP_SET_MODE_FILTER, %d instructions)", len(f.prog)), "", f.load)
	if err != nil {
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	return nil
}

// execve replaces this program with the user's (man 2 execve).
func execve(path string, args, env []string) error {
	err := kernel.Exec(itr, path, args, env)
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("exec %s: %w", path, errNotFound)
	}
	return fmt.Errorf("exec %s: %w", path, err)
}
