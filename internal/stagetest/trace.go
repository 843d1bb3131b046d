package stagetest

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cfs/internal/mountinfo"
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
type Mountinfo = mountinfo.Mount

// ReadMountinfo reads /proc/pid/mountinfo.
func ReadMountinfo(t testing.TB, pid int) []Mountinfo {
	t.Helper()
	ms, err := mountinfo.OfPID(pid)
	if err != nil {
		t.Fatal(err)
	}
	return ms
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
