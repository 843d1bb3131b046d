package stagetest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects a stage's stderr while tests read it, and wakes
// whoever waits for a piece of text in it.
type syncBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	cond *sync.Cond
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cond != nil {
		b.cond.Broadcast()
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor blocks until the text holds want, or timeout.
func (b *syncBuffer) waitFor(want string, timeout time.Duration) bool {
	return b.waitUntil(func(s string) bool { return strings.Contains(s, want) }, timeout)
}

// waitUntil blocks until ok(text) holds, or timeout.
func (b *syncBuffer) waitUntil(ok func(string) bool, timeout time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cond == nil {
		b.cond = sync.NewCond(&b.mu)
	}
	timer := time.AfterFunc(timeout, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.cond.Broadcast()
	})
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	for !ok(b.buf.String()) {
		if time.Now().After(deadline) {
			return false
		}
		b.cond.Wait()
	}
	return true
}

// Stderr returns what the stage has printed on stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// WaitStderr blocks until the stage's stderr holds want.
func (p *Proc) WaitStderr(t testing.TB, want string) {
	t.Helper()
	if !p.stderr.waitFor(want, readyTimeout) {
		t.Fatalf("no %q on the stage's stderr after %v; stderr:\n%s", want, readyTimeout, p.stderr.String())
	}
}

// TraceLine is one line of --trace output (docs/trace.md).
type TraceLine struct {
	Side  string // parent, child or look
	Kind  string // step, detail, result or look
	Text  string // the call, detail, result or command
	Shell string // a step's shell equivalent, after "≈"
}

var traceLine = regexp.MustCompile(`^\[cfs (parent|child|look)\] (.*)$`)

// ParseTrace picks the trace lines out of a stage's stderr.
func ParseTrace(stderr string) []TraceLine {
	var out []TraceLine
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		m := traceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		l := TraceLine{Side: m[1], Text: m[2]}
		switch {
		case l.Side == "look":
			l.Kind = "look"
		case strings.HasPrefix(l.Text, "→ "):
			l.Kind, l.Text = "result", strings.TrimPrefix(l.Text, "→ ")
		case strings.HasPrefix(l.Text, "  "):
			l.Kind, l.Text = "detail", strings.TrimPrefix(l.Text, "  ")
		default:
			l.Kind = "step"
			l.Text, l.Shell, _ = strings.Cut(l.Text, "  ≈ ")
		}
		out = append(out, l)
	}
	return out
}

// Steps returns the steps of side whose call starts with prefix.
func Steps(lines []TraceLine, side, prefix string) []TraceLine {
	return pick(lines, "step", side, prefix)
}

// Details returns the detail lines of side that start with prefix.
func Details(lines []TraceLine, side, prefix string) []TraceLine {
	return pick(lines, "detail", side, prefix)
}

func pick(lines []TraceLine, kind, side, prefix string) []TraceLine {
	var out []TraceLine
	for _, l := range lines {
		if l.Kind == kind && l.Side == side && strings.HasPrefix(l.Text, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// TraceHostPID is the container's first process as the trace names it.
func TraceHostPID(t testing.TB, lines []TraceLine) int {
	t.Helper()
	for _, l := range lines {
		if l.Kind == "result" && strings.HasPrefix(l.Text, "host PID ") {
			f := strings.Fields(strings.TrimPrefix(l.Text, "host PID "))
			pid, err := strconv.Atoi(strings.TrimSuffix(f[0], ","))
			if err != nil {
				t.Fatalf("bad host PID line %q", l.Text)
			}
			return pid
		}
	}
	t.Fatalf("the trace names no host PID")
	return 0
}

// nsOfFlag maps clone flags to the /proc/PID/ns entries they make new.
var nsOfFlag = map[string]string{
	"CLONE_NEWUSER": "user", "CLONE_NEWUTS": "uts", "CLONE_NEWPID": "pid",
	"CLONE_NEWNS": "mnt", "CLONE_NEWIPC": "ipc", "CLONE_NEWNET": "net",
	"CLONE_NEWCGROUP": "cgroup",
}

// CheckTraceNamespaces checks the trace against the kernel: every
// namespace that a clone or unshare step of the trace names is one the
// container's process pid does not share with the stage's process stage,
// and every other namespace is shared.
func CheckTraceNamespaces(t testing.TB, lines []TraceLine, stage, pid int) {
	t.Helper()
	traced := map[string]bool{}
	re := regexp.MustCompile(`^(?:clone|unshare)\(([A-Z_|]+)\)$`)
	for _, l := range lines {
		if m := re.FindStringSubmatch(l.Text); m != nil && l.Kind == "step" {
			for _, f := range strings.Split(m[1], "|") {
				traced[nsOfFlag[f]] = true
			}
		}
	}
	if len(traced) == 0 {
		t.Fatalf("the trace shows no clone step")
	}
	for _, kind := range []string{"user", "uts", "pid", "mnt", "ipc", "net", "cgroup"} {
		differs := NS(t, pid, kind) != NS(t, stage, kind)
		if differs != traced[kind] {
			t.Errorf("namespace %s: traced as new %v, but differs from the stage's %v", kind, traced[kind], differs)
		}
	}
}

// MountStep is a mount(2) call as the trace shows it.
type MountStep struct {
	Source, Target, FSType, Flags, Data string
}

var mountCall = regexp.MustCompile(`^mount\("(.*?)", "(.*?)", "(.*?)", ([A-Z_|0]+), "(.*?)"\)$`)

// TraceMounts returns the child's mount steps, and the root it pivots to.
func TraceMounts(t testing.TB, lines []TraceLine) (mounts []MountStep, root string) {
	t.Helper()
	pivot := regexp.MustCompile(`^chdir\("(.*)"\) \+ pivot_root\("\.", "\."\)$`)
	for _, l := range Steps(lines, "child", "") {
		if m := mountCall.FindStringSubmatch(l.Text); m != nil {
			mounts = append(mounts, MountStep{m[1], m[2], m[3], m[4], m[5]})
		}
		if m := pivot.FindStringSubmatch(l.Text); m != nil {
			root = m[1]
		}
	}
	if root == "" {
		t.Fatalf("the trace shows no pivot_root")
	}
	return mounts, root
}

// Mountinfo is one line of /proc/PID/mountinfo.
type Mountinfo struct {
	Point, FSType, Source, Options, SuperOptions string
}

// ReadMountinfo reads /proc/pid/mountinfo.
func ReadMountinfo(t testing.TB, pid int) []Mountinfo {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []Mountinfo
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 3 {
			t.Fatalf("bad mountinfo line %q", line)
		}
		out = append(out, Mountinfo{Point: f[4], Options: f[5], FSType: g[0], Source: g[1], SuperOptions: g[2]})
	}
	return out
}

// CheckTraceMounts checks that every mount the trace shows is in the
// container's mount table, where pivot_root put it: a mount on ROOT/proc
// is the container's /proc, of the type traced.
func CheckTraceMounts(t testing.TB, lines []TraceLine, pid int) {
	t.Helper()
	mounts, root := TraceMounts(t, lines)
	table := map[string][]Mountinfo{}
	for _, m := range ReadMountinfo(t, pid) {
		table[m.Point] = append(table[m.Point], m)
	}
	checked := 0
	for _, m := range mounts {
		if strings.Contains(m.Flags, "MS_PRIVATE") || strings.Contains(m.Flags, "MS_REMOUNT") {
			continue
		}
		if !strings.HasPrefix(m.Target+"/", root+"/") {
			t.Errorf("traced mount on %s, outside the new root %s", m.Target, root)
			continue
		}
		point := "/" + strings.TrimPrefix(strings.TrimPrefix(m.Target, root), "/")
		found := false
		for _, have := range table[point] {
			found = found || m.FSType == "" || have.FSType == m.FSType
		}
		if !found {
			t.Errorf("traced mount of %s (type %q) on %s, but the container's mountinfo has %v there", m.Source, m.FSType, point, table[point])
		}
		checked++
	}
	if checked == 0 {
		t.Errorf("the trace shows no mount")
	}
}

// CheckTraceExec checks the traced execve of the command.
func CheckTraceExec(t testing.TB, lines []TraceLine, argv []string) {
	t.Helper()
	var q []string
	for _, a := range argv {
		q = append(q, strconv.Quote(a))
	}
	want := "[" + strings.Join(q, ", ") + "])"
	for _, l := range lines {
		if l.Kind == "step" && l.Side == "child" && strings.Contains(l.Text, "execve(") && strings.HasSuffix(l.Text, want) {
			return
		}
	}
	t.Errorf("no execve of %v in the trace", argv)
}

// CheckTraceLooks checks that the commands to look from outside name the
// container's PID, and that there are the ones every stage prints.
func CheckTraceLooks(t testing.TB, lines []TraceLine, pid int) []string {
	t.Helper()
	var looks []string
	for _, l := range lines {
		if l.Kind == "look" {
			looks = append(looks, l.Text)
		}
	}
	for _, want := range []string{
		fmt.Sprintf("sudo ls -l /proc/%d/ns", pid),
		fmt.Sprintf("sudo nsenter -t %d -a sh", pid),
		fmt.Sprintf("sudo lsns -p %d", pid),
	} {
		if !contains(looks, want) {
			t.Errorf("the trace does not say %q; it says %q", want, looks)
		}
	}
	return looks
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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
