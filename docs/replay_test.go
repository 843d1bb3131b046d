package docs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"cfs/internal/rootfs"
	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

// TestMain adds the host leak check of every package with privileged
// tests: the replay hosts must leave nothing behind.
func TestMain(m *testing.M) {
	os.Exit(stagetest.Main(m, stagetest.Options{Rootfs: true}))
}

// TestTranscripts replays the "## Try it" transcripts of every chapter, and
// the README's fences marked <!-- replay -->, on a replay host: fresh
// namespaces that look like the chapters' VM (see newReplayHost), with the
// stages built once, and checks each command's output against the chapter.
func TestTranscripts(t *testing.T) {
	stagetest.RequireRoot(t)
	if os.Getenv("CFS_IN_VM") == "1" {
		t.Skip("the VM lane has no Go toolchain to build the stages with; the host lane replays the transcripts")
	}
	var missing []string
	for _, tool := range []string{"unshare", "nsenter", "setpriv", "taskset", "ip", "getfattr", "python3", "tar", "sha256sum", "pgrep", "ipcmk"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the chapters' commands need %v on this host (Debian: apt-get install util-linux iproute2 attr python3 tar coreutils procps)", missing)
	}
	work, err := os.MkdirTemp("/var/tmp", "cfs-replay-") // on disk: overlay's upper dirs need xattrs
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(work) })
	require.NoError(t, os.Chmod(work, 0o755)) // the user nobody runs some commands
	buildStages(t, filepath.Join(work, "bin"))

	chapters, err := filepath.Glob("[0-9][0-9]-*.md")
	require.NoError(t, err)
	for _, ch := range chapters {
		if strings.HasPrefix(ch, "00-") {
			continue // the overview has no stage to try
		}
		t.Run(strings.TrimSuffix(ch, ".md"), func(t *testing.T) {
			data, err := os.ReadFile(ch)
			require.NoError(t, err)
			fs, err := tryIt(ch, string(data))
			require.NoError(t, err)
			replayFences(t, work, ch, fs, true)
		})
	}
	t.Run("README", func(t *testing.T) {
		data, err := os.ReadFile("../README.md")
		require.NoError(t, err)
		var marked []fence
		for _, f := range fences("README.md", string(data), 0, strings.Count(string(data), "\n")+1) {
			if f.directive == replayMark {
				marked = append(marked, f)
			}
		}
		if len(marked) == 0 {
			t.Log("README.md marks no fence <!-- replay -->")
			return
		}
		replayFences(t, work, "README.md", marked, false)
	})
}

// buildStages builds every stage into dir, with the shell scripts that let
// the transcripts' commands run them as written (see the files' comments).
func buildStages(t *testing.T, dir string) {
	stages, err := filepath.Glob("../stage[0-9][0-9]-*")
	require.NoError(t, err)
	stages = append(stages, "../final") // the engine: go build -o cfs ./final
	out, err := exec.Command("go", append([]string{"build", "-o", dir + "/"}, stages...)...).CombinedOutput()
	require.NoError(t, err, "go build the stages: %s", out)
	scripts := map[string]string{
		"go": `#!/bin/sh
# go, as the chapters use it, on the stages the test built: "go run ./STAGE
# ARGS" reports a failed status as go run does, and "go build -o OUT
# ./STAGE" copies the built stage to OUT.
bin=$(dirname "$0")
case $1 in
run)
	stage=${2#./}
	shift 2
	"$bin/$stage" "$@" && exit 0
	echo "exit status $?" >&2
	exit 1 ;;
build)
	[ "$2" = -o ] && exec cp "$bin/${4#./}" "$3" ;;
esac
echo "replay: no stand-in for: go $*" >&2
exit 2
`,
		"sudo": `#!/bin/sh
# A command that says sudo already runs as root.
exec "$@"
`,
		"step": `#!/bin/sh
# step: runs $REPLAY_CMD in the directory the last command left, as in a
# terminal, and records the one it leaves in $REPLAY_CWD. (The command is
# not an argument, which pgrep -f would find.)
cmd=$REPLAY_CMD cwd=$REPLAY_CWD
unset REPLAY_CMD REPLAY_CWD
cd "$(cat "$cwd")" || exit 125
eval "$cmd"
status=$?
pwd >"$cwd"
exit $status
`,
	}
	for name, text := range scripts {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o755))
	}
}

// replayFences replays a file's fences in order on one replay host: a
// fence preceded by <!-- not replayed: REASON --> is skipped, one preceded
// by <!-- replay: file PATH --> is written to PATH, and every other must be
// a transcript.
func replayFences(t *testing.T, work, file string, fs []fence, chapter bool) {
	h := newReplayHost(t, work, file, chapter)
	replayed := 0
	for _, f := range fs {
		switch {
		case strings.HasPrefix(f.directive, notReplayed):
			if strings.TrimSpace(strings.TrimPrefix(f.directive, notReplayed)) == "" {
				t.Errorf("%s:%d: <!-- not replayed: --> needs a reason", f.file, f.line)
			}
			continue
		case strings.HasPrefix(f.directive, replayFile):
			h.writeFile(strings.TrimSpace(strings.TrimPrefix(f.directive, replayFile)), f.body)
			continue
		}
		steps, err := transcript(f)
		if err != nil {
			t.Errorf("%v: replay it, or say why not just before it: <!-- %s REASON -->", err, notReplayed)
			continue
		}
		replayed++
		for _, s := range steps {
			got := h.run(s)
			if diff := compare(s.want, got, h.ids); diff != "" {
				t.Errorf("%s:%d: %s\n%s\nthe whole output was:\n%s", f.file, s.line, s.cmd, diff, got)
			}
		}
	}
	if replayed == 0 {
		t.Errorf("%s: no transcript in its Try it section is replayed", file)
	}
}

// A replayHost is where the transcripts run: a process holding new mount,
// UTS, network and IPC namespaces, set up as the chapters' VM was, which
// every command enters. Nothing in it touches the host's own hostname,
// links, routes, IPC objects, /tmp, /run or /var/lib/cfs.
type replayHost struct {
	t      *testing.T
	holder *exec.Cmd
	work   string            // the test's directory, /run/replay inside
	ids    map[string]string // hex IDs: the chapter's → this run's
}

// The replay host's directory of built stages and scripts, and the file
// where the step script keeps the current directory.
const (
	inside  = "/run/replay"
	cwdFile = inside + "/cwd"
)

// newReplayHost sets up a replay host:
//   - hostname vm;
//   - loopback, and eth0 192.0.2.2/24 (a veth whose peer wan0 leads nowhere) with a default route via
//     192.0.2.1, the VM's network (nothing is reachable beyond it);
//   - /etc/resolv.conf with the VM's name server, 10.255.255.53;
//   - an empty IPC namespace;
//   - its own /var/lib/cfs, with a copy of the default root filesystem
//     unless the first run's message is part of the chapter (03), and
//     its own empty /tmp (nobody's HOME is /tmp/home) and /run;
//   - a program listening on TCP port 8080;
//   - at most two CPUs, as the VM has.
func newReplayHost(t *testing.T, work, file string, chapter bool) *replayHost {
	// Named by the chapter's number only: a path such as .../07-cgroups/...
	// would show up in the chapter's grep cgroup /proc/self/mountinfo.
	name, _, _ := strings.Cut(filepath.Base(file), "-")
	dir := filepath.Join(work, strings.TrimSuffix(name, ".md"))
	varlib := filepath.Join(dir, "var-lib-cfs")
	require.NoError(t, os.MkdirAll(varlib, 0o755))
	if !strings.HasPrefix(filepath.Base(file), "03-") {
		src, err := rootfs.Ensure(os.Stderr)
		require.NoError(t, err)
		require.NoError(t, rootfs.CopyTree(src, filepath.Join(varlib, "rootfs"), nil))
	}
	resolv := filepath.Join(dir, "resolv.conf")
	require.NoError(t, os.WriteFile(resolv, []byte("nameserver 10.255.255.53\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(work, "cwd"), []byte(repoRoot(t)+"\n"), 0o666))
	require.NoError(t, os.Chmod(filepath.Join(work, "cwd"), 0o666))

	h := &replayHost{t: t, work: work, ids: map[string]string{}}
	// The holder says "ready" once it is in its namespaces, so that no
	// setup command enters the host's own.
	h.holder = exec.Command("unshare", "--mount", "--uts", "--net", "--ipc", "--", "sh", "-c", "echo ready && exec cat")
	stdin, err := h.holder.StdinPipe()
	require.NoError(t, err)
	stdout, err := h.holder.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, h.holder.Start())
	t.Cleanup(func() {
		stdin.Close() // cat ends, and the namespaces with it
		_ = h.holder.Wait()
	})
	ready := make([]byte, len("ready\n"))
	_, err = io.ReadFull(stdout, ready)
	require.NoError(t, err, "the replay host's namespaces")
	for _, ns := range []string{"mnt", "uts", "net", "ipc"} {
		require.NotEqual(t, stagetest.NS(t, "self", ns), stagetest.NS(t, h.holder.Process.Pid, ns), "the replay host's %s namespace is the host's", ns)
	}
	setup := `set -e
hostname vm
ip link set lo up
ip link add eth0 type veth peer name wan0
ip addr add 192.0.2.2/24 dev eth0
ip link set wan0 up
ip link set eth0 up
ip route add default via 192.0.2.1
resolv=$(readlink -f /etc/resolv.conf)
# A repository under /tmp or /run (CI clones into /tmp/ci) would vanish
# under the new /tmp and /run: keep a bind of it to put back afterwards.
case "$REPO/" in /tmp/*|/run/*)
	mkdir -p "$WORK/repo"
	mount --bind "$REPO" "$WORK/repo" ;;
esac
mount --bind "$VARLIB" /var/lib/cfs
mount -t tmpfs -o mode=0755 replay-run /run
mkdir ` + inside + `
mount --bind "$WORK" ` + inside + `
mount -t tmpfs -o mode=1777 replay-tmp /tmp
mkdir /tmp/home
chown 65534:65534 /tmp/home
if [ -d "$WORK/repo" ] && mountpoint -q "$WORK/repo"; then
	mkdir -p "$REPO"
	mount --bind "$WORK/repo" "$REPO"
fi
mkdir -p "$(dirname "$resolv")"
touch "$resolv"
mount --bind "$RESOLV" "$resolv"
`
	cmd := h.enter(true, "sh", "-c", setup)
	cmd.Env = append(cmd.Env, "VARLIB="+varlib, "WORK="+work, "RESOLV="+resolv, "REPO="+repoRoot(t))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "set up the replay host: %s", out)
	// "with a program listening on 8080" (05-net.md)
	ns := &stagetest.NetNS{Name: "replay host", Path: fmt.Sprintf("/proc/%d/ns/net", h.holder.Process.Pid)}
	require.NoError(t, ns.Do(func() error {
		l, err := net.Listen("tcp4", ":8080")
		if err == nil {
			t.Cleanup(func() { l.Close() })
		}
		return err
	}))
	return h
}

// enter returns a command that runs argv on the replay host, as root or
// as the user nobody.
func (h *replayHost) enter(root bool, argv ...string) *exec.Cmd {
	var args []string
	if runtime.NumCPU() > 2 {
		args = append(args, "taskset", "-c", "0,1")
	}
	args = append(args, "nsenter", "-t", strconv.Itoa(h.holder.Process.Pid), "-m", "-u", "-n", "-i")
	args = append(args, "--")
	home := "/root"
	if !root {
		// As a login of nobody, whose only group is nogroup.
		args = append(args, "setpriv", "--reuid=65534", "--regid=65534", "--groups=65534", "--")
		home = "/tmp/home"
	}
	args = append(args, argv...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = []string{
		"PATH=" + inside + "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home, "TERM=xterm",
	}
	return cmd
}

// stepTimeout guards against a command that hangs; no command of a
// chapter takes more than a few seconds.
const stepTimeout = 2 * time.Minute

// run runs one command of a transcript and returns what a terminal would
// show: stdout and stderr interleaved.
func (h *replayHost) run(s step) string {
	cmd := h.enter(s.root, "/bin/sh", inside+"/bin/step")
	cmd.Env = append(cmd.Env, "REPLAY_CWD="+cwdFile, "REPLAY_CMD="+substitute(s.cmd, h.ids))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second // a child left holding the output pipe
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	if err := cmd.Start(); err != nil {
		h.t.Fatalf("start %q: %v", s.cmd, err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Kill()
		case <-done:
		}
	}()
	_ = cmd.Wait() // a failed status is part of what the chapter shows
	close(done)
	if ctx.Err() != nil {
		fmt.Fprintf(&out, "replay: killed after %v\n", stepTimeout)
	}
	return out.String()
}

// writeFile writes a fence's text to path on the replay host, as nobody.
func (h *replayHost) writeFile(path string, body []string) {
	cmd := h.enter(false, "sh", "-c", `mkdir -p "$(dirname "$1")" && cat >"$1"`, "sh", path)
	cmd.Stdin = strings.NewReader(strings.Join(body, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.t.Errorf("write %s on the replay host: %v: %s", path, err, out)
	}
}

func repoRoot(t *testing.T) string {
	dir, err := filepath.Abs("..")
	require.NoError(t, err)
	return dir
}
