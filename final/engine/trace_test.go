package engine_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// cfs --trace narrates the host side of a start in the stages' format:
// the overlay (stage 08), the cgroup (07), the clone, the bridge and the
// veth (05), and the commands to look at the container.
func TestTrace(t *testing.T) {
	setup(t)
	r := cfs(t, "--trace", "run", "--rm", "cfs/base", "true")
	require.Equal(t, 0, r.Code, r.Stderr)
	for _, want := range []string{
		`^\[cfs monitor\] mount\("overlay", "/var/lib/cfs/engine/containers/[0-9a-f]{64}/rootfs", "overlay", 0, "lowerdir=.*,upperdir=.*,workdir=.*"\)  ≈ mount -t overlay`,
		`^\[cfs monitor\] → cgroup /sys/fs/cgroup/.*cfs-runtime/[0-9a-f]{64}, its limits written`,
		`^\[cfs monitor\] clone\(CLONE_NEWUTS\|CLONE_NEWPID\|CLONE_NEWNS\|CLONE_NEWIPC\|CLONE_NEWNET.*\)  ≈ unshare `,
		`^\[cfs monitor\] → host PID \d+, the container's first process`,
		`^\[cfs monitor\] netlink RTM_NEWLINK\(cfs[0-9a-f]{8} type veth peer eth0 netns /proc/\d+/ns/net\)`,
		`^\[cfs monitor\] netlink RTM_NEWROUTE\(default via [0-9.]+ dev eth0\) in /proc/\d+/ns/net`,
		`^\[cfs look\] sudo nsenter -t \d+ -a sh$`,
	} {
		require.Regexp(t, regexp.MustCompile(`(?m)`+want), r.Stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
		require.True(t, strings.HasPrefix(line, "[cfs "), "every line of the trace is the trace's: %q", line)
	}
	// Without --trace, nothing of it.
	r = cfs(t, "run", "--rm", "cfs/base", "true")
	require.Equal(t, "", r.Stderr)
}
