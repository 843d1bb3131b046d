package doctor

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cfs/internal/hint"
	"cfs/internal/nftname"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// System is the host doctor runs on.
func System() *Host {
	h := filesOnly()
	h.FSType, h.TryOverlay, h.TryNamespace = hint.FSType, tryOverlay, tryNamespace
	h.Routes, h.Nftables, h.Exec = routes, nftChains, execOutput
	h.ModuleDir, h.UserEnv, h.Dial = moduleDir(), sudoUserEnv, dial
	return h
}

// moduleDir is the directory of the go.mod above the working directory.
func moduleDir() string {
	dir, err := os.Getwd()
	for err == nil {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

// sudoUserEnv returns the environment of the nearest ancestor process that
// runs as the user who ran sudo (SUDO_UID): under go run -exec sudo, the
// go command; under sudo env … go run, the user's shell.
func sudoUserEnv() map[string]string {
	uid := os.Getenv("SUDO_UID")
	env := map[string]string{}
	for pid := os.Getppid(); pid > 1; {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			break
		}
		next := 0
		owner := ""
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "PPid:"); ok {
				next, _ = strconv.Atoi(strings.TrimSpace(v))
			}
			if v, ok := strings.CutPrefix(line, "Uid:"); ok {
				if f := strings.Fields(v); len(f) > 0 {
					owner = f[0]
				}
			}
		}
		if owner == uid {
			data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			for _, kv := range strings.Split(string(data), "\x00") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					env[k] = v
				}
			}
			return env
		}
		pid = next
	}
	return env
}

func dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err == nil {
		c.Close()
	}
	return err
}

// tryOverlay mounts an overlay in a mount namespace of its own, made on a
// thread that exits afterwards: the mount is never seen on the host, and
// it goes away with the thread even if doctor is killed halfway. Only the
// directory it was made in can be left behind.
func tryOverlay(dir string) error {
	tmp, err := os.MkdirTemp(dir, ".cfs-doctor-overlay-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	d := func(name string) string { return filepath.Join(tmp, name) }
	for _, name := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(d(name), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(d("lower/file"), []byte("lower\n"), 0o644); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the runtime ends a locked thread with its
		// goroutine, and the mount namespace ends with the thread.
		runtime.LockOSThread()
		done <- overlayHere(d("lower"), d("upper"), d("work"), d("merged"))
	}()
	return <-done
}

func overlayHere(lower, upper, work, merged string) error {
	// Same as `unshare --mount`, for this thread only (man 2 unshare).
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return os.NewSyscallError("unshare(CLONE_NEWNS)", err)
	}
	// Keep the trial mount from propagating to the host through a shared /.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount -t overlay: %w", err)
	}
	defer unix.Unmount(merged, unix.MNT_DETACH)
	// Changing a lower file copies it up; a new file goes straight up.
	if err := os.WriteFile(filepath.Join(merged, "file"), []byte("changed\n"), 0o644); err != nil {
		return fmt.Errorf("copy up a lower file: %w", err)
	}
	if err := os.WriteFile(filepath.Join(merged, "new"), []byte("new\n"), 0o644); err != nil {
		return fmt.Errorf("write a new file: %w", err)
	}
	if _, err := os.Stat(filepath.Join(upper, "new")); err != nil {
		return fmt.Errorf("the upper dir did not get the write: %w", err)
	}
	return nil
}

var cloneFlags = map[string]uintptr{
	"uts": unix.CLONE_NEWUTS, "pid": unix.CLONE_NEWPID, "mnt": unix.CLONE_NEWNS,
	"ipc": unix.CLONE_NEWIPC, "net": unix.CLONE_NEWNET, "user": unix.CLONE_NEWUSER,
	"cgroup": unix.CLONE_NEWCGROUP,
}

// tryNamespace runs true(1) in a new namespace of kind, as
// `unshare --KIND true` does; the namespace ends when true does.
func tryNamespace(kind string) error {
	flag, ok := cloneFlags[kind]
	if !ok {
		return fmt.Errorf("unknown namespace %q", kind)
	}
	path, err := exec.LookPath("true")
	if err != nil {
		return err
	}
	cmd := exec.Command(path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flag}
	return cmd.Run()
}

// routes dumps the IPv4 routes of every table over rtnetlink, as
// `ip route show table all` does, leaving out the local and broadcast
// routes the kernel keeps for the host's own addresses.
func routes() ([]Route, error) {
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETROUTE, syscall.AF_INET)
	if err != nil {
		return nil, os.NewSyscallError("netlink RTM_GETROUTE", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, err
	}
	var out []Route
	for i := range msgs {
		m := &msgs[i]
		// struct rtmsg: family, dst_len, src_len, tos, table, protocol,
		// scope, type, flags (man 7 rtnetlink).
		if m.Header.Type != syscall.RTM_NEWROUTE || len(m.Data) < syscall.SizeofRtMsg {
			continue
		}
		if m.Data[7] != syscall.RTN_UNICAST {
			continue
		}
		rt := Route{Table: int(m.Data[4])}
		dst := netip.IPv4Unspecified()
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return nil, err
		}
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.RTA_DST:
				if addr, ok := netip.AddrFromSlice(a.Value); ok {
					dst = addr
				}
			case syscall.RTA_OIF:
				if len(a.Value) == 4 {
					idx := int(binary.NativeEndian.Uint32(a.Value))
					if ifc, err := net.InterfaceByIndex(idx); err == nil {
						rt.Dev = ifc.Name
					}
				}
			case unix.RTA_TABLE:
				if len(a.Value) == 4 {
					rt.Table = int(binary.NativeEndian.Uint32(a.Value))
				}
			}
		}
		rt.Dst = netip.PrefixFrom(dst, int(m.Data[1]))
		out = append(out, rt)
	}
	return out, nil
}

// nftHooks spells hooks as nft(8) does: the hook numbers of the ip, ip6, inet and bridge families
// (NF_INET_*, and NF_BR_* which number alike).
var nftHooks = map[nftables.ChainHook]string{
	*nftables.ChainHookPrerouting: "prerouting", *nftables.ChainHookInput: "input",
	*nftables.ChainHookForward: "forward", *nftables.ChainHookOutput: "output",
	*nftables.ChainHookPostrouting: "postrouting",
}

// nftChains lists every chain over netlink, as `nft list chains` does.
func nftChains() ([]Chain, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, err
	}
	list, err := c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("list nftables chains: %w", err)
	}
	var out []Chain
	for _, ch := range list {
		fam := nftname.Family(ch.Table.Family)
		out = append(out, Chain{Family: fam, Table: ch.Table.Name, Name: ch.Name})
		last := &out[len(out)-1]
		if ch.Hooknum != nil && fam != "arp" && fam != "netdev" {
			last.Hook = nftHooks[*ch.Hooknum]
		}
		if ch.Policy != nil {
			last.Policy = map[nftables.ChainPolicy]string{nftables.ChainPolicyDrop: "drop", nftables.ChainPolicyAccept: "accept"}[*ch.Policy]
		}
	}
	return out, nil
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return string(out), err
}
