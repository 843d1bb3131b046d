package image

// What `diff` lists: a container's writable layer read path by path
// against the image below it, as docker reads it. Stage 08's lesson seen
// from above: the upper directory holds exactly what the container
// changed, in overlay's own marks.
//
//	NAME, a character device 0/0        →  D NAME (deleted)
//	DIR with overlay.opaque="y"          →  D DIR (the image's DIR was replaced; what is in it is added)
//	anything else, also in the image     →  C NAME (changed: copied up, then written)
//	anything else, not in the image      →  A NAME (added)

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ChangeKind is a change's letter in `docker diff`; its value is the
// Engine API's Kind (0 changed, 1 added, 2 deleted).
type ChangeKind uint8

// The three kinds, in the Engine API's numbering.
const (
	Changed ChangeKind = iota
	Added
	Deleted
)

func (k ChangeKind) String() string { return string("CAD"[k]) }

// Change is one line of `docker diff`: "C /etc".
type Change struct {
	Kind ChangeKind
	Path string // as the container sees it: /etc/motd
}

// Changes lists what upper changes over the image tree open as below, in
// the order and by the rules of docker's overlay driver: a directory that
// overlay only copied up to hold a change, with the image's mode, size and
// time, is left out, and the directory of an added or deleted path is
// listed before it once.
func Changes(upper string, below *os.File) ([]Change, error) {
	var changes []Change
	listed := map[string]bool{} // directories listed already
	fresh := map[string]bool{}  // directories with no image directory below: what is in them is added
	err := filepath.WalkDir(upper, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(upper, path)
		if err != nil || rel == "." {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		c := Change{Kind: Added, Path: "/" + rel}
		dir, parent := st.Mode&unix.S_IFMT == unix.S_IFDIR, filepath.Dir(c.Path)
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0:
			c.Kind = Deleted
		case dir && isOpaque(path):
			c.Kind, fresh[c.Path] = Deleted, true
		case fresh[parent]:
			fresh[c.Path] = dir
		default:
			// Every directory on the way was a directory in the image
			// too (or this one is fresh), so the lookup in below never
			// follows a link.
			var old unix.Stat_t
			err := unix.Fstatat(int(below.Fd()), rel, &old, unix.AT_SYMLINK_NOFOLLOW)
			if errors.Is(err, unix.ENOENT) {
				fresh[c.Path] = dir
				break
			}
			if err != nil {
				return fmt.Errorf("the image's %s: %w", c.Path, err)
			}
			oldDir := old.Mode&unix.S_IFMT == unix.S_IFDIR
			if dir && oldDir && st.Mode == old.Mode && st.Size == old.Size && sameTime(st.Mtim, old.Mtim) {
				return nil // only copied up to hold what changed in it
			}
			c.Kind, fresh[c.Path] = Changed, dir && !oldDir
		}
		if dir {
			listed[c.Path] = true
		}
		if c.Kind != Changed && parent != "/" && !listed[parent] {
			changes = append(changes, Change{Kind: Changed, Path: parent})
			listed[parent] = true
		}
		changes = append(changes, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", upper, err)
	}
	return changes, nil
}

// isOpaque reports overlay's mark of a directory that hides the one below.
func isOpaque(path string) bool {
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if v, err := getXattr(path, name); err == nil && string(v) == "y" {
			return true
		}
	}
	return false
}

// sameTime is docker's comparison: tar keeps whole seconds, so a time
// with no nanoseconds matches any in the same second.
func sameTime(a, b unix.Timespec) bool {
	return a.Sec == b.Sec && (a.Nsec == b.Nsec || a.Nsec == 0 || b.Nsec == 0)
}
