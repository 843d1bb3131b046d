// Package docs checks that the chapters stay true to the code: every diff
// excerpt is what `diff -u` prints today, every relative link resolves,
// and every "## Try it" transcript is what a real run prints.
//
// After changing a stage, refresh the excerpts with
//
//	go test ./docs -run TestDiffExcerpts -update
//
// and replay the transcripts (root; TestTranscripts in replay_test.go):
//
//	sudo env "PATH=$PATH" go test -count=1 ./docs -run TestTranscripts
//
// A transcript is a plain ``` fence: lines that start with "$ " are
// commands (run as root when they say sudo, otherwise as the user nobody),
// or "# " in a root shell's fence; the lines after a command are its output,
// stdout and stderr as a terminal shows them. Each chapter's commands run in
// order from the repository's root, each in the directory the last one
// left, on a "replay host": new namespaces set up as the VM the chapters
// were written on (hostname vm, eth0 192.0.2.2/24, its own /tmp, /run,
// /var/lib/cfs and IPC objects; see newReplayHost), where `go run ./stageNN`
// and `go build -o OUT ./stageNN` use stages built once per run. Nothing of
// it is left on the host.
//
// Outputs are compared line by line, after a fixed set of placeholders
// (see placeholders in transcript_test.go) replaces container IDs and other
// hex names, namespace inodes, ls -l times, MAC and link-local addresses,
// ping times and the PWD= line on both sides. Anything else that varies is
// written "…" in the chapter, which matches any text within its line; use
// it sparingly, and keep real values elsewhere. A hex ID the chapter shows
// stands for this run's in later commands (cd /var/lib/cfs/containers/ID).
//
// Every fence of a Try it section is replayed, or excused just before it
// with <!-- not replayed: REASON --> (an interactive terminal, the kernel
// log, numbers that differ on every run), or is a file the reader saves,
// marked <!-- replay: file PATH -->, which the replay writes there. In
// README.md, only fences marked <!-- replay --> are replayed.
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
