package runccli

// `run` and `exec` without --detach drive the container's terminal
// themselves, as runc does: the user's terminal goes raw (every key goes
// straight to the container's, Ctrl-C included), and bytes are copied
// both ways until the container's side closes.

import (
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"cfs/final/runtime"

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

// fg is a process run in the foreground (run and exec without
// --detach): the signals that reach cfs while it waits go to the
// process, and the user's terminal drives the process's, if it has one.
type fg struct {
	sigs    chan os.Signal // nil: detached
	console *os.File       // where the terminal's master comes back; nil: no terminal
	theirs  *os.File       // the other end, for CreateOptions or ExecOptions' ConsoleConn
	tty     *terminal
}

// foreground starts taking every signal, before the process exists, so
// that none sent meanwhile is lost. Detached (on false), it does not.
func foreground(on bool) *fg {
	f := &fg{}
	if on {
		f.sigs = make(chan os.Signal, 32)
		signal.Notify(f.sigs)
	}
	return f
}

// withTerminal makes the socket pair on which the runtime sends back the
// master of the terminal it makes for the process.
func (f *fg) withTerminal() error {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socketpair", err)
	}
	f.console, f.theirs = os.NewFile(uintptr(pair[0]), "console"), os.NewFile(uintptr(pair[1]), "console")
	return nil
}

// attach receives the terminal's master, when the process has a
// terminal, and connects the user's terminal to it.
func (f *fg) attach(e *env) error {
	if f.console == nil {
		return nil
	}
	f.theirs.Close() // the runtime has its own copy
	master, err := runtime.RecvConsole(f.console)
	if err != nil {
		return err
	}
	f.tty = attachTerminal(master, e.stdin, e.stdout)
	return nil
}

// wait relays signals with send until wait returns, then lets the last
// of the terminal's output through.
func (f *fg) wait(send func(syscall.Signal), wait func() (int, error)) (int, error) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-f.sigs:
				switch s {
				case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
				case unix.SIGWINCH:
					f.tty.resize()
				default:
					send(s.(syscall.Signal))
				}
			case <-done:
				return
			}
		}
	}()
	status, err := wait()
	close(done)
	f.tty.drain()
	return status, err
}

// stop gives the user's terminal its old mode and closes the socket
// pair. It does not give the signals back (signal.Stop): Main's caller
// exits as soon as Main returns, and the kernel forgets the handlers then.
// Giving back every signal costs a round trip to the Go runtime's signal
// thread per signal, sixty in all: 1.7 ms, a tenth of a `run` of `true`
// (bench/RESULTS.md). Taking them, in foreground, costs as much again,
// and that stays: no signal sent while the container is made may be lost.
func (f *fg) stop() {
	f.tty.restore()
	if f.console != nil {
		f.console.Close()
		f.theirs.Close()
	}
}
