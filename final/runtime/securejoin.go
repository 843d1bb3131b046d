package runtime

// Resolving a path inside the container's root. A mount destination such
// as /etc/resolv.conf is a path *in the container*, but the runtime mounts
// before pivot_root, from the host: if the image makes /etc/resolv.conf a
// symbolic link to /etc/shadow, or to ../../../../etc, following it from
// the host would mount over a host file (CVE-2015-3629, and runc's
// CVE-2021-30465). So every component is looked at in turn, a symbolic link
// is read and followed *as the container would see it*, with root as "/",
// and ".." never climbs above root. The same as
// github.com/cyphar/filepath-securejoin, written out.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxSymlinks is the kernel's limit on links followed in one lookup
// (MAXSYMLINKS in include/linux/namei.h); past it, ELOOP.
const maxSymlinks = 40

// secureJoin returns the host path of unsafe (a path inside the
// container) under root, with every symbolic link resolved inside root.
// Components that do not exist yet are kept as written; the caller creates
// them.
func secureJoin(root, unsafe string) (string, error) {
	resolved := "/" // inside root
	remaining := unsafe
	links := 0
	for remaining != "" {
		var part string
		part, remaining, _ = strings.Cut(remaining, "/")
		switch part {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved) // path.Dir("/") is "/": root is the top
			continue
		}
		next := path.Join(resolved, part)
		fi, err := os.Lstat(filepath.Join(root, next))
		if errors.Is(err, fs.ErrNotExist) {
			resolved = next
			continue
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("resolve %s in %s: too many levels of symbolic links", unsafe, root)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			resolved = "/"
		}
		remaining = target + "/" + remaining
	}
	return filepath.Join(root, resolved), nil
}

// SecureJoin resolves path inside root, following symbolic links as if
// root were "/": the engine uses it for what it makes in a container's
// root before the init runs (the working directory).
func SecureJoin(root, path string) (string, error) { return secureJoin(root, path) }
