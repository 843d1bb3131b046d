package main

import (
	"os"
	"regexp"
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
	require.True(t, stagetest.HasMount(t, pid, "mqueue"))

	p.Stdin.Close()
	require.Equal(t, 0, p.Wait(t).Code)
}

// Written once, in internal/stagetest/tracetest.go, for every stage.
func TestNoTraceByDefault(t *testing.T) { stagetest.NoTraceByDefault(t) }

func TestStepNeedsATerminal(t *testing.T) { stagetest.StepNeedsATerminal(t) }

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
			require.Equal(t, host, stagetest.UTSName(t, stagetest.TraceHostPID(t, trace)))
		case strings.HasPrefix(step.Text, "fork() + execve("):
			checked[2] = true
			require.Equal(t, "box", stagetest.UTSName(t, stagetest.TraceHostPID(t, trace)))
			require.Empty(t, stagetest.Children(stagetest.TraceHostPID(t, trace)), "the command started before its step")
		case strings.HasPrefix(step.Text, "chdir(") && strings.Contains(step.Text, "pivot_root"):
			checked[3] = true
			require.True(t, stagetest.HostRoot(t, stagetest.TraceHostPID(t, trace)), "pivot_root happened before its step")
		case strings.HasPrefix(step.Text, "umount2("):
			checked[4] = true
			require.False(t, stagetest.HostRoot(t, stagetest.TraceHostPID(t, trace)), "no pivot_root before the next step")
		case strings.HasPrefix(step.Text, `mount("mqueue"`):
			checked[5] = true
			require.False(t, stagetest.HasMountAt(t, stagetest.TraceHostPID(t, trace), step), "mqueue mounted before its step")
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
