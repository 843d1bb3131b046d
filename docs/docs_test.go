// Package docs checks that the chapters stay true to the code: every diff
// excerpt is what `diff -u` prints today, every quoted line of Go is in the
// code, and every relative link resolves.
//
// After changing a stage, refresh the excerpts with
//
//	go test ./docs -run TestDiffExcerpts -update
package docs

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the diff excerpts in the chapters from the code")

// diffBlock is a ```diff fence whose first two lines name the files.
var diffBlock = regexp.MustCompile("(?s)```diff\n--- (\\S+)[^\n]*\n\\+\\+\\+ (\\S+)[^\n]*\n.*?```")

func TestDiffExcerpts(t *testing.T) {
	chapters, err := filepath.Glob("*.md")
	require.NoError(t, err)
	found := 0
	for _, ch := range chapters {
		data, err := os.ReadFile(ch)
		require.NoError(t, err)
		text := string(data)
		fixed, n := refreshDiffs(t, "..", text)
		found += n
		if fixed == text {
			continue
		}
		if *update {
			require.NoError(t, os.WriteFile(ch, []byte(fixed), 0o644))
			continue
		}
		t.Errorf("%s: a diff excerpt no longer matches the code; run: go test ./docs -run TestDiffExcerpts -update", ch)
	}
	require.NotZero(t, found, "no diff excerpts found: has the fence format changed?")
}

// refreshDiffs returns text with every diff excerpt regenerated from the
// files under root, and how many there were.
func refreshDiffs(t *testing.T, root, text string) (string, int) {
	t.Helper()
	n := 0
	return diffBlock.ReplaceAllStringFunc(text, func(block string) string {
		m := diffBlock.FindStringSubmatch(block)
		n++
		return "```diff\n" + diffU(t, root, m[1], m[2]) + "```"
	}), n
}

// A stage changed without its chapter must fail the check: change one line
// of a copy of stage 02 and check chapter 02 against the copy.
func TestDiffExcerptsCatchAStaleChapter(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"stage01-uts/main.go", "stage02-pid/main.go"} {
		data, err := os.ReadFile(filepath.Join("..", f))
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, f), data, 0o644))
	}
	chapter, err := os.ReadFile("02-pid.md")
	require.NoError(t, err)
	fresh, n := refreshDiffs(t, root, string(chapter))
	require.Equal(t, 1, n)
	require.Equal(t, string(chapter), fresh, "chapter 02 is stale already")

	stage := filepath.Join(root, "stage02-pid/main.go")
	data, err := os.ReadFile(stage)
	require.NoError(t, err)
	changed := strings.Replace(string(data), "unix.CLONE_NEWUTS | unix.CLONE_NEWPID,", "unix.CLONE_NEWPID | unix.CLONE_NEWUTS,", 1)
	require.NotEqual(t, string(data), changed)
	require.NoError(t, os.WriteFile(stage, []byte(changed), 0o644))
	stale, _ := refreshDiffs(t, root, string(chapter))
	require.NotEqual(t, string(chapter), stale, "a changed stage went unnoticed")
}

// goBlock is a ```go fence, at any indentation.
var goBlock = regexp.MustCompile("(?ms)^( *)```go\n(.*?)^ *```")

// Every line of Go code a chapter quotes is in the code today. A fence
// that starts a program of its own (a "package main" line) is no quote:
// it must compile instead.
func TestGoQuotesAreInTheCode(t *testing.T) {
	code := map[string]bool{}
	for _, pattern := range []string{"../stage*/*.go", "../internal/*/*.go", "../final/*.go"} {
		files, err := filepath.Glob(pattern)
		require.NoError(t, err)
		for _, f := range files {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			for _, line := range strings.Split(string(data), "\n") {
				code[strings.TrimSpace(line)] = true
			}
		}
	}
	chapters, err := filepath.Glob("*.md")
	require.NoError(t, err)
	quotes, programs := 0, 0
	for _, ch := range chapters {
		data, err := os.ReadFile(ch)
		require.NoError(t, err)
		for _, m := range goBlock.FindAllStringSubmatch(string(data), -1) {
			body := m[2]
			if regexp.MustCompile(`(?m)^\s*package main$`).MatchString(body) {
				programs++
				if os.Getenv("CFS_IN_VM") == "1" {
					continue // the VM lane has no Go toolchain; the host lane builds it
				}
				dir := t.TempDir()
				require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(body), 0o644))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example\n\ngo 1.22\n"), 0o644))
				cmd := exec.Command("go", "vet", ".")
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "%s: a program in the chapter does not build:\n%s", ch, out)
				continue
			}
			quotes++
			for _, line := range strings.Split(body, "\n") {
				line = strings.TrimSpace(line)
				if line != "" && !code[line] {
					t.Errorf("%s quotes a line that is not in the code: %s", ch, line)
				}
			}
		}
	}
	require.NotZero(t, quotes, "no Go quotes found: has the fence format changed?")
	require.NotZero(t, programs)
}

// diffU runs diff -u between two files under root, labelled with their
// paths (no timestamps, so the output depends on content only).
func diffU(t *testing.T, root, a, b string) string {
	t.Helper()
	out, err := exec.Command("diff", "-u", "--label", a, "--label", b, filepath.Join(root, a), filepath.Join(root, b)).Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		err = nil // 1 means the files differ
	}
	require.NoError(t, err, "diff -u %s %s", a, b)
	return string(out)
}

var link = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)

func TestRelativeLinksResolve(t *testing.T) {
	files, _ := filepath.Glob("*.md")
	files = append(files, "../README.md")
	solutions, _ := filepath.Glob("solutions/*.md")
	files = append(files, solutions...)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			_, err := os.Stat(filepath.Join(filepath.Dir(f), target))
			require.NoError(t, err, "%s links to %s", f, target)
		}
	}
}
