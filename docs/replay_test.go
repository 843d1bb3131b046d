package docs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"cfs/final/image/imagetest"
	"cfs/internal/rootfs"
	"cfs/internal/stagetest"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
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
	var missing []string
	for _, tool := range []string{"unshare", "nsenter", "setpriv", "taskset", "ip", "tar", "sha256sum", "pgrep", "ipcmk"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the chapters' commands need %v on this host (Debian, Ubuntu: apt-get install util-linux iproute2 tar coreutils procps)", missing)
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
	stages = append(stages, "../final") // the engine: go run ./final, go build -o cfs ./final
	require.NoError(t, os.Mkdir(dir, 0o755))
	stagetest.GiveToInvoker(t, dir) // go builds as the user who ran sudo
	out, err := stagetest.GoCommand(t, append([]string{"build", "-o", dir + "/"}, stages...)...).CombinedOutput()
	require.NoError(t, err, "go build the stages: %s", out)
	scripts := map[string]string{
		"go": `#!/bin/sh
# go, as the chapters use it, on the stages the test built: "go run
# [-exec sudo] ./STAGE ARGS" reports a failed status as go run does (a
# command that says sudo runs as root already), and "go build -o OUT
# ./STAGE" copies the built stage to OUT.
bin=$(dirname "$0")
case $1 in
run)
	shift
	[ "$1" = -exec ] && shift 2
	stage=${1#./}
	shift
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
		unchecked, until, among := false, false, false
		switch {
		case strings.HasPrefix(f.directive, notReplayed):
			if strings.TrimSpace(strings.TrimPrefix(f.directive, notReplayed)) == "" {
				t.Errorf("%s:%d: <!-- not replayed: --> needs a reason", f.file, f.line)
			}
			continue
		case strings.HasPrefix(f.directive, replayFile):
			h.writeFile(strings.TrimSpace(strings.TrimPrefix(f.directive, replayFile)), f.body)
			continue
		case strings.HasPrefix(f.directive, replayCgroup):
			want := strings.TrimSpace(strings.TrimPrefix(f.directive, replayCgroup))
			if want != "v1" && want != "v2" {
				t.Errorf("%s:%d: <!-- %s%s -->: want v1 or v2", f.file, f.line, replayCgroup, want)
				continue
			}
			if have := cgroupVersion(); want != have {
				t.Logf("%s:%d: not replayed on this host: the transcript is for cgroup %s, this host has %s", f.file, f.line, want, have)
				continue
			}
		case strings.HasPrefix(f.directive, replayUntil):
			until = true
		case strings.HasPrefix(f.directive, replayAmong):
			if strings.TrimSpace(strings.TrimPrefix(f.directive, replayAmong)) == "" {
				t.Errorf("%s:%d: <!-- %s--> needs a reason", f.file, f.line, replayAmong)
			}
			among = true
		case strings.HasPrefix(f.directive, replayLinux):
			want := strings.TrimSpace(strings.TrimPrefix(f.directive, replayLinux))
			wantMaj, wantMin, ok := kernelVersion(want)
			if !ok {
				t.Errorf("%s:%d: <!-- %s%s -->: want a version such as 6.18", f.file, f.line, replayLinux, want)
				continue
			}
			var u unix.Utsname
			require.NoError(t, unix.Uname(&u))
			have := unix.ByteSliceToString(u.Release[:])
			maj, mnr, _ := kernelVersion(have)
			if maj < wantMaj || maj == wantMaj && mnr < wantMin {
				// Later commands may need what these make (a kept
				// container, an imported layer): run them, unchecked.
				t.Logf("%s:%d: run but not checked on this host: the transcript needs Linux %s or later, this host has %s", f.file, f.line, want, have)
				unchecked = true
			}
		}
		steps, err := transcript(f)
		if err != nil {
			t.Errorf("%v: replay it, or say why not just before it: <!-- %s REASON -->", err, notReplayed)
			continue
		}
		replayed++
		for _, s := range steps {
			if tool, pkg := needsAbsentTool(s.cmd); tool != "" {
				// What follows in the fence may build on this command.
				t.Logf("%s:%d: not replayed on this host, with the rest of its fence: %s needs %s (install %s)", f.file, s.line, s.cmd, tool, pkg)
				break
			}
			got := h.run(s)
			if unchecked {
				continue
			}
			// A log a container writes as it runs: polled, as a reader
			// who looks again a moment later (nothing announces a line).
			for deadline := time.Now().Add(untilTimeout); until && compare(s.want, got, h.ids) != "" && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
				got = h.run(s)
			}
			diff := compare(s.want, got, h.ids)
			if among {
				diff = compareAmong(s.want, got)
			}
			if diff != "" {
				t.Errorf("%s:%d: %s\n%s\nthe whole output was:\n%s", f.file, s.line, s.cmd, diff, got)
			}
		}
	}
	if replayed == 0 {
		t.Errorf("%s: no transcript in its Try it section is replayed", file)
	}
}

// kernelVersion parses the major and minor numbers of "6.1.0-27-amd64".
func kernelVersion(release string) (major, minor int, ok bool) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return major, minor, err1 == nil && err2 == nil
}

// cgroupVersion is "v2" when /sys/fs/cgroup is the unified hierarchy,
// else "v1" (a v1 or hybrid host).
func cgroupVersion() string {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "v2"
	}
	return "v1"
}

// optionalTools are the programs some transcripts run on the host that a
// distribution's base system may lack, with their Debian package. A
// command that needs an absent one is not replayed (CI installs them).
var optionalTools = []struct {
	re        *regexp.Regexp
	tool, pkg string
}{
	{regexp.MustCompile(`(^|[\s;&|(])getfattr\s`), "getfattr", "attr (Debian, Ubuntu, Fedora)"},
	{regexp.MustCompile(`(^|[\s;&|(])python3\s`), "python3", "python3 (Debian, Ubuntu, Fedora)"},
	{regexp.MustCompile(`(^|[\s;&|(])curl\s`), "curl", "curl (Debian, Ubuntu, Fedora)"},
	{regexp.MustCompile(`(^|[\s;&|(])docker\s`), "docker", "docker.io (Debian, Ubuntu: its client only; never start dockerd)"},
}

// needsAbsentTool returns the optional tool a command runs that this host
// lacks, or that it runs in a container whose default root filesystem
// lacks it (rootfs.OptionalTools), and what provides it; "" when there is
// none.
func needsAbsentTool(cmd string) (tool, pkg string) {
	for _, o := range optionalTools {
		if o.re.MatchString(cmd) {
			if _, err := exec.LookPath(o.tool); err != nil {
				return o.tool, o.pkg
			}
		}
	}
	for _, c := range stageCommandsInText(cmd) {
		for _, tool := range commandTools(c) {
			pkg, optional := rootfs.OptionalTools[tool]
			if !optional {
				continue
			}
			// The replay's root filesystem is built from this host's tools.
			if _, err := exec.LookPath(tool); err != nil {
				return tool + " in the default root filesystem", pkg
			}
		}
	}
	return "", ""
}

// hostToolsRootfs returns the default root filesystem as a student's
// machine builds it, from the host's programs (never busybox: the chapters
// show what those print), made once per replay in work.
func hostToolsRootfs(t *testing.T, work string) string {
	dir := filepath.Join(work, "rootfs-host")
	if rootfs.Valid(dir) == nil {
		return dir
	}
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, rootfs.Build(dir, rootfs.Source{Kind: "host"}))
	return dir
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
	inside     = "/run/replay"
	cwdFile    = inside + "/cwd"
	repoInside = inside + "/repo" // a bind of the repository, where the commands start
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
//   - the repository at /run/replay/repo, where the commands start;
//   - a program listening on TCP port 8080;
//   - for chapter 10, a registry on localhost:5000 with the chapter's
//     images (demoRegistry);
//   - at most two CPUs, as the VM has.
func newReplayHost(t *testing.T, work, file string, chapter bool) *replayHost {
	// Named by the chapter's number only: a path such as .../07-cgroups/...
	// would show up in the chapter's grep cgroup /proc/self/mountinfo.
	name, _, _ := strings.Cut(filepath.Base(file), "-")
	dir := filepath.Join(work, strings.TrimSuffix(name, ".md"))
	varlib := filepath.Join(dir, "var-lib-cfs")
	require.NoError(t, os.MkdirAll(varlib, 0o755))
	if !strings.HasPrefix(filepath.Base(file), "03-") {
		require.NoError(t, rootfs.CopyTree(hostToolsRootfs(t, work), filepath.Join(varlib, "rootfs"), nil))
	}
	resolv := filepath.Join(dir, "resolv.conf")
	require.NoError(t, os.WriteFile(resolv, []byte("nameserver 10.255.255.53\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(work, "cwd"), []byte(repoInside+"\n"), 0o666))
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
# The commands run in a bind of the repository at ` + repoInside + `: one
# under /tmp or /run (CI clones into /tmp/ci) would vanish under the new
# /tmp and /run, and one in a home directory (0700 on Debian 12, 0750 on
# Ubuntu) is closed to the user nobody.
mkdir -p "$WORK/repo"
mount --bind "$REPO" "$WORK/repo"
mount --bind "$VARLIB" /var/lib/cfs
mount -t tmpfs -o mode=0755 replay-run /run
mkdir ` + inside + `
mount --rbind "$WORK" ` + inside + `
mount -t tmpfs -o mode=1777 replay-tmp /tmp
mkdir /tmp/home
chown 65534:65534 /tmp/home
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
	if strings.HasPrefix(filepath.Base(file), "10-") {
		demoRegistry(t, ns)
	}
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
		rootfs.FromEnv + "=host", // the first run builds from host tools, as without busybox
	}
	return cmd
}

// untilTimeout bounds how long a fence marked <!-- replay: until it
// matches: --> waits for a command's output to match.
const untilTimeout = 10 * time.Second

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

// demoRegistry serves, on the replay host's localhost:5000, the images
// chapter 10 pulls: cfs/demo:v1, the image store's test image (three
// layers: a whiteout, an opaque directory, gzip and zstd), and
// cfs/multi:v1, a manifest list for linux/amd64 and linux/arm64. It is
// go-containerregistry's registry, filled through a second listener in
// the test's own network namespace.
func demoRegistry(t *testing.T, ns *stagetest.NetNS) {
	handler := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	fill := httptest.NewServer(handler)
	defer fill.Close()
	host := strings.TrimPrefix(fill.URL, "http://")
	for tag, img := range map[string]v1.Image{"cfs/demo:v1": imagetest.TestImage(t, "linux/amd64")} {
		ref, err := name.ParseReference(host + "/" + tag)
		require.NoError(t, err)
		require.NoError(t, remote.Write(ref, img))
	}
	ref, err := name.ParseReference(host + "/cfs/multi:v1")
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(ref, imagetest.Index(t, "linux/amd64", "linux/arm64")))
	require.NoError(t, ns.Do(func() error {
		l, err := net.Listen("tcp4", "127.0.0.1:5000")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: handler}
		go srv.Serve(l) //nolint:errcheck // ends with the test
		t.Cleanup(func() { srv.Close() })
		return nil
	}))
}
