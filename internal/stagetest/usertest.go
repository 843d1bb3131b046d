package stagetest

// The user-namespace tests of stages 06 and later, written once: each such
// stage runs them, unchanged, from its user_test.go (TestUsers), against
// its own binary (the test binary acting as the stage, see Start). Run one
// with -run 'TestUsers/NAME', e.g. -run 'TestUsers/UnprivilegedUser$'.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"cfs/internal/idmap"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Users runs the user-namespace tests as subtests, under their names of
// old (TestUnprivilegedUser is now TestUsers/UnprivilegedUser), one after
// the other as before.
func Users(t *testing.T) {
	t.Run("RootInsideNobodyOutside", testRootInsideNobodyOutside)
	t.Run("FilesBelongToTheMappedUser", testFilesBelongToTheMappedUser)
	t.Run("RootInsideLacksHostPrivilege", testRootInsideLacksHostPrivilege)
	t.Run("UnprivilegedUser", testUnprivilegedUser)
}

// Root inside is an ordinary user outside: inside, id says 0; outside, the
// kernel's status of the same process says 100000, and the maps read from
// either side are the same.
func testRootInsideNobodyOutside(t *testing.T) {
	RequireRoot(t)
	uids, gids := idmap.For(true)
	p := Start(t, "sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; echo ready; read _")
	require.Equal(t, "0", p.NextLine(t))
	require.Equal(t, "0", p.NextLine(t))
	insideUID, insideGID := strings.Fields(p.NextLine(t)), strings.Fields(p.NextLine(t))
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)

	want := []string{"0", fmt.Sprint(uids.HostID), fmt.Sprint(uids.Size)}
	require.Equal(t, want, insideUID)
	require.Equal(t, want, strings.Fields(ReadFile(t, fmt.Sprintf("/proc/%d/uid_map", pid))))
	require.Equal(t, []string{"0", fmt.Sprint(gids.HostID), fmt.Sprint(gids.Size)}, insideGID)

	status := ReadFile(t, fmt.Sprintf("/proc/%d/status", pid))
	require.Regexp(t, fmt.Sprintf(`(?m)^Uid:\s+%d\s+%d\s+%d\s+%d$`, uids.HostID, uids.HostID, uids.HostID, uids.HostID), status)
	require.Regexp(t, fmt.Sprintf(`(?m)^Gid:\s+%d\s+%d\s+%d\s+%d$`, gids.HostID, gids.HostID, gids.HostID, gids.HostID), status)
	kids := Children(pid)
	require.Len(t, kids, 1)
	require.Regexp(t, fmt.Sprintf(`(?m)^Uid:\s+%d\s`, uids.HostID), ReadFile(t, fmt.Sprintf("/proc/%d/status", kids[0])), "the command runs as another host user")

	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
}

// A file root makes in the container belongs on the host to the mapped uid,
// and the container's root may change its own root filesystem.
func testFilesBelongToTheMappedUser(t *testing.T) {
	RequireRoot(t)
	uids, gids := idmap.For(true)
	p := Start(t, "sh", "-c", "touch /tmp/made-inside && echo changed > /etc/motd && echo ready; read _")
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)

	for _, f := range []string{"tmp/made-inside", "etc/motd", "bin/sh"} {
		var st unix.Stat_t
		require.NoError(t, unix.Lstat(fmt.Sprintf("/proc/%d/root/%s", pid, f), &st))
		require.Equal(t, uint32(uids.HostID), st.Uid, "%s is owned by host uid %d", f, st.Uid)
		require.Equal(t, uint32(gids.HostID), st.Gid, "%s is owned by host gid %d", f, st.Gid)
	}
	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
}

// Root in the container has every capability over its own namespaces and
// none over the host: it cannot change a kernel setting, make a device
// node that works, or rename the host.
func testRootInsideLacksHostPrivilege(t *testing.T) {
	RequireRoot(t)
	host, err := os.Hostname()
	require.NoError(t, err)
	swappiness := ReadFile(t, "/proc/sys/vm/swappiness")

	r := Run(t, "", "sh", "-c", `
		echo 7 > /proc/sys/vm/swappiness && echo sysctl-written
		mknod /tmp/disk b 8 0 && echo mknod-worked
		mount -t tmpfs cfs-test-tmpfs /mnt && echo mount-own-ok
		hostname renamed-inside && hostname
		exit 0`)
	require.Equal(t, 0, r.Code, r.Stderr)
	require.NotContains(t, r.Stdout, "sysctl-written")
	require.NotContains(t, r.Stdout, "mknod-worked")
	require.Contains(t, r.Stdout, "mount-own-ok", "root cannot even mount in its own mount namespace")
	require.Contains(t, r.Stdout, "renamed-inside", "root cannot name its own UTS namespace")

	require.Equal(t, swappiness, ReadFile(t, "/proc/sys/vm/swappiness"))
	after, err := os.Hostname()
	require.NoError(t, err)
	require.Equal(t, host, after)
}

// Without root, the stage still runs: user, UTS, PID, mount, IPC and a
// network namespace with loopback only; the user is root inside.
func testUnprivilegedUser(t *testing.T) {
	RequireRoot(t) // to become nobody
	const nobody = 65534
	dir, err := os.MkdirTemp("", "cfs-unprivileged-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	home := filepath.Join(dir, "home")
	require.NoError(t, os.Mkdir(home, 0o755))
	require.NoError(t, os.Chown(home, nobody, nobody))
	self, err := os.Executable()
	require.NoError(t, err)
	bin := filepath.Join(dir, "stage")
	require.NoError(t, copyExecutable(self, bin))

	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{stageEnv + "=1", "HOME=" + home, "PATH=/usr/bin:/bin"}
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return out.String(), errb.String(), code
	}

	out, errs, code := run("sh", "-c", "id -u; cat /proc/self/uid_map; ip -o link; readlink /proc/self/ns/user; touch /mine && echo wrote")
	require.Equal(t, 0, code, errs)
	require.Contains(t, errs, "running unprivileged")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, "0", lines[0])
	require.Equal(t, []string{"0", fmt.Sprint(nobody), "1"}, strings.Fields(lines[1]))
	require.Regexp(t, regexp.MustCompile(`^1: lo: <LOOPBACK,UP`), lines[2])
	require.Len(t, lines, 5, "more links than lo: %v", lines)
	require.NotEqual(t, NS(t, "self", "user"), lines[3])
	require.Equal(t, "wrote", lines[4])

	left, _ := os.ReadDir(filepath.Join(home, ".cache", "cfs", "containers"))
	require.Empty(t, left, "the container's copy outlived it")

	_, errs, code = run("-p", "8080:80", "true")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "need root")
}

// OwnerUserNS returns the user namespace that owns pid's namespace of the
// given kind, as the kernel names it.
func OwnerUserNS(t *testing.T, pid int, kind string) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, kind))
	require.NoError(t, err)
	defer f.Close()
	fd, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_USERNS)
	require.NoError(t, err)
	defer unix.Close(fd)
	link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	require.NoError(t, err)
	return link
}

// copyExecutable copies the program at src to dst, executable.
func copyExecutable(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}
