package runtime

// The container's terminal (process.terminal). The pseudo-terminal is made
// inside the container, in its own devpts (newinstance, stage 03), so its
// number and its /dev/pts belong to the container. Its master end goes to
// whoever will drive it (containerd's shim; `run` itself) over a unix
// socket, as a file descriptor in an SCM_RIGHTS message (man 7 unix);
// the slave becomes the process's stdin, stdout, stderr and controlling
// terminal.

import (
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupConsole opens a new pseudo-terminal, sends its master over the
// console socket and takes the slave as the terminal.
func setupConsole(sock int, p *specs.Process) error {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx (is devpts mounted on /dev/pts, with /dev/ptmx leading to it?): %w", err)
	}
	defer unix.Close(master)
	// Same as unlockpt(3), then ptsname(3).
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return os.NewSyscallError("ioctl TIOCSPTLCK", err)
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return os.NewSyscallError("ioctl TIOCGPTN", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer unix.Close(slave)
	if b := p.ConsoleSize; b != nil {
		_ = unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(b.Height), Col: uint16(b.Width)})
	}
	// The user's process owns its terminal, as a login's does.
	if err := unix.Fchown(slave, int(p.User.UID), int(p.User.GID)); err != nil {
		return os.NewSyscallError("fchown "+name, err)
	}
	// One message: the name as data, the master as the one descriptor.
	if err := unix.Sendmsg(sock, []byte(name), unix.UnixRights(master), nil, 0); err != nil {
		return fmt.Errorf("send the terminal over the console socket: %w", err)
	}
	unix.Close(sock)
	// /dev/console is the terminal, for programs that write there.
	if fi, err := os.Stat("/dev/console"); err == nil && !fi.IsDir() || os.IsNotExist(err) {
		if f, err := os.OpenFile("/dev/console", os.O_CREATE|os.O_RDONLY, 0o600); err == nil {
			f.Close()
			_ = mount(name, "/dev/console", "/dev/console", "", unix.MS_BIND, "")
		}
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return os.NewSyscallError("dup3", err)
		}
	}
	// The process leads a session of its own (Setsid at clone): make the
	// terminal that session's controlling terminal.
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return os.NewSyscallError("ioctl TIOCSCTTY", err)
	}
	return nil
}

// RecvConsole receives a pseudo-terminal's master from a console socket
// connection, as containerd's shim does: one message, the name as data and
// exactly one descriptor.
func RecvConsole(conn *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(conn.Fd()), buf, oob, 0)
	if err != nil {
		return nil, os.NewSyscallError("recvmsg", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("console socket: want one control message, got %d (%v)", len(msgs), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("console socket: want one descriptor, got %d (%v)", len(fds), err)
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}
