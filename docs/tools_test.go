package docs

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"cfs/internal/rootfs"

	"github.com/stretchr/testify/require"
)

// Without busybox, the default root filesystem holds the host's own
// programs named in rootfs.HostTools. A command run in a container that
// names any other program fails there with "not found", on exactly the
// machines the course is for (see docs/setup.md). TestContainerToolsAreInTheRootfs
// reads the commands that the chapters, the worked answers and the tests
// run inside containers, and fails when one names a program that is not in
// the list. A test that brings its own root filesystem (--rootfs,
// --layer) is not read: it says what it puts there.
func TestContainerToolsAreInTheRootfs(t *testing.T) {
	uses := map[string][]string{} // tool → where
	add := func(where string, tools []string) {
		for _, tool := range tools {
			uses[tool] = append(uses[tool], where)
		}
	}
	// Chapters, README, the instructors' notes, troubleshooting, answers.
	md, err := filepath.Glob("*.md")
	require.NoError(t, err)
	more, _ := filepath.Glob("solutions/*/README.md")
	md = append(append(md, more...), "../README.md", "solutions/README.md")
	for _, f := range md {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for i, line := range strings.Split(string(data), "\n") {
			for _, cmd := range stageCommandsInText(line) {
				add(fmt.Sprintf("%s:%d", f, i+1), commandTools(cmd))
			}
		}
	}
	// The worked answers' scripts.
	scripts, err := filepath.Glob("solutions/*/run.sh")
	require.NoError(t, err)
	for _, f := range scripts {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for where, cmd := range stageCommandsInScript(f, string(data)) {
			add(where, commandTools(cmd))
		}
	}
	// The stages' and the harness's tests.
	tests, err := filepath.Glob("../stage*/*_test.go")
	require.NoError(t, err)
	for _, f := range tests {
		for where, cmd := range stageCommandsInGo(t, f) {
			add(where, commandTools(cmd))
		}
	}
	require.NotEmpty(t, uses, "no container command found: has the way they are written changed?")
	for _, want := range []string{"sh", "cat", "ls"} {
		require.Contains(t, uses, want, "the scan missed a tool every chapter uses")
	}

	if testing.Verbose() {
		var all []string
		for tool := range uses {
			all = append(all, tool)
		}
		sort.Strings(all)
		t.Logf("programs run in containers: %s", strings.Join(all, " "))
	}
	var missing []string
	for tool, where := range uses {
		if _, optional := rootfs.OptionalTools[tool]; !slices.Contains(rootfs.HostTools, tool) && !optional {
			sort.Strings(where)
			missing = append(missing, fmt.Sprintf("%s (%s)", tool, strings.Join(where[:min(3, len(where))], ", ")))
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "commands run in containers use programs that a root filesystem built "+
		"from host tools (no busybox) lacks: add each to rootfs.HostTools if every distribution's base "+
		"system has it, or use one that has")
}

// The worked answers run on a student's machine, which has no busybox:
// none of them may run it on the host (05-2 and 05-4 did).
func TestSolutionsRunNoBusybox(t *testing.T) {
	scripts, err := filepath.Glob("solutions/*/run.sh")
	require.NoError(t, err)
	scripts = append(scripts, "solutions/lib.sh")
	for _, f := range scripts {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for i, line := range strings.Split(string(data), "\n") {
			for _, words := range simpleCommands(line) {
				for len(words) > 0 && shellBuiltins[words[0]] && words[0] != "command" {
					words = words[1:] // if, elif, then, !…
				}
				if len(words) > 0 && words[0] == "command" {
					continue // command -v busybox only looks
				}
				for _, w := range words {
					if w == "busybox" {
						t.Errorf("%s:%d runs busybox, which a student's machine does not have: %s", f, i+1, strings.TrimSpace(line))
					}
				}
			}
		}
	}
}

// The scanner must see what it is for: a tool in a pipeline, after exec,
// in a nested sh -c, and not a shell's builtins, keywords or assignments.
func TestCommandTools(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{`sh -c 'echo $$; ps | tr a b && exec sleep 1'`, []string{"sh", "ps", "tr", "sleep"}},
		{`hostname box`, []string{"hostname"}},
		{`sh -c "A=1 B=2 cut -d' ' -f1 </etc/x; (seq 3 &); if test -e /x; then yes | head -1; fi"`, []string{"sh", "cut", "seq", "yes", "head"}},
		{`sh -c 'for i in $(seq 5); do dd if=/dev/zero of=/dev/null bs=1 count=1 2>/dev/null; done'`, []string{"sh", "seq", "dd"}},
		{`sh -c 'sh -c "awk 1 /x"'`, []string{"sh", "awk"}},
		{`/bin/ls -l /`, []string{"ls"}},
		{`sh -c 'trap "echo TERM" TERM; while :; do read x || break; done; kill -9 $$'`, []string{"sh"}},
	} {
		require.Equal(t, tc.want, commandTools(tc.cmd), tc.cmd)
	}
	require.Equal(t, []string{`sh -c 'echo hi'`}, stageCommandsInText("$ go run -exec sudo ./stage03-mount --hostname box sh -c 'echo hi' | tee x"))
	require.Equal(t, []string{`true`}, stageCommandsInText("$ sudo /tmp/s07 --memory 8m --net none true; echo $?"))
	require.Empty(t, stageCommandsInText("go run -exec sudo ./stage08-layers --rootfs /x ls"), "a root of its own is not the default one")
	require.Equal(t, []string{`ps`}, stageCommandsInText("`go run ./stage06-user ps`"))
}

// stagePattern finds a stage's invocation in a line of text: go run's
// package, a binary the chapters build (/tmp/s01, /tmp/stage07), or a
// stage's name as a program.
var stagePattern = regexp.MustCompile(`(?:\./stage\d\d-[a-z]+|/tmp/s\d\d|/tmp/stage\d\d)(\s|$)`)

// goBuildOutput ends the text before a stage's name in go build -o OUT PKG.
var goBuildOutput = regexp.MustCompile(`-o\s+(\S+\s+)?$`)

// stageCommandsInText returns the container commands that the stage
// invocations in a line of text run.
func stageCommandsInText(line string) []string {
	var out []string
	for _, m := range stagePattern.FindAllStringIndex(line, -1) {
		if goBuildOutput.MatchString(line[:m[0]]) {
			continue // go build -o /tmp/s01 ./stage01-uts builds, runs nothing
		}
		words := shellWords(line[m[1]:])
		if cmd, ok := containerCommand(words); ok {
			out = append(out, cmd)
		}
	}
	return out
}

// stageValueFlags take a value; the container's command follows the flags.
var stageValueFlags = map[string]bool{
	"--hostname": true, "--rootfs": true, "-p": true, "--subnet": true, "--net": true,
	"--memory": true, "--cpus": true, "--pids": true, "--layer": true,
	// The worked answers' own flags.
	"--domainname": true, "--ipc": true, "--ipc-from": true, "--cpuset-cpus": true,
}

// stageSubcommands are a worked answer's own subcommands of a stage
// (08-2's commit), not containers' commands.
var stageSubcommands = map[string]bool{"commit": true}

// containerCommand takes the words after a stage and returns its
// container's command, re-quoted, or false when there is none or it runs
// in a root filesystem of the caller's choosing.
func containerCommand(words []string) (string, bool) {
	i := 0
	for i < len(words) {
		w := words[i]
		switch {
		case w == "--":
			i++
			goto command
		case w == "--rootfs" || w == "--layer" || strings.HasPrefix(w, "--rootfs=") || strings.HasPrefix(w, "--layer="):
			return "", false
		case stageValueFlags[w]:
			i += 2
		case strings.HasPrefix(w, "-"):
			i++
		default:
			goto command
		}
	}
command:
	// A stage that runs a stage (exercise 02-2): the inner one's command.
	for i < len(words) && (stagePattern.MatchString(words[i]+" ") || strings.HasPrefix(words[i], "$")) {
		i++
	}
	if i >= len(words) || stageSubcommands[words[i]] {
		return "", false
	}
	var q []string
	for _, w := range words[i:] {
		q = append(q, shellQuote(w))
	}
	return strings.Join(q, " "), true
}

// shellWords splits the start of a shell command line into words, with
// quotes removed, up to the first operator (; | & < > ) or a comment, or
// the end of an inline `code` span.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				j = len(s) - i - 1
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
					if s[j] != '"' && s[j] != '\\' && s[j] != '$' && s[j] != '`' {
						cur.WriteByte('\\')
					}
				}
				cur.WriteByte(s[j])
			}
			inWord = true
			i = j
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			flush()
		case strings.IndexByte(";|&<>)`", c) >= 0 || (c == '#' && !inWord):
			flush()
			return words
		case c == '2' && !inWord && i+1 < len(s) && s[i+1] == '>':
			flush()
			return words
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words
}

func shellQuote(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t'\"\\$`;|&<>()*?[]{}!#~") {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// stageBinVar is a run.sh line that builds a stage into a variable:
// s03=$(stage_bin stage03-mount …), or bin=$(stage_bin "$stage").
var (
	stageBinVar = regexp.MustCompile(`(?m)^\s*(\w+)=\$\(stage_bin\b`)
	shellAssign = regexp.MustCompile(`(?m)^\s*(\w+)=('[^']*'|"(?:[^"\\]|\\.)*")\s*$`)
)

// stageCommandsInScript returns the container commands of a worked
// answer's run.sh, by where they are: every run of a variable that holds
// a built stage, with "$var" arguments replaced by the script's plain
// assignments to var (probe='…').
func stageCommandsInScript(file, text string) map[string]string {
	vars := map[string]string{}
	for _, m := range shellAssign.FindAllStringSubmatch(text, -1) {
		w := shellWords(m[2])
		if len(w) == 1 {
			vars[m[1]] = w[0]
		}
	}
	var bins []string
	for _, m := range stageBinVar.FindAllStringSubmatch(text, -1) {
		bins = append(bins, regexp.QuoteMeta(m[1]))
	}
	out := map[string]string{}
	if len(bins) == 0 {
		return out
	}
	run := regexp.MustCompile(`"\$(?:` + strings.Join(bins, "|") + `)"`)
	for i, line := range strings.Split(text, "\n") {
		for _, m := range run.FindAllStringIndex(line, -1) {
			words := shellWords(line[m[1]:])
			for j, w := range words {
				if v, ok := strings.CutPrefix(w, "$"); ok {
					if val, ok := vars[strings.Trim(v, "{}")]; ok {
						words[j] = val
					}
				}
			}
			if len(words) > 0 && words[0] == "--" {
				words = words[1:]
			}
			if cmd, ok := containerCommand(words); ok {
				out[fmt.Sprintf("%s:%d", file, i+1)] = cmd
			}
		}
	}
	return out
}

// stageCommandsInGo returns the container commands of a test file: every
// "sh", "-c", SCRIPT among the string constants of a call's arguments or a
// []string literal (SCRIPT may be fmt.Sprintf of one, read with its verbs
// as they are), and the command after the stage's flags in the calls to
// stagetest's Start, StartWrapped, Run and RunTerminal and to the tests'
// start and run methods.
func stageCommandsInGo(t *testing.T, file string) map[string]string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	require.NoError(t, err)
	out := map[string]string{}
	shC := func(pos token.Pos, args []ast.Expr) {
		for i := 0; i+2 < len(args); i++ {
			a, _ := stringValue(args[i])
			b, _ := stringValue(args[i+1])
			if c, ok := stringValue(args[i+2]); ok && a == "sh" && b == "-c" {
				out[fset.Position(pos).String()+" sh -c"] = "sh -c " + shellQuote(c)
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch v := n.(type) {
		case *ast.CompositeLit:
			shC(v.Pos(), v.Elts)
		case *ast.CallExpr:
			shC(v.Pos(), v.Args)
			skip := -1 // t, and Run's stdin or StartWrapped's wrapper
			if sel, ok := v.Fun.(*ast.SelectorExpr); ok {
				pkg, _ := sel.X.(*ast.Ident)
				switch {
				case pkg != nil && pkg.Name == "stagetest" && sel.Sel.Name == "Start":
					skip = 1
				case pkg != nil && pkg.Name == "stagetest" && (sel.Sel.Name == "Run" || sel.Sel.Name == "StartWrapped" || sel.Sel.Name == "RunTerminal"):
					skip = 2
				case pkg != nil && pkg.Name == "stagetest":
				case sel.Sel.Name == "start" || sel.Sel.Name == "run":
					skip = 1
				}
			}
			if skip < 0 || len(v.Args) <= skip {
				return true
			}
			var words []string
			for _, a := range v.Args[skip:] {
				s, ok := stringValue(a)
				if !ok {
					if len(words) > 0 && stageValueFlags[words[len(words)-1]] {
						words = append(words, "VALUE") // a flag's value from a variable
						continue
					}
					break
				}
				words = append(words, s)
			}
			if cmd, ok := containerCommand(words); ok {
				out[fset.Position(v.Pos()).String()] = cmd
			}
		}
		return true
	})
	return out
}

// stringValue is the value of a string literal, or of fmt.Sprintf's
// format.
func stringValue(e ast.Expr) (string, bool) {
	switch v := e.(type) {
	case *ast.BasicLit:
		if v.Kind == token.STRING {
			s, err := strconv.Unquote(v.Value)
			return s, err == nil
		}
	case *ast.CallExpr:
		if sel, ok := v.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" && len(v.Args) > 0 {
			return stringValue(v.Args[0])
		}
	}
	return "", false
}

// shellBuiltins are what dash and bash run themselves, and shell keywords.
var shellBuiltins = map[string]bool{
	"echo": true, "printf": true, "test": true, "[": true, "kill": true, "read": true, "trap": true,
	"exit": true, "cd": true, "pwd": true, "true": true, "false": true, "wait": true, "set": true,
	"export": true, "unset": true, "shift": true, "eval": true, "local": true, "return": true,
	"ulimit": true, "umask": true, "type": true, "command": true, ".": true, ":": true,
	"break": true, "continue": true, "if": true, "then": true, "else": true, "elif": true,
	"fi": true, "for": true, "while": true, "until": true, "do": true, "done": true, "case": true,
	"esac": true, "in": true, "{": true, "}": true, "!": true, "exec": true, "readonly": true,
	"times": true, "getopts": true, "hash": true, "alias": true, "jobs": true, "fg": true, "bg": true,
}

// shellFunction is a shell function's definition: bomb() { … }.
var shellFunction = regexp.MustCompile(`(\w+)\s*\(\)\s*\{`)

// notAProgram is a command word that names no program on purpose: a
// status lesson's missing command or plain file, or the chapters' "…".
func notAProgram(w string) bool {
	if strings.HasPrefix(w, "no-such-") || strings.Contains(w, "…") {
		return true
	}
	if strings.HasPrefix(w, "/") && !strings.Contains(filepath.Dir(w), "bin") {
		return true // /etc/hostname: not executable, on purpose; /cfs-helper: the test's own
	}
	return false
}

// commandTools returns the programs a container command line runs: its
// first word, and, for sh -c SCRIPT, the first word of every simple
// command of the script (and of the scripts it runs with sh -c).
func commandTools(cmd string) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(script string)
	walk = func(script string) {
		funcs := map[string]bool{}
		for _, m := range shellFunction.FindAllStringSubmatch(script, -1) {
			funcs[m[1]] = true
		}
		for _, words := range simpleCommands(script) {
			for len(words) > 0 && (strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "=") || words[0] == "exec" || words[0] == "!" || words[0] == "then" || words[0] == "do" || words[0] == "else" || words[0] == "time") {
				words = words[1:]
			}
			if len(words) == 0 {
				continue
			}
			name := filepath.Base(words[0])
			if words[0] == "for" || words[0] == "case" {
				continue // for i in …; case x in …: words, not commands
			}
			if notAProgram(words[0]) || funcs[words[0]] {
				continue
			}
			if !shellBuiltins[name] && !strings.ContainsAny(name, "$*") && !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
			if (name == "sh" || name == "bash") && len(words) > 2 && words[1] == "-c" {
				walk(words[2])
			}
		}
	}
	walk(cmd)
	return out
}

// commandSubstitution is $( ) in double quotes, not escaped.
var commandSubstitution = regexp.MustCompile(`(^|[^\\])\$\(([^()]*)\)`)

// simpleCommands splits a script into its simple commands' words: at
// ; & | && || newlines, ( ) and $( ), and backquotes. Quoted text stays
// one word.
func simpleCommands(script string) [][]string {
	var cmds [][]string
	var words []string
	var cur strings.Builder
	inWord := false
	flushWord := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	flushCmd := func() {
		flushWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	for i := 0; i < len(script); i++ {
		c := script[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(script[i+1:], '\'')
			if j < 0 {
				j = len(script) - i - 1
			}
			cur.WriteString(script[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			j := i + 1
			depth := 0
			for ; j < len(script) && (script[j] != '"' || depth > 0); j++ {
				if script[j] == '\\' && j+1 < len(script) {
					j++
				} else if script[j] == '$' && j+1 < len(script) && script[j+1] == '(' {
					depth++
				} else if script[j] == ')' && depth > 0 {
					depth--
				}
			}
			inner := script[i+1 : min(j, len(script))]
			// Commands in $( ) inside double quotes run too.
			for _, m := range commandSubstitution.FindAllStringSubmatch(inner, -1) {
				cmds = append(cmds, simpleCommands(m[2])...)
			}
			cur.WriteString(strings.ReplaceAll(inner, `\"`, `"`))
			inWord = true
			i = j
		case c == '\\' && i+1 < len(script):
			i++
			cur.WriteByte(script[i])
			inWord = true
		case c == '$' && i+1 < len(script) && script[i+1] == '(':
			flushCmd()
			i++
		case c == '>' || c == '<':
			// A redirection: skip its target word.
			flushWord()
			j := i + 1
			for j < len(script) && (script[j] == '>' || script[j] == '&' || script[j] == ' ') {
				j++
			}
			for j < len(script) && strings.IndexByte(" \t\n;|&)", script[j]) < 0 {
				j++
			}
			i = j - 1
		case c == ' ' || c == '\t':
			flushWord()
		case strings.IndexByte(";|&\n()`", c) >= 0:
			flushCmd()
		case c == '#' && !inWord:
			for i < len(script) && script[i] != '\n' {
				i++
			}
			flushCmd()
		default:
			if c >= '0' && c <= '9' && !inWord && i+1 < len(script) && (script[i+1] == '>' || script[i+1] == '<') {
				continue // the fd of a redirection: 2>/dev/null
			}
			cur.WriteByte(c)
			inWord = true
		}
	}
	flushCmd()
	return cmds
}
