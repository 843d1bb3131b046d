package runccli

// `run` and `exec` without --detach drive the container's terminal
// themselves, as runc does: the user's terminal goes raw (every key goes
// straight to the container's, Ctrl-C included), and bytes are copied
// both ways until the container's side closes.

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

type terminal struct {
	master *os.File
	in     *os.File
	saved  *unix.Termios
	copied sync.WaitGroup
}

func attachTerminal(master, in *os.File, out io.Writer) *terminal {
	t := &terminal{master: master, in: in}
	if st, err := unix.IoctlGetTermios(int(in.Fd()), unix.TCGETS); err == nil {
		t.saved = st
		raw := *st
		// Same as cfmakeraw(3).
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		_ = unix.IoctlSetTermios(int(in.Fd()), unix.TCSETS, &raw)
		t.resize()
	}
	go func() { _, _ = io.Copy(master, in) }()
	t.copied.Add(1)
	go func() {
		defer t.copied.Done()
		_, _ = io.Copy(out, master) // ends with EIO once no process holds the terminal
	}()
	return t
}

// resize gives the container's terminal the size of the user's.
func (t *terminal) resize() {
	if t == nil {
		return
	}
	if ws, err := unix.IoctlGetWinsize(int(t.in.Fd()), unix.TIOCGWINSZ); err == nil {
		_ = unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// drain waits for the last of the container's output.
func (t *terminal) drain() {
	if t != nil {
		t.copied.Wait()
	}
}

func (t *terminal) restore() {
	if t != nil && t.saved != nil {
		_ = unix.IoctlSetTermios(int(t.in.Fd()), unix.TCSETS, t.saved)
	}
}
