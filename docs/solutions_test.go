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

// referencePatch is a call that applies a reference patch without going
// through answer_copy or answer_bin, so that STAGE could not replace it.
var referencePatch = regexp.MustCompile(`stage_(bin|copy) \S+ "\$HERE/[^"]*\.patch"`)

// TestSolutionsSayHowToCheckYourOwn: every run.sh either grades a student's
// copy where it would apply a reference answer (answer_bin, answer_copy,
// program_copy, answer_config), or says that it is the answer itself
// (no_copy_to_grade); and its README tells the student which.
func TestSolutionsSayHowToCheckYourOwn(t *testing.T) {
	for _, dir := range solutionDirs(t) {
		script, err := os.ReadFile(filepath.Join(dir, "run.sh"))
		require.NoError(t, err)
		grades := regexp.MustCompile(`\b(answer_bin|answer_copy|program_copy|answer_config) `).Match(script)
		scripted := strings.Contains(string(script), "\nno_copy_to_grade")
		assertTrue(t, grades != scripted, "%s/run.sh: grade a copy (answer_bin, answer_copy, program_copy, answer_config) or say no_copy_to_grade, one of the two", dir)
		if m := referencePatch.Find(script); m != nil {
			t.Errorf("%s/run.sh: %s bypasses STAGE: use answer_bin or answer_copy", dir, m)
		}
		readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
		require.NoError(t, err)
		switch {
		case scripted:
			assertTrue(t, strings.Contains(string(readme), "**Check your own:** the script is the answer"), "%s/README.md does not say that the script is the answer", dir)
		default:
			assertTrue(t, regexp.MustCompile(`(?s)\*\*Check your own:\*\* .*?(STAGE|PROGRAM|CONFIG)=`).Match(readme), "%s/README.md does not say how to check your own copy (STAGE=…, PROGRAM=… or CONFIG=…)", dir)
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
	requireSolutionHost(t)
	dirs := solutionDirs(t)
	keys := make([]string, 0, len(dirs))
	for k := range dirs {
		keys = append(keys, k)
	}
	sortKeys(keys)
	for _, key := range keys {
		dir := dirs[key]
		t.Run(filepath.Base(dir), func(t *testing.T) {
			out, err := runSolution(t, dir)
			if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == solutionSkipped {
				t.Skipf("%s/run.sh: %s", dir, skipReason(out))
			}
			require.NoError(t, err, "%s/run.sh failed", dir)
			require.Contains(t, out, "== PASS: "+filepath.Base(dir))
		})
	}
}

// solutionSkipped is the status of a run.sh that needs a program the host
// lacks (lib.sh's need).
const solutionSkipped = 77

// skipReason is the SKIP: line of a run.sh's output.
func skipReason(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(l, "SKIP: "); ok {
			return r
		}
	}
	return "skipped"
}

// TestSolutionsGradeAStudentsCopy: with STAGE=DIR a worked answer checks a
// student's own copy of the stage instead of applying the reference patch.
// Each grader here runs on two copies made outside the module, as a
// student's may be: the stage as it is, which does not do what the
// exercise asks, so the grader must fail; and the stage with the reference
// patch applied by this test, so it must pass.
func TestSolutionsGradeAStudentsCopy(t *testing.T) {
	requireSolutionHost(t)
	for _, c := range []struct{ solution, stage string }{
		{"01-1-domainname", "stage01-uts"},      // a new flag
		{"02-3-signals", "stage02-pid"},         // a signal that must get through
		{"03-3-make-rprivate", "stage03-mount"}, // a mount left out on purpose
	} {
		t.Run(c.solution, func(t *testing.T) {
			dir := filepath.Join("solutions", c.solution)
			patches, err := filepath.Glob(filepath.Join(dir, "*.patch"))
			require.NoError(t, err)
			require.Len(t, patches, 1, "%s: one reference patch", dir)
			wrong := copyStage(t, c.stage, "wrong")
			right := copyStage(t, c.stage, "right")
			// git apply, as lib.sh does: patch(1) is not on every system.
			patch := exec.Command("git", "apply", "-p1", mustAbs(t, patches[0]))
			patch.Dir = right
			patch.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(right))
			out, err := patch.CombinedOutput()
			require.NoError(t, err, "git apply: %s", out)

			got, err := runSolution(t, dir, "STAGE="+wrong)
			require.Error(t, err, "the grader passed the stage as it is")
			require.Contains(t, got, "your copy of "+c.stage+": "+wrong)
			require.Contains(t, got, "== FAIL: "+c.solution)

			got, err = runSolution(t, dir, "STAGE="+right)
			require.NoError(t, err, "the grader failed the reference answer")
			require.Contains(t, got, "your copy of "+c.stage+": "+right)
			require.Contains(t, got, "== PASS: "+c.solution)
		})
	}
	// Chapter 09's answers are a bundle's config.json: the reference
	// answer must pass, and the same without the pids limit fail.
	t.Run("09-1-config-json", func(t *testing.T) {
		dir := filepath.Join("solutions", "09-1-config-json")
		bin := filepath.Join(stagetest.InvokerTempDir(t), "cfs")
		out, err := stagetest.GoCommand(t, "build", "-o", bin, "../final").CombinedOutput()
		require.NoError(t, err, "go build the engine: %s", out)
		spec := func(name string) string {
			d := filepath.Join(stagetest.InvokerTempDir(t), name)
			require.NoError(t, os.Mkdir(d, 0o755))
			out, err := exec.Command(bin, "runtime", "spec", "--bundle", d).CombinedOutput()
			require.NoError(t, err, "cfs runtime spec: %s", out)
			return filepath.Join(d, "config.json")
		}
		wrong, right := spec("wrong"), spec("right")
		for _, f := range []string{wrong, right} {
			out, err = exec.Command(filepath.Join(dir, "edit.sh"), f).CombinedOutput()
			require.NoError(t, err, "edit.sh: %s", out)
		}
		// wrong: the answer but for one field, the pids limit.
		data, err := os.ReadFile(wrong)
		require.NoError(t, err)
		pids := regexp.MustCompile(`(?m)^\s*"pids": \{"limit": 20\},\n`)
		require.Regexp(t, pids, string(data))
		require.NoError(t, os.WriteFile(wrong, pids.ReplaceAll(data, nil), 0o644))

		got, err := runSolution(t, dir, "CONFIG="+wrong)
		require.Error(t, err, "the grader passed a config without the pids limit")
		require.Contains(t, got, "your config: "+wrong)
		require.Contains(t, got, "FAIL: its cgroup allows 20 processes")
		require.Contains(t, got, "== FAIL: 09-1-config-json")

		got, err = runSolution(t, dir, "CONFIG="+right)
		require.NoError(t, err, "the grader failed the reference answer")
		require.Contains(t, got, "your config: "+right)
		require.Contains(t, got, "== PASS: 09-1-config-json")
	})
	t.Run("a copy of another stage", func(t *testing.T) {
		other := copyStage(t, "stage02-pid", "other")
		got, err := runSolution(t, filepath.Join("solutions", "01-1-domainname"), "STAGE="+other)
		require.Error(t, err)
		require.Contains(t, got, "has no copy of stage01-uts")
	})
	t.Run("an exercise with no code to check", func(t *testing.T) {
		stageCopy := copyStage(t, "stage02-pid", "copy")
		got, err := runSolution(t, filepath.Join("solutions", "02-2-nesting"), "STAGE="+stageCopy)
		require.Error(t, err)
		require.Contains(t, got, "changes no code, so there is no copy to check")
	})
}

// requireSolutionHost skips where the solutions cannot run, and builds the
// default root filesystem, a cache meant to stay, before the first look
// for leaks.
func requireSolutionHost(t *testing.T) {
	t.Helper()
	stagetest.RequireRoot(t)
	_, err := rootfs.Ensure(os.Stderr)
	require.NoError(t, err)
}

// copyStage copies a stage's directory to a new directory NAME outside the
// module, as a student's copy may be, and returns its path. The copy is
// the invoking user's, as a student's own is: the script copies it as them.
func copyStage(t *testing.T, stage, name string) string {
	t.Helper()
	dst := filepath.Join(stagetest.InvokerTempDir(t), name)
	require.NoError(t, os.CopyFS(dst, os.DirFS(filepath.Join("..", stage))))
	if inv := stagetest.SudoInvoker(); inv != nil {
		require.NoError(t, filepath.WalkDir(dst, func(p string, _ os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, inv.Uid, inv.Gid)
		}))
	}
	return dst
}

func mustAbs(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	require.NoError(t, err)
	return abs
}

// runSolution runs DIR/run.sh with the environment plus ENV, and returns
// its output and error. It fails the test if the script outlives
// solutionTimeout or leaves anything behind on the host. STAGE, PROGRAM
// and CONFIG come only from ENV: a reference run never grades a copy by
// accident.
func runSolution(t *testing.T, dir string, env ...string) (string, error) {
	t.Helper()
	// The scripts run go; under sudo, PATH holds none.
	goDir := filepath.Dir(goTool(t))
	before := stagetest.Snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), solutionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "run.sh"))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STAGE=") && !strings.HasPrefix(kv, "PROGRAM=") && !strings.HasPrefix(kv, "CONFIG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+goDir+string(filepath.ListSeparator)+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, env...)
	// On a timeout, SIGTERM lets the script undo what it made (its EXIT
	// trap); whatever of its process group is left after WaitDelay is
	// killed, so no stage outlives the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	t.Logf("%s %s (%.1fs):\n%s", strings.Join(env, " "), dir, time.Since(start).Seconds(), out)
	if ctx.Err() != nil {
		t.Fatalf("%s/run.sh did not end within %v", dir, solutionTimeout)
	}
	require.Empty(t, stagetest.Snapshot().NewSince(before), "%s/run.sh left these behind", dir)
	return string(out), err
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
