package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

// Docker's defaults: its capability set, its seccomp profile, /proc
// masked and read-only; --cap-add and --cap-drop change the set.
func TestSecureDefaults(t *testing.T) {
	setup(t)
	run := func(args ...string) string {
		return ok(t, append([]string{"run", "--rm", "--network", "none"}, args...)...)
	}
	status := run("cfs/base", "cat", "/proc/self/status")
	// CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
	// NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
	require.Regexp(t, `(?m)^CapBnd:\s+00000000a80425fb$`, status)
	require.Regexp(t, `(?m)^CapEff:\s+00000000a80425fb$`, status)
	require.Regexp(t, `(?m)^Seccomp:\s+2$`, status, "docker's default seccomp profile is loaded")
	require.Regexp(t, `(?m)^NoNewPrivs:\s+0$`, status)
	status = run("--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--security-opt", "no-new-privileges", "cfs/base", "cat", "/proc/self/status")
	require.Regexp(t, `(?m)^CapEff:\s+0000000000001000$`, status)
	require.Regexp(t, `(?m)^NoNewPrivs:\s+1$`, status)
	require.Regexp(t, `(?m)^CapEff:\s+0000000000000000$`, run("--cap-drop", "all", "cfs/base", "cat", "/proc/self/status"))

	// The profile refuses what docker's refuses: a new user namespace.
	r := cfs(t, "run", "--rm", "--network", "none", "cfs/base", "unshare", "-U", "true")
	if !strings.Contains(r.Stderr, "not found") {
		require.NotEqual(t, 0, r.Code, "unshare -U inside: %s", r.Stderr)
	}
	// Masked and read-only paths.
	require.Equal(t, "0\n", run("cfs/base", "sh", "-c", "wc -c < /proc/kcore 2>/dev/null || echo 0"))
	r = cfs(t, "run", "--rm", "--network", "none", "cfs/base", "sh", "-c", "echo 1 > /proc/sys/kernel/domainname")
	require.NotEqual(t, 0, r.Code)
	require.Contains(t, r.Stderr, "Read-only file system")
	// No device but the few: the device cgroup refuses the host's disk.
	r = cfs(t, "run", "--rm", "--network", "none", "cfs/base", "sh", "-c", "mknod /tmp/sda b 8 0 && head -c1 /tmp/sda")
	require.NotEqual(t, 0, r.Code)
}

// Volumes: a host directory bound in, read-write or read-only, its
// target resolved inside the container's root even through the image's
// symbolic links; --tmpfs; --read-only.
func TestVolumes(t *testing.T) {
	setup(t)
	host := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(host, "in"), []byte("from the host\n"), 0o644))
	out := ok(t, "run", "--rm", "--network", "none", "-v", host+":/data", "cfs/base", "sh", "-c", "cat /data/in; echo back > /data/out")
	require.Equal(t, "from the host\n", out)
	data, err := os.ReadFile(filepath.Join(host, "out"))
	require.NoError(t, err)
	require.Equal(t, "back\n", string(data))
	r := cfs(t, "run", "--rm", "--network", "none", "-v", host+":/data:ro", "cfs/base", "sh", "-c", "echo x > /data/out")
	require.NotEqual(t, 0, r.Code)
	require.Contains(t, r.Stderr, "Read-only file system")

	// An image whose /evil is a link out of the root: the bind lands
	// inside the container's root all the same.
	outside := t.TempDir()
	rmAll(t, "linker")
	ok(t, "run", "--name", "linker", "--network", "none", "cfs/base", "ln", "-s", "../../../../../../.."+outside, "/evil")
	ok(t, "commit", "linker", "cfs-test/evil")
	t.Cleanup(func() { cfs(t, "rmi", "cfs-test/evil") })
	ok(t, "run", "--rm", "--network", "none", "-v", host+":/evil/x", "cfs-test/evil", "true")
	_, err = os.Stat(filepath.Join(outside, "x"))
	require.True(t, os.IsNotExist(err), "the mount point was made outside the container's root")

	// --tmpfs and --read-only.
	out = ok(t, "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/scratch:size=1m", "cfs/base", "sh", "-c",
		"echo ok > /scratch/f && cat /scratch/f; grep ' /scratch ' /proc/mounts | cut -d' ' -f3; touch /nope 2>&1 || true")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, "ok", lines[0])
	require.Equal(t, "tmpfs", lines[1])
	require.Contains(t, lines[2], "Read-only file system")
}

// --init: PID 1 is an init that passes signals on and reaps; a shell
// that would ignore SIGTERM as PID 1 is stopped at once.
func TestInit(t *testing.T) {
	setup(t)
	rmAll(t, "inited")
	ok(t, "run", "-d", "--init", "--name", "inited", "--network", "none", "cfs/base", "sh", "-c", "sleep 1000")
	out := ok(t, "exec", "inited", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '")
	require.NotContains(t, out, "sleep", "PID 1 is the init, not the command")
	require.Equal(t, "inited\n", ok(t, "stop", "-t", "30", "inited"))
	require.Equal(t, "143\n", ok(t, "wait", "inited"), "SIGTERM reached sh through the init")
}

var _ = fmt.Sprint
var _ = stagetest.NS
