// Package docs checks that the chapters stay true to the code: every diff
// excerpt is what `diff -u` prints today, every quoted line of Go is in the
// code, every relative link resolves, and every "## Try it" transcript is
// what a real run prints.
//
// After changing a stage, refresh the excerpts with
//
//	go test ./docs -run TestDiffExcerpts -update
//
// and replay the transcripts (root; TestTranscripts in replay_test.go):
//
//	go test -exec sudo -count=1 ./docs -run TestTranscripts
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
// marked <!-- replay: file PATH -->, which the replay writes there. A fence
// marked <!-- replay: cgroup v1 --> (or v2) shows what a host of that kind
// prints, and is replayed only there: CI's host has v1, its VM lane v2. One
// marked <!-- replay: linux >= 6.18 --> is checked only on that kernel or a
// later one; on an older one its commands run unchecked. One marked
// <!-- replay: until it matches: REASON --> is run again until its output
// matches (a log that fills as a container runs). One marked <!-- replay:
// these lines among others: REASON --> shows some lines of a long output
// (a trace): they must all be in it, in the order shown, with any others
// before, between and after them. In README.md, only fences marked
// <!-- replay --> are replayed.
//
// The chapters were written on a Debian 12 VM without busybox, and the
// replay builds the containers' root filesystem from the host's programs
// even where busybox is installed, so the outputs are coreutils', procps',
// iproute2's and dash's. A command that needs a program a base system may
// lack (getfattr, python3; nc in a container) is left out, with the rest
// of its fence, where the host has none, and the log says so.
package docs

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"cfs/internal/stagetest"

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
	changed := strings.Replace(string(data), "unix.CLONE_NEWUTS | unix.CLONE_NEWPID\n", "unix.CLONE_NEWPID | unix.CLONE_NEWUTS\n", 1)
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
	for _, pattern := range []string{"../stage*/*.go", "../internal/*/*.go", "../final/*.go", "../final/*/*.go"} {
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
				dir := stagetest.InvokerTempDir(t)
				require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(body), 0o644))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example\n\ngo 1.22\n"), 0o644))
				cmd := stagetest.GoCommand(t, "vet", ".")
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
