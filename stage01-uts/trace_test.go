package main

import (
	"os"
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
		case strings.HasPrefix(step.Text, "execve(") || strings.HasPrefix(step.Text, "fork() + execve("):
			checked[2] = true
			require.Equal(t, "box", stagetest.UTSName(t, stagetest.TraceHostPID(t, trace)))
		}
	}, "--hostname", "box", "true")
	require.Equal(t, 0, code)
	require.Len(t, checked, 2, "a check below found no step to run at; paused at %q", paused)
	require.Len(t, paused, 3, "paused at %q", paused)
	require.Equal(t, "clone(CLONE_NEWUTS)", paused[0])
	require.Equal(t, `sethostname("box")`, paused[1])
	require.Regexp(t, `^execve\(".*/true", \["true"\]\)$`, paused[2])
}
