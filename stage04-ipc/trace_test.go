package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

// traceCommand keeps the container running until the test closes its
// stdin, so the test can look at it from outside meanwhile.
var traceCommand = []string{"sh", "-c", "hostname; echo ready; read x; exit 0"}

// With --trace, each step is named with the values the kernel then shows
// from outside: the host PID is the process whose namespaces the clone
// step made new, and the hostname set is the one inside.
func TestTraceMatchesTheKernel(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.Start(t, append([]string{"--trace", "--hostname", "box"}, traceCommand...)...)
	require.Equal(t, "box", p.NextLine(t))
	p.WaitLine(t, "ready")
	p.WaitStderr(t, "execve(")
	lines := stagetest.ParseTrace(p.Stderr())

	pid := stagetest.TraceHostPID(t, lines)
	require.Equal(t, p.ContainerPID(t), pid)
	stagetest.CheckTraceNamespaces(t, lines, p.Cmd.Process.Pid, pid)
	stagetest.CheckTraceLooks(t, lines, pid)
	require.Len(t, stagetest.Steps(lines, "child", `sethostname("box")`), 1)
	stagetest.CheckTraceExec(t, lines, traceCommand)

	// The command is cfs-init's child, with the PID in the container that
	// the trace reports.
	cmds := stagetest.Children(pid)
	require.Len(t, cmds, 1)
	ns := stagetest.NSpid(t, cmds[0])
	require.Contains(t, p.Stderr(), "[cfs child] → the command is PID "+ns[len(ns)-1]+" in the container")

	// Every mount traced is in the container's mount table, where
	// pivot_root put it.
	stagetest.CheckTraceMounts(t, lines, pid)
	require.True(t, hasMount(t, pid, "mqueue"))

	p.Stdin.Close()
	require.Equal(t, 0, p.Wait(t).Code)
}

// Without --trace and --step the stage prints nothing of its own.
func TestNoTraceByDefault(t *testing.T) {
	stagetest.RequireRoot(t)
	res := stagetest.Run(t, "", "--hostname", "box", "hostname")
	require.Equal(t, 0, res.Code)
	require.Equal(t, "box\n", res.Stdout)
	require.Empty(t, res.Stderr)
}

// --step without a terminal is bad input: there is nowhere to read Enter.
func TestStepNeedsATerminal(t *testing.T) {
	stagetest.RequireRoot(t)
	p := stagetest.StartWrapped(t, []string{"setsid"}, "--step", "true")
	p.Stdin.Close()
	res := p.Wait(t)
	require.Equal(t, 2, res.Code)
	require.Contains(t, res.Stderr, "--step waits for Enter on the terminal")
}

// --step, driven through a pseudo-terminal, stops before each step: at
// each pause, what the step does has not happened yet.
func TestStepStopsBeforeEachStep(t *testing.T) {
	stagetest.RequireRoot(t)
	host, err := os.Hostname()
	require.NoError(t, err)
	var paused []string
	checked := map[int]bool{} // which of the checks below ran: each must
	_, code := stagetest.StepThrough(t, func(step stagetest.TraceLine, trace []stagetest.TraceLine) {
		paused = append(paused, step.Text)
		switch {
		case strings.HasPrefix(step.Text, "sethostname("):
			checked[1] = true
			require.Equal(t, host, utsName(t, stagetest.TraceHostPID(t, trace)))
		case strings.HasPrefix(step.Text, "fork() + execve("):
			checked[2] = true
			require.Equal(t, "box", utsName(t, stagetest.TraceHostPID(t, trace)))
			require.Empty(t, stagetest.Children(stagetest.TraceHostPID(t, trace)), "the command started before its step")
		case strings.HasPrefix(step.Text, "chdir(") && strings.Contains(step.Text, "pivot_root"):
			checked[3] = true
			require.True(t, hostRoot(t, stagetest.TraceHostPID(t, trace)), "pivot_root happened before its step")
		case strings.HasPrefix(step.Text, "umount2("):
			checked[4] = true
			require.False(t, hostRoot(t, stagetest.TraceHostPID(t, trace)), "no pivot_root before the next step")
		case strings.HasPrefix(step.Text, `mount("mqueue"`):
			checked[5] = true
			require.False(t, hasMountAt(t, stagetest.TraceHostPID(t, trace), step), "mqueue mounted before its step")
		}
	}, "--hostname", "box", "true")
	require.Equal(t, 0, code)
	require.Len(t, checked, 5, "a check below found no step to run at; paused at %q", paused)
	require.Contains(t, paused, `sethostname("box")`)
	execs := 0
	for _, p := range paused {
		if regexp.MustCompile(`^fork\(\) \+ execve\(".*/true", \["true"\]\)$`).MatchString(p) {
			execs++
		}
	}
	require.Equal(t, 1, execs, "paused at %q", paused)
}

// utsName is the hostname of the UTS namespace of process pid.
func utsName(t *testing.T, pid int) string {
	t.Helper()
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-u", "hostname").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// hostRoot reports whether process pid's root directory is the host's.
func hostRoot(t *testing.T, pid int) bool {
	t.Helper()
	root, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/root/")
	require.NoError(t, err)
	host, err := os.Stat("/")
	require.NoError(t, err)
	return os.SameFile(root, host)
}

// hasMount reports whether process pid's mount table has a mount of type
// fstype.
func hasMount(t *testing.T, pid int, fstype string) bool {
	t.Helper()
	for _, m := range stagetest.ReadMountinfo(t, pid) {
		if m.FSType == fstype {
			return true
		}
	}
	return false
}

// hasMountAt reports whether process pid's mount table has a mount where
// the mount step mounts, of its type.
func hasMountAt(t *testing.T, pid int, step stagetest.TraceLine) bool {
	t.Helper()
	m := regexp.MustCompile(`^mount\(".*?", "(.*?)", "(.*?)",`).FindStringSubmatch(step.Text)
	require.NotNil(t, m, step.Text)
	for _, have := range stagetest.ReadMountinfo(t, pid) {
		if have.Point == m[1] && have.FSType == m[2] {
			return true
		}
	}
	return false
}
