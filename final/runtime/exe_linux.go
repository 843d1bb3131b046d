package runtime

// The binary the container's init runs from. The init is this program
// started again (stage 03's /proc/self/exe trick), and for a moment it
// runs *inside* the container, as root. In 2019 that was runc's worst bug
// (CVE-2019-5736): a process in the container opened /proc/<init>/exe,
// which leads to the runtime's binary on the host, and once the runtime
// exited, wrote its own program over it; the next `runc` anyone ran was
// the attacker's. The defence used here is runc's of that time: the init
// runs from a copy of the binary in a memfd (an anonymous file in memory,
// man 2 memfd_create), sealed so that nobody, root included, can write it
// (man 2 fcntl, F_ADD_SEALS). /proc/<init>/exe then leads to that copy.

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

var sealed struct {
	once sync.Once
	f    *os.File
	err  error
}

// sealedExe returns a sealed memfd holding this program's binary, made
// once per process.
func sealedExe() (*os.File, error) {
	sealed.once.Do(func() { sealed.f, sealed.err = makeSealedExe() })
	return sealed.f, sealed.err
}

func makeSealedExe() (*os.File, error) {
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
