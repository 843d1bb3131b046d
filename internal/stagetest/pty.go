package stagetest

// The pseudo-terminal driver: a stage run as a student runs it in a
// terminal window, for the tests of interactive shells and of --step.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// RunTerminal runs the stage on a new pseudo-terminal, as a student does in
// a terminal window: the stage leads a new session whose controlling
// terminal is the pty. It types input, and returns all the terminal showed
// (in Stdout) and the stage's exit status.
func RunTerminal(t testing.TB, input string, args ...string) Result {
	t.Helper()
	ptmx, tty := openPty(t)
	defer ptmx.Close()
	cmd := terminalCommand(t, tty, args)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		// Reading ends with EIO once no process holds the terminal open.
		_, _ = io.Copy(&screen, ptmx)
		close(read)
	}()
	_, _ = io.WriteString(ptmx, input)
	err := cmd.Wait()
	<-read
	code, err := exitCode(err)
	if err != nil {
		t.Fatalf("wait for stage: %v", err)
	}
	return Result{Stdout: screen.String(), Code: code}
}

// openPty opens a new pseudo-terminal: the master side, and the terminal
// a program uses.
// OpenPty opens a new pseudo-terminal: its master and its slave, for a
// test to run a program on a terminal of its own.
func OpenPty(t testing.TB) (ptmx, tty *os.File) { return openPty(t) }

func openPty(t testing.TB) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ptmx, tty
}

// terminalCommand is the stage with args in a new session whose
// controlling terminal is tty.
func terminalCommand(t testing.TB, tty *os.File, args []string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path, argv := self, append([]string{"cfs-stage"}, args...)
	if packageNetNS != nil {
		argv = append(append(packageNetNS.Wrapper(), self), args...)
		if path, err = exec.LookPath(argv[0]); err != nil {
			t.Fatal(err)
		}
	}
	return &exec.Cmd{
		Path: path, Args: argv,
		Env:   append(os.Environ(), stageEnv+"=1", "TERM=dumb"),
		Stdin: tty, Stdout: tty, Stderr: tty,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
	}
}

// stepPrompt is what --step prints while it waits (trace.Prompt).
const stepPrompt = "[cfs step] press Enter to go on "

// StepThrough runs the stage with --step and args on a new pseudo-terminal,
// as a class does, and presses Enter at each pause. At every pause it
// checks that exactly one step was announced since the last one, and that
// the pause comes right after it; then it calls at with that step and all
// the trace so far, so the test can look at the host before the step is
// taken. It returns the trace and the exit status.
func StepThrough(t testing.TB, at func(step TraceLine, trace []TraceLine), args ...string) ([]TraceLine, int) {
	t.Helper()
	return stepThrough(t, at, nil, args)
}

// InterruptAt runs the stage with --step like StepThrough, but at the
// pause after the first step whose call matches the regular expression
// step it types Ctrl-C instead of Enter (and Enter at any pause after
// that).
func InterruptAt(t testing.TB, step string, args ...string) ([]TraceLine, int) {
	t.Helper()
	return stepThrough(t, nil, regexp.MustCompile(step), args)
}

func stepThrough(t testing.TB, at func(step TraceLine, trace []TraceLine), interrupt *regexp.Regexp, args []string) ([]TraceLine, int) {
	t.Helper()
	interrupted := false
	ptmx, tty := openPty(t)
	defer ptmx.Close()
	cmd := terminalCommand(t, tty, append([]string{"--step"}, args...))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			kids := Children(cmd.Process.Pid)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			for _, k := range kids {
				WaitGone(k)
			}
		}
	})
	var screen syncBuffer
	ended := make(chan struct{})
	go func() {
		// Reading ends with EIO once no process holds the terminal open.
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				screen.Write(buf[:n])
			}
			if err != nil {
				break
			}
		}
		close(ended)
		screen.Write(nil) // wake waiters
	}()
	isEnded := func() bool {
		select {
		case <-ended:
			return true
		default:
			return false
		}
	}
	text := func() string { return strings.ReplaceAll(screen.String(), "\r\n", "\n") }
	steps := func(lines []TraceLine) int {
		n := 0
		for _, l := range lines {
			if l.Kind == "step" {
				n++
			}
		}
		return n
	}
	for pause := 1; ; pause++ {
		ok := screen.waitUntil(func(s string) bool {
			return strings.Count(s, stepPrompt) >= pause || isEnded()
		}, readyTimeout)
		if !ok {
			t.Fatalf("pause %d: no prompt and no exit after %v; the terminal shows:\n%s", pause, readyTimeout, text())
		}
		if strings.Count(screen.String(), stepPrompt) < pause {
			break // the stage ended
		}
		// The trace up to this pause: everything before the prompt.
		upTo := text()
		upTo = upTo[:indexNth(upTo, stepPrompt, pause)]
		lines := ParseTrace(upTo)
		if got := steps(lines); got != pause {
			t.Fatalf("pause %d comes after %d steps, want exactly one step per pause; the terminal shows:\n%s", pause, got, upTo)
		}
		var last TraceLine
		for _, l := range lines {
			if l.Kind == "step" {
				last = l
			}
		}
		if tail := strings.TrimRight(upTo, "\n"); !strings.HasSuffix(tail, lastLineOf(last, lines)) {
			t.Fatalf("pause %d does not come right after step %q; the terminal shows:\n%s", pause, last.Text, upTo)
		}
		if at != nil {
			at(last, lines)
		}
		key := "\n"
		if interrupt != nil && !interrupted && interrupt.MatchString(last.Text) {
			key, interrupted = "\x03", true // the terminal's VINTR: SIGINT to the foreground group
		}
		if _, err := ptmx.Write([]byte(key)); err != nil {
			t.Fatalf("type %q: %v", key, err)
		}
	}
	if interrupt != nil && !interrupted {
		t.Errorf("no step %q to interrupt", interrupt)
	}
	code, err := exitCode(cmd.Wait())
	if err != nil {
		t.Fatalf("wait for stage: %v", err)
	}
	<-ended
	lines := ParseTrace(text())
	if got, want := strings.Count(text(), stepPrompt), steps(lines); got != want && !interrupted {
		t.Errorf("%d pauses for %d steps; the terminal shows:\n%s", got, want, text())
	}
	return lines, code
}

// lastLineOf is how the terminal shows the end of step's lines: its last
// detail line, or the step itself.
func lastLineOf(step TraceLine, lines []TraceLine) string {
	last := "[cfs " + step.Side + "] " + step.Text
	if step.Shell != "" {
		last += "  ≈ " + step.Shell
	}
	seen := false
	for _, l := range lines {
		if l == step {
			seen = true
			continue
		}
		if seen && l.Kind == "detail" {
			last = "[cfs " + l.Side + "]   " + l.Text
		}
	}
	return last
}

// indexNth is the index of the nth occurrence of sub in s.
func indexNth(s, sub string, n int) int {
	i := -1
	for ; n > 0; n-- {
		j := strings.Index(s[i+1:], sub)
		if j < 0 {
			return -1
		}
		i += 1 + j
	}
	return i
}
