package stagetest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The README's test command is `go test -exec sudo ./...`: go builds as the
// student, with their Go settings and build cache, and only the test
// binaries run as root. A test that runs go itself (the docs' replay, the
// worked answers, a helper program) must keep it that way: find the
// toolchain although sudo reset PATH, and run it as the user who ran sudo,
// so that nothing in their checkout or Go cache becomes root's (a go build
// as root in the checkout also rewrites .git/index as root, through git
// status for the binary's VCS stamp).

// Invoker is the user who ran sudo, as sudo records it (SUDO_UID,
// SUDO_GID), with their home directory; nil when the tests did not come
// through sudo from an ordinary user (CI runs as root).
type Invoker struct {
	Uid, Gid int
	Name     string
	Home     string
}

// SudoInvoker returns the user who ran sudo, or nil.
func SudoInvoker() *Invoker {
	uid, err1 := strconv.Atoi(os.Getenv("SUDO_UID"))
	gid, err2 := strconv.Atoi(os.Getenv("SUDO_GID"))
	if err1 != nil || err2 != nil || uid == 0 || os.Geteuid() != 0 {
		return nil
	}
	inv := &Invoker{Uid: uid, Gid: gid, Name: os.Getenv("SUDO_USER")}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		inv.Home, inv.Name = u.HomeDir, u.Username
	}
	return inv
}

// GoTool is the go command that built the running test, for tests that
// build stages or programs. `go test` puts its GOROOT/bin first on the
// test's PATH, but `go test -exec sudo` runs the test under sudo, which
// resets PATH to its secure_path: then the toolchain is found where the
// test binary was built from.
func GoTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return filepath.Abs(p)
	}
	goroot := runtime.GOROOT() //nolint:staticcheck // the toolchain that built this test binary
	p := filepath.Join(goroot, "bin", "go")
	if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
		return p, nil
	}
	return "", fmt.Errorf("no go on PATH, nor in %s (the GOROOT that built this test): run the tests with go test -exec sudo", goroot)
}

// mustGoTool is GoTool, failing the test when there is none.
func mustGoTool(t testing.TB) string {
	t.Helper()
	p, err := GoTool()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// GoCommand returns a command that runs go with args, as the user who ran
// sudo when there is one (see SudoInvoker), with their home directory, so
// that go uses their build cache and settings ($HOME/.config/go/env). The
// command's output files must go where that user may write: see
// GiveToInvoker.
func GoCommand(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	goTool := mustGoTool(t)
	cmd := exec.Command(goTool, args...)
	cmd.Env = GoEnv(goTool, SudoInvoker())
	if inv := SudoInvoker(); inv != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: inv.Credential()}
	}
	return cmd
}

// GoEnv is the environment to run goTool in as inv (or as this process when
// inv is nil): this process's, with goTool's directory first on PATH and,
// for inv, inv's HOME, USER and LOGNAME instead of root's.
func GoEnv(goTool string, inv *Invoker) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH":
			continue
		case "HOME", "USER", "LOGNAME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "GOCACHE", "GOENV", "GOPATH", "GOMODCACHE":
			if inv != nil {
				continue // root's, as sudo set them; go derives them from HOME
			}
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+filepath.Dir(goTool)+string(filepath.ListSeparator)+os.Getenv("PATH"))
	if inv != nil && inv.Home != "" {
		env = append(env, "HOME="+inv.Home, "USER="+inv.Name, "LOGNAME="+inv.Name)
	}
	return env
}

// Credential is inv's uid, gid and supplementary groups.
func (inv *Invoker) Credential() *syscall.Credential {
	c := &syscall.Credential{Uid: uint32(inv.Uid), Gid: uint32(inv.Gid)}
	if u, err := user.LookupId(strconv.Itoa(inv.Uid)); err == nil {
		if gids, err := u.GroupIds(); err == nil {
			for _, g := range gids {
				if n, err := strconv.Atoi(g); err == nil {
					c.Groups = append(c.Groups, uint32(n))
				}
			}
		}
	}
	return c
}

// GiveToInvoker makes dir (made by the test, as root) the invoking user's,
// so that a go command from GoCommand can write its output there. Without
// an invoker it does nothing.
func GiveToInvoker(t testing.TB, dir string) {
	t.Helper()
	if inv := SudoInvoker(); inv != nil {
		if err := os.Chown(dir, inv.Uid, inv.Gid); err != nil {
			t.Fatalf("give %s to %s: %v", dir, inv.Name, err)
		}
	}
}

// ModuleRoot is the directory of go.mod above the current directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the current directory")
		}
		dir = parent
	}
}

// rootOwned lists the files and directories under dir that uid 0 owns, by
// path. Unreadable directories are skipped.
func rootOwned(dir string) map[string]bool {
	out := map[string]bool{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() && p != dir {
				return fs.SkipDir
			}
			return nil
		}
		if fi, err := d.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == 0 {
				out[p] = true
			}
		}
		return nil
	})
	return out
}

// OwnerCheck looks, for a run through sudo by an ordinary user, at the
// places that must stay that user's: the module's checkout and the user's
// Go build cache. Changes lists what became root's since the first look.
type OwnerCheck struct {
	dirs   []string
	before map[string]bool
}

// NewOwnerCheck takes the first look; without an invoker it is a no-op.
func NewOwnerCheck() *OwnerCheck {
	inv := SudoInvoker()
	if inv == nil {
		return &OwnerCheck{}
	}
	c := &OwnerCheck{before: map[string]bool{}}
	if root, err := ModuleRoot(); err == nil {
		c.dirs = append(c.dirs, root)
	}
	if goTool, err := GoTool(); err == nil {
		cmd := exec.Command(goTool, "env", "GOCACHE")
		cmd.Env = GoEnv(goTool, inv)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: inv.Credential()}
		if out, err := cmd.Output(); err == nil && strings.TrimSpace(string(out)) != "" {
			c.dirs = append(c.dirs, strings.TrimSpace(string(out)))
		}
	}
	for _, d := range c.dirs {
		for p := range rootOwned(d) {
			c.before[p] = true
		}
	}
	return c
}

// Changes lists what under the checked places became root's since the
// first look.
func (c *OwnerCheck) Changes() []string {
	var out []string
	for _, d := range c.dirs {
		for p := range rootOwned(d) {
			if !c.before[p] {
				out = append(out, "root-owned "+p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// InvokerTempDir is t.TempDir for a go command from GoCommand: a new
// directory that the invoking user (if any) owns and may enter, removed
// when the test ends. (t.TempDir's parent is root's and closed to others.)
func InvokerTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cfs-go-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	GiveToInvoker(t, dir)
	return dir
}
