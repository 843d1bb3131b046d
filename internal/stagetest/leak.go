package stagetest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"cfs/internal/layout"
	"cfs/internal/mountinfo"
	"cfs/internal/nftname"

	"github.com/google/nftables"
)

// State is one look at everything on the host that the project could leave
// behind: mounts, network links, named network namespaces, cgroups, nft
// tables, files under the state directories, and container processes.
type State map[string]bool

// Snapshot looks at the host now.
func Snapshot() State {
	s := State{}
	// Mounts, by mount point and type (IDs change, places do not).
	if ms, err := mountinfo.Read("/proc/self/mountinfo"); err == nil {
		for _, m := range ms {
			s["mount "+m.Point+" ("+m.FSType+")"] = true
		}
	}
	add := func(kind, pattern string) {
		m, _ := filepath.Glob(pattern)
		for _, p := range m {
			s[kind+" "+p] = true
		}
	}
	add("link", "/sys/class/net/*")
	add("netns", "/run/netns/*")
	add("cgroup", "/sys/fs/cgroup/cfs*")
	add("cgroup", "/sys/fs/cgroup/*/cfs*")
	add("cgroup", "/sys/fs/cgroup/*/*/cfs*")
	for _, dir := range []string{layout.StateDir, layout.RunDir} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == dir {
				return nil
			}
			// The default rootfs is a cache meant to stay; lock files are
			// reused by every run.
			// Caches meant to stay: the default rootfs, image layers.
			if slices.Contains(layout.Caches, p) {
				return fs.SkipDir
			}
			// Lock files are reused by every run, and directories such as
			// /var/lib/cfs/containers stay as the places state goes; what
			// a run leaves behind is files.
			if strings.HasSuffix(p, ".lock") || d.IsDir() {
				return nil
			}
			// The engine's events stay, as a daemon's do, until reboot.
			if strings.HasPrefix(p, filepath.Join(layout.EngineRunDir, layout.EventsFile)) {
				return nil
			}
			s["state "+p] = true
			return nil
		})
	}
	// System V IPC objects in the host's namespace, by table and key.
	for _, table := range []string{"shm", "msg", "sem"} {
		data, _ := os.ReadFile("/proc/sysvipc/" + table)
		for i, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); i > 0 && len(f) > 1 {
				s["sysvipc "+table+" key "+f[0]] = true
			}
		}
	}
	// nft tables, read over netlink as `nft list tables` does, so the
	// check works where the nft binary is not installed.
	if c, err := nftables.New(); err == nil {
		if tables, err := c.ListTables(); err == nil {
			for _, t := range tables {
				s["nft table "+nftname.Family(t.Family)+" "+t.Name] = true
			}
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		arg0, _, _ := strings.Cut(string(data), "\x00")
		if arg0 == layout.InitName || arg0 == layout.MonitorName {
			s[fmt.Sprintf("process %s (%s)", filepath.Base(filepath.Dir(p)), arg0)] = true
		}
	}
	return s
}

const rootfsDir = layout.RootfsDir

// NewSince lists what is in s and was not in before, sorted.
func (s State) NewSince(before State) []string {
	var out []string
	for k := range s {
		if !before[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
