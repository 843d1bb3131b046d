package docs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cfs/internal/rootfs"
	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

// exercisesSection is a chapter's "## Exercises", up to the next "## ".
var exercisesSection = regexp.MustCompile(`(?ms)^## Exercises\n(.*?)(?:^## |\z)`)

// exerciseItem is a numbered item at the start of a line: "3. **Title.**".
var exerciseItem = regexp.MustCompile(`(?m)^(\d+)\. `)

// solutionDirs maps "NN-K" to the solution directory docs/solutions/NN-K-name.
func solutionDirs(t *testing.T) map[string]string {
	t.Helper()
	dirs, err := filepath.Glob("solutions/[0-9][0-9]-[0-9]*-*")
	require.NoError(t, err)
	m := map[string]string{}
	for _, d := range dirs {
		parts := strings.SplitN(filepath.Base(d), "-", 3)
		key := parts[0] + "-" + parts[1]
		require.NotContains(t, m, key, "two solutions for exercise %s: %s and %s", key, m[key], d)
		m[key] = d
	}
	return m
}

// exercises lists every exercise of every chapter as "NN-K".
func exercises(t *testing.T) []string {
	t.Helper()
	chapters, err := filepath.Glob("[0-9][0-9]-*.md")
	require.NoError(t, err)
	var out []string
	for _, ch := range chapters {
		data, err := os.ReadFile(ch)
		require.NoError(t, err)
		sec := exercisesSection.FindStringSubmatch(string(data))
		if sec == nil {
			continue // the overview has none
		}
		items := exerciseItem.FindAllStringSubmatch(sec[1], -1)
		require.NotEmpty(t, items, "%s: an Exercises section with no numbered item", ch)
		for i, it := range items {
			require.Equal(t, strconv.Itoa(i+1), it[1], "%s: exercises are not numbered 1, 2, 3…", ch)
			out = append(out, ch[:2]+"-"+it[1])
		}
	}
	return out
}

// TestSolutionsCoverEveryExercise: every numbered exercise of every chapter
// has a directory docs/solutions/NN-K-name with a README.md and an
// executable run.sh, every such directory answers an existing exercise, and
// the chapter's Exercises section links to it.
func TestSolutionsCoverEveryExercise(t *testing.T) {
	ex := exercises(t)
	require.NotEmpty(t, ex, "no exercises found: has the section format changed?")
	dirs := solutionDirs(t)
	want := map[string]bool{}
	for _, e := range ex {
		want[e] = true
		d, ok := dirs[e]
		if !assertTrue(t, ok, "exercise %s has no solution: add docs/solutions/%s-NAME/", e, e) {
			continue
		}
		_, err := os.Stat(filepath.Join(d, "README.md"))
		require.NoError(t, err, "%s: no README.md", d)
		st, err := os.Stat(filepath.Join(d, "run.sh"))
		require.NoError(t, err, "%s: no run.sh", d)
		require.NotZero(t, st.Mode()&0o111, "%s/run.sh is not executable", d)
	}
	for key, d := range dirs {
		require.True(t, want[key], "%s answers no exercise (the chapter has no exercise %s)", d, key)
	}
	// Each chapter with exercises links to the solutions.
	chapters, _ := filepath.Glob("[0-9][0-9]-*.md")
	for _, ch := range chapters {
		data, _ := os.ReadFile(ch)
		if sec := exercisesSection.FindStringSubmatch(string(data)); sec != nil {
			require.Contains(t, sec[1], "solutions/", "%s: the Exercises section does not link to docs/solutions", ch)
		}
	}
	// The solutions' READMEs link only to files that exist.
	readmes, _ := filepath.Glob("solutions/*/README.md")
	for _, f := range readmes {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			if strings.Contains(m[1], "://") {
				continue
			}
			_, err := os.Stat(filepath.Join(filepath.Dir(f), m[1]))
			require.NoError(t, err, "%s links to %s", f, m[1])
		}
	}
}

func assertTrue(t *testing.T, ok bool, format string, args ...any) bool {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
	return ok
}

// solutionTimeout bounds one solution's run; a guard against a hang, not
// a delay.
const solutionTimeout = 3 * time.Minute

// TestSolutionsRun runs every solution's run.sh as root, one at a time, and
// fails if one exits non-zero or leaves anything behind on the host (the
// stages' leak check: mounts, links, network namespaces, cgroups, nft
// tables, state files, System V IPC objects, container processes).
//
// Every solution is written for cgroup v1 and v2; the cgroup v2 VM lane
// (scripts/vmtest) runs them too.
func TestSolutionsRun(t *testing.T) {
	stagetest.RequireRoot(t)
	// The scripts run go; under sudo, PATH holds none.
	goDir := filepath.Dir(stagetest.GoTool(t))
	// The first run of a stage builds the default root filesystem, a cache
	// meant to stay: build it before the first look.
	_, err := rootfs.Ensure(os.Stderr)
	require.NoError(t, err)
	dirs := solutionDirs(t)
	keys := make([]string, 0, len(dirs))
	for k := range dirs {
		keys = append(keys, k)
	}
	sortKeys(keys)
	for _, key := range keys {
		dir := dirs[key]
		t.Run(filepath.Base(dir), func(t *testing.T) {
			before := stagetest.Snapshot()
			ctx, cancel := context.WithTimeout(context.Background(), solutionTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(dir, "run.sh"))
			cmd.Env = append(os.Environ(), "PATH="+goDir+string(filepath.ListSeparator)+os.Getenv("PATH"))
			// On a timeout, SIGTERM lets the script undo what it made (its
			// EXIT trap); whatever of its process group is left after
			// WaitDelay is killed, so no stage outlives the test.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
			cmd.WaitDelay = 20 * time.Second
			start := time.Now()
			out, err := cmd.CombinedOutput()
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Logf("%s (%.1fs):\n%s", dir, time.Since(start).Seconds(), out)
			if ctx.Err() != nil {
				t.Fatalf("%s/run.sh did not end within %v", dir, solutionTimeout)
			}
			if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == solutionSkipped {
				require.Empty(t, stagetest.Snapshot().NewSince(before), "%s/run.sh left these behind", dir)
				t.Skipf("%s/run.sh: %s", dir, skipReason(out))
			}
			require.NoError(t, err, "%s/run.sh failed", dir)
			require.Empty(t, stagetest.Snapshot().NewSince(before), "%s/run.sh left these behind", dir)
		})
	}
}

// solutionSkipped is the status of a run.sh that needs a program the host
// lacks (lib.sh's need).
const solutionSkipped = 77

// skipReason is the SKIP: line of a run.sh's output.
func skipReason(out []byte) string {
	for _, l := range strings.Split(string(out), "\n") {
		if r, ok := strings.CutPrefix(l, "SKIP: "); ok {
			return r
		}
	}
	return "skipped"
}

// sortKeys sorts "NN-K" keys by chapter, then by exercise number.
func sortKeys(keys []string) {
	num := func(k string) (string, int) {
		ch, n, _ := strings.Cut(k, "-")
		i, _ := strconv.Atoi(n)
		return ch, i
	}
	sort.Slice(keys, func(i, j int) bool {
		ci, ni := num(keys[i])
		cj, nj := num(keys[j])
		return ci < cj || (ci == cj && ni < nj)
	})
}
