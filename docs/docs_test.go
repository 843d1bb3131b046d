// Package docs checks that the chapters stay true to the code: every diff
// excerpt is what `diff -u` prints today, and every relative link resolves.
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
		fixed := diffBlock.ReplaceAllStringFunc(text, func(block string) string {
			m := diffBlock.FindStringSubmatch(block)
			found++
			return "```diff\n" + diffU(t, m[1], m[2]) + "```"
		})
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

// diffU runs diff -u between two files of the repository, labelled with
// their paths (no timestamps, so the output depends on content only).
func diffU(t *testing.T, a, b string) string {
	t.Helper()
	out, err := exec.Command("diff", "-u", "--label", a, "--label", b, filepath.Join("..", a), filepath.Join("..", b)).Output()
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
