// Package stagetest is the test harness the stages share: it runs a stage
// as a real process (the test binary re-executes itself as the stage),
// gives tests the container's host PID to look at from outside, and checks
// that a package's tests leave the host exactly as they found it.
package stagetest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cfs/internal/rootfs"

	"golang.org/x/sys/unix"
)

// stageEnv, set to 1, tells a test binary to act as the stage; "cfs-init" is
// the name the stages give themselves when they re-execute as the
// container's first process. (An environment variable, not a name, because
// wrappers such as unshare(1) choose the name of the program they run.)
const stageEnv = "CFS_TEST_AS_STAGE"

// IsStage reports whether this test binary was started as the stage (by Run
// or Start) or as the stage's container process. TestMain then calls the
// stage's main instead of running tests.
func IsStage() bool {
	return os.Getenv(stageEnv) == "1" || os.Args[0] == "cfs-init"
}

// helperName is the name under which a test installs the test binary in a
// root filesystem, to run small programs inside a container.
const helperName = "cfs-helper"

// IsHelper reports whether this test binary runs as the in-container
// helper; os.Args[1:] then says what to do.
func IsHelper() bool {
	return filepath.Base(os.Args[0]) == helperName
}

// Options for Main.
type Options struct {
	// Rootfs builds the default root filesystem before the leak check's
	// first look, so the cache a first run creates is not taken for a leak.
	Rootfs bool
	// NetNS runs every stage that Start, StartWrapped and Run start inside
	// one network namespace made for the package, for stages that create
	// bridges, veths and nft rules: the host's own network is never
	// touched. Whatever is left in that namespace when the tests end is
	// reported as a leak too.
	NetNS bool
}

// packageNetNS is the namespace Options.NetNS made, if any.
var packageNetNS *NetNS

// Main runs the package's tests between two looks at the host and fails
// the run if anything the project could create is new afterwards.
func Main(m *testing.M, opt Options) int {
	if os.Geteuid() != 0 {
		return m.Run()
	}
	if opt.Rootfs {
		if _, err := rootfs.Ensure(os.Stderr); err != nil {
			fmt.Fprintf(os.Stderr, "stagetest: %v\n", err)
			return 1
		}
	}
	if opt.NetNS {
		n, err := newNetNS("pkg")
		if err != nil {
			fmt.Fprintf(os.Stderr, "stagetest: create the package's network namespace: %v\n", err)
			return 1
		}
		packageNetNS = n
		defer n.Delete()
	}
	before, owners := Snapshot(), NewOwnerCheck()
	code := m.Run()
	after := Snapshot()
	if waitForExits(after.NewSince(before), 5*time.Second) {
		after = Snapshot()
	}
	leaks := append(after.NewSince(before), owners.Changes()...)
	if packageNetNS != nil {
		inside, err := packageNetNS.Contents()
		if err != nil {
			inside = []string{fmt.Sprintf("(cannot look: %v)", err)}
		}
		for _, s := range inside {
			leaks = append(leaks, s+" (in the tests' network namespace "+packageNetNS.Name+")")
		}
	}
	if len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "LEAK: the tests left these on the host:\n  %s\n", strings.Join(leaks, "\n  "))
		if code == 0 {
			code = 1
		}
	}
	return code
}

// waitForExits waits, up to timeout in all, for the processes among leaks
// ("process PID (NAME)") to exit, and reports whether there were any. A
// monitor that has removed its container's state is still exiting for a
// moment after the command that waited for it returned; only one that is
// still there afterwards is left over.
func waitForExits(leaks []string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	found := false
	for _, l := range leaks {
		var pid int
		if _, err := fmt.Sscanf(l, "process %d ", &pid); err != nil {
			continue
		}
		found = true
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone already
		}
		ms := int(time.Until(deadline).Milliseconds())
		if ms > 0 {
			// A pidfd becomes readable when its process exits.
			_, _ = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		}
		unix.Close(fd)
	}
	return found
}

// PackageNetNS returns the namespace that Options.NetNS made for the
// package's stages, or nil.
func PackageNetNS() *NetNS { return packageNetNS }

// RequireRoot skips a privileged test when not root, unless
// CFS_REQUIRE_PRIVILEGED=1 (set by CI), where a skip would hide a failure.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CFS_REQUIRE_PRIVILEGED") == "1" {
		t.Fatal("this test needs root, and CFS_REQUIRE_PRIVILEGED=1 forbids skipping it")
	}
	t.Skip("needs root (run: go test -exec sudo ./...)")
}

// Result is what a finished stage run printed and returned.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs the stage with args and stdin to completion.
func Run(t testing.TB, stdin string, args ...string) Result {
	t.Helper()
	p := Start(t, args...)
	if stdin != "" {
		_, _ = io.WriteString(p.Stdin, stdin)
	}
	p.Stdin.Close()
	return p.Wait(t)
}

// RunWithin is Run for a command whose stderr must close when it exits:
// if a process it leaves behind (a daemon, a container) still holds the
// stderr d after the command has exited, the test fails instead of
// waiting for that process to end (exec.Cmd.WaitDelay).
func RunWithin(t testing.TB, d time.Duration, args ...string) Result {
	t.Helper()
	p := Start(t, args...)
	p.Stdin.Close()
	p.Cmd.WaitDelay = d
	return p.Wait(t)
}

// Proc is a running stage.
type Proc struct {
	Cmd    *exec.Cmd
	Stdin  io.WriteCloser
	lines  chan string
	stdout bytes.Buffer // everything read so far, for Wait
	stderr syncBuffer
	done   chan struct{}
}

// Start starts the stage with args; stdout is read line by line by
// WaitLine. The stage is killed when the test ends, if still running.
func Start(t testing.TB, args ...string) *Proc {
	t.Helper()
	return StartWrapped(t, nil, args...)
}

// StartWrapped starts the stage through a wrapper command, such as
// {"unshare", "--mount", "--propagation", "shared"}, that ends by executing
// the program named in its last argument. With Options.NetNS, the wrapper
// itself runs in the package's network namespace.
func StartWrapped(t testing.TB, wrapper []string, args ...string) *Proc {
	t.Helper()
	cmd := stageCommand(t, wrapper, args)
	var err error
	p := &Proc{Cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	p.Cmd.Stderr = &p.stderr
	p.Stdin, err = p.Cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				p.stdout.WriteString(line)
				p.lines <- strings.TrimRight(line, "\n")
			}
			if err != nil {
				close(p.lines)
				return
			}
		}
	}()
	t.Cleanup(func() {
		if p.Cmd.ProcessState == nil {
			kids := Children(p.Cmd.Process.Pid)
			_ = p.Cmd.Process.Kill()
			_ = p.Cmd.Wait()
			// The kernel kills the container after the stage (Pdeathsig);
			// wait for that too, so the next test starts on a clean host.
			for _, k := range kids {
				WaitGone(k)
			}
		}
	})
	return p
}

// stageCommand is the stage with args, run through wrapper (a command such
// as nsenter that ends by executing its last argument), in the package's
// network namespace with Options.NetNS.
func stageCommand(t testing.TB, wrapper, args []string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var argv []string
	if packageNetNS != nil {
		argv = append(argv, packageNetNS.Wrapper()...)
	}
	argv = append(append(append(argv, wrapper...), self), args...)
	path, err := exec.LookPath(argv[0])
	if err != nil {
		t.Fatal(err)
	}
	return &exec.Cmd{Path: path, Args: argv, Env: append(os.Environ(), stageEnv+"=1")}
}

// readyTimeout bounds how long a test waits for a line the container
// should print at once; it is a guard against a hung test, not a delay.
// It is generous: in the cgroup v2 VM lane (qemu without KVM on a busy
// machine) twenty containers starting at once took over two minutes.
const readyTimeout = 5 * time.Minute

// WaitLine reads stdout until a line equal to want, and fails the test if
// the stage exits first.
func (p *Proc) WaitLine(t testing.TB, want string) {
	t.Helper()
	timeout := time.After(readyTimeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("stage ended before printing %q; stderr:\n%s", want, p.stderr.String())
			}
			if line == want {
				return
			}
		case <-timeout:
			t.Fatalf("no %q from the stage after %v", want, readyTimeout)
		}
	}
}

// NextLine returns the next line the stage prints.
func (p *Proc) NextLine(t testing.TB) string {
	t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			t.Fatalf("stage ended before printing a line; stderr:\n%s", p.stderr.String())
		}
		return line
	case <-time.After(readyTimeout):
		t.Fatalf("no line from the stage after %v", readyTimeout)
	}
	return ""
}

// Wait waits for the stage to exit and returns what it printed.
func (p *Proc) Wait(t testing.TB) Result {
	t.Helper()
	for range p.lines { // drain, so the reader can finish
	}
	<-p.done
	code, err := exitCode(p.Cmd.Wait())
	if errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("the stage exited, but its stderr was still open %v later: a process it left behind holds it", p.Cmd.WaitDelay)
	}
	if err != nil {
		t.Fatalf("wait for stage: %v", err)
	}
	return Result{Stdout: p.stdout.String(), Stderr: p.stderr.String(), Code: code}
}

// ContainerPID returns the host PID of the stage's child: the container's
// first process.
func (p *Proc) ContainerPID(t testing.TB) int {
	t.Helper()
	kids := Children(p.Cmd.Process.Pid)
	if len(kids) != 1 {
		t.Fatalf("stage %d has children %v, want exactly one", p.Cmd.Process.Pid, kids)
	}
	return kids[0]
}

// Children lists the PIDs whose parent is pid, from every thread's
// /proc/PID/task/TID/children (a process's children are listed under the
// thread that forked them).
func Children(pid int) []int {
	var kids []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		data, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(s); err == nil {
				kids = append(kids, n)
			}
		}
	}
	return kids
}

// WaitGone blocks until process pid has exited. A pidfd becomes readable
// when its process ends, whoever its parent is (man 2 pidfd_open).
func WaitGone(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // already gone
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, int(readyTimeout.Milliseconds())); err != unix.EINTR {
			return
		}
	}
}

// NS returns the namespace a process is in, as the kernel names it
// ("uts:[4026531838]"); two processes share a namespace when these match.
func NS(t testing.TB, pid any, kind string) string {
	t.Helper()
	link, err := os.Readlink(fmt.Sprintf("/proc/%v/ns/%s", pid, kind))
	if err != nil {
		t.Fatal(err)
	}
	return link
}

// RootfsWithHelper copies the default root filesystem into a fresh
// directory for one test and installs the test binary in it as /cfs-helper
// (with the libraries it loads), so the test can run its own small programs
// inside the container. The directory is removed when the test ends.
func RootfsWithHelper(t testing.TB) string {
	t.Helper()
	src, err := rootfs.Ensure(os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "rootfs")
	if err := rootfs.CopyTree(src, dst, nil); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := rootfs.InstallBinary(dst, self, helperName); err != nil {
		t.Fatal(err)
	}
	return dst
}

func exitCode(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	ee, ok := err.(*exec.ExitError)
	if !ok {
		return 0, err
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// RunStderrHead runs the stage through wrapper (as StartWrapped does, nil
// for none) with its stderr on a pipe from which it reads n lines and then
// closes, as `2>&1 | head -n N` does, and returns those lines and the
// stage's exit status.
func RunStderrHead(t testing.TB, wrapper []string, n int, args ...string) ([]string, int) {
	t.Helper()
	cmd := stageCommand(t, wrapper, args)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	r := bufio.NewReader(stderr)
	for len(lines) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		lines = append(lines, strings.TrimRight(line, "\n"))
	}
	stderr.Close()
	code, err := exitCode(cmd.Wait())
	if err != nil {
		t.Fatalf("wait for stage: %v", err)
	}
	return lines, code
}

// ReadFile is the file at path, or the test fails.
func ReadFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
