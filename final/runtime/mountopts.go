package runtime

// Mount options as a config's mounts[].options spell them, the words of
// mount(8)'s -o, split into what mount(2) takes: flags, propagation flags
// (a second call), and the filesystem's own data string.

import (
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// mountOpts is one mount's options, parsed.
type mountOpts struct {
	Flags       uintptr // MS_RDONLY, MS_NOSUID…
	Propagation uintptr // MS_PRIVATE, MS_SLAVE…, with MS_REC for the r- forms
	Data        string  // "mode=755,size=65536k"
	Bind, Rec   bool
}

var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"dirsync": {false, unix.MS_DIRSYNC}, "remount": {false, unix.MS_REMOUNT},
	"mand": {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK},
	"noatime": {false, unix.MS_NOATIME}, "atime": {true, unix.MS_NOATIME},
	"nodiratime": {false, unix.MS_NODIRATIME}, "diratime": {true, unix.MS_NODIRATIME},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"silent": {false, unix.MS_SILENT}, "loud": {true, unix.MS_SILENT},
	"defaults": {false, 0},
}

var propagationFlags = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parseMountOptions splits options; typ "bind" makes a bind mount as the
// "bind" option does.
func parseMountOptions(typ string, options []string) mountOpts {
	var o mountOpts
	var data []string
	o.Bind = typ == "bind"
	for _, opt := range options {
		switch {
		case opt == "bind":
			o.Bind = true
		case opt == "rbind":
			o.Bind, o.Rec = true, true
		case propagationFlags[opt] != 0:
			o.Propagation |= propagationFlags[opt]
		case strings.HasPrefix(opt, "tmpcopyup"), opt == "idmap", opt == "ridmap":
			// Options of other runtimes; validate refuses them.
		default:
			if f, ok := mountFlags[opt]; ok {
				if f.clear {
					o.Flags &^= f.flag
				} else {
					o.Flags |= f.flag
				}
				continue
			}
			data = append(data, opt)
		}
	}
	o.Data = strings.Join(data, ",")
	return o
}

// rootPropagation is rootfsPropagation as a flag; runc's default makes
// the container's mounts slaves of the host's: the host's new mounts
// appear inside, never the other way.
func rootPropagation(p string) (uintptr, bool) {
	if p == "" {
		return unix.MS_SLAVE | unix.MS_REC, true
	}
	f, ok := propagationFlags[p]
	return f | unix.MS_REC, ok
}

// MountOptionNames lists the options this runtime knows, for `features`.
func MountOptionNames() []string {
	var out []string
	for k := range mountFlags {
		out = append(out, k)
	}
	for k := range propagationFlags {
		out = append(out, k)
	}
	out = append(out, "bind", "rbind")
	sort.Strings(out)
	return out
}
