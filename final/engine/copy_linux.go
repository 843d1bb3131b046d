package engine

// docker cp: files copied out of a container and into it, running or
// stopped. Every path named is the container's, resolved as the container
// would resolve it: the copy runs in a thread of its own chrooted into the
// container's root (as `nsenter --root` does), so a symlink in the
// container, even one to "/etc" or "../../..", stays inside it and the
// host's files are out of reach.
//
//	running   the init's root, /proc/PID/root: the mounts the container
//	          sees (stage 03), its volumes and tmpfs too
//	stopped   its layers and writable layer mounted by overlay (stage 08),
//	          its volumes bound in, in a throw-away mount namespace, under
//	          the container's lock, so that a start waits for the copy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"cfs/final/image"
	"cfs/final/runtime"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"
)

// PathStat is what is at a path in a container: docker's
// X-Docker-Container-Path-Stat.
type PathStat = container.PathStat

// PathNotFoundError is dockerd's 404 for a path in a container.
type PathNotFoundError struct{ Path, Container string }

func (e *PathNotFoundError) Error() string {
	return fmt.Sprintf("Could not find the file %s in container %s", e.Path, e.Container)
}
func (e *PathNotFoundError) Is(target error) bool { return target == ErrNotFound }

// StatPath says what is at path in the container: a last symlink is
// itself, its LinkTarget where it leads inside the container.
func (e *Engine) StatPath(arg, path string) (st PathStat, err error) {
	err = e.inRoot(arg, false, func() error {
		st, err = statPath(arg, path)
		return err
	})
	return st, err
}

// CopyFrom writes path as a tar to w, its entries named after path's last
// part ("." for DIR/., which is what is in DIR), after telling stat what
// path is.
func (e *Engine) CopyFrom(arg, path string, w io.Writer, stat func(PathStat)) error {
	return e.inRoot(arg, false, func() error {
		st, err := statPath(arg, path)
		if err != nil {
			return err
		}
		if stat != nil {
			stat(st)
		}
		name := st.Name
		if name == "/" {
			name = "." // the root: what is in it
		}
		return image.TarPath(w, containerPath(path), name)
	})
}

// CopyTo writes the tar r into dir, a directory of the container. The
// files belong to the container's root unless keepOwners (cp -a).
func (e *Engine) CopyTo(arg, dir string, r io.Reader, keepOwners bool) error {
	return e.inRoot(arg, true, func() error {
		abs := containerPath(dir)
		fi, err := os.Stat(abs)
		if errors.Is(err, fs.ErrNotExist) {
			return &PathNotFoundError{Path: dir, Container: arg}
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return &ConflictError{Msg: fmt.Sprintf("extraction point %s in container %s is not a directory", dir, arg)}
		}
		opt := image.ExtractOptions{}
		if !keepOwners {
			opt.Owner = &[2]int{0, 0}
		}
		err = image.Extract(r, abs, opt)
		if errors.Is(err, unix.EROFS) {
			return fmt.Errorf("%s in container %s is read-only (--read-only, or a :ro volume): copy into a volume it can write", dir, arg)
		}
		return err
	})
}

// containerPath makes path absolute in the container (docker reads a
// relative one from /), keeping a trailing "/" or "/.": they ask for a
// symlink to be followed, and "/." for what is in a directory.
func containerPath(path string) string {
	abs := filepath.Join("/", path)
	switch {
	case abs == "/":
	case path == "." || strings.HasSuffix(path, "/."):
		abs += "/."
	case strings.HasSuffix(path, "/"):
		abs += "/"
	}
	return abs
}

// statPath is StatPath inside the container's root.
func statPath(arg, path string) (PathStat, error) {
	abs := containerPath(path)
	fi, err := os.Lstat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return PathStat{}, &PathNotFoundError{Path: path, Container: arg}
	}
	if err != nil {
		return PathStat{}, fmt.Errorf("%s in container %s: %w", path, arg, err)
	}
	st := PathStat{Name: filepath.Base(abs), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime()}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if st.LinkTarget, err = filepath.EvalSymlinks(abs); err != nil {
			// Dangling: where it points, read from its directory.
			target, _ := os.Readlink(abs)
			st.LinkTarget = filepath.Join(filepath.Dir(abs), target)
			if filepath.IsAbs(target) {
				st.LinkTarget = filepath.Clean(target)
			}
		}
	}
	return st, nil
}

// inRoot runs fn with the container's root as the root of its thread.
func (e *Engine) inRoot(arg string, write bool, fn func() error) error {
	c, err := e.Get(arg) // a running container whose monitor died is reconciled
	if err != nil {
		return err
	}
	c, unlock, err := e.lockRecord(c.ID)
	if err != nil {
		return err
	}
	if !c.Running() {
		defer unlock() // held through the copy: a start waits
		return e.stoppedRoot(c, write, fn)
	}
	// Under the lock the init is alive (its monitor records its end under
	// the lock), so the PID is its; once open, the directory stays the
	// container's even if it stops.
	root, err := os.Open(fmt.Sprintf("/proc/%d/root", c.State.Pid))
	unlock()
	if err != nil {
		return err
	}
	defer root.Close()
	return inThread(func() error {
		// `chroot DIR` for this thread alone: it first stops sharing its
		// root and working directory with the others (CLONE_FS).
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return os.NewSyscallError("unshare CLONE_FS", err)
		}
		if err := unix.Fchdir(int(root.Fd())); err != nil {
			return os.NewSyscallError("fchdir to the container's root", err)
		}
		return chroot(fn)
	})
}

// stoppedRoot mounts a stopped container's root as the monitor does when
// it starts it, in a mount namespace of this thread alone, which goes
// with the thread: overlay on its rootfs directory (`mount -t overlay
// overlay -o lowerdir=…,upperdir=…,workdir=… rootfs`, read-only unless
// written to), then its volumes and its /etc files bound in (`mount
// --bind`), then chroot.
func (e *Engine) stoppedRoot(c *Container, write bool, fn func() error) error {
	img, err := e.Images.Get(c.ImageID)
	if err != nil {
		return err
	}
	dir := e.Dir(c.ID)
	rootfs := filepath.Join(dir, "rootfs")
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(img.LowerDirs(), ":"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	var flags uintptr
	if !write || c.HostConfig.ReadonlyRootfs {
		flags = unix.MS_RDONLY
	}
	binds := []Bind{}
	for _, f := range []string{"hostname", "hosts", "resolv.conf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil { // written at the first start
			binds = append(binds, Bind{Source: filepath.Join(dir, f), Destination: "/etc/" + f})
		}
	}
	binds = append(binds, e.mounts(c)...)
	return inThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
			return os.NewSyscallError("unshare CLONE_NEWNS", err)
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return err
		}
		if err := unix.Mount("overlay", rootfs, "overlay", flags, opts); err != nil {
			return fmt.Errorf("mount the container's layers (%s): %w", opts, err)
		}
		for _, b := range binds {
			// Where the runtime mounts it: resolved inside the root.
			target, err := runtime.SecureJoin(rootfs, b.Destination)
			if err != nil {
				return err
			}
			if _, err := os.Stat(target); err != nil {
				continue // not made yet (never started): nothing there to copy
			}
			if err := unix.Mount(b.Source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("bind %s on %s: %w", b.Source, b.Destination, err)
			}
			if b.ReadOnly {
				if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
					return fmt.Errorf("make %s read-only: %w", b.Destination, err)
				}
			}
		}
		if err := unix.Chdir(rootfs); err != nil {
			return err
		}
		return chroot(fn)
	})
}

// chroot makes the working directory the thread's root (chroot(2) is per
// thread once CLONE_FS is unshared), then runs fn.
func chroot(fn func() error) error {
	if err := unix.Chroot("."); err != nil {
		return os.NewSyscallError("chroot to the container's root", err)
	}
	return fn()
}

// inThread runs fn in a thread of its own, locked and never unlocked: the
// thread, changed by fn, is thrown away after.
func inThread(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		done <- fn()
	}()
	return <-done
}
