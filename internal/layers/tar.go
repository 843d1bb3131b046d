package layers

// Unpacking an image layer from a tar file (what `docker save` and
// registries ship, one tar per layer), without ever writing outside the
// layer: a tar is input from anywhere, and a path such as ../../etc/passwd
// or one through a symlink would otherwise land on the host.

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WhiteoutPrefix starts the name of a whiteout entry in a layer tar (OCI
// image spec, layer.md): ".wh.NAME" deletes NAME of a lower layer,
// ".wh..wh..opq" hides all a lower layer has in its directory.
const WhiteoutPrefix = ".wh."

// Whiteout writes the deletion that a whiteout entry named name records,
// in the directory parent of the layer being unpacked, in the form the
// filesystem that stacks the layers understands (overlayfs has its own).
type Whiteout func(parent, name string) error

// Untar unpacks the layer tar r into the empty directory dir, keeping
// owners, modes and times, and hands each whiteout entry to whiteout. It
// refuses entries that would land outside dir: absolute or ".." paths,
// paths through a symlink, and hard links to outside.
func Untar(r io.Reader, dir string, whiteout Whiteout) error {
	tr := tar.NewReader(r)
	type dirTime struct {
		path string
		t    time.Time
	}
	var dirTimes []dirTime
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer tar: %w", err)
		}
		rel, err := cleanEntryPath(hdr.Name)
		if err != nil {
			return err
		}
		if rel == "." {
			continue
		}
		target := filepath.Join(dir, rel)
		if err := noSymlinkParents(dir, rel); err != nil {
			return err
		}
		parent, base := filepath.Dir(target), filepath.Base(target)
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return err
		}
		if strings.HasPrefix(base, WhiteoutPrefix) {
			if err := whiteout(parent, base); err != nil {
				return fmt.Errorf("whiteout %s: %w", rel, err)
			}
			continue
		}

		// A later entry of the same name replaces an earlier one.
		if fi, err := os.Lstat(target); err == nil && !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}

		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			dirTimes = append(dirTimes, dirTime{target, hdr.ModTime})
		case tar.TypeReg:
			if err := writeRegular(target, tr, hdr); err != nil {
				return err
			}
		case tar.TypeSymlink:
			// The link's text may point anywhere: it is resolved inside the
			// container's root, never followed here.
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			old, err := cleanEntryPath(hdr.Linkname)
			if err != nil {
				return fmt.Errorf("hard link %s: %w", rel, err)
			}
			if err := noSymlinkParents(dir, old); err != nil {
				return fmt.Errorf("hard link %s: %w", rel, err)
			}
			if err := os.Link(filepath.Join(dir, old), target); err != nil {
				return fmt.Errorf("hard link %s to %s: %w", rel, old, err)
			}
			continue // a hard link shares the first name's owner and mode
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			mode, dev := NodeMode(hdr)
			if err := unix.Mknod(target, mode, dev); err != nil {
				return fmt.Errorf("mknod %s: %w", rel, err)
			}
		default:
			continue // e.g. PAX global headers
		}
		if err := os.Lchown(target, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown %s: %w", rel, err)
		}
		if hdr.Typeflag != tar.TypeSymlink {
			if err := os.Chmod(target, os.FileMode(hdr.Mode&0o777)|modeBits(hdr.Mode)); err != nil {
				return err
			}
		}
		ts := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
		_ = unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	// Directory times last: writing files into a directory changes its time.
	for i := len(dirTimes) - 1; i >= 0; i-- {
		_ = os.Chtimes(dirTimes[i].path, dirTimes[i].t, dirTimes[i].t)
	}
	return nil
}

// cleanEntryPath turns a tar entry name into a path relative to the layer,
// refusing absolute names and names that climb out with "..".
func cleanEntryPath(name string) (string, error) {
	if filepath.IsAbs(name) {
		return "", fmt.Errorf("tar entry %q: absolute path refused", name)
	}
	rel := filepath.Clean(name)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("tar entry %q: path outside the layer refused", name)
	}
	return rel, nil
}

// noSymlinkParents refuses rel if any directory on the way to it inside
// root is a symlink: writing through one could land anywhere on the host.
func noSymlinkParents(root, rel string) error {
	p := root
	for _, part := range strings.Split(filepath.Dir(rel), string(filepath.Separator)) {
		if part == "." || part == "" {
			continue
		}
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil // created as a real directory below
		}
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("tar entry %q: goes through the symlink %s, refused", rel, strings.TrimPrefix(p, root))
		}
	}
	return nil
}

func writeRegular(target string, r io.Reader, hdr *tar.Header) error {
	// O_EXCL|O_NOFOLLOW: never write through something already there.
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", hdr.Name, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", hdr.Name, err)
	}
	return f.Close()
}

// NodeMode is the mode and device number mknod(2) takes for a device or
// FIFO entry of a tar.
func NodeMode(hdr *tar.Header) (mode uint32, dev int) {
	mode = uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	return mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
}

func modeBits(m int64) os.FileMode {
	var b os.FileMode
	if m&0o4000 != 0 {
		b |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		b |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		b |= os.ModeSticky
	}
	return b
}
