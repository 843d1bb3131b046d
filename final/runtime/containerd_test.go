package runtime_test

// A real client: Debian's containerd, started by the test with its own
// root, state and socket, runs an image the test builds, through
// containerd-shim-runc-v2 and our cfs-runc (ctr run --runc-binary), as it
// would run runc. containerd, ctr and the shim are installed by .ci/run
// (apt-get install containerd).

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestContainerd(t *testing.T) {
	r := newRT(t)
	for _, tool := range []string{"containerd", "ctr", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CFS_REQUIRE_PRIVILEGED") == "1" {
				t.Fatalf("%s is not installed (apt-get install containerd; .ci/run does)", tool)
			}
			t.Skipf("%s is not installed (apt-get install containerd)", tool)
		}
	}
	_, root := setup(t)
	dir := t.TempDir()
	d := startContainerd(t, dir)
	ns := fmt.Sprintf("cfs-test-%d", os.Getpid())
	ctr := func(args ...string) *exec.Cmd {
		return exec.Command("ctr", append([]string{"--address", d.sock, "--namespace", ns}, args...)...)
	}
	runOK := func(args ...string) string {
		t.Helper()
		out, err := ctr(args...).CombinedOutput()
		require.NoError(t, err, "ctr %v: %s\ncontainerd's log:\n%s", args, out, d.log.String())
		return string(out)
	}

	image := filepath.Join(dir, "image.tar")
	writeImage(t, root, image, "cfs.test/rootfs:latest")
	runOK("image", "import", "--snapshotter", "native", image)
	require.Contains(t, runOK("image", "ls", "-q"), "cfs.test/rootfs:latest")

	runc := []string{"--snapshotter", "native", "--runc-binary", r.bin, "--runc-root", filepath.Join(dir, "runc")}
	var ids []string
	t.Cleanup(func() {
		// After a failure: what containerd still has goes before it stops.
		for _, id := range ids {
			_ = ctr("task", "delete", "--force", id).Run()
			_ = ctr("container", "delete", id).Run()
		}
		_ = ctr("image", "rm", "cfs.test/rootfs:latest").Run()
		_ = exec.Command("ctr", "--address", d.sock, "namespace", "remove", ns).Run()
	})
	id := r.id()
	ids = append(ids, id)
	// ctr run --rm: the command's output, and its exit status.
	cmd := ctr(append(append([]string{"run", "--rm"}, runc...), "cfs.test/rootfs:latest", id, "sh", "-c", "echo hello from $(hostname); exit 3")...)
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Equal(t, 3, cmd.ProcessState.ExitCode(), "%s\n%s", out, d.log.String())
	host, _ := os.Hostname() // ctr gives a new UTS namespace, and no hostname: the host's is copied
	require.Equal(t, "hello from "+host+"\n", string(out))

	// A detached task: exec, ps, pause and resume, kill.
	id = r.id()
	ids = append(ids, id)
	runOK(append(append([]string{"run", "-d"}, runc...), "cfs.test/rootfs:latest", id, "sh", "-c", "echo started; exec sleep 1000")...)
	cmd = ctr("task", "exec", "--exec-id", "probe", id, "sh", "-c", "echo in $$; exit 4")
	out, _ = cmd.CombinedOutput()
	require.Equal(t, 4, cmd.ProcessState.ExitCode(), string(out))
	require.Regexp(t, `^in \d+\n$`, string(out))
	ps := runOK("task", "ps", id)
	require.Regexp(t, `(?m)^PID +INFO$`, ps)
	require.Regexp(t, `(?m)^\d+ +-$`, ps)
	runOK("task", "pause", id)
	require.Regexp(t, fmt.Sprintf(`(?m)^%s +\d+ +PAUSED$`, id), runOK("task", "ls"))
	runOK("task", "resume", id)
	require.Regexp(t, fmt.Sprintf(`(?m)^%s +\d+ +RUNNING$`, id), runOK("task", "ls"))
	var pid int
	for _, line := range strings.Split(runOK("task", "ls"), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == id {
			fmt.Sscan(f[1], &pid)
		}
	}
	require.NotZero(t, pid)
	runOK("task", "kill", "--signal", "SIGKILL", id)
	waitExit(t, pid)
	require.Regexp(t, fmt.Sprintf(`(?m)^%s +\d+ +STOPPED$`, id), runOK("task", "ls"))
	runOK("task", "delete", id)
	runOK("container", "delete", id)
	require.Empty(t, strings.TrimSpace(runOK("task", "ls", "-q")))
	runOK("image", "rm", "cfs.test/rootfs:latest")
	cgroupDir := filepath.Join("/sys/fs/cgroup", ns)
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err == nil {
		cgroupDir = filepath.Join("/sys/fs/cgroup/memory", ns)
	}
	require.NoDirExists(t, cgroupDir, "the runtime removes the cgroups it made, parents too")
}

type containerd struct {
	sock string
	log  *bytes.Buffer
}

// startContainerd starts containerd with everything under dir, and waits
// until it says it is ready (sd_notify's READY=1 on NOTIFY_SOCKET).
func startContainerd(t *testing.T, dir string) *containerd {
	t.Helper()
	d := &containerd{sock: filepath.Join(dir, "containerd.sock"), log: &bytes.Buffer{}}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), d.sock, d.sock+".ttrpc", d.sock+".debug")
	cfg := filepath.Join(dir, "config.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(config), 0o644))
	notify := filepath.Join(dir, "notify.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	require.NoError(t, err)
	defer l.Close()
	cmd := exec.Command("containerd", "--config", cfg)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify)
	cmd.Stdout, cmd.Stderr = d.log, d.log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 4096)
	for ctx.Err() == nil {
		n, err := l.Read(buf)
		require.NoError(t, err, "containerd did not say READY=1: %s", d.log.String())
		if strings.Contains(string(buf[:n]), "READY=1") {
			return d
		}
	}
	t.Fatalf("containerd did not start: %s", d.log.String())
	return nil
}

// writeImage writes root as a one-layer image in `docker save`'s format,
// which `ctr image import` reads: the layer's tar, the image config naming
// the layer by its digest, and manifest.json with the tag.
func writeImage(t *testing.T, root, path, tag string) {
	t.Helper()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	require.NoError(t, filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		link := ""
		if e.Type()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name, _ = filepath.Rel(root, p)
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if e.Type().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	}))
	require.NoError(t, tw.Close())
	sum := sha256.Sum256(layer.Bytes())
	diffID := hex.EncodeToString(sum[:])
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, "Cmd": []string{"sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + diffID}},
	})
	csum := sha256.Sum256(config)
	configName := hex.EncodeToString(csum[:]) + ".json"
	manifest, _ := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{tag}, "Layers": []string{diffID + "/layer.tar"}}})
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	out := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		data []byte
	}{{diffID + "/layer.tar", layer.Bytes()}, {configName, config}, {"manifest.json", manifest}} {
		require.NoError(t, out.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}))
		_, err := out.Write(e.data)
		require.NoError(t, err)
	}
	require.NoError(t, out.Close())
}
