package main

// The user namespace's side of the parent: which host IDs the container's
// IDs stand for, and a root filesystem those IDs own.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cfs/internal/rootfs"
	"cfs/internal/trace"

	"github.com/vishvananda/netlink"
)

// An idMap is one line of /proc/PID/uid_map or gid_map: IDs ContainerID ..
// ContainerID+Size-1 in the container are host IDs HostID .. HostID+Size-1.
// An ID outside every line does not exist in the namespace: the kernel
// shows it as the overflow ID 65534 ("nobody") and refuses to set it.
type idMap = syscall.SysProcIDMap

// defaultRange is used when /etc/subuid names no range for the user, and
// is the range Debian and Ubuntu give the first user they create.
var defaultRange = idMap{ContainerID: 0, HostID: 100000, Size: 65536}

// subordinateRange returns the first range that file (/etc/subuid or
// /etc/subgid, "NAME:START:COUNT" per line) gives the user, as container
// IDs from 0.
func subordinateRange(file, name string, id int) idMap {
	f, err := os.Open(file)
	if err != nil {
		return defaultRange
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Split(strings.TrimSpace(s.Text()), ":")
		if len(fields) != 3 || (fields[0] != name && fields[0] != strconv.Itoa(id)) {
			continue
		}
		start, err1 := strconv.Atoi(fields[1])
		count, err2 := strconv.Atoi(fields[2])
		if err1 == nil && err2 == nil && count > 0 {
			return idMap{ContainerID: 0, HostID: start, Size: count}
		}
	}
	return defaultRange
}

// idMaps decides the container's uid and gid maps. Root maps the
// container's root to an unprivileged range of host IDs. An ordinary user
// may map only their own IDs, one each, without help from a setuid tool
// (newuidmap), so their container has exactly one user: root, which is
// them.
func idMaps(privileged bool) (uids, gids idMap) {
	if !privileged {
		return idMap{ContainerID: 0, HostID: os.Getuid(), Size: 1}, idMap{ContainerID: 0, HostID: os.Getgid(), Size: 1}
	}
	name := "root"
	if u, err := user.LookupId("0"); err == nil {
		name = u.Username
	}
	return subordinateRange("/etc/subuid", name, 0), subordinateRange("/etc/subgid", name, 0)
}

// containerRootfs makes this container's own copy of src, with every file's
// owner shifted into the mapped range, so that root in the container owns
// (and can change) its files. Many containers share src; the copy is
// theirs alone and goes when the container does. Stage 08 replaces the copy
// by an overlay, which costs nothing to make.
func containerRootfs(dir, src string, uids, gids idMap, unprivileged bool) (string, error) {
	dst := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	if err := writeOwner(dir); err != nil {
		return "", err
	}
	shift := func(uid, gid int) (int, int) {
		return shiftID(uid, uids), shiftID(gid, gids)
	}
	if unprivileged {
		shift = nil // an unprivileged copy is owned by the user: their root
	}
	if err := rootfs.CopyTree(src, dst, shift); err != nil {
		return "", fmt.Errorf("copy the root filesystem %s to %s: %w", src, dst, err)
	}
	return dst, nil
}

// shiftID maps a host file's owner into the range: root's files become the
// container root's; IDs beyond the range become the range's last ID.
func shiftID(id int, m idMap) int {
	if id >= m.Size {
		id = m.Size - 1
	}
	return m.HostID + id
}

// containersDir is where the per-container copies live: under
// /var/lib/cfs for root, under the user's cache for everyone else.
func containersDir(privileged bool) (string, error) {
	if privileged {
		return "/var/lib/cfs/containers", nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a cache directory for the container's files: %w", err)
	}
	return filepath.Join(cache, "cfs", "containers"), nil
}

// defaultRootfs returns the shared default root filesystem to copy from.
// An ordinary user can read root's cache in /var/lib/cfs but not build it,
// so without one there they build their own under their cache directory.
func defaultRootfs(unprivileged bool) (string, error) {
	if !unprivileged || rootfs.Valid(rootfs.DefaultDir) == nil {
		return rootfs.Ensure(os.Stderr)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return rootfs.EnsureAt(filepath.Join(cache, "cfs", "rootfs"), os.Stderr)
}

// sweepContainers removes copies whose stage died without cleaning up
// (SIGKILL): the stage that made each one is recorded in its "owner" file,
// with its start time, so a reused PID does not keep a copy alive.
func sweepContainers(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(filepath.Join(p, "owner"))
		var o owner
		if err != nil || json.Unmarshal(data, &o) != nil {
			// No owner yet: a stage is between making the directory and
			// writing the file, unless the directory is old.
			if fi, err := os.Stat(p); err != nil || time.Since(fi.ModTime()) < time.Minute {
				continue
			}
		} else if o.alive() {
			continue
		}
		_ = os.RemoveAll(p)
	}
}

func writeOwner(dir string) error {
	data, err := json.Marshal(self())
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "owner"), data, 0o644)
}

// loopbackUp sets lo up in the caller's network namespace.
func loopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// mapSteps describes, for --trace, what os/exec does for the maps between
// clone(2) and the child's execve, while the child waits.
func mapSteps(uids, gids syscall.SysProcIDMap, unprivileged bool) []string {
	write := func(file, value string) string {
		return fmt.Sprintf("write(/proc/CHILD/%s, %q)  ≈ echo %s > /proc/CHILD/%s", file, value, value, file)
	}
	setgroups, creds := "allow", "setgroups([]), setgid(0), setuid(0)"
	if unprivileged {
		setgroups, creds = "deny", "setgid(0), setuid(0)"
	}
	return []string{
		write("uid_map", fmt.Sprintf("%d %d %d", uids.ContainerID, uids.HostID, uids.Size)),
		write("setgroups", setgroups),
		write("gid_map", fmt.Sprintf("%d %d %d", gids.ContainerID, gids.HostID, gids.Size)),
		"then, in the child: " + creds + ", " + trace.Exec("/proc/self/exe", []string{initArg0}),
	}
}
