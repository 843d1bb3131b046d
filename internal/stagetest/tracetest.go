package stagetest

// The parts of the --trace and --step tests that every stage shares,
// written once. NoTraceByDefault and StepNeedsATerminal run from each
// stage's trace_test.go as top-level tests of the same names; the helpers
// (UTSName, HostRoot, HasMount...) serve the tests that stay in the stages,
// TestTraceMatchesTheKernel and TestStepStopsBeforeEachStep, whose steps
// grow with the lessons.

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"cfs/internal/layout"
)

// Without --trace and --step the stage prints nothing of its own.
func NoTraceByDefault(t *testing.T) {
	RequireRoot(t)
	res := Run(t, "", "--hostname", "box", "hostname")
	require.Equal(t, 0, res.Code)
	require.Equal(t, "box\n", res.Stdout)
	require.Empty(t, res.Stderr)
}

// --step without a terminal is bad input: there is nowhere to read Enter.
func StepNeedsATerminal(t *testing.T) {
	RequireRoot(t)
	p := StartWrapped(t, []string{"setsid"}, "--step", "true")
	p.Stdin.Close()
	res := p.Wait(t)
	require.Equal(t, 2, res.Code)
	require.Contains(t, res.Stderr, "--step waits for Enter on the terminal")
}

// UTSName is the hostname of the UTS namespace of process pid.
func UTSName(t *testing.T, pid int) string {
	t.Helper()
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-u", "hostname").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// HostRoot reports whether process pid's root directory is the host's.
func HostRoot(t *testing.T, pid int) bool {
	t.Helper()
	root, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/root/")
	require.NoError(t, err)
	host, err := os.Stat("/")
	require.NoError(t, err)
	return os.SameFile(root, host)
}

// HasMount reports whether process pid's mount table has a mount of type
// fstype.
func HasMount(t *testing.T, pid int, fstype string) bool {
	t.Helper()
	for _, m := range ReadMountinfo(t, pid) {
		if m.FSType == fstype {
			return true
		}
	}
	return false
}

// HasMountAt reports whether process pid's mount table has a mount where
// the mount step mounts, of its type.
func HasMountAt(t *testing.T, pid int, step TraceLine) bool {
	t.Helper()
	m := regexp.MustCompile(`^mount\(".*?", "(.*?)", "(.*?)",`).FindStringSubmatch(step.Text)
	require.NotNil(t, m, step.Text)
	for _, have := range ReadMountinfo(t, pid) {
		if have.Point == m[1] && have.FSType == m[2] {
			return true
		}
	}
	return false
}

// RequireTracedRules compares the rules of the last nft batch in the trace
// with `nft list table ip cfs` where the stage runs, chain by chain.
func RequireTracedRules(t *testing.T, lines []TraceLine) {
	t.Helper()
	var traced []string
	for _, l := range lines {
		switch {
		case l.Kind == "step" && strings.HasPrefix(l.Text, "netlink NFNL_MSG_BATCH_BEGIN"):
			traced = nil
		case l.Kind == "detail" && strings.HasPrefix(l.Text, "add rule ip "+layout.NftTable+" "):
			traced = append(traced, strings.TrimPrefix(l.Text, "add rule ip "+layout.NftTable+" "))
		}
	}
	require.NotEmpty(t, traced, "no nft rules in the trace")
	argv := append(PackageNetNS().Wrapper(), "nft", "list", "table", "ip", layout.NftTable)
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	require.NoError(t, err)
	counters := regexp.MustCompile(`counter packets \d+ bytes \d+`)
	var listed []string
	chain := ""
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "chain "):
			chain = strings.Fields(line)[1]
		case line == "" || line == "}" || strings.HasPrefix(line, "type ") || strings.HasPrefix(line, "table "):
		default:
			listed = append(listed, chain+" "+counters.ReplaceAllString(line, "counter"))
		}
	}
	require.ElementsMatch(t, listed, traced)
}

// LinkExists reports whether a link named name is where the stage runs.
func LinkExists(t *testing.T, name string) bool {
	t.Helper()
	h, err := PackageNetNS().Handle()
	require.NoError(t, err)
	defer h.Close()
	_, err = h.LinkByName(name)
	return err == nil
}
