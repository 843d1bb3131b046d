package api_test

// The server's tests drive it with the real docker command line, the
// client alone (no dockerd ever runs): each test starts `cfs serve` (this
// test binary started again as cfs, as the engine's tests do) on a socket
// in a temporary directory, in the package's network namespace, and
// checks what docker prints and how it exits, then the host from
// outside: the engine's records, /proc/PID. Images live in a store of the
// tests' own.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cfs/final/api"
	"cfs/final/dockercli"
	"cfs/final/engine"
	"cfs/final/engine/enginetest"
	"cfs/final/image"
	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

var storeDir string

func TestMain(m *testing.M) {
	os.Exit(enginetest.Main(m, &storeDir, func(args []string) int {
		if len(args) > 0 && args[0] == "serve" {
			return api.Main("cfs", args[1:], os.Stdout, os.Stderr)
		}
		return dockercli.Run("cfs", args, os.Stdin, os.Stdout, os.Stderr)
	}))
}

var base struct {
	once sync.Once
	err  error
}

// setup needs root and the docker CLI (the client only), and makes
// cfs/base in the tests' store once.
func setup(t *testing.T) {
	t.Helper()
	stagetest.RequireRoot(t)
	if _, err := exec.LookPath("docker"); err != nil {
		if os.Getenv("CFS_REQUIRE_PRIVILEGED") == "1" {
			t.Fatal("no docker command: .ci/run installs Debian's docker.io for its client")
		}
		t.Skip("no docker command (the client: apt-get install docker.io, and never start dockerd)")
	}
	base.once.Do(func() { _, base.err = enginetest.Base(storeDir) })
	require.NoError(t, base.err)
}

// server is a `cfs serve` a test started.
type server struct {
	sock string
	proc *stagetest.Proc
	dir  string // DOCKER_CONFIG: the client reads no one's settings
}

// serve starts a server on a socket in a new temporary directory.
func serve(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	s := &server{sock: filepath.Join(dir, "docker.sock"), dir: dir}
	s.start(t)
	return s
}

func (s *server) start(t *testing.T) {
	t.Helper()
	s.proc = stagetest.Start(t, "serve", "--host", "unix://"+s.sock)
	s.proc.WaitLine(t, "cfs serve: listening on unix://"+s.sock)
	p := s.proc
	t.Cleanup(func() { // before Start's own: a clean stop
		if p.Cmd.ProcessState == nil {
			_ = p.Cmd.Process.Signal(syscall.SIGTERM)
			_ = p.Cmd.Wait()
		}
	})
}

// docker runs the docker CLI against the server, stdin from in.
func (s *server) docker(t *testing.T, in string, args ...string) stagetest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+s.sock, "DOCKER_CONFIG="+s.dir, "DOCKER_CLI_HINTS=false")
	cmd.Stdin = strings.NewReader(in)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	require.NoError(t, ctx.Err(), "docker %s hung", strings.Join(args, " "))
	return stagetest.Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// ok runs a docker command that must succeed, and returns its stdout.
func (s *server) ok(t *testing.T, args ...string) string {
	t.Helper()
	r := s.docker(t, "", args...)
	require.Equal(t, 0, r.Code, "docker %s:\n%s%s", strings.Join(args, " "), r.Stdout, r.Stderr)
	return r.Stdout
}

// cfs runs cfs's own command line (in the package's network namespace).
func cfs(t *testing.T, args ...string) stagetest.Result {
	t.Helper()
	return stagetest.Run(t, "", args...)
}

// record is the engine's record of a container, read from outside the
// server.
func record(t *testing.T, name string) (*engine.Container, error) {
	t.Helper()
	s, err := image.Open(storeDir)
	require.NoError(t, err)
	e, err := engine.Open(s)
	require.NoError(t, err)
	return e.Get(name)
}

// names makes unique container names for a test, and removes the
// containers when it ends.
func names(t *testing.T, s *server, n ...string) []string {
	t.Helper()
	out := make([]string, len(n))
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1e6)
	for i, x := range n {
		out[i] = "api-" + x + "-" + suffix
	}
	t.Cleanup(func() {
		for _, x := range out {
			cfs(t, "rm", "-f", x)
		}
	})
	return out
}
