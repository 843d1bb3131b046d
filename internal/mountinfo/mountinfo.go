// Package mountinfo reads /proc/PID/mountinfo (man 5 proc_pid_mountinfo),
// the kernel's list of a mount namespace's mounts, for the tools, the
// tests and the engine. One line of it:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS
package mountinfo

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Mount is one line of mountinfo.
type Mount struct {
	ID, Parent int
	MajorMinor string
	Root       string // the mounted directory within its filesystem
	Point      string
	Options    string // per-mount options: "rw,nosuid"
	Optional   []string
	FSType     string
	Source     string
	SuperOpts  string // the filesystem's options: "rw,cpu,cpuacct"
}

// Shared reports whether the mount propagates events to a peer group:
// "shared:N" among its optional fields (systemd makes / shared).
func (m Mount) Shared() bool {
	for _, o := range m.Optional {
		if strings.HasPrefix(o, "shared:") {
			return true
		}
	}
	return false
}

// Parse reads the text of a mountinfo file; lines it cannot read are left
// out.
func Parse(data string) []Mount {
	var out []Mount
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		sep := -1
		for i, fld := range f {
			if fld == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || len(f) < sep+4 {
			continue
		}
		id, _ := strconv.Atoi(f[0])
		parent, _ := strconv.Atoi(f[1])
		out = append(out, Mount{
			ID: id, Parent: parent, MajorMinor: f[2], Root: unescape(f[3]), Point: unescape(f[4]),
			Options: f[5], Optional: f[6:sep],
			FSType: f[sep+1], Source: unescape(f[sep+2]), SuperOpts: f[sep+3],
		})
	}
	return out
}

// Read reads the mountinfo file at path ("/proc/self/mountinfo").
func Read(path string) ([]Mount, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(string(data)), nil
}

// OfPID reads the mounts of process pid's mount namespace.
func OfPID(pid int) ([]Mount, error) { return Read(fmt.Sprintf("/proc/%d/mountinfo", pid)) }

// At returns the topmost mount at point, the one a path lookup sees.
func At(ms []Mount, point string) (Mount, bool) {
	var found Mount
	ok := false
	for _, m := range ms {
		if m.Point == point {
			found, ok = m, true
		}
	}
	return found, ok
}

// unescape undoes the kernel's octal escapes of space, tab, newline and
// backslash ("\040" for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
