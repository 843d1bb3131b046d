package image

// Unpacking a layer tar into a directory that overlayfs can use as a lower
// layer: stage 08's import (internal/layers' Untar) grown up. The whiteouts of the tar (OCI image
// spec, layer.md) become overlay's own marks:
//
//	DIR/.wh.NAME      →  DIR/NAME, a character device 0/0
//	DIR/.wh..wh..opq  →  DIR with trusted.overlay.opaque="y" (and user.overlay.opaque)
//
// A layer tar comes from anywhere, and cfs unpacks it as root, so no entry
// may write outside the layer. Stage 08 checks each path with lstat(2)
// before writing through it; here each entry's directory is opened without
// following any symlink (openat2(2) with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS,
// or one openat(O_NOFOLLOW) per part of the path on kernels older than
// 5.6), and the entry is written relative to that open directory
// (mknodat, symlinkat, linkat, fchownat…): what the kernel checked is what
// is written to, with no window between the check and the write.
// Refused: absolute names, names that climb out with "..", anything
// through a symlink, hard links to outside the layer, and xattrs that
// would forge overlay's own marks (trusted.overlay.*, user.overlay.*).
// Kept: owners, modes (set-user-ID too), times, device nodes, fifos,
// hard links, symlinks (their targets are text, resolved later inside the
// container's root) and other xattrs (file capabilities).

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"cfs/internal/layers"

	"golang.org/x/sys/unix"
)

// Whiteout names in a layer tar.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// OpaqueXattrs mark a directory of an overlay layer as opaque: trusted.*
// for an overlay mounted by host root, user.* for one mounted in a user
// namespace with the userxattr option.
var OpaqueXattrs = []string{"trusted.overlay.opaque", "user.overlay.opaque"}

// unpacker writes one layer.
type unpacker struct {
	root     string // the layer's directory (empty at first)
	rootFD   int
	rootless bool
	plain    *ExtractOptions // not a layer but files copied in: no whiteouts
	size     int64           // bytes of regular files
	buf      []byte
	dirs     []dirMeta // directory times, set last
	// the directory of the last entry, kept open: a tar lists a
	// directory's entries together
	lastDir   string
	lastDirFD int
}

type dirMeta struct {
	rel   string
	atime unix.Timespec
	mtime unix.Timespec
}

// unpack writes the layer tar r into the empty directory dir and returns
// the bytes of its regular files.
func unpack(r io.Reader, dir string, rootless bool) (int64, error) {
	u, err := newUnpacker(dir)
	if err != nil {
		return 0, err
	}
	defer u.close()
	u.rootless = rootless
	err = u.all(r)
	return u.size, err
}

func newUnpacker(dir string) (*unpacker, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return &unpacker{root: dir, rootFD: fd, buf: make([]byte, 1<<20), lastDirFD: -1}, nil
}

// all writes every entry of the tar r.
func (u *unpacker) all(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read the tar: %w", err)
		}
		if o := u.plain; o != nil && o.Rename != nil {
			hdr.Name = o.Rename(hdr.Name)
			if hdr.Typeflag == tar.TypeLink {
				hdr.Linkname = o.Rename(hdr.Linkname)
			}
		}
		if o := u.plain; o != nil && o.Owner != nil {
			hdr.Uid, hdr.Gid = o.Owner[0], o.Owner[1]
		}
		if err := u.entry(hdr, tr); err != nil {
			return explainIO(err)
		}
	}
	// Directory times last: writing into a directory changes its time.
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		_ = unix.UtimesNanoAt(u.rootFD, d.rel, []unix.Timespec{d.atime, d.mtime}, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

func (u *unpacker) close() {
	if u.lastDirFD >= 0 {
		unix.Close(u.lastDirFD)
	}
	unix.Close(u.rootFD)
}

// ExtractOptions say how Extract writes files that are not a layer.
type ExtractOptions struct {
	// Owner, when set, owns every file instead of the tar's owners.
	Owner *[2]int
	// Rename, when set, renames each entry (and each hard link's target).
	Rename func(name string) string
}

// Extract writes the tar r into the directory dir, which exists and may
// hold files: what `docker cp` copies in, with its rules. Names starting
// .wh. are plain files here; a directory is never replaced by a file or a
// file by a directory (docker's noOverwriteDirNonDir); other files of the
// same name are replaced. The safety of unpack holds: nothing is written
// outside dir or through a symlink.
func Extract(r io.Reader, dir string, opt ExtractOptions) error {
	u, err := newUnpacker(dir)
	if err != nil {
		return err
	}
	defer u.close()
	u.plain = &opt
	return u.all(r)
}

// cleanName turns a tar entry's name into a path relative to the layer,
// refusing absolute names and names that climb out with "..".
func cleanName(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("tar entry %q: absolute path refused", name)
	}
	rel := filepath.Clean(name)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("tar entry %q: path outside the layer refused", name)
	}
	return rel, nil
}

// entry writes one tar entry.
func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if rel == "." {
		// The layer's root itself: its owner and mode. Files copied in
		// leave the directory they go into as it is.
		if hdr.Typeflag == tar.TypeDir && u.plain == nil {
			return u.meta(u.rootFD, hdr)
		}
		return nil
	}
	parent, base := filepath.Dir(rel), filepath.Base(rel)
	dfd, err := u.dir(parent)
	if err != nil {
		return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
	}

	switch {
	case u.plain != nil:
	case base == whiteoutOpaque:
		return u.opaque(dfd, parent)
	case strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix):
		return nil // other aufs bookkeeping (.wh..wh.plnk): nothing for overlay
	case strings.HasPrefix(base, whiteoutPrefix):
		name := strings.TrimPrefix(base, whiteoutPrefix)
		if name == "" || name == "." || name == ".." {
			return fmt.Errorf("tar entry %q: a whiteout of nothing", hdr.Name)
		}
		if err := u.remove(dfd, filepath.Join(parent, name)); err != nil {
			return err
		}
		// A whiteout: a character device 0/0. Since Linux 5.8 anyone may
		// make this one device.
		if err := unix.Mknodat(dfd, name, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("whiteout %s (mknod c 0 0): %w", filepath.Join(parent, name), err)
		}
		return nil
	}

	// A later entry of the same name replaces an earlier one; a
	// directory stays a directory.
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if u.plain != nil && isDir != (hdr.Typeflag == tar.TypeDir) {
			if isDir {
				return fmt.Errorf("cannot overwrite directory %s with non-directory %s: remove it first, or copy to another name", rel, hdr.Name)
			}
			return fmt.Errorf("cannot overwrite non-directory %s with directory %s: remove it first, or copy to another name", rel, hdr.Name)
		}
		if !(isDir && hdr.Typeflag == tar.TypeDir) {
			if err := u.remove(dfd, rel); err != nil {
				return err
			}
		}
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(dfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir %s: %w", rel, err)
		}
		fd, err := unix.Openat(dfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", rel, err)
		}
		defer unix.Close(fd)
		u.dirs = append(u.dirs, dirMeta{rel: rel, atime: unix.NsecToTimespec(hdr.AccessTime.UnixNano()), mtime: unix.NsecToTimespec(hdr.ModTime.UnixNano())})
		if hdr.AccessTime.IsZero() {
			u.dirs[len(u.dirs)-1].atime = u.dirs[len(u.dirs)-1].mtime
		}
		return u.meta(fd, hdr)
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		// O_EXCL|O_NOFOLLOW: never write through something already there.
		fd, err := unix.Openat(dfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("create %s: %w", rel, err)
		}
		f := os.NewFile(uintptr(fd), filepath.Join(u.root, rel))
		defer f.Close()
		n, err := io.CopyBuffer(onlyWriter{f}, r, u.buf)
		if err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
		u.size += n
		if err := u.meta(fd, hdr); err != nil {
			return err
		}
		return u.times(dfd, base, hdr)
	case tar.TypeSymlink:
		// The target is text, resolved later inside the container's
		// root; it is never followed here.
		if err := unix.Symlinkat(hdr.Linkname, dfd, base); err != nil {
			return fmt.Errorf("symlink %s: %w", rel, err)
		}
		return u.metaAt(dfd, base, hdr)
	case tar.TypeLink:
		old, err := cleanName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link %s: %w", rel, err)
		}
		ofd, err := u.openDir(filepath.Dir(old), false)
		if err != nil {
			return fmt.Errorf("hard link %s to %s: %w", rel, old, err)
		}
		defer unix.Close(ofd)
		// flags 0: a symlink is linked itself, not followed.
		if err := unix.Linkat(ofd, filepath.Base(old), dfd, base, 0); err != nil {
			return fmt.Errorf("hard link %s to %s: %w", rel, old, err)
		}
		return nil // a hard link shares the first name's owner, mode and times
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode, dev := layers.NodeMode(hdr)
		if err := unix.Mknodat(dfd, base, mode, dev); err != nil {
			if u.rootless && errors.Is(err, unix.EPERM) {
				return nil // only root makes device nodes
			}
			return fmt.Errorf("mknod %s: %w", rel, err)
		}
		return u.metaAt(dfd, base, hdr)
	}
	return nil // PAX global headers and the like: nothing on disk
}

// onlyWriter hides *os.File's ReadFrom, so that CopyBuffer uses the
// buffer it is given.
type onlyWriter struct{ io.Writer }

// meta sets the owner, xattrs and mode of the open file or directory fd.
func (u *unpacker) meta(fd int, hdr *tar.Header) error {
	if !u.rootless {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown %s: %w", hdr.Name, err)
		}
	}
	if err := u.xattrs(fd, hdr); err != nil {
		return err
	}
	// After chown, which clears set-user-ID bits.
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return fmt.Errorf("chmod %s: %w", hdr.Name, err)
	}
	return nil
}

// times sets the access and modification times of name in dfd.
func (u *unpacker) times(dfd int, name string, hdr *tar.Header) error {
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if !hdr.AccessTime.IsZero() {
		ts[0] = unix.NsecToTimespec(hdr.AccessTime.UnixNano())
	}
	_ = unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
	return nil
}

// metaAt sets the owner, mode and times of name in dfd without following
// it (a symlink, a device node, a fifo).
func (u *unpacker) metaAt(dfd int, name string, hdr *tar.Header) error {
	if !u.rootless {
		if err := unix.Fchownat(dfd, name, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %s: %w", hdr.Name, err)
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// mknod's mode is cut by the umask.
		if err := unix.Fchmodat(dfd, name, uint32(hdr.Mode&0o7777), 0); err != nil {
			return fmt.Errorf("chmod %s: %w", hdr.Name, err)
		}
	}
	return u.times(dfd, name, hdr)
}

// xattrs sets the extended attributes a PAX header carries, except
// overlay's own marks, which a layer could use to make overlay follow a
// redirect or hide files: only whiteout entries may say what is deleted.
func (u *unpacker) xattrs(fd int, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		if strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		if err := unix.Fsetxattr(fd, name, []byte(v), 0); err != nil {
			if u.rootless || errors.Is(err, unix.ENOTSUP) {
				continue // trusted.* and security.* need root; some filesystems have no xattrs
			}
			return fmt.Errorf("set xattr %s on %s: %w", name, hdr.Name, err)
		}
	}
	return nil
}

// opaque marks the directory parent (open as dfd) opaque, in every xattr
// namespace that can hold the mark here.
func (u *unpacker) opaque(dfd int, parent string) error {
	var err error
	ok := false
	for _, name := range OpaqueXattrs {
		if e := unix.Fsetxattr(dfd, name, []byte("y"), 0); e == nil {
			ok = true
		} else {
			err = e
		}
	}
	if !ok {
		return fmt.Errorf("mark %s opaque (setfattr -n trusted.overlay.opaque -v y): %w", parent, err)
	}
	return nil
}

// remove removes rel, a name of this layer written by an earlier entry,
// and everything under it.
func (u *unpacker) remove(dfd int, rel string) error {
	base := filepath.Base(rel)
	err := unix.Unlinkat(dfd, base, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM) {
		if u.lastDir != "" && (u.lastDir == rel || strings.HasPrefix(u.lastDir, rel+"/")) {
			unix.Close(u.lastDirFD)
			u.lastDir, u.lastDirFD = "", -1
		}
		// The parents were opened without following symlinks, and only
		// this process writes in the layer: the path is the layer's.
		return os.RemoveAll(filepath.Join(u.root, rel))
	}
	return fmt.Errorf("remove %s: %w", rel, err)
}

// dir returns an open descriptor of the layer's directory rel, made if
// missing, never through a symlink. The last one stays open.
func (u *unpacker) dir(rel string) (int, error) {
	if rel == "." {
		return u.rootFD, nil
	}
	if rel == u.lastDir && u.lastDirFD >= 0 {
		return u.lastDirFD, nil
	}
	fd, err := u.openDir(rel, true)
	if err != nil {
		return -1, err
	}
	if u.lastDirFD >= 0 {
		unix.Close(u.lastDirFD)
	}
	u.lastDir, u.lastDirFD = rel, fd
	return fd, nil
}

// openDir opens the layer's directory rel, refusing a path through a
// symlink, and with create makes the directories that are missing.
func (u *unpacker) openDir(rel string, create bool) (int, error) {
	if rel == "." {
		return unix.Dup(u.rootFD)
	}
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(u.rootFD, rel, &how)
	switch {
	case err == nil:
		return fd, nil
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV), errors.Is(err, unix.ENOTDIR):
		return -1, u.symlinkError(rel)
	case errors.Is(err, unix.ENOENT) && create, errors.Is(err, unix.ENOSYS):
		return u.walk(rel, create)
	}
	return -1, fmt.Errorf("open %s: %w", rel, err)
}

// walk opens rel one part at a time with O_NOFOLLOW, making missing
// directories: the same guarantee as openat2's RESOLVE_NO_SYMLINKS.
func (u *unpacker) walk(rel string, create bool) (int, error) {
	fd, err := unix.Dup(u.rootFD)
	if err != nil {
		return -1, err
	}
	for _, part := range strings.Split(rel, "/") {
		next, err := unix.Openat(fd, part, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err := unix.Mkdirat(fd, part, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				unix.Close(fd)
				return -1, fmt.Errorf("mkdir %s: %w", rel, err)
			}
			next, err = unix.Openat(fd, part, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err == nil {
				_ = unix.Fchmod(next, 0o755) // not cut by the umask: a directory the tar does not list
			}
		}
		unix.Close(fd)
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return -1, u.symlinkError(rel)
		}
		if err != nil {
			return -1, fmt.Errorf("open %s: %w", rel, err)
		}
		fd = next
	}
	return fd, nil
}

// symlinkError names the symlink (or file) that rel would go through.
func (u *unpacker) symlinkError(rel string) error {
	p := ""
	for _, part := range strings.Split(rel, "/") {
		p = filepath.Join(p, part)
		var st unix.Stat_t
		if err := unix.Fstatat(u.rootFD, p, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			break
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			return fmt.Errorf("goes through the symlink %s: refused (a layer may not write outside itself)", p)
		case unix.S_IFDIR:
			continue
		default:
			return fmt.Errorf("%s is not a directory", p)
		}
	}
	return fmt.Errorf("goes through a symlink or out of the layer (%s): refused", rel)
}
