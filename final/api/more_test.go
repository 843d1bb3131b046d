package api_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cfs/final/dockercli"
	"cfs/final/image"
	"cfs/final/image/imagetest"
	"cfs/internal/stagetest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// onTerminal runs docker on a terminal of its own, ROWS×COLS, types
// input, and returns what the terminal showed and docker's status.
func (s *server) onTerminal(t *testing.T, rows, cols uint16, input string, args ...string) (string, int) {
	t.Helper()
	ptmx, tty := stagetest.OpenPty(t)
	defer ptmx.Close()
	require.NoError(t, unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}))
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+s.sock, "DOCKER_CONFIG="+s.dir, "TERM=xterm")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	require.NoError(t, cmd.Start())
	tty.Close()
	// The test types as a person does: after the shell's prompt. An older
	// client (Debian's docker 20.10) sends the terminal's size only after
	// the start, as a resize; a command typed before the prompt can run
	// before it lands, as it would against Docker.
	var out bytes.Buffer
	var mu sync.Mutex
	copied, prompt := make(chan struct{}), make(chan struct{})
	go func() { // ends with EIO when docker is gone
		defer close(copied)
		buf, seen := make([]byte, 4096), false
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			if !seen && bytes.Contains(out.Bytes(), []byte("# ")) {
				seen = true
				close(prompt)
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-prompt:
	case <-copied:
	case <-time.After(60 * time.Second):
	}
	_, _ = io.WriteString(ptmx, input)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("docker %s hung; the terminal showed %q", strings.Join(args, " "), out.String())
	}
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	return out.String(), cmd.ProcessState.ExitCode()
}

// docker run -it and exec -it: a terminal in the container, of the
// client's size, raw both ways, and the shell's status as docker's.
func TestTerminal(t *testing.T) {
	setup(t)
	s := serve(t)
	out, code := s.onTerminal(t, 30, 100, "stty size; tty; exit 5\n", "run", "-it", "--rm", "--network", "none", "cfs/base", "sh")
	require.Equal(t, 5, code, out)
	require.Contains(t, out, "30 100\r\n")
	require.Contains(t, out, "/dev/pts/0\r\n")

	name := names(t, s, "term")[0]
	s.ok(t, "run", "-d", "--name", name, "--network", "none", "cfs/base", "sleep", "300")
	out, code = s.onTerminal(t, 40, 120, "stty size; exit 6\n", "exec", "-it", name, "sh")
	require.Equal(t, 6, code, out)
	require.Contains(t, out, "40 120\r\n")
}

// Older clients: Debian's docker.io speaks API 1.41 (bookworm), newer
// ones 1.44 and up; the client's own version is forced here.
func TestOlderClients(t *testing.T) {
	setup(t)
	s := serve(t)
	for _, v := range []string{"1.41", "1.44"} {
		t.Setenv("DOCKER_API_VERSION", v)
		r := s.docker(t, "", "run", "--rm", "--network", "none", "cfs/base", "sh", "-c", "echo hi; exit 2")
		require.Equal(t, 2, r.Code, "API %s: %s", v, r.Stderr)
		require.Equal(t, "hi\n", r.Stdout)
		name := names(t, s, "v"+strings.ReplaceAll(v, ".", ""))[0]
		s.ok(t, "run", "-d", "--name", name, "--network", "none", "cfs/base", "sh", "-c", "echo logged; exec sleep 300")
		require.Equal(t, "in\n", s.ok(t, "exec", name, "echo", "in"))
		require.Eventually(t, func() bool { return s.ok(t, "logs", name) == "logged\n" }, 10*time.Second, 50*time.Millisecond)
		require.Equal(t, v+"\n", strings.TrimPrefix(s.ok(t, "version", "-f", "{{.Client.APIVersion}}"), "v"))
	}
}

// create, then start -a; a published port; logs -f to the end.
func TestCreateStartPortsLogs(t *testing.T) {
	setup(t)
	s := serve(t)
	n := names(t, s, "created", "published", "follow")
	id := strings.TrimSpace(s.ok(t, "create", "--name", n[0], "--network", "none", "cfs/base", "sh", "-c", "echo started; exit 4"))
	require.Equal(t, "created\n", s.ok(t, "inspect", "-f", "{{.State.Status}}", id))
	r := s.docker(t, "", "start", "-a", n[0])
	require.Equal(t, 4, r.Code, r.Stderr)
	require.Equal(t, "started\n", r.Stdout)
	require.Equal(t, id[:12]+"\n", s.ok(t, "ps", "-q", "--filter", "exited=4", "--filter", "name="+n[0]), "a status filter looks at stopped containers")
	r = s.docker(t, "", "ps", "--filter", "status=up")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "invalid filter 'status=up'")
	// rename there and back (the test's cleanup removes the first name).
	s.ok(t, "rename", n[0], n[0]+"-renamed")
	require.Equal(t, "/"+n[0]+"-renamed\n", s.ok(t, "inspect", "-f", "{{.Name}}", id))
	r = s.docker(t, "", "rename", n[0]+"-renamed", "bad name")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "Invalid container name (bad name)")
	s.ok(t, "rename", n[0]+"-renamed", n[0])

	// On the bridge (in the tests' network namespace), port 18080.
	s.ok(t, "run", "-d", "--name", n[1], "-p", "18080:80", "cfs/base", "sleep", "300")
	require.Equal(t, "80/tcp -> 0.0.0.0:18080\n", s.ok(t, "port", n[1]))
	require.Contains(t, s.ok(t, "ps", "--filter", "name="+n[1]), "0.0.0.0:18080->80/tcp")
	ip := strings.TrimSpace(s.ok(t, "inspect", "-f", "{{.NetworkSettings.Networks.bridge.IPAddress}}", n[1]))
	require.Regexp(t, `^\d+\.\d+\.\d+\.\d+$`, ip)

	s.ok(t, "run", "-d", "--name", n[2], "--network", "none", "cfs/base", "sh", "-c", "echo a; sleep 1; echo b")
	r = s.docker(t, "", "logs", "-f", n[2])
	require.Equal(t, 0, r.Code)
	require.Equal(t, "a\nb\n", r.Stdout, "logs -f follows to the container's end")
	require.Equal(t, "a\nb\n", s.ok(t, "logs", "--since", "1h", n[2]), "since and until reach the server as Unix times")
	require.Empty(t, s.ok(t, "logs", "--until", "1h", n[2]))
}

// docker container prune, image prune and system prune through the
// server (POST /containers/prune, /images/prune, /networks/prune,
// /build/prune): the containers made here are the only ones
// (enginetest.Main), and the images are in a store of this test's own.
func TestPrune(t *testing.T) {
	setup(t)
	store := filepath.Join(t.TempDir(), "images")
	t.Setenv(dockercli.StoreEnv, store)
	s := serve(t)
	n := names(t, s, "pruned", "up")
	id := strings.TrimSpace(s.ok(t, "create", "--name", n[0], "-l", "tier=test", "--network", "none", "cfs/base", "true"))
	// Filters: what they keep stays.
	require.Equal(t, "Total reclaimed space: 0B\n", s.ok(t, "container", "prune", "-f", "--filter", "label!=tier=test"))
	require.Equal(t, "Total reclaimed space: 0B\n", s.ok(t, "container", "prune", "-f", "--filter", "until=1h"), "made just now")
	require.Equal(t, "Deleted Containers:\n"+id+"\n\nTotal reclaimed space: 0B\n", s.ok(t, "container", "prune", "-f", "--filter", "label=tier"))
	require.Equal(t, 1, s.docker(t, "", "inspect", n[0]).Code, "gone")

	// A stopped container, an image committed from it without a name
	// (dangling) and one with a name; a running container holds cfs/base.
	s.ok(t, "run", "--name", n[0], "--network", "none", "cfs/base", "sh", "-c", "echo hi > /hi")
	id = strings.TrimSpace(s.ok(t, "inspect", "-f", "{{.Id}}", n[0]))
	dangling := strings.TrimSpace(s.ok(t, "commit", n[0]))
	named := strings.TrimSpace(s.ok(t, "commit", n[0], "api-pruned:v1"))
	layers := strings.Fields(s.ok(t, "image", "inspect", "-f", `{{range .RootFS.Layers}}{{.}} {{end}}`, named))
	s.ok(t, "run", "-d", "--name", n[1], "--network", "none", "cfs/base", "sleep", "1000")

	// system prune: the stopped container and the dangling image; the
	// named image keeps the layer the two images share. 3B: /hi.
	require.Equal(t, "Deleted Containers:\n"+id+"\n\nDeleted Images:\ndeleted: "+dangling+"\n\nTotal reclaimed space: 3B\n",
		s.ok(t, "system", "prune", "-f"))
	require.Equal(t, "api-pruned:v1\ncfs/base:latest\n", s.ok(t, "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "dangling=false"),
		"only the dangling image went")
	require.Equal(t, "cfs/base\n", s.ok(t, "images", "--format", "{{.Repository}}", "--filter", "before=api-pruned:v1"))
	require.Equal(t, "api-pruned\n", s.ok(t, "images", "--format", "{{.Repository}}", "api-*"), "a glob")

	// image prune -a: every image no container uses; cfs/base stays.
	out := s.ok(t, "image", "prune", "-a", "-f")
	require.Regexp(t, `^Deleted Images:\nuntagged: api-pruned:v1\ndeleted: `+named+`\n(deleted: sha256:[0-9a-f]{64}\n)+\nTotal reclaimed space: [0-9.]+[kM]?B\n$`, out)
	require.Equal(t, "cfs/base\n", s.ok(t, "images", "--format", "{{.Repository}}"))
	// From outside: the committed layer is no longer in the store.
	top := image.ChainIDs(hashes(t, layers))
	require.NoDirExists(t, filepath.Join(store, "layers", top[len(top)-1].Hex))
	require.Equal(t, "true\n", s.ok(t, "inspect", "-f", "{{.State.Running}}", n[1]))
	require.Equal(t, "Total reclaimed space: 0B\n", s.ok(t, "image", "prune", "-f"), "nothing dangling is left")

	r := s.docker(t, "", "image", "prune", "-f", "--filter", "bogus=1")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "invalid filter 'bogus' (cfs knows dangling, until, label, label!)")
}

// hashes parses sha256:HEX strings.
func hashes(t *testing.T, in []string) []v1.Hash {
	t.Helper()
	out := make([]v1.Hash, len(in))
	for i, s := range in {
		h, err := v1.NewHash(s)
		require.NoError(t, err)
		out[i] = h
	}
	return out
}

// docker pull through the server, from a registry on loopback: the
// progress, then the image runs. (This server runs in the host's network
// namespace, where the registry is; its containers use --network none.)
func TestPull(t *testing.T) {
	setup(t)
	reg := imagetest.NewRegistry(t)
	reg.Push(t, "cfs-api/pulled:v1", imagetest.TestImage(t, "linux/"+goruntime.GOARCH))
	dir := t.TempDir()
	s := &server{sock: dir + "/docker.sock", dir: dir}
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(self, "serve", "--host", "unix://"+s.sock)
	cmd.Env = append(os.Environ(), "CFS_TEST_AS_STAGE=1")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "listening")

	ref := reg.Ref("cfs-api/pulled:v1")
	t.Cleanup(func() { cfs(t, "rmi", "-f", ref) })
	r := s.docker(t, "", "pull", ref)
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, "Status: Downloaded newer image for "+ref)
	require.Contains(t, s.ok(t, "images"), reg.Ref("cfs-api/pulled"))
	r = s.docker(t, "", "pull", ref)
	require.Contains(t, r.Stdout, "Image is up to date")
	r = s.docker(t, "", "pull", reg.Ref("cfs-api/nothing:v1"))
	require.Equal(t, 1, r.Code)
	require.NotEmpty(t, r.Stderr)
	require.Contains(t, s.ok(t, "rmi", ref), "Untagged: "+ref)
}

// docker run's flags reach the engine through the API: -u, -w, -e,
// --entrypoint, -v, -h, and the limits, read from outside in the
// container's cgroup.
func TestRunFlags(t *testing.T) {
	setup(t)
	s := serve(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(dir+"/f", []byte("from the host\n"), 0o644))
	r := s.docker(t, "", "run", "--rm", "--network", "none", "-u", "1000:1000", "-w", "/tmp", "-e", "A=1", "-h", "box",
		"-v", dir+":/data:ro", "--entrypoint", "sh", "cfs/base", "-c", "id -u; id -g; pwd; echo $A; hostname; cat /data/f; touch /data/x")
	require.Equal(t, 1, r.Code, r.Stderr)
	require.Equal(t, "1000\n1000\n/tmp\n1\nbox\nfrom the host\n", r.Stdout)
	require.Contains(t, r.Stderr, "Read-only file system")
	// --mount: the docker CLI sends HostConfig.Mounts, which the engine
	// reads as -v and --tmpfs.
	r = s.docker(t, "", "run", "--rm", "--network", "none", "--mount", "type=bind,src="+dir+",dst=/data,readonly",
		"--mount", "type=tmpfs,dst=/t,tmpfs-size=1m", "cfs/base", "sh", "-c", "cat /data/f; grep ' /t ' /proc/self/mountinfo; touch /data/x")
	require.Equal(t, 1, r.Code, r.Stderr)
	require.Regexp(t, `^from the host\n.* /t .* tmpfs tmpfs rw,size=1024k\S*\n$`, r.Stdout)
	require.Contains(t, r.Stderr, "Read-only file system")
	r = s.docker(t, "", "run", "--rm", "--mount", "type=bind,src=/no/such/dir,dst=/x", "cfs/base", "true")
	require.NotEqual(t, 0, r.Code)
	require.Contains(t, r.Stderr, `invalid mount config for type "bind": bind source path does not exist: /no/such/dir`)
	// /etc and process flags reach the engine (the engine's tests check
	// them from outside); what cfs does not do is refused, not ignored.
	out := s.ok(t, "run", "--rm", "--add-host", "db:10.1.2.3", "--dns", "192.0.2.53", "--dns-search", "corp.example",
		"--group-add", "29", "--ulimit", "nofile=100:200", "--sysctl", "net.ipv4.ip_forward=1", "--shm-size", "8m",
		"cfs/base", "sh", "-c", "grep db /etc/hosts; cat /etc/resolv.conf; id -G; ulimit -n; cat /proc/sys/net/ipv4/ip_forward; df -k /dev/shm | tail -1")
	require.Regexp(t, `^10\.1\.2\.3\tdb\nnameserver 192\.0\.2\.53\nsearch corp\.example\n0 29\n100\n1\nshm\s+8192\s`, out)
	r = s.docker(t, "", "run", "--rm", "--log-opt", "max-size=1m", "cfs/base", "true")
	require.Equal(t, 125, r.Code, r.Stderr)
	require.Contains(t, r.Stderr, "--log-opt is not supported by cfs")
	// --device: the host's node under another name (the engine's tests
	// check the cgroup's rule).
	require.Equal(t, "1:7 character special file\n", s.ok(t, "run", "--rm", "--network", "none", "--device", "/dev/full:/dev/other:r", "cfs/base", "stat", "-c", "%t:%T %F", "/dev/other"))
	r = s.docker(t, "", "run", "--rm", "--network", "none", "--device", "/no/such/node", "cfs/base", "true")
	require.Equal(t, 127, r.Code, r.Stderr) // the docker CLI's: "no such file or directory" in any error is 127
	require.Contains(t, r.Stderr, `error gathering device information while adding custom device "/no/such/node": no such file or directory`)

	name := names(t, s, "limits")[0]
	s.ok(t, "run", "-d", "--name", name, "--network", "none", "-m", "64m", "--cpus", "0.5", "--pids-limit", "20", "cfs/base", "sleep", "300")
	c, err := record(t, name)
	require.NoError(t, err)
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.State.Pid))
	require.NoError(t, err)
	limit := func(v1controller, v1file, v2file string) string {
		for _, line := range strings.Split(string(cg), "\n") {
			f := strings.SplitN(line, ":", 3)
			if len(f) < 3 {
				continue
			}
			path := ""
			switch {
			case cgroupV2() && f[1] == "":
				path = "/sys/fs/cgroup" + f[2] + "/" + v2file
			case !cgroupV2() && strings.Contains(","+f[1]+",", ","+v1controller+","):
				path = "/sys/fs/cgroup/" + v1controller + f[2] + "/" + v1file
			default:
				continue
			}
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			return strings.TrimSpace(string(data))
		}
		t.Fatalf("no %s cgroup in %s", v1controller, cg)
		return ""
	}
	require.Equal(t, "20", limit("pids", "pids.max", "pids.max"))
	require.Equal(t, fmt.Sprint(64<<20), limit("memory", "memory.limit_in_bytes", "memory.max"))
	if cgroupV2() {
		require.Equal(t, "50000 100000", limit("cpu", "", "cpu.max"))
	} else {
		require.Equal(t, "50000", limit("cpu", "cpu.cfs_quota_us", ""))
	}
	require.Equal(t, fmt.Sprint(64<<20)+" 20", strings.TrimSpace(s.ok(t, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}", name)))
	r = s.docker(t, "", "run", "--rm", "--cpus", "1", "--cpu-period", "50000", "cfs/base", "true")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, "Conflicting options: Nano CPUs and CPU Period cannot both be set")

	// --restart: the engine's monitor restarts it, once here; update
	// changes the policy (the engine's tests follow a restart through).
	name = names(t, s, "restarts")[0]
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	s.ok(t, "run", "-d", "--name", name, "--restart", "on-failure:1", "--network", "none", "cfs/base", "sh", "-c", "exit 2")
	// Two ends, followed as they come on docker's event stream: the
	// record says exited before its die event is written.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	follow := exec.CommandContext(ctx, "docker", "events", "--since", since, "--filter", "container="+name, "--filter", "event=die", "--format", `{{index .Actor.Attributes "exitCode"}}`)
	follow.Env = append(os.Environ(), "DOCKER_HOST=unix://"+s.sock, "DOCKER_CONFIG="+s.dir)
	stream, err := follow.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, follow.Start())
	lines := bufio.NewScanner(stream)
	for range 2 {
		require.True(t, lines.Scan(), "docker events ended before two ends: %v", ctx.Err())
		require.Equal(t, "2", lines.Text())
	}
	cancel()
	_ = follow.Wait()
	require.Equal(t, "exited 2 1\n", s.ok(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", name), "one restart, then exited")
	s.ok(t, "update", "--restart", "unless-stopped", name)
	require.Equal(t, "unless-stopped\n", s.ok(t, "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", name))
	r = s.docker(t, "", "update", "--restart", "always:3", name)
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "maximum retry count can only be used with 'on-failure'")
}

func cgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// docker volume, through the server: made by create and by run -v, listed,
// inspected, refused while mounted, an anonymous one removed by rm -v,
// pruned by label, removed.
func TestVolumes(t *testing.T) {
	setup(t)
	s := serve(t)
	n := names(t, s, "vol", "vol-user")
	vol, spare := n[0], n[0]+"-spare"
	t.Cleanup(func() { cfs(t, "volume", "rm", "-f", vol, spare) })
	require.Equal(t, vol+"\n", s.ok(t, "volume", "create", "--label", "cfs-test=api", vol))
	require.Equal(t, "local "+vol+" cfs-test=api\n", s.ok(t, "volume", "ls", "-f", "name="+vol, "--format", "{{.Driver}} {{.Name}} {{.Labels}}"))
	require.Equal(t, "/var/lib/cfs/engine/volumes/"+vol+"/_data\n", s.ok(t, "volume", "inspect", "-f", "{{.Mountpoint}}", vol))
	r := s.docker(t, "", "volume", "inspect", "nosuch-"+vol)
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "no such volume")

	s.ok(t, "run", "--rm", "--network", "none", "-v", vol+":/v", "cfs/base", "sh", "-c", "echo through the API > /v/f")
	s.ok(t, "run", "-d", "--name", n[1], "--network", "none", "-v", vol+":/v:ro", "-v", "/anon", "cfs/base", "sleep", "300")
	require.Equal(t, "through the API\n", s.ok(t, "exec", n[1], "cat", "/v/f"))
	anon := strings.TrimSpace(s.ok(t, "inspect", "-f", `{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}`, n[1]))
	require.Len(t, anon, 64)
	r = s.docker(t, "", "volume", "rm", vol)
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "volume is in use")
	require.Equal(t, anon+"\n", s.ok(t, "volume", "ls", "-q", "-f", "dangling=false", "-f", "name="+anon))
	s.ok(t, "rm", "-f", "-v", n[1])
	r = s.docker(t, "", "volume", "inspect", anon)
	require.Equal(t, 1, r.Code, "docker rm -v took the anonymous volume")

	require.Equal(t, spare+"\n", s.ok(t, "volume", "create", "--label", "cfs-test=api", spare))
	out := s.ok(t, "volume", "prune", "-a", "-f", "--filter", "label=cfs-test=api")
	require.Contains(t, out, vol)
	require.Contains(t, out, spare)
	require.Equal(t, "", s.ok(t, "volume", "ls", "-q", "-f", "label=cfs-test=api"))
}
