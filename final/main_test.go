package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"cfs/internal/cleanup"
	"cfs/internal/doctor"
	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	os.Exit(stagetest.Main(m, stagetest.Options{}))
}

func runFinal(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestNames checks the name the program gives itself: built with go
// build -o cfs, its messages say cfs and its examples how it was started.
func TestNames(t *testing.T) {
	for _, tc := range []struct{ arg0, prog, invoke string }{
		{"/tmp/go-build1234/b001/exe/final", "final", "go run -exec sudo ./final"},
		{"./cfs", "cfs", "sudo ./cfs"},
		{"cfs", "cfs", "sudo cfs"},
		{"/usr/local/bin/cfs", "cfs", "sudo /usr/local/bin/cfs"},
	} {
		prog, invoke := names(tc.arg0)
		require.Equal(t, tc.prog, prog, tc.arg0)
		require.Equal(t, tc.invoke, invoke, tc.arg0)
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		code       int
		out, err   string // substrings of stdout and stderr
		notInUsage string
	}{
		{nil, 2, "", "Usage: final COMMAND", ""},
		{[]string{"-h"}, 0, "Examples:\n  go run -exec sudo ./final doctor\n", "", "frobnicate"},
		{[]string{"--help"}, 0, "doctor [--json]", "", ""},
		{[]string{"--help"}, 0, "\n      --trace   ", "", ""}, // the global options, found from the usage
		{[]string{"--help"}, 0, "\n  cleanup [--dry-run] [--all] [--caches]  remove what", "", ""},
		{[]string{"frobnicate"}, 2, "", "final: unknown command \"frobnicate\"\n\nUsage:", ""},
		{[]string{"cleanup", "--frob"}, 2, "", "flag provided but not defined: -frob\n(see: final cleanup --help)", ""},
		{[]string{"cleanup", "now"}, 2, "", "unexpected argument \"now\"", ""},
		{[]string{"cleanup", "-h"}, 0, "Usage: final cleanup [--dry-run] [--all] [--caches]", "", ""},
		{[]string{"cleanup", "--help"}, 0, "  --caches ", "", ""},
		{[]string{"doctor", "--frob"}, 2, "", "flag provided but not defined: -frob\n(see: final doctor --help)", ""},
		{[]string{"doctor", "extra"}, 2, "", "unexpected argument \"extra\"", ""},
		{[]string{"doctor", "-h"}, 0, "Usage: final doctor [--json]", "", ""},
	} {
		code, out, errOut := runFinal(tc.args...)
		require.Equal(t, tc.code, code, "%v: %s%s", tc.args, out, errOut)
		require.Contains(t, out, tc.out, tc.args)
		require.Contains(t, errOut, tc.err, tc.args)
		if tc.notInUsage != "" {
			require.NotContains(t, out, tc.notInUsage)
		}
	}
}

// brokenHost is a host with nothing in /proc or /sys: the namespace and
// cgroup checks fail, and doctor must say so and exit 1.
func brokenHost(t *testing.T) func() *doctor.Host {
	dir := t.TempDir()
	return func() *doctor.Host {
		return &doctor.Host{
			Root: dir, Proc: filepath.Join(dir, "proc"), Sys: filepath.Join(dir, "sys"),
			Etc: filepath.Join(dir, "etc"), Run: filepath.Join(dir, "run"), StateDir: filepath.Join(dir, "var/lib/cfs"),
			Getenv:   func(string) string { return "" },
			LookPath: func(string) (string, error) { return "", os.ErrNotExist },
		}
	}
}

func TestDoctorReport(t *testing.T) {
	saved := newHost
	t.Cleanup(func() { newHost = saved })
	newHost = brokenHost(t)

	code, out, _ := runFinal("doctor")
	require.Equal(t, 1, code, out)
	lines := strings.Split(out, "\n")
	require.Regexp(t, `^ok   root {8}  running as root$`, lines[0], "status, then the name padded to the longest name")
	require.Contains(t, out, "\nFAIL namespaces    cannot list the namespaces: ")
	require.Contains(t, out, "\n                   fix: mount proc on /proc")
	require.Contains(t, out, "\n                   needed by every stage\n")
	require.Contains(t, out, "\n                   needed by stage07-cgroups and later\n")
	require.Regexp(t, regexp.MustCompile(`\n\d+ failures, \d+ warnings: fix the failures \(namespaces, userns, cgroups\) before`), out)

	code, out, _ = runFinal("doctor", "--json")
	require.Equal(t, 1, code)
	var results []doctor.Result
	require.NoError(t, json.Unmarshal([]byte(out), &results))
	require.Len(t, results, len(newHost().Checks()))
	byName := map[string]doctor.Result{}
	for _, r := range results {
		byName[r.Name] = r
	}
	require.Equal(t, doctor.Fail, byName["cgroups"].Status)
	require.Equal(t, "stage07-cgroups", byName["cgroups"].NeededBy[0])
	require.Equal(t, doctor.Warn, byName["overlay"].Status, "without a trial hook, overlay is not tried")
}

// On this host, the exit status follows the failures, and each check has
// one line.
func TestDoctorOnThisHost(t *testing.T) {
	code, out, _ := runFinal("doctor", "--json")
	var results []doctor.Result
	require.NoError(t, json.Unmarshal([]byte(out), &results))
	want := 0
	for _, r := range results {
		if r.Failed() {
			want = 1
		}
	}
	require.Equal(t, want, code, out)

	code, out, _ = runFinal("doctor")
	require.Equal(t, want, code, out)
	statusLines := regexp.MustCompile(`(?m)^(ok  |warn|FAIL) \S`).FindAllString(out, -1)
	require.Len(t, statusLines, len(results), out)
}

// cleanup passes its flags on, prints the summary last, and exits 1 when
// something could not be removed or it could not look at all.
func TestCleanupCommand(t *testing.T) {
	saved := runCleanup
	t.Cleanup(func() { runCleanup = saved })
	var got cleanup.Options
	rep := &cleanup.Report{}
	var runErr error
	runCleanup = func(opt cleanup.Options) (*cleanup.Report, error) {
		got = opt
		fmt.Fprintf(opt.Out, "removed link cfs0 (bridge)\n")
		return rep, runErr
	}

	rep.Removed = []cleanup.Resource{{Kind: cleanup.KindLink, Name: "cfs0"}}
	code, out, errOut := runFinal("cleanup", "--dry-run", "--all")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, cleanup.Options{DryRun: true, All: true, Out: got.Out}, got)
	require.Equal(t, "removed link cfs0 (bridge)\nRemoved 1 resource.\n", out)

	code, _, _ = runFinal("cleanup", "--caches")
	require.Equal(t, 0, code)
	require.Equal(t, cleanup.Options{Caches: true, Out: got.Out}, got)

	rep.Failed = []cleanup.Failure{{Resource: cleanup.Resource{Kind: cleanup.KindMount, Name: "/run/cfs/x"}, Err: errors.New("busy")}}
	code, out, _ = runFinal("cleanup")
	require.Equal(t, 1, code)
	require.Contains(t, out, "1 could not be removed")

	runErr = errors.New("cleanup needs root")
	code, _, errOut = runFinal("cleanup")
	require.Equal(t, 1, code)
	require.Equal(t, "final cleanup: cleanup needs root\n", errOut)
}

// On this host, a dry run looks at everything and changes nothing.
func TestCleanupDryRunOnThisHost(t *testing.T) {
	stagetest.RequireRoot(t)
	before := stagetest.Snapshot()
	code, out, errOut := runFinal("cleanup", "--dry-run", "--all", "--caches")
	require.Equal(t, 0, code, out+errOut)
	require.Regexp(t, `(?m)^(Would remove \d+ resources?|Nothing to clean up: the host holds nothing of cfs's|No leftovers)[;.]`, out)
	require.NotContains(t, out, "\nremoved ")
	require.Empty(t, before.NewSince(stagetest.Snapshot()), "the dry run removed something")
}
