// Package idmap decides which host user and group IDs a container's IDs
// stand for in a user namespace: the lines of /proc/PID/uid_map and
// gid_map. Root maps the container's root to a range of unprivileged host
// IDs, root's subordinate range in /etc/subuid and /etc/subgid; an
// ordinary user may map only their own IDs, one each, without a setuid
// helper (newuidmap), so their container has one user: root, which is
// them.
package idmap

import (
	"bufio"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// Map is one line of uid_map or gid_map: IDs ContainerID ..
// ContainerID+Size-1 in the container are host IDs HostID ..
// HostID+Size-1. An ID outside every line does not exist in the
// namespace: the kernel shows it as the overflow ID 65534 ("nobody") and
// refuses to set it.
type Map = syscall.SysProcIDMap

// Default is used when /etc/subuid names no range for root; it is the
// range Debian and Ubuntu give the first user they create.
var Default = Map{ContainerID: 0, HostID: 100000, Size: 65536}

// For returns the container's uid and gid maps: root's subordinate
// ranges when privileged, else the caller's own IDs, one each.
func For(privileged bool) (uids, gids Map) {
	if !privileged {
		return Map{HostID: os.Getuid(), Size: 1}, Map{HostID: os.Getgid(), Size: 1}
	}
	name := "root"
	if u, err := user.LookupId("0"); err == nil {
		name = u.Username
	}
	return Subordinate("/etc/subuid", name, 0), Subordinate("/etc/subgid", name, 0)
}

// Subordinate returns the first range that file (/etc/subuid or
// /etc/subgid, "NAME:START:COUNT" per line) gives the user, as container
// IDs from 0, or Default.
func Subordinate(file, name string, id int) Map {
	f, err := os.Open(file)
	if err != nil {
		return Default
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
			return Map{ContainerID: 0, HostID: start, Size: count}
		}
	}
	return Default
}

// Shift maps a host file's owner into the range, as a copy for the
// container must own it: root's files become the container root's; IDs
// beyond the range become the range's last ID.
func Shift(id int, m Map) int {
	if id >= m.Size {
		id = m.Size - 1
	}
	return m.HostID + id
}

// Shifter returns what rootfs.CopyTree takes to shift owners into uids
// and gids.
func Shifter(uids, gids Map) func(uid, gid int) (int, int) {
	return func(uid, gid int) (int, int) { return Shift(uid, uids), Shift(gid, gids) }
}
