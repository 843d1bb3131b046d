package runtime

// The binary the container's init runs from. The init is this program
// started again (stage 03's /proc/self/exe trick), and for a moment it
// runs *inside* the container, as root. In 2019 that was runc's worst bug
// (CVE-2019-5736): a process in the container opened /proc/<init>/exe,
// which leads to the runtime's binary on the host, and once the runtime
// exited, wrote its own program over it; the next `runc` anyone ran was
// the attacker's.
//
// The defence here is runc's since 1.2: the init runs from the binary as
// seen through a read-only bind mount that exists in no mount namespace.
// The mount is made in a private mount namespace of one thread, the file
// is opened there, and the thread (with its namespace) is thrown away: the
// open file keeps the mount alive, read-only, reachable by no path, and
// /proc/<init>/exe leads to it, where any open for writing fails with
// EROFS. Where that cannot be done (no CAP_SYS_ADMIN: an ordinary user),
// the init runs from a copy of the binary in a sealed memfd instead, an
// anonymous file in memory that nobody can write (man 2 memfd_create,
// F_ADD_SEALS in man 2 fcntl): runc's defence before 1.2, which costs a
// copy of the binary for every container.

import (
	"fmt"
	"os"
	goruntime "runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

var sealed struct {
	once sync.Once
	f    *os.File
	err  error
}

// sealedExe returns this program's binary, opened where no one can write
// it, once per process.
func sealedExe() (*os.File, error) {
	sealed.once.Do(func() {
		if sealed.f, sealed.err = readOnlyExe(); sealed.err != nil {
			sealed.f, sealed.err = memfdExe()
		}
	})
	return sealed.f, sealed.err
}

// readOnlyExe opens the binary through a read-only bind mount made in a
// mount namespace of a thread of its own.
func readOnlyExe() (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine, and its
		// mount namespace with it.
		goruntime.LockOSThread()
		f, err := func() (*os.File, error) {
			exe, err := os.Readlink("/proc/self/exe")
			if err != nil || strings.HasSuffix(exe, " (deleted)") {
				return nil, fmt.Errorf("find this program's binary: %v", err)
			}
			// A copy of the mount table for this thread alone. Same as
			// `unshare --mount`; then `mount --make-rslave /`, so that
			// nothing done here reaches the host's table.
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return nil, os.NewSyscallError("unshare CLONE_NEWNS", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
				return nil, err
			}
			// Same as `mount --bind EXE EXE; mount -o remount,bind,ro EXE`.
			if err := unix.Mount(exe, exe, "", unix.MS_BIND, ""); err != nil {
				return nil, err
			}
			if err := unix.Mount("", exe, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
				return nil, err
			}
			fd, err := unix.Open(exe, unix.O_PATH|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, err
			}
			return os.NewFile(uintptr(fd), exe), nil
		}()
		done <- result{f, err}
	}()
	r := <-done
	return r.f, r.err
}

// memfdExe copies the binary into a sealed memfd.
func memfdExe() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open this program's binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("cfs-runc", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:cfs-runc")
	// sendfile(2) copies from the page cache into the memfd in the kernel,
	// without bringing the bytes through this process.
	for {
		n, err := unix.Sendfile(fd, int(src.Fd()), nil, 1<<30)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("copy this program's binary to a memfd: %w", os.NewSyscallError("sendfile", err))
		}
		if n == 0 {
			break
		}
	}
	// Same as chattr +i, for a file with no name: no more writes, no
	// change of size, and no removing the seals.
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, os.NewSyscallError("fcntl F_ADD_SEALS", err)
	}
	return f, nil
}
