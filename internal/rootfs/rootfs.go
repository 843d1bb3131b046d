// Package rootfs builds the default root filesystem that the stages run in
// when no --rootfs is given. It is set-up, not a lesson: the stages only ask
// for a directory.
//
// The tree is built once, without any network, from what the host already
// has: busybox when it is installed (a static one preferred), otherwise the
// host's own binaries and the shared libraries they load. It is cached under
// /var/lib/cfs/rootfs; a stamp file lists what a complete build holds so
// that a broken cache is noticed and rebuilt.
package rootfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"cfs/internal/layout"

	"golang.org/x/sys/unix"
)

// DefaultDir is where the default root filesystem is cached.
const DefaultDir = layout.RootfsDir

// stampName is written last, so a tree without it is an interrupted build.
const stampName = ".cfs-rootfs.json"

// formatVersion changes whenever the layout changes, so old caches rebuild.
// 2: etc/resolv.conf, the mount point stage 05 binds each container's own
// name servers onto. 3: the stamp records each file's size.
const formatVersion = 3

// HostTools are copied from the host when busybox is not installed: what
// the chapters, their exercises, the worked answers and the tests run in
// containers (docs' TestContainerToolsAreInTheRootfs checks that none is
// missing from the list). All but OptionalTools come with every supported
// distribution's base system: Debian's and Ubuntu's required and important
// packages (coreutils, util-linux, procps, iproute2, mawk, findutils, grep,
// sed, hostname, iputils-ping, kmod), Fedora's core group. A tool the host
// lacks is left out of the tree.
var HostTools = []string{
	// Shells and coreutils.
	"sh", "bash", "ls", "cat", "echo", "true", "false", "test", "pwd", "whoami", "id", "env",
	"sleep", "mkdir", "rmdir", "rm", "touch", "ln", "cp", "mv", "chmod", "chown", "chgrp",
	"stat", "head", "tail", "wc", "cut", "tr", "sort", "uniq", "seq", "yes", "dd", "tee",
	"tty", "nproc", "uname", "readlink", "df", "du", "date", "basename", "dirname", "expr",
	"timeout", "nice", "od", "sha256sum", "md5sum", "mknod", "mktemp", "sync", "truncate",
	"chroot", "printf", "stty",
	// Text tools.
	"grep", "sed", "awk", "find", "xargs",
	// util-linux, hostname.
	"mount", "umount", "mountpoint", "findmnt", "nsenter", "unshare", "lsns", "ipcs",
	"ipcmk", "ipcrm", "hostname", "domainname",
	// procps.
	"ps", "kill", "pgrep", "pkill", "free", "top", "sysctl",
	// iproute2, iputils-ping.
	"ip", "ss", "bridge", "ping",
	// Not in every base system: see OptionalTools.
	"nc", "wget",
}

// OptionalTools are programs that some commands in the chapters and the
// worked answers run in containers although a distribution's base system
// may lack them, with what provides them. A container's root filesystem
// has them when the host does (busybox has them all); the docs' replay and
// the worked answers skip, saying why, what needs one that is missing.
var OptionalTools = map[string]string{
	"nc":    "netcat-openbsd, or busybox-static",
	"wget":  "wget, or busybox-static",
	"httpd": "busybox-static (busybox's httpd applet)",
}

// Source says what a tree was built from.
type Source struct {
	Kind string // "busybox" or "host"
	From string // the busybox binary, or "" for host tools
}

// The stamp lists what a build made, with sizes: stages 03 to 07 share
// the tree and may write into it, so a run that deleted or rewrote one of
// its files (rm /bin/ls, echo > /etc/passwd) leaves a tree that the next
// run rebuilds. What containers add (/root/note, /tmp/x) stays.
type stamp struct {
	Version int              `json:"version"`
	Source  string           `json:"source"`
	Files   []string         `json:"files"`
	Sizes   map[string]int64 `json:"sizes"`
}

// Ensure returns DefaultDir, building it first if it is missing or broken.
// A message on log says what is built and where; nothing is printed when the
// cache is good. Two runs racing here take turns on a lock file, and the
// tree appears by rename, so no run ever sees half a tree.
func Ensure(log io.Writer) (string, error) {
	return EnsureAt(DefaultDir, log)
}

// EnsureFor is Ensure for a caller who may not be root. An ordinary user
// can read root's cache in /var/lib/cfs but not build it, so without one
// there they get their own, built under their cache directory.
func EnsureFor(privileged bool, log io.Writer) (string, error) {
	if privileged || Valid(DefaultDir) == nil {
		return Ensure(log)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return EnsureAt(filepath.Join(cache, "cfs", "rootfs"), log)
}

// EnsureAt is Ensure for any cache directory.
func EnsureAt(dir string, log io.Writer) (string, error) {
	if Valid(dir) == nil {
		return dir, nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", parent, err)
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("open lock %s.lock: %w", dir, err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s.lock: %w", dir, err)
	}
	// Another run may have finished the build while we waited.
	if Valid(dir) == nil {
		return dir, nil
	}
	src, err := Detect()
	if err != nil {
		return "", err
	}
	what := "host binaries and their libraries"
	if src.Kind == "busybox" {
		what = src.From
	}
	if _, err := os.Stat(dir); err == nil {
		fmt.Fprintf(log, "cfs: the root filesystem in %s is incomplete or changed; rebuilding it from %s\n", dir, what)
	} else {
		fmt.Fprintf(log, "cfs: building the default root filesystem in %s from %s (first run only)\n", dir, what)
	}

	tmp, err := os.MkdirTemp(parent, ".rootfs-build-")
	if err != nil {
		return "", fmt.Errorf("create build dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := Build(tmp, src); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	old := tmp + ".old"
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("move broken %s aside: %w", dir, err)
	}
	defer os.RemoveAll(old)
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("install %s: %w", dir, err)
	}
	return dir, nil
}

// FromEnv, set to "host", makes Detect pick the host's binaries even where
// busybox is installed: the root filesystem a student without busybox
// gets (the docs' replay uses it, and so can an instructor who wants to
// see it; remove /var/lib/cfs/rootfs first, or use a fresh cache).
const FromEnv = "CFS_ROOTFS_FROM"

// Detect picks the source: busybox if the host has it (static first),
// else the host's binaries.
func Detect() (Source, error) {
	if os.Getenv(FromEnv) == "host" {
		return hostSource()
	}
	var dynamic string
	for _, p := range busyboxCandidates() {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			continue
		}
		deps, err := Deps(p)
		if err != nil {
			continue
		}
		if len(deps) == 0 {
			return Source{Kind: "busybox", From: p}, nil
		}
		if dynamic == "" {
			dynamic = p
		}
	}
	if dynamic != "" {
		return Source{Kind: "busybox", From: dynamic}, nil
	}
	return hostSource()
}

func hostSource() (Source, error) {
	if _, err := exec.LookPath("sh"); err != nil {
		return Source{}, errors.New("no busybox and no sh on this host to build a root filesystem from " +
			"(install busybox-static, or pass --rootfs DIR)")
	}
	return Source{Kind: "host"}, nil
}

func busyboxCandidates() []string {
	c := []string{"/bin/busybox", "/usr/bin/busybox", "/sbin/busybox", "/usr/sbin/busybox"}
	if p, err := exec.LookPath("busybox"); err == nil {
		c = append([]string{p}, c...)
	}
	return c
}

// Build writes a complete root filesystem from src into the empty dir.
func Build(dir string, src Source) error {
	b := builder{root: dir}
	b.skeleton()
	switch src.Kind {
	case "busybox":
		b.busybox(src.From)
	case "host":
		b.hostTools(HostTools)
	default:
		return fmt.Errorf("unknown rootfs source %q", src.Kind)
	}
	if b.err != nil {
		return fmt.Errorf("build root filesystem in %s: %w", dir, b.err)
	}
	sort.Strings(b.files)
	sizes := map[string]int64{}
	for _, f := range b.files {
		fi, err := os.Lstat(filepath.Join(dir, f))
		if err != nil {
			return fmt.Errorf("build root filesystem in %s: %w", dir, err)
		}
		sizes[f] = fi.Size()
	}
	data, err := json.MarshalIndent(stamp{Version: formatVersion, Source: src.Kind, Files: b.files, Sizes: sizes}, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, stampName), data, 0o644)
}

// Valid reports why dir is not a complete tree built by Build, or nil.
func Valid(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, stampName))
	if err != nil {
		return fmt.Errorf("no stamp: %w", err)
	}
	var s stamp
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("bad stamp: %w", err)
	}
	if s.Version != formatVersion {
		return fmt.Errorf("stamp version %d, want %d", s.Version, formatVersion)
	}
	for _, f := range s.Files {
		fi, err := os.Lstat(filepath.Join(dir, f))
		if err != nil {
			return fmt.Errorf("missing %s", f)
		}
		if want, ok := s.Sizes[f]; ok && fi.Size() != want {
			return fmt.Errorf("changed %s (%d bytes, built with %d)", f, fi.Size(), want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "bin/sh")); err != nil || fi.Mode()&0o111 == 0 {
		return errors.New("no executable /bin/sh")
	}
	// A tree of host binaries lacks what the host lacked when it was
	// built: a tool installed since (ping, nc) makes it out of date.
	if s.Source == "host" {
		for _, name := range HostTools {
			if _, err := os.Lstat(filepath.Join(dir, "bin", name)); err == nil {
				continue
			}
			if _, err := exec.LookPath(name); err == nil {
				return fmt.Errorf("the host has %s now, which the tree was built without", name)
			}
		}
	}
	return nil
}

type builder struct {
	root  string
	files []string // relative paths the stamp records
	err   error
}

func (b *builder) fail(err error) {
	if b.err == nil && err != nil {
		b.err = err
	}
}

// skeleton makes the directories a Linux program expects to find, and the
// few files in /etc that tools read (the user database, hosts).
func (b *builder) skeleton() {
	for _, d := range []string{"bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "var/tmp", "run", "mnt", "usr/lib", "lib"} {
		b.fail(os.MkdirAll(filepath.Join(b.root, d), 0o755))
	}
	b.fail(os.Chmod(filepath.Join(b.root, "tmp"), 0o777|os.ModeSticky))
	b.fail(os.Chmod(filepath.Join(b.root, "var/tmp"), 0o777|os.ModeSticky))
	b.fail(os.Chmod(filepath.Join(b.root, "root"), 0o700))
	// One directory for programs, as on a merged-/usr system.
	for _, l := range []struct{ name, target string }{
		{"sbin", "bin"}, {"usr/bin", "../bin"}, {"usr/sbin", "../bin"},
	} {
		b.fail(os.Symlink(l.target, filepath.Join(b.root, l.name)))
	}
	b.write("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
	b.write("etc/group", "root:x:0:\nnogroup:x:65534:\n")
	b.write("etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.write("etc/hostname", "cfs\n")
	// From stage 05 on, each container binds its own copy over this one.
	b.write("etc/resolv.conf", "# cfs: each container with a network of its own gets its own copy of this file\n")
	b.write("etc/os-release", "NAME=\"cfs default rootfs\"\nID=cfs\n")
}

func (b *builder) write(rel, content string) {
	b.fail(os.WriteFile(filepath.Join(b.root, rel), []byte(content), 0o644))
	b.files = append(b.files, rel)
}

// busybox installs one binary and a link per applet, as its installer does.
func (b *builder) busybox(path string) {
	b.copyWithDeps(path, "bin/busybox")
	out, err := exec.Command(path, "--list").Output()
	if err != nil {
		b.fail(fmt.Errorf("%s --list: %w", path, err))
		return
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		rel := filepath.Join("bin", applet)
		if err := os.Symlink("busybox", filepath.Join(b.root, rel)); err == nil {
			b.files = append(b.files, rel)
		}
	}
}

// hostTools copies each tool found on the host into /bin, with the
// libraries it loads at the same paths as on the host.
func (b *builder) hostTools(names []string) {
	for _, name := range names {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		b.copyWithDeps(p, filepath.Join("bin", name))
	}
	// glibc loads the user database code at run time (dlopen), so DT_NEEDED
	// does not name it; id and whoami need it to print "root".
	for _, d := range librarySearchDirs("/etc/ld.so.conf") {
		if p := filepath.Join(d, "libnss_files.so.2"); fileExists(p) {
			b.copyFile(p, strings.TrimPrefix(p, "/"))
			break
		}
	}
	if !fileExists(filepath.Join(b.root, "bin/sh")) {
		b.fail(errors.New("the host has no sh to copy"))
	}
}

// copyWithDeps copies the binary to rel inside the tree, plus its loader
// and libraries at their host paths.
func (b *builder) copyWithDeps(hostPath, rel string) {
	deps, err := Deps(hostPath)
	if err != nil {
		b.fail(err)
		return
	}
	b.copyFile(hostPath, rel)
	for _, d := range deps {
		b.copyFile(d, strings.TrimPrefix(d, "/"))
	}
}

// copyFile copies the content behind hostPath (following links) to rel.
func (b *builder) copyFile(hostPath, rel string) {
	dst := filepath.Join(b.root, rel)
	if fileExists(dst) {
		return
	}
	b.fail(CopyFile(hostPath, dst))
	b.files = append(b.files, rel)
}

// CopyFile copies a regular file's content and permission bits, making the
// destination's parent directories.
func CopyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if err := mkdirParents(dst); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// InstallBinary copies a host binary and everything it loads into root, so
// that it runs there as rel (tests use it to bring a helper program in).
func InstallBinary(root, hostPath, rel string) error {
	b := builder{root: root}
	b.copyWithDeps(hostPath, rel)
	return b.err
}

func mkdirParents(path string) error {
	return os.MkdirAll(filepath.Dir(path), 0o755)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// CopyTree copies directories, regular files and symlinks from src to dst,
// keeping permission bits. When shift is not nil, every copy is chowned to
// shift(uid, gid) of its original: a user namespace that maps container
// root to host uid 100000 then sees its files as owned by root. Other file
// types (devices, sockets, fifos) are skipped: a root filesystem gets its
// devices from the /dev a stage mounts. An image layer's overlay marks come
// along: whiteouts (character devices 0/0) and the opaque xattr of a
// directory. A directory the caller may not read (root's home, for an
// ordinary user) is copied empty.
func CopyTree(src, dst string, shift func(uid, gid int) (int, int)) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() && errors.Is(err, os.ErrPermission) && p != src {
				return filepath.SkipDir
			}
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			err = os.Chmod(target, info.Mode()&(os.ModePerm|os.ModeSticky|os.ModeSetuid|os.ModeSetgid))
		case d.Type()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			err = os.Symlink(link, target)
		case d.Type().IsRegular():
			err = CopyFile(p, target)
		case d.Type()&os.ModeCharDevice != 0 && info.Sys().(*syscall.Stat_t).Rdev == 0:
			err = unix.Mknod(target, unix.S_IFCHR, 0) // a whiteout
		default:
			return nil
		}
		if err == nil && d.IsDir() {
			err = copyOpaque(p, target)
		}
		if err != nil || shift == nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		uid, gid := shift(int(st.Uid), int(st.Gid))
		if err := os.Lchown(target, uid, gid); err != nil {
			return err
		}
		// chown clears set-user-ID bits; put them back.
		if d.Type().IsRegular() && info.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
			return os.Chmod(target, info.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
		}
		return nil
	})
}

// OpaqueXattrs mark a directory of an overlay layer as opaque: trusted.*
// when the overlay is mounted by host root, user.* when it is mounted in a
// user namespace with the userxattr option.
var OpaqueXattrs = []string{"trusted.overlay.opaque", "user.overlay.opaque"}

func copyOpaque(src, dst string) error {
	val := make([]byte, 8)
	for _, name := range OpaqueXattrs {
		n, err := unix.Lgetxattr(src, name, val)
		if err != nil {
			continue
		}
		if err := unix.Lsetxattr(dst, name, val[:n], 0); err != nil {
			return fmt.Errorf("copy %s of %s: %w", name, src, err)
		}
	}
	return nil
}
