package image

// A directory's changes as a layer tar: what `commit` makes of a
// container's writable layer, the reverse of unpack. An overlay upper
// directory holds exactly what changed over the layers below it, in
// overlay's own marks, which become the tar's whiteouts:
//
//	NAME, a character device 0/0          →  .wh.NAME (NAME was deleted)
//	DIR with overlay.opaque="y"            →  DIR/ and DIR/.wh..wh..opq (DIR was replaced)
//	files, directories, links, devices     →  themselves, with owner, mode, times, xattrs
//
// A plain directory (a root filesystem) has no such marks: its tar is the
// whole tree, which is how `import` and the base image are made.

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// writeDiff writes dir as a layer tar to w, converting overlay's marks to
// whiteouts; skip, when not nil, leaves out the entries it names (relative
// paths). Entries come in lexical order with times in whole seconds, so
// the same tree gives the same tar, and the same digest.
func writeDiff(w io.Writer, dir string, skip func(rel string) bool) error {
	return writeTree(w, dir, "", skip)
}

// writeTree is writeDiff with the entries' names under name: path itself
// is the entry name, what is in it name/…; with name "" path itself is
// left out and the entries are relative to it.
func writeTree(w io.Writer, dir, name string, skip func(rel string) bool) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{} // (dev, inode) → first name, for hard links
	buf := make([]byte, 1<<20)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || (rel == "." && name == "") {
			return err
		}
		if skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		rel = filepath.Join(name, rel)
		mtime := time.Unix(st.Mtim.Sec, 0)
		hdr := &tar.Header{Name: rel, Uid: int(st.Uid), Gid: int(st.Gid), Mode: int64(st.Mode & 0o7777), ModTime: mtime, Format: tar.FormatPAX}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			if st.Rdev == 0 {
				// overlay's whiteout: NAME was deleted.
				wh := &tar.Header{Name: filepath.Join(filepath.Dir(rel), whiteoutPrefix+filepath.Base(rel)), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: mtime, Format: tar.FormatPAX}
				return tw.WriteHeader(wh)
			}
			hdr.Typeflag = tar.TypeChar
			hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case unix.S_IFBLK:
			hdr.Typeflag = tar.TypeBlock
			hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case unix.S_IFIFO:
			hdr.Typeflag = tar.TypeFifo
		case unix.S_IFSOCK:
			return nil // a socket cannot be in a tar; the program that made it makes it again
		case unix.S_IFLNK:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		case unix.S_IFDIR:
			hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
		case unix.S_IFREG:
			if st.Nlink > 1 {
				key := [2]uint64{st.Dev, st.Ino}
				if first, ok := links[key]; ok {
					hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
					return tw.WriteHeader(hdr)
				}
				links[key] = rel
			}
			hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		default:
			return nil
		}
		opaque, err := readXattrs(path, hdr)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if opaque {
			// Right after the directory, before what is in it: an
			// unpacker that applies layers onto one tree must clear
			// the old entries before it writes the new ones.
			if err := tw.WriteHeader(&tar.Header{Name: filepath.Join(rel, whiteoutOpaque), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
				return err
			}
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			n, err := io.CopyBuffer(tw, onlyReader{f}, buf)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			if n != hdr.Size {
				return fmt.Errorf("%s changed while it was read (%d bytes, then %d): stop what writes it and try again", rel, hdr.Size, n)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	return tw.Close()
}

type onlyReader struct{ io.Reader }

// readXattrs puts path's extended attributes in hdr, except overlay's own
// marks, and reports whether it is an opaque directory. It refuses the
// marks of overlay features that keep data outside the upper directory.
func readXattrs(path string, hdr *tar.Header) (opaque bool, err error) {
	names, err := listXattrs(path)
	if err != nil {
		return false, err
	}
	for _, name := range names {
		val, err := getXattr(path, name)
		if err != nil {
			continue
		}
		if overlayMark, ok := strings.CutPrefix(strings.TrimPrefix(name, "trusted."), "overlay."); ok || strings.HasPrefix(name, "user.overlay.") {
			if !ok {
				overlayMark = strings.TrimPrefix(name, "user.overlay.")
			}
			switch overlayMark {
			case "opaque":
				opaque = opaque || string(val) == "y"
			case "redirect", "metacopy":
				return false, fmt.Errorf("%s carries overlay's %s mark: its data lives in a lower layer (mount the overlay without redirect_dir and metacopy)", hdr.Name, overlayMark)
			}
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+name] = string(val)
	}
	return opaque, nil
}

func listXattrs(path string) ([]string, error) {
	size, err := unix.Llistxattr(path, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		return nil, err
	}
	if size == 0 {
		return nil, nil
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(path, buf)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range strings.Split(string(buf[:size]), "\x00") {
		if n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

func getXattr(path, name string) ([]byte, error) {
	size, err := unix.Lgetxattr(path, name, nil)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	size, err = unix.Lgetxattr(path, name, buf)
	return buf[:size], err
}

// TarTree writes the tree in dir as a plain tar to w: `docker export` of a
// container's root, seen whole through a read-only overlay.
func TarTree(w io.Writer, dir string) error { return writeDiff(w, dir, nil) }

// TarPath writes path (a file, a directory and what is in it, a symlink
// itself) as a plain tar to w, named name: what `docker cp` copies out.
func TarPath(w io.Writer, path, name string) error { return writeTree(w, path, name, nil) }
