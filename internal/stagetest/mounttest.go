package stagetest

// The tests of the mount namespace and the new root, the lesson of stage
// 03, written once: each stage from 03 on runs them from its main_test.go
// as top-level tests of the same names (TestChrootEscapeFails calls
// ChrootEscapeFails), against its own binary. TestRootProcDevSys, whose
// list of mounts grows with the stages, stays in each stage.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// With its own /proc, the container lists only its own processes: PID 1
// and the shell.
func ProcShowsOnlyTheContainer(t *testing.T) {
	RequireRoot(t)
	r := Run(t, "", "sh", "-c", "echo /proc/$$; echo /proc/[0-9]*")
	require.Equal(t, 0, r.Code, r.Stderr)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	require.Len(t, lines, 2)
	require.Equal(t, "/proc/1 "+lines[0], lines[1], "the container sees processes that are not its own")

	r = Run(t, "", "ps")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.LessOrEqual(t, len(strings.Split(strings.TrimSpace(r.Stdout), "\n")), 4, r.Stdout)
}

// A mount made inside stays inside: the container's mountinfo shows it, the
// namespace the stage ran in does not. Run twice: on the host as it is, and
// in a mount namespace whose / is shared as systemd makes it, where only
// the stage's make-rprivate keeps the mount from propagating back.
func MountsStayInside(t *testing.T) {
	RequireRoot(t)
	for _, tc := range []struct {
		name    string
		wrapper []string
	}{
		{"host", nil},
		{"shared root", []string{"unshare", "--mount", "--propagation", "shared"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := StartWrapped(t, tc.wrapper, "sh", "-c",
				"mount -t tmpfs cfs-test-inside /mnt && echo ready; read _")
			p.WaitLine(t, "ready")
			stagePID := p.Cmd.Process.Pid
			pid := p.ContainerPID(t)

			inside := ReadFile(t, fmt.Sprintf("/proc/%d/mountinfo", pid))
			require.Contains(t, inside, "cfs-test-inside")
			require.NotContains(t, ReadFile(t, fmt.Sprintf("/proc/%d/mountinfo", stagePID)), "cfs-test-inside")
			require.NotContains(t, ReadFile(t, "/proc/self/mountinfo"), "cfs-test-inside")

			_, _ = p.Stdin.Write([]byte("\n"))
			require.Equal(t, 0, p.Wait(t).Code)
		})
	}
}

// The host's table of mounts is the same before and after a run.
func HostMountsUnchanged(t *testing.T) {
	RequireRoot(t)
	before := mountPoints(t)
	r := Run(t, "", "sh", "-c", "mount -t tmpfs cfs-test-tmpfs /mnt && cat /proc/mounts")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, before, mountPoints(t))
}

// The classic chroot escape: chroot into a subdirectory without moving the
// working directory, walk up with "..", chroot there. It reaches the real
// root from a chroot(2) jail, and must not from a pivot_root container.
func ChrootEscapeFails(t *testing.T) {
	RequireRoot(t)
	root := RootfsWithHelper(t)
	marker := filepath.Join(t.TempDir(), "host-only-marker")
	require.NoError(t, os.WriteFile(marker, []byte("host"), 0o644))

	// The test can fail: the same program escapes a plain chroot.
	jail := exec.Command("/cfs-helper", "chroot-escape", marker)
	jail.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	out, err := jail.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "escaped\n", string(out))

	r := Run(t, "", "--rootfs", root, "/cfs-helper", "chroot-escape", marker)
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "contained\n", r.Stdout)
}

// --rootfs runs any directory as the root.
func RootfsFlag(t *testing.T) {
	RequireRoot(t)
	root := RootfsWithHelper(t)
	require.NoError(t, os.WriteFile(filepath.Join(root, "only-here"), []byte("yes\n"), 0o644))
	r := Run(t, "", "--rootfs", root, "cat", "/only-here")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "yes\n", r.Stdout)
}

// mountPoints lists the host's mount points with their types.
func mountPoints(t *testing.T) []string {
	var out []string
	for _, line := range strings.Split(ReadFile(t, "/proc/self/mountinfo"), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			out = append(out, f[4])
		}
	}
	return out
}

// chrootEscape is /cfs-helper chroot-escape TARGET: what every chroot
// escape does, as root. It chroots into a subdirectory without moving its
// working directory, which is then outside its root; climbs ".." up to
// the real "/" and chroots there. It prints "escaped" if TARGET (a path
// only the host has) is then in sight, "contained" if not.
func chrootEscape(target string) int {
	if err := os.MkdirAll("/tmp/jail", 0o755); err != nil {
		fmt.Println(err)
		return 1
	}
	if err := unix.Chroot("/tmp/jail"); err != nil {
		fmt.Println(err)
		return 1
	}
	for i := 0; i < 64; i++ {
		_ = unix.Chdir("..")
	}
	if err := unix.Chroot("."); err != nil {
		fmt.Println(err)
		return 1
	}
	if _, err := os.Stat(target); err == nil {
		fmt.Println("escaped")
	} else {
		fmt.Println("contained")
	}
	return 0
}
