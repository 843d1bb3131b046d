package engine_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

// cfs --trace narrates a start in the stages' format: on the host the
// overlay (stage 08), the cgroup (07), the clone, the bridge and the veth
// (05), and the commands to look at the container; inside, the init's
// hostname (01), mounts and pivot_root (03), its user, capabilities and
// seccomp filter, and the execve of the command.
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
		`^\[cfs init\] sethostname\("[0-9a-f]{12}"\)  ≈ hostname [0-9a-f]{12}$`,
		`^\[cfs init\] mount\("proc", "/var/lib/cfs/engine/containers/[0-9a-f]{64}/rootfs/proc", "proc", MS_NOSUID\|MS_NODEV\|MS_NOEXEC, ""\)  ≈ mount -t proc`,
		`^\[cfs init\] mknod\("/var/lib/cfs/engine/containers/[0-9a-f]{64}/rootfs/dev/null", S_IFCHR\|0666, makedev\(1, 3\)\)`,
		`^\[cfs init\] pivot_root\("\.", "\."\)  ≈ pivot_root \. \.$`,
		`^\[cfs init\] mount\("/dev/null", "/proc/[a-z_]+", "", MS_BIND, ""\)  ≈ mount --bind /dev/null /proc/[a-z_]+$`, // a masked path
		`^\[cfs init\] seccomp\(SECCOMP_SET_MODE_FILTER, \d+ instructions\)$`,
		`^\[cfs init\] setresuid\(0, 0, 0\)  ≈ setpriv --reuid=0$`,
		`^\[cfs init\] capset\(effective=0x[0-9a-f]+, permitted=0x[0-9a-f]+, inheritable=0x0\)$`,
		`^\[cfs init\]   permitted: cap_chown,.*cap_net_bind_service`,
		`^\[cfs init\] execve\("[^"]*/true", \["true"\]\)  ≈ exec true$`,
	} {
		require.Regexp(t, regexp.MustCompile(`(?m)`+want), r.Stderr)
	}
	// The trace tells of this container: the hostname the init sets is
	// the ID's first 12 digits, in the path of the overlay the monitor
	// mounted; the init's execve comes after the host's side, and the
	// container is taken down after it, the overlay last.
	id := regexp.MustCompile(`(?m)^\[cfs monitor\] mount\("overlay", "/var/lib/cfs/engine/containers/([0-9a-f]{64})/rootfs"`).FindStringSubmatch(r.Stderr)
	require.NotNil(t, id)
	require.Contains(t, r.Stderr, `[cfs init] sethostname("`+id[1][:12]+`")`)
	look := strings.Index(r.Stderr, "[cfs look] sudo lsns")
	execve := strings.Index(r.Stderr, "[cfs init] execve(")
	cgroup := regexp.MustCompile(`(?m)^\[cfs monitor\] → cgroup /sys/fs/cgroup/.*cfs-runtime/` + id[1] + ` removed`).FindStringIndex(r.Stderr)
	require.NotNil(t, cgroup, "the cgroup's removal is narrated")
	bridge := strings.Index(r.Stderr, "[cfs monitor] netlink RTM_DELLINK(cfs0)  ≈ ip link del cfs0") // the last container out
	require.True(t, look >= 0 && execve > look && cgroup[0] > execve && bridge > cgroup[0], "look, then execve, then the teardown:\n%s", r.Stderr)
	require.Equal(t, `[cfs monitor] umount2("/var/lib/cfs/engine/containers/`+id[1]+`/rootfs", MNT_DETACH)  ≈ umount -l /var/lib/cfs/engine/containers/`+id[1]+`/rootfs`,
		lastLine(r.Stderr), "the overlay goes last")
	for _, line := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
		require.True(t, strings.HasPrefix(line, "[cfs "), "every line of the trace is the trace's: %q", line)
	}
	// Without --trace, nothing of it.
	r = cfs(t, "run", "--rm", "cfs/base", "true")
	require.Equal(t, "", r.Stderr)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// The init narrates on a descriptor of its own, which it closes when it
// becomes the command: the container never holds the caller's stderr.
func TestTraceLeavesNoDescriptor(t *testing.T) {
	setup(t)
	r := cfs(t, "--trace", "run", "--rm", "--network", "none", "cfs/base", "ls", "/proc/self/fd")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, []string{"0", "1", "2", "3"}, strings.Fields(r.Stdout), "only stdio, and ls's own directory")
	require.Contains(t, r.Stderr, `[cfs init] execve(`)
	require.Contains(t, r.Stderr, `[cfs monitor] umount2(`, "a run that stays attached narrates the teardown")
	// A container whose init stays PID 1 (--init) closes it too, or a
	// traced `run -d` would keep its caller's stderr open for as long as
	// the container runs: cfs returns here, with nothing more to read.
	rmAll(t, "traced-init")
	r = stagetest.RunWithin(t, 30*time.Second, "--trace", "run", "-d", "--init", "--name", "traced-init", "--network", "none", "cfs/base", "sleep", "1000")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Regexp(t, `(?m)^\[cfs init\] fork\(\) \+ execve\("[^"]*/sleep", \["sleep", "1000"\]\)`, r.Stderr)
	require.NotContains(t, r.Stderr, "[cfs monitor] umount2(", "run -d: the monitor stops narrating once the container runs")
	ok(t, "rm", "-f", "traced-init")
}

// cfs --trace exec narrates the way into a running container: the
// runtime's setns into its PID namespace and the fork, then, inside, the
// exec'd process joining each of the init's other namespaces (stage 01's
// exercise with setns) and becoming the command.
func TestTraceExec(t *testing.T) {
	setup(t)
	ok(t, "run", "-d", "--name", "traced-exec", "--network", "none", "cfs/base", "sleep", "1000")
	t.Cleanup(func() { cfs(t, "rm", "-f", "traced-exec") })
	pid := inspect(t, "traced-exec").State.Pid
	r := cfs(t, "--trace", "exec", "traced-exec", "true")
	require.Equal(t, 0, r.Code, r.Stderr)
	ns := fmt.Sprintf("/proc/%d/ns/", pid) // the init's, as the host sees it
	for _, want := range []string{
		`[cfs parent] setns(` + ns + `pid, CLONE_NEWPID)  ≈ nsenter --pid=` + ns + `pid`,
		`[cfs parent] fork() + execve(`,
		`[cfs init] setns(` + ns + `net, 0)  ≈ nsenter --net=` + ns + `net`,
		`[cfs init] setns(` + ns + `mnt, 0)  ≈ nsenter --mount=` + ns + `mnt`,
		`[cfs init] capset(`,
	} {
		require.Contains(t, r.Stderr, want)
	}
	require.Regexp(t, `^\[cfs init\] execve\("[^"]*/true", \["true"\]\)  ≈ exec true$`, lastLine(r.Stderr))
}

// cfs --trace narrates the other commands' kernel steps too: kill's
// signal, sent through a pidfd, and pause's and unpause's write to the
// cgroup's freezer, which the file the trace names then shows.
func TestTraceOps(t *testing.T) {
	setup(t)
	ok(t, "run", "-d", "--name", "traced-ops", "--network", "none", "cfs/base", "sleep", "1000")
	t.Cleanup(func() { cfs(t, "rm", "-f", "traced-ops") })
	pid := inspect(t, "traced-ops").State.Pid

	r := cfs(t, "--trace", "kill", "-s", "WINCH", "traced-ops") // ignored by sleep: it runs on
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stderr, fmt.Sprintf("[cfs parent] pidfd_send_signal(pidfd of %d, SIGWINCH)  ≈ kill -WINCH %d\n", pid, pid))

	write := regexp.MustCompile(`(?m)^\[cfs parent\] write\((/sys/fs/cgroup/\S+/(?:freezer\.state|cgroup\.freeze)), "(\w+)"\)  ≈ echo \w+ > \S+$`)
	for _, c := range []struct{ cmd, v1, v2 string }{{"pause", "FROZEN", "1"}, {"unpause", "THAWED", "0"}} {
		r = cfs(t, "--trace", c.cmd, "traced-ops")
		require.Equal(t, 0, r.Code, r.Stderr)
		m := write.FindStringSubmatch(r.Stderr)
		require.NotNil(t, m, "%s narrates its freezer write:\n%s", c.cmd, r.Stderr)
		require.Contains(t, []string{c.v1, c.v2}, m[2])
		data, err := os.ReadFile(m[1]) // from outside: the file holds it
		require.NoError(t, err)
		require.Equal(t, m[2], strings.TrimSpace(string(data)))
	}
	require.Equal(t, "running", string(inspect(t, "traced-ops").State.Status))
}
