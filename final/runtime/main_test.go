package runtime_test

// The runtime's tests drive it as its clients do: through its command
// line (final/runccli), run as a separate program named cfs-runc (a copy
// of this test binary, which main dispatches by name), on bundles made
// from the default root filesystem. The test process is a child
// subreaper, as containerd's shim is: a container's init, orphaned when
// create exits, becomes its child, so its exit can be seen and reaped.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cfs/final/runccli"
	"cfs/final/runtime"
	"cfs/internal/rootfs"
	"cfs/internal/stagetest"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	switch {
	case runtime.IsInit():
		os.Exit(runtime.Init())
	case filepath.Base(os.Args[0]) == "cfs-runc":
		os.Exit(runccli.Main("cfs-runc", os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	case stagetest.IsHelper():
		os.Exit(helper(os.Args[1:]))
	}
	if os.Geteuid() == 0 {
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		go reaper()
	}
	code := stagetest.Main(m, stagetest.Options{Rootfs: true})
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// helper runs inside containers, as /cfs-helper: small probes whose
// result a shell cannot print as clearly.
func helper(args []string) int {
	switch args[0] {
	case "overwrite-later":
		// The exploit's patient form: hold the runtime's binary by an
		// O_PATH descriptor now, and reopen it for writing once the
		// runtime has exited (the kernel refuses writes to a file being
		// executed, ETXTBSY, only while it is).
		fd, err := unix.Open(args[1], unix.O_PATH, 0)
		if err != nil {
			fmt.Printf("open: %v\n", err)
			return 0
		}
		fmt.Println("held")
		var line string
		fmt.Scanln(&line)
		return overwrite(fmt.Sprintf("/proc/self/fd/%d", fd))
	case "overwrite":
		// CVE-2019-5736: open the file behind a /proc/PID/exe link for
		// writing, and write.
		target, _ := os.Readlink(args[1])
		fmt.Printf("exe: %s\n", target)
		return overwrite(args[1])
	}
	fmt.Fprintf(os.Stderr, "cfs-helper: unknown probe %q\n", args[0])
	return 2
}

// overwrite opens path for writing and writes a script over it, and
// prints how each step went.
func overwrite(path string) int {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		fmt.Printf("open for writing: %v\n", err)
		return 0
	}
	_, err = f.Write([]byte("#!/bin/sh\necho pwned\n"))
	fmt.Printf("write: %v\n", err)
	return 0
}

// shared is what every test may use: a copy of this binary named
// cfs-runc, and a root filesystem with /cfs-helper in it.
var shared struct {
	once   sync.Once
	dir    string
	bin    string
	rootfs string
	err    error
}

func setup(t *testing.T) (bin, rootfsDir string) {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "cfs-runtime-test-")
		if shared.err != nil {
			return
		}
		os.Chmod(shared.dir, 0o755)
		self, err := os.Executable()
		if err != nil {
			shared.err = err
			return
		}
		shared.bin = filepath.Join(shared.dir, "cfs-runc")
		if shared.err = rootfs.CopyFile(self, shared.bin); shared.err != nil {
			return
		}
		src, err := rootfs.Ensure(os.Stderr)
		if err != nil {
			shared.err = err
			return
		}
		shared.rootfs = filepath.Join(shared.dir, "rootfs")
		if shared.err = rootfs.CopyTree(src, shared.rootfs, nil); shared.err != nil {
			return
		}
		shared.err = rootfs.InstallBinary(shared.rootfs, self, "cfs-helper")
	})
	require.NoError(t, shared.err)
	return shared.bin, shared.rootfs
}

// rt is one test's runtime: its own state root, so tests never see each
// other's containers.
type rt struct {
	t    *testing.T
	bin  string
	root string
	ids  []string
}

func newRT(t *testing.T) *rt {
	t.Helper()
	stagetest.RequireRoot(t)
	bin, _ := setup(t)
	r := &rt{t: t, bin: bin, root: filepath.Join(t.TempDir(), "state")}
	t.Cleanup(func() {
		for _, id := range r.ids {
			pid := r.pid(id)
			r.run("delete", "--force", id)
			if pid > 0 {
				reap(pid)
			}
		}
	})
	return r
}

// id returns a new container ID, removed when the test ends.
func (r *rt) id() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(r.t.Name()))
	id := fmt.Sprintf("cfs-%.20s-%s", strings.TrimPrefix(name, "test"), hex.EncodeToString(b))
	r.ids = append(r.ids, id)
	return id
}

type result struct {
	stdout, stderr string
	code           int
}

// cmd is cfs-runc with --root and args, not started.
func (r *rt) cmd(args ...string) *exec.Cmd {
	return exec.Command(r.bin, append([]string{"--root", r.root}, args...)...)
}

func (r *rt) run(args ...string) result {
	cmd := r.cmd(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("run cfs-runc %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// ok runs a command that must succeed and returns its stdout.
func (r *rt) ok(args ...string) string {
	r.t.Helper()
	res := r.run(args...)
	require.Equal(r.t, 0, res.code, "cfs-runc %v:\n%s%s", args, res.stdout, res.stderr)
	return res.stdout
}

func (r *rt) state(id string) runtime.State {
	r.t.Helper()
	var st runtime.State
	require.NoError(r.t, json.Unmarshal([]byte(r.ok("state", id)), &st))
	return st
}

func (r *rt) pid(id string) int {
	res := r.run("state", id)
	var st runtime.State
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &st) != nil {
		return 0
	}
	return st.Pid
}

// bundle writes a bundle whose root is the shared root filesystem and
// whose process runs args, without a terminal; edit changes the rest.
func bundle(t *testing.T, args []string, edit func(*specs.Spec)) string {
	t.Helper()
	_, root := setup(t)
	dir := t.TempDir()
	s := runtime.DefaultSpec()
	s.Root.Path = root
	s.Process.Terminal = false
	s.Process.Args = args
	if edit != nil {
		edit(s)
	}
	writeSpec(t, dir, s)
	return dir
}

func writeSpec(t *testing.T, dir string, s *specs.Spec) {
	t.Helper()
	data, err := json.MarshalIndent(s, "", " ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644))
}

// createWithPipe creates a container whose stdout is a pipe, and returns
// its read end: the test reads the container's output as it comes.
func (r *rt) createWithPipe(bundleDir, id string, extra ...string) *os.File {
	r.t.Helper()
	return r.createPiped(bundleDir, id, nil, extra...)
}

// createPiped is createWithPipe with the container's stdin too, when
// stdin is not nil (closed here: the container has its own copy).
func (r *rt) createPiped(bundleDir, id string, stdin *os.File, extra ...string) *os.File {
	r.t.Helper()
	pr, pw, err := os.Pipe()
	require.NoError(r.t, err)
	r.t.Cleanup(func() { pr.Close() })
	// The container's stderr is a file too: a pipe that os/exec copies
	// from would stay open in the container, and Run would wait for it
	// forever (client-contracts.md, "Hidden stdio trap").
	errf, err := os.CreateTemp(r.t.TempDir(), "stderr")
	require.NoError(r.t, err)
	defer errf.Close()
	cmd := r.cmd(append(append([]string{"create", "--bundle", bundleDir}, extra...), id)...)
	cmd.Stdout, cmd.Stderr = pw, errf
	if stdin != nil {
		cmd.Stdin = stdin
	}
	err = cmd.Run()
	pw.Close()
	if stdin != nil {
		stdin.Close()
	}
	if err != nil {
		msg, _ := os.ReadFile(errf.Name())
		r.t.Fatalf("create: %v: %s", err, msg)
	}
	return pr
}

// waitLoop creates and starts a container id that runs waitLoop, and
// returns its init's PID once the program runs, and its output.
func (r *rt) waitLoop(id string) (int, *os.File) {
	r.t.Helper()
	out := r.createWithPipe(bundle(r.t, waitLoop, nil), id)
	r.ok("start", id)
	require.Equal(r.t, "started", readLine(r.t, out))
	return r.state(id).Pid, out
}

// readLine reads one line from the container's output.
func readLine(t *testing.T, f *os.File) string {
	t.Helper()
	var b []byte
	one := make([]byte, 1)
	f.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		n, err := f.Read(one)
		if n == 1 && one[0] == '\n' {
			return string(b)
		}
		if n == 1 {
			b = append(b, one[0])
		}
		if err != nil {
			t.Fatalf("read the container's output: %v (so far %q)", err, b)
		}
	}
}

// waitExit blocks until process pid has exited: a pidfd becomes readable
// when its process ends, reaped or not.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	stagetest.WaitGone(pid)
}

// Reaping. As a subreaper, this process inherits every container process
// whose parent exits (the inits once create exits, detached exec'd
// processes): it must collect them, as containerd's shim does, or they
// stay zombies, and the kernel does not finish the exit of a PID
// namespace's init until every other process of it has been collected.
// Processes of os/exec are collected by os/exec: only those a test adopts
// are collected here, on SIGCHLD, so that a test can still look at a
// zombie before it adopts it.
var reaped struct {
	sync.Mutex
	adopted  map[int]bool
	statuses map[int]unix.WaitStatus
}

// adopt marks pid as a container process to collect when it exits.
func adopt(pid int) {
	reaped.Lock()
	if reaped.adopted == nil {
		reaped.adopted, reaped.statuses = map[int]bool{}, map[int]unix.WaitStatus{}
	}
	reaped.adopted[pid] = true
	reaped.Unlock()
	reapAdopted()
}

func reaper() {
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, unix.SIGCHLD)
	for range sigs {
		reapAdopted()
	}
}

func reapAdopted() {
	reaped.Lock()
	defer reaped.Unlock()
	for pid := range reaped.adopted {
		var ws unix.WaitStatus
		if got, _ := unix.Wait4(pid, &ws, unix.WNOHANG, nil); got == pid {
			reaped.statuses[pid] = ws
			delete(reaped.adopted, pid)
		}
	}
}

// reap waits for a container process to exit and collects it (or takes
// what the reaper collected).
func reap(pid int) (unix.WaitStatus, bool) {
	reaped.Lock()
	defer reaped.Unlock()
	if ws, ok := reaped.statuses[pid]; ok {
		return ws, true
	}
	var ws unix.WaitStatus
	got, err := unix.Wait4(pid, &ws, 0, nil)
	if reaped.adopted != nil {
		delete(reaped.adopted, pid)
	}
	return ws, err == nil && got == pid
}

// capHex is /proc/PID/status's rendering of a set of capabilities.
func capHex(t *testing.T, names ...string) string {
	t.Helper()
	var m uint64
	all := runtime.CapNames()
	for _, n := range names {
		i := -1
		for j, a := range all {
			if a == n {
				i = j
			}
		}
		require.GreaterOrEqual(t, i, 0, n)
		m |= 1 << uint(i)
	}
	return fmt.Sprintf("%016x", m)
}

// statusField reads one field of /proc/PID/status.
func statusField(t *testing.T, pid int, field string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return ""
}

var _ = io.EOF
