package hint

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"cfs/internal/kernel"

	"github.com/stretchr/testify/require"
)

// fake is a host made of files in a temporary directory.
func fake(t *testing.T) Host {
	dir := t.TempDir()
	h := Host{Root: filepath.Join(dir, "root"), Proc: filepath.Join(dir, "proc"), Sys: filepath.Join(dir, "sys"),
		Run: filepath.Join(dir, "run"), StateDir: "/var/lib/cfs", FSType: func(string) (string, error) { return "ext4", nil }}
	write(t, h.Proc, "self/mountinfo", "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n")
	write(t, h.Proc, "sys/user/max_user_namespaces", "15000\n")
	return h
}

func write(t *testing.T, dir, name, content string) {
	require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
}

func TestHint(t *testing.T) {
	h := fake(t)
	clone := func(flags string, errno error) error {
		return fmt.Errorf("wrapped: %w", &kernel.Error{Op: "clone", Arg: flags, What: "start the container process", Err: errno})
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&kernel.Error{Op: "pivot_root", What: "pivot_root to /r", Err: syscall.EINVAL}, "/ is shared"},
		{clone("CLONE_NEWUSER|CLONE_NEWUTS", syscall.EPERM), "the kernel refused a user namespace"},
		{clone("CLONE_NEWUTS|CLONE_NEWNS", syscall.EPERM), "creating namespaces was refused: not root"},
		{&kernel.Error{Op: "mount", Arg: "overlay", What: "mount overlay", Err: syscall.ENODEV}, "modprobe overlay"},
		{&kernel.Error{Op: "mount", Arg: "overlay", What: "mount overlay", Err: syscall.EINVAL}, "the kernel refused the overlay mount"},
		{&kernel.Error{Op: "write", Arg: filepath.Join(h.Sys, "fs/cgroup/cfs/1/memory.max"), What: "write", Err: syscall.ENOENT}, "no such cgroup file on this host, which has cgroup v1"},
		{&kernel.Error{Op: "nft", What: "nft -f", Err: syscall.EPROTONOSUPPORT}, "modprobe nf_tables"},
		{&kernel.Error{Op: "netlink", What: "ip link add cfs0 type bridge", Err: syscall.EOPNOTSUPP}, "modprobe bridge"},
	} {
		got := h.For(tc.err)
		require.Contains(t, got, tc.want, tc.err.Error())
		require.True(t, strings.HasSuffix(got, "; run `"+Doctor+"`"), got)
		require.NotContains(t, got, "\n", "a hint is one line")
	}

	// What the host shows changes the cause.
	write(t, h.Proc, "sys/user/max_user_namespaces", "0\n")
	require.Contains(t, h.For(clone("CLONE_NEWUSER", syscall.ENOSPC)), "user.max_user_namespaces=0")
	write(t, h.Sys, "fs/cgroup/unified/cgroup.controllers", "")
	require.Contains(t, h.For(&kernel.Error{Op: "mkdir", Arg: filepath.Join(h.Sys, "fs/cgroup/memory/cfs/1"), Err: syscall.ENOENT}), "which has hybrid cgroups")
	write(t, h.Root, ".dockerenv", "")
	require.Contains(t, h.For(clone("CLONE_NEWNS", syscall.EPERM)), "inside a container (/.dockerenv exists (docker))")
	h.FSType = func(string) (string, error) { return "overlay", nil }
	require.Contains(t, h.For(&kernel.Error{Op: "mount", Arg: "overlay", Err: syscall.EINVAL}), "is itself an overlay")

	// Words in a message are not a type: no hint.
	_, lookErr := exec.LookPath("no-such-command-cfs")
	for _, err := range []error{nil, errors.New("boom"), fmt.Errorf("pivot_root to /x: %w", syscall.EINVAL), lookErr,
		&kernel.Error{Op: "pivot_root", Err: syscall.EBUSY}} {
		require.Empty(t, h.For(err), "%v", err)
	}
}
