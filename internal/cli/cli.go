// Package cli holds the small command-line chores every stage shares:
// container IDs, hostname checks, the not-root message and exit statuses.
// None of it is a lesson, so the stages call it instead of repeating it.
package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// UsageError marks bad input: main prints it with the usage hint and exits 2
// before anything is created.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError.
func Usagef(format string, a ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, a...)}
}

// NewID returns a random 12-hex-character ID, the short form Docker shows
// for container IDs and uses as the default hostname.
func NewID() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}

// CheckHostname applies the kernel's limit (64 bytes, HOST_NAME_MAX) and
// RFC 1123's rules for a host name: dot-separated labels of letters, digits
// and hyphens, 1 to 63 characters, not starting or ending with a hyphen.
func CheckHostname(name string) error {
	switch {
	case name == "":
		return Usagef("--hostname must not be empty")
	case len(name) > 64:
		return Usagef("--hostname %q is %d bytes; the kernel allows at most 64", name, len(name))
	}
	label := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if label == 0 || name[i-1] == '-' {
				return Usagef("--hostname %q: empty label or label ending in '-'", name)
			}
			label = 0
			continue
		case c == '-':
			if label == 0 {
				return Usagef("--hostname %q: a label must not start with '-'", name)
			}
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return Usagef("--hostname %q: invalid character %q (use letters, digits, '-' and '.')", name, c)
		}
		label++
		if label > 63 {
			return Usagef("--hostname %q: a label is longer than 63 characters", name)
		}
	}
	if label == 0 || name[len(name)-1] == '-' {
		return Usagef("--hostname %q: empty label or label ending in '-'", name)
	}
	return nil
}

// NeedRoot returns nil for root, else an error naming the command that
// works. Plain "sudo go" fails on Ubuntu and Debian because sudo resets
// PATH and Go lives in /usr/local/go/bin, so the hint lets go build as the
// user and run only the stage as root.
func NeedRoot(stage string) error {
	if os.Geteuid() == 0 {
		return nil
	}
	return fmt.Errorf("need root to create namespaces (try: go run -exec sudo ./%s)", stage)
}

// ExitStatus turns the result of waiting for a process into the status the
// stage exits with, as a shell and docker report it: the process's own exit
// code, or 128+N when signal N killed it.
func ExitStatus(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, err
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok {
		return 0, err
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// ExecCause is why the command could not run, without the name that
// exec.LookPath puts in front of it (`exec: "x": …`, `exec: "/x": stat
// /x: …`), for a message that names the command once; not found in $PATH
// also says which directories were searched. A failed start keeps its
// "fork/exec /bin/x: …": the path found, and that the fork failed.
func ExecCause(err error) error {
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("%w (%s)", exec.ErrNotFound, os.Getenv("PATH"))
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		err = ee.Err
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
	}
	return err
}

// ExecFailure maps a failed execve to the status a shell uses: 127 when
// the command does not exist, 126 when it exists but cannot be run.
func ExecFailure(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return 127
	}
	return 126
}

// PrintFlags lists a stage's flags the way the README writes them: two
// dashes for long names, one for single letters, the default when it says
// something.
func PrintFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := FlagHelp(f)
		fmt.Fprintf(w, "%-30s %s\n", name, usage)
	})
}

// FlagHelp is a flag as a help lists it: "  --name ARG" (one dash for a
// single letter), and its usage with the default when it says something.
func FlagHelp(f *flag.Flag) (name, usage string) {
	arg, usage := flag.UnquoteUsage(f)
	dash := "--"
	if len(f.Name) == 1 {
		dash = "-"
	}
	name = "  " + dash + f.Name
	if arg != "" {
		name += " " + arg
	}
	if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" {
		usage += fmt.Sprintf(" (default %s)", f.DefValue)
	}
	return name, usage
}
