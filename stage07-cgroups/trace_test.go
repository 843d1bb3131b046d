package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"cfs/internal/layout"
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
	p := stagetest.Start(t, append([]string{"--trace", "--hostname", "box", "--memory", "64m", "--cpus", "0.5", "--pids", "50"}, traceCommand...)...)
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

	// The veth pair: the host end is a port of cfs0 where the stage runs,
	// and the address traced is eth0's inside.
	veth := regexp.MustCompile(`^netlink RTM_NEWLINK\((cfs[0-9a-f]{8}) type veth peer eth0 netns /proc/(\d+)/ns/net\)$`)
	var host string
	for _, l := range stagetest.Steps(lines, "parent", "netlink RTM_NEWLINK(") {
		if m := veth.FindStringSubmatch(l.Text); m != nil {
			require.Equal(t, strconv.Itoa(pid), m[2])
			host = m[1]
		}
	}
	require.NotEmpty(t, host, "no veth in the trace")
	h, err := stagetest.PackageNetNS().Handle()
	require.NoError(t, err)
	defer h.Close()
	link, err := h.LinkByName(host)
	require.NoError(t, err)
	br, err := h.LinkByName(layout.Bridge)
	require.NoError(t, err)
	require.Equal(t, br.Attrs().Index, link.Attrs().MasterIndex)
	require.Len(t, stagetest.Steps(lines, "parent", "netlink RTM_NEWADDR("+stagetest.ContainerNet(t, pid).String()+" dev eth0)"), 1)
	require.Contains(t, stagetest.CheckTraceLooks(t, lines, pid), "ip link show "+host+"; sudo nsenter -t "+strconv.Itoa(pid)+" -n ip addr")

	// Each nft rule traced is in the table the kernel lists, and no other.
	stagetest.RequireTracedRules(t, lines)

	// The maps traced are the ones the kernel holds for the container.
	for _, file := range []string{"uid_map", "gid_map"} {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
		require.NoError(t, err)
		want := strings.Join(strings.Fields(string(data)), " ")
		require.Len(t, stagetest.Details(lines, "parent", "write(/proc/CHILD/"+file+", \""+want+"\")"), 1, "%s is %q", file, want)
	}

	// Every cgroup file traced holds what was written; the container's
	// first process is in every cgroup it was written into.
	writes := regexp.MustCompile(`^write\((/sys/fs/cgroup/\S+), "(.*)"\)$`)
	n := 0
	for _, l := range stagetest.Steps(lines, "parent", "write(/sys/fs/cgroup/") {
		m := writes.FindStringSubmatch(l.Text)
		require.NotNil(t, m, l.Text)
		data, err := os.ReadFile(m[1])
		require.NoError(t, err)
		switch filepath.Base(m[1]) {
		case "cgroup.subtree_control":
			require.Contains(t, strings.Fields(string(data)), strings.TrimPrefix(m[2], "+"))
		case "cgroup.procs":
			require.Equal(t, strconv.Itoa(pid), m[2])
			require.Contains(t, strings.Fields(string(data)), m[2])
		default:
			require.Equal(t, m[2], strings.TrimSpace(string(data)), m[1])
			n++
		}
	}
	require.GreaterOrEqual(t, n, 3, "the limits were not traced")

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
	var made []string
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
		case strings.Contains(step.Text, " type veth peer eth0 "):
			checked[6] = true
			name := strings.Fields(strings.TrimPrefix(step.Text, "netlink RTM_NEWLINK("))[0]
			require.False(t, stagetest.LinkExists(t, name), "veth %s made before its step", name)
		case strings.HasPrefix(step.Text, "netlink RTM_NEWLINK(cfs") && strings.Contains(step.Text, " master "):
			checked[7] = true
			name := strings.Fields(strings.TrimPrefix(step.Text, "netlink RTM_NEWLINK("))[0]
			require.True(t, stagetest.LinkExists(t, name), "veth %s not made at its step", name)
		case strings.HasPrefix(step.Text, "mkdir(/sys/fs/cgroup/"):
			checked[8] = true
			dir := strings.TrimSuffix(strings.TrimPrefix(step.Text, "mkdir("), ")")
			require.NoDirExists(t, dir, "cgroup made before its step")
			made = append(made, dir)
		case strings.HasPrefix(step.Text, "write(/sys/fs/cgroup/"):
			checked[9] = true
			for _, dir := range made {
				require.DirExists(t, dir)
			}
		}
	}, "--hostname", "box", "--memory", "64m", "true")
	require.Equal(t, 0, code)
	require.Len(t, checked, 9, "a check below found no step to run at; paused at %q", paused)
	require.Contains(t, paused, `sethostname("box")`)
	execs := 0
	for _, p := range paused {
		if regexp.MustCompile(`^fork\(\) \+ execve\(".*/true", \["true"\]\)$`).MatchString(p) {
			execs++
		}
	}
	require.Equal(t, 1, execs, "paused at %q", paused)
}

// Ctrl-C at a pause while the stage sets up the host ends the run there,
// with the status of SIGINT, and takes down what was made so far.
func TestCtrlCAtAPauseCleansUp(t *testing.T) {
	stagetest.RequireRoot(t)
	lines, code := stagetest.InterruptAt(t, `^write\(/sys/fs/cgroup/.*/memory\.`, "--hostname", "box", "--memory", "64m", "true")
	require.Equal(t, 130, code)
	require.Empty(t, stagetest.Steps(lines, "parent", "clone("), "the container started after Ctrl-C")
	require.Contains(t, lines, stagetest.TraceLine{Side: "parent", Kind: "result", Text: "interrupted by interrupt: cleaned up"})
	require.False(t, stagetest.LinkExists(t, layout.Bridge), "%s left", layout.Bridge)
	made := 0
	for _, l := range stagetest.Steps(lines, "parent", "mkdir(/sys/fs/cgroup/") {
		require.NoDirExists(t, strings.TrimSuffix(strings.TrimPrefix(l.Text, "mkdir("), ")"))
		made++
	}
	require.NotZero(t, made)
}
