package docs

import (
	"fmt"
	"regexp"
	"strings"
)

// A fence is one ``` block of a markdown file, with the HTML comment (if
// any) on the last non-blank line before it.
type fence struct {
	file      string
	line      int    // of the opening ```, counted from 1
	lang      string // what follows the opening ```
	directive string // the comment before the fence, without <!-- -->
	body      []string
}

var comment = regexp.MustCompile(`^\s*<!--\s*(.*?)\s*-->\s*$`)

// fences returns the fences of a markdown text whose opening line lies in
// [from, to) (0-based line numbers), indented ones included.
func fences(file, text string, from, to int) []fence {
	lines := strings.Split(text, "\n")
	var out []fence
	for i := 0; i < len(lines); i++ {
		trimmed := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(trimmed, "```") {
			continue
		}
		f := fence{file: file, line: i + 1, lang: strings.TrimPrefix(trimmed, "```")}
		for j := i - 1; j >= 0; j-- {
			if strings.TrimSpace(lines[j]) == "" {
				continue
			}
			if m := comment.FindStringSubmatch(lines[j]); m != nil {
				f.directive = m[1]
			}
			break
		}
		indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " "))]
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			f.body = append(f.body, strings.TrimPrefix(lines[i], indent))
		}
		if f.line-1 >= from && f.line-1 < to {
			out = append(out, f)
		}
	}
	return out
}

// tryIt returns the fences of a chapter's "## Try it" section, its
// subsections included, or an error if the chapter has none.
func tryIt(file, text string) ([]fence, error) {
	lines := strings.Split(text, "\n")
	from, to := -1, len(lines)
	inFence := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(l, "## ") {
			continue
		}
		if from >= 0 {
			to = i
			break
		}
		if strings.TrimSpace(l) == "## Try it" {
			from = i
		}
	}
	if from < 0 {
		return nil, fmt.Errorf("%s has no \"## Try it\" section", file)
	}
	return fences(file, text, from, to), nil
}

// What the comment before a fence may say.
const (
	notReplayed = "not replayed:" // followed by the reason
	replayFile  = "replay: file " // followed by a path: the fence is a file to write there
	replayMark  = "replay"        // README.md: replay this fence
	// followed by v1 or v2: replay the fence only on a host with that
	// cgroup version (its output differs on the other)
	replayCgroup = "replay: cgroup "
	// followed by a version: check the fence's output only on that kernel
	// or a later one (an older one behaves differently, and the chapter
	// says so); on an older one its commands run unchecked, for what later
	// fences need of them
	replayLinux = "replay: linux >= "
	// followed by a reason: the fence's commands read what fills while a
	// container runs (its log), so each is run again, for up to
	// untilTimeout, until its output matches
	replayUntil = "replay: until it matches: "
	// followed by a reason: the fence shows some lines of a long output
	// (a trace), which must be in it, in the order shown, among others
	replayAmong = "replay: these lines among others: "
)

// A step is one command of a transcript and the output it should print.
type step struct {
	line int // in the file
	cmd  string
	root bool // run as root; otherwise as the user nobody
	want []string
}

// transcript splits a fence into steps. Lines that start with the prompt
// ("$ " for a user, "# " for root, as the fence's first line shows) are
// commands; the lines up to the next command are its output. In a root
// fence, "# file: " begins getfattr's output, not a command. A user's
// command runs as root when it says sudo.
func transcript(f fence) ([]step, error) {
	if len(f.body) == 0 || f.lang != "" {
		return nil, fmt.Errorf("%s:%d: not a transcript (want a plain ``` fence whose first line is a \"$ \" or \"# \" command)", f.file, f.line)
	}
	prompt := f.body[0][:min(2, len(f.body[0]))]
	if prompt != "$ " && prompt != "# " {
		return nil, fmt.Errorf("%s:%d: not a transcript: the first line is no \"$ \" or \"# \" command", f.file, f.line)
	}
	var steps []step
	for i, l := range f.body {
		if strings.HasPrefix(l, prompt) && !(prompt == "# " && strings.HasPrefix(l, "# file: ")) {
			cmd := strings.TrimPrefix(l, prompt)
			steps = append(steps, step{
				line: f.line + 1 + i, cmd: cmd,
				root: prompt == "# " || sudo.MatchString(cmd),
			})
			continue
		}
		s := &steps[len(steps)-1]
		s.want = append(s.want, l)
	}
	return steps, nil
}

var sudo = regexp.MustCompile(`(^|[\s;&|(])sudo\s`)

// The values that differ from run to run or from host to host, which the
// comparison replaces on both sides by a name. They are few on purpose;
// anything else that varies is written "…" in the chapter, which matches
// any text within the line (and a line of "…" alone, any one line).
var placeholders = []struct {
	re   *regexp.Regexp
	with string
}{
	// Container IDs (12 hex digits), layer names and checksums.
	{regexp.MustCompile(`\b[0-9a-f]{12,64}\b`), "<hex>"},
	// Namespaces, as readlink /proc/PID/ns/* names them: uts:[4026532176].
	{regexp.MustCompile(`\b([a-z_]+):\[\d+\]`), "$1:[<inode>]"},
	// Times in ls -l: "Nov 27 22:57", or "Nov 27  2025" for an old file.
	{regexp.MustCompile(`\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d ( \d{4}|\d\d:\d\d)\b`), "<date>"},
	// MAC addresses, and the IPv6 link-local addresses made from them.
	{regexp.MustCompile(`\b([0-9a-f]{2}:){5}[0-9a-f]{2}\b`), "<mac>"},
	{regexp.MustCompile(`\bfe80::[0-9a-f:]+`), "fe80::<mac>"},
	// Round-trip times of ping: "time=0.174 ms", "= 0.157/0.165/0.174 ms",
	// and its total: "0% packet loss, time 1027ms".
	{regexp.MustCompile(`\b\d+\.\d+(/\d+\.\d+)* ms\b`), "<time> ms"},
	{regexp.MustCompile(`\btime \d+ms\b`), "time <time>ms"},
	// Host ends of veth pairs: cfs and the container ID's first 8 digits.
	{regexp.MustCompile(`\bcfs[0-9a-f]{8}\b`), "cfs<veth>"},
	// The shell's working directory, which is where the repository is.
	{regexp.MustCompile(`^PWD=/.*`), "PWD=<dir>"},
}

// Process IDs in --trace lines (docs/trace.md): the host PID, the commands
// and paths that name it, and the command's PID inside.
var (
	tracePID      = regexp.MustCompile(`(PID |/proc/|-t |-p |netns |cgroup\.procs, ")\d+\b`)
	traceProcsPID = regexp.MustCompile(`\becho \d+ > (\S*/cgroup\.procs)`)
)

func normalize(line string) string {
	line = strings.TrimRight(line, " \t")
	if strings.HasPrefix(line, "[cfs ") {
		line = tracePID.ReplaceAllString(line, "$1<pid>")
		line = traceProcsPID.ReplaceAllString(line, "echo <pid> > $1")
	}
	for _, p := range placeholders {
		line = p.re.ReplaceAllString(line, p.with)
	}
	return line
}

const wildcard = "…"

// lineMatches reports whether a line of output matches a line of the
// chapter.
func lineMatches(want, got string) bool {
	if strings.TrimSpace(want) == wildcard {
		return true
	}
	got = normalize(got)
	if !strings.Contains(want, wildcard) {
		return normalize(want) == got
	}
	parts := strings.Split(want, wildcard)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(normalize(p))
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(got)
}

// compare checks the output of a command against the chapter's, line by
// line. It returns "" when they match, or a report of the first
// difference. It also learns the values the chapter's hex IDs stand for
// (into ids, the chapter's value → this run's), so that later commands
// naming them, such as cd /var/lib/cfs/containers/4137ac09f2f5, name this
// run's.
func compare(want []string, got string, ids map[string]string) string {
	gotLines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	if got == "" {
		gotLines = nil
	}
	for len(want) > 0 && strings.TrimSpace(want[len(want)-1]) == "" && len(gotLines) < len(want) {
		want = want[:len(want)-1] // a blank last line is the fence's layout, unless printed
	}
	for i := 0; i < len(want) || i < len(gotLines); i++ {
		switch {
		case i >= len(gotLines):
			return fmt.Sprintf("line %d: want %q, the output ended", i+1, want[i])
		case i >= len(want):
			return fmt.Sprintf("line %d: got %q, more than the chapter shows", i+1, gotLines[i])
		case !lineMatches(want[i], gotLines[i]):
			return fmt.Sprintf("line %d:\n\twant %q\n\tgot  %q", i+1, want[i], gotLines[i])
		}
		hex := placeholders[0].re
		w, g := hex.FindAllString(want[i], -1), hex.FindAllString(gotLines[i], -1)
		if len(w) == len(g) && !strings.Contains(want[i], wildcard) {
			for j := range w {
				ids[w[j]] = g[j]
			}
		}
	}
	return ""
}

// compareAmong compares a command's output with the lines a chapter shows
// of it, in order, with any number of other lines before, between and
// after them; it returns "" when they are all there.
func compareAmong(want []string, got string) string {
	gotLines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	next, after := 0, "its start"
	for i, w := range want {
		if strings.TrimSpace(w) == "" || strings.TrimSpace(w) == wildcard {
			continue
		}
		for next < len(gotLines) && !lineMatches(w, gotLines[next]) {
			next++
		}
		if next == len(gotLines) {
			return fmt.Sprintf("line %d: want %q in the output after %s", i+1, w, after)
		}
		after = fmt.Sprintf("its line %d (the chapter's line %d)", next+1, i+1)
		next++
	}
	return ""
}

// substitute replaces the chapter's IDs in a command by this run's.
func substitute(cmd string, ids map[string]string) string {
	return placeholders[0].re.ReplaceAllStringFunc(cmd, func(s string) string {
		if v, ok := ids[s]; ok {
			return v
		}
		return s
	})
}
