package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"cfs/final/cgroups"
	"cfs/final/dockercli"
	"cfs/internal/layout"
	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// A foreground run prints the container's output, exits with its status,
// and with --rm leaves nothing.
func TestRunForeground(t *testing.T) {
	setup(t)
	r := cfs(t, "run", "--rm", "--network", "none", "cfs/base", "echo", "hi")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "hi\n", r.Stdout)
	require.Equal(t, "", ok(t, "ps", "-aq"), "--rm removed it")
	require.Equal(t, "hi\n", ok(t, "run", "--rm", "--restart", "no", "--network", "none", "cfs/base", "echo", "hi"), "docker's default policy")

	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"sh", "-c", "exit 3"}, 3, ""},
		{[]string{"sh", "-c", "echo oops >&2; exit 1"}, 1, "oops"},
		{[]string{"no-such-program"}, 127, "executable file not found"},
		{[]string{"/etc"}, 126, ""},
	} {
		r := cfs(t, append([]string{"run", "--rm", "--network", "none", "cfs/base"}, tc.args...)...)
		require.Equal(t, tc.code, r.Code, "%v: %s", tc.args, r.Stderr)
		require.Contains(t, r.Stderr, tc.err, tc.args)
	}
	require.Equal(t, "", ok(t, "ps", "-aq"), "a failed start under --rm removes the container too")
	// PID 1 cannot be killed from inside its namespace; a child of
	// --init's PID 1 can, and its signal is the status.
	r = cfs(t, "run", "--rm", "--init", "--network", "none", "cfs/base", "sh", "-c", "kill -9 $$")
	require.Equal(t, 137, r.Code, r.Stderr)
}

// ps --filter, as docker's: a status or exit code filter looks at every
// container; bad filters are refused before anything is listed.
func TestPsFilter(t *testing.T) {
	setup(t)
	rmAll(t, "psf-up", "psf-exit3", "psf-made")
	ok(t, "run", "-d", "--name", "psf-up", "--network", "none", "--label", "tier=web", "-l", "beta", "cfs/base", "sleep", "1000")
	require.Equal(t, "map[beta: tier:web]\n", ok(t, "inspect", "-f", "{{.Config.Labels}}", "psf-up"))
	r := cfs(t, "run", "--name", "psf-exit3", "--network", "none", "cfs/base", "sh", "-c", "exit 3")
	require.Equal(t, 3, r.Code, r.Stderr)
	ok(t, "create", "--name", "psf-made", "--network", "none", "-v", "/tmp:/hosttmp:ro", "cfs/base", "true")
	names := func(args ...string) string {
		return ok(t, append(append([]string{"ps"}, args...), "--format", "{{.Names}}")...)
	}
	require.Equal(t, "psf-up\n", names("-f", "name=psf-"))
	require.Equal(t, "psf-made\npsf-exit3\npsf-up\n", names("-a", "-f", "name=psf-"), "newest first")
	require.Equal(t, "psf-exit3\n", names("-f", "name=psf-", "-f", "status=exited"), "no -a needed")
	require.Equal(t, "psf-made\npsf-up\n", names("-f", "name=psf-", "-f", "status=created", "--filter", "status=running"))
	require.Equal(t, "psf-exit3\n", names("--filter", "exited=3", "-f", "name=psf"))
	id := inspect(t, "psf-up").ID
	require.Equal(t, id[:12]+"\n", ok(t, "ps", "-q", "-f", "id="+id[:6]))
	require.Equal(t, "psf-made\n", names("-l", "-f", "name=psf-"))
	require.Equal(t, "psf-up\n", names("-a", "-f", "label=tier=web"))
	require.Equal(t, "psf-up\n", names("-a", "-f", "label=beta", "-f", "name=psf-"))
	require.Empty(t, names("-a", "-f", "label=tier=db"))
	require.Equal(t, "psf-made\n", names("-a", "-f", "name=psf-", "-f", "volume=/hosttmp"))
	require.Equal(t, "psf-made\npsf-exit3\npsf-up\n", names("-a", "-f", "name=psf-", "-f", "network=none", "-f", "health=none"))
	require.Empty(t, names("-a", "-f", "name=psf-", "-f", "network=bridge"))
	require.Empty(t, names("-a", "-f", "name=psf-", "-f", "expose=80"))
	r = cfs(t, "run", "--rm", "-l", "=x", "cfs/base", "true")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, `invalid argument "=x" for "-l, --label" flag: invalid label '=x': empty name`)

	// before and since name a container; ancestor an image, and the
	// images made from it.
	require.Equal(t, "psf-up\n", names("-a", "-f", "name=psf-", "-f", "before=psf-exit3"))
	require.Equal(t, "psf-made\n", names("-a", "-f", "name=psf-", "-f", "since=psf-exit3"))
	rmAll(t, "psf-child")
	ok(t, "commit", "psf-exit3", "cfs-test/psf-child")
	t.Cleanup(func() { cfs(t, "rmi", "-f", "cfs-test/psf-child") })
	ok(t, "create", "--name", "psf-child", "--network", "none", "cfs-test/psf-child", "true")
	require.Equal(t, "psf-child\npsf-made\npsf-exit3\npsf-up\n", names("-a", "-f", "name=psf-", "-f", "ancestor=cfs/base"))
	require.Equal(t, "psf-child\n", names("-a", "-f", "name=psf-", "-f", "ancestor=cfs-test/psf-child"))
	require.Empty(t, names("-a", "-f", "ancestor=cfs-test/no-such-image"), "an unknown image matches nothing")
	r = cfs(t, "ps", "-f", "since=psf-no-such")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "No such container: psf-no-such")

	require.Equal(t, "psf-child\npsf-made\npsf-exit3\npsf-up\n", names("-a", "-f", "name=psf-", "-f", "isolation=default"), "Windows' notion: all pass on Linux")
	r = cfs(t, "ps", "-f", "runtime=cfs")
	require.Equal(t, 1, r.Code)
	require.Equal(t, "Error response from daemon: invalid filter 'runtime' (cfs knows id, name, status, exited, label, network, publish, expose, volume, health, is-task, isolation, ancestor, before, since)\n", r.Stderr)
	r = cfs(t, "ps", "-f", "status=up")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "invalid filter 'status=up'")
	r = cfs(t, "ps", "-f", "name")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, `invalid argument "name" for "-f, --filter" flag: bad format of filter (expected name=value)`)
	require.Empty(t, r.Stdout)
}

// rename, as docker's: the new name addresses the container, the old one
// is free again; a running container keeps its hostname.
func TestRename(t *testing.T) {
	setup(t)
	rmAll(t, "ren-a", "ren-b", "ren-c")
	id := strings.TrimSpace(ok(t, "run", "-d", "--name", "ren-a", "--network", "none", "cfs/base", "sleep", "1000"))
	require.Empty(t, ok(t, "rename", "ren-a", "ren-b"))
	require.Equal(t, "/ren-b "+id+"\n", ok(t, "inspect", "-f", "{{.Name}} {{.Id}}", "ren-b"))
	require.Equal(t, "ren-b\n", ok(t, "ps", "-f", "id="+id, "--format", "{{.Names}}"))
	require.Equal(t, id[:12]+"\n", ok(t, "exec", "ren-b", "hostname"))
	// From outside: the names are links in the engine's directory.
	target, err := os.Readlink(filepath.Join(layout.EngineDir, "names", "ren-b"))
	require.NoError(t, err)
	require.Equal(t, id, target)
	_, err = os.Lstat(filepath.Join(layout.EngineDir, "names", "ren-a"))
	require.ErrorIs(t, err, os.ErrNotExist)
	r := cfs(t, "inspect", "ren-a")
	require.Equal(t, 1, r.Code)
	ok(t, "create", "--name", "ren-a", "--network", "none", "cfs/base", "true") // free again

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"ren-b", "ren-a"}, `Conflict. The container name "/ren-a" is already in use by container "`},
		{[]string{"ren-b", "ren-b"}, "Renaming a container with the same name as its current name"},
		{[]string{"ren-b", "bad name"}, "Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{[]string{"ren-nothing", "ren-c"}, "No such container: ren-nothing"},
		{[]string{"ren-b", ""}, "neither old nor new names may be empty"},
	} {
		r := cfs(t, append([]string{"rename"}, tc.args...)...)
		require.Equal(t, 1, r.Code, tc.args)
		require.Contains(t, r.Stderr, tc.msg, tc.args)
	}
	require.Equal(t, 1, cfs(t, "rename", "ren-b").Code, "two arguments")
	require.Equal(t, "/ren-b\n", ok(t, "inspect", "-f", "{{.Name}}", id), "nothing changed")
	_, err = os.Lstat(filepath.Join(layout.EngineDir, "names", "ren-c"))
	require.ErrorIs(t, err, os.ErrNotExist, "a failed rename claims no name")
}

// docker container COMMAND: the container commands under their group,
// ls and rm by their newer names, and prune, which asks first.
func TestContainerGroup(t *testing.T) {
	setup(t)
	rmAll(t, "grp-done", "grp-made")
	ok(t, "container", "run", "--name", "grp-done", "--network", "none", "cfs/base", "sh", "-c", "echo hi > /hi")
	ls := func() string { return ok(t, "container", "ls", "-a", "-f", "name=grp-", "--format", "{{.Names}}") }
	require.Equal(t, "grp-done\n", ls())
	// Anything but y keeps every container.
	r := stagetest.Run(t, "n\n", "container", "prune")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ", r.Stdout)
	require.Equal(t, "grp-done\n", ls())
	// What a filter keeps stays: it was made just now, and has no label.
	require.Equal(t, "Total reclaimed space: 0B\n", ok(t, "container", "prune", "-f", "--filter", "until=1h"))
	require.Equal(t, "Total reclaimed space: 0B\n", ok(t, "container", "prune", "-f", "--filter", "label=tier"))
	r = cfs(t, "container", "prune", "-f", "--filter", "until=yesterday")
	require.Equal(t, 1, r.Code)
	require.Equal(t, "Error response from daemon: invalid filter 'until=yesterday': failed to parse value as time or duration: \"yesterday\"\n", r.Stderr)
	// y: every stopped container goes (the engine's tests run where
	// there are no others: enginetest.Main).
	id := inspect(t, "grp-done").ID
	r = stagetest.Run(t, "y\n", "container", "prune", "--filter", "label!=tier")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "+
		"Deleted Containers:\n"+id+"\n\nTotal reclaimed space: 3B\n", r.Stdout, "/hi: 3 bytes")
	require.Empty(t, ls())
	_, err := os.Stat(filepath.Join(layout.EngineDir, "containers", id))
	require.ErrorIs(t, err, os.ErrNotExist, "its directory is gone")
	require.Equal(t, "Total reclaimed space: 0B\n", ok(t, "container", "prune", "-f"))
	ok(t, "container", "create", "--name", "grp-made", "--network", "none", "cfs/base", "true")
	require.Equal(t, "grp-made\n", ok(t, "container", "rm", "grp-made"))
	r = cfs(t, "container", "inspect", "cfs/base")
	require.Equal(t, 1, r.Code, "an image is not a container")
	require.Equal(t, "Error: No such container: cfs/base\n", r.Stderr)
	r = cfs(t, "inspect", "--type", "box", "cfs/base")
	require.Equal(t, 1, r.Code)
	require.Equal(t, "\"box\" is not a valid value for --type\n", r.Stderr, "docker's words")
	r = cfs(t, "container", "frob")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, "unknown command \"frob\"")
}

// system prune and image prune, as docker's: each asks first (-f does
// not), then lists what went. The images are in a store of this test's
// own; the engine's tests run where there are no other containers.
func TestSystemAndImagePrune(t *testing.T) {
	setup(t)
	store := filepath.Join(t.TempDir(), "images")
	t.Setenv(dockercli.StoreEnv, store)
	rmAll(t, "sp-done", "sp-up")
	ok(t, "run", "--name", "sp-done", "--network", "none", "cfs/base", "sh", "-c", "echo hi > /hi")
	id := inspect(t, "sp-done").ID
	dangling := strings.TrimSpace(ok(t, "commit", "sp-done"))
	named := strings.TrimSpace(ok(t, "commit", "sp-done", "sp-img"))
	ok(t, "run", "-d", "--name", "sp-up", "--network", "none", "cfs/base", "sleep", "1000")
	list := func() (out string) { // REPOSITORY and IMAGE ID of each row
		for _, row := range strings.Split(strings.TrimSpace(ok(t, "images")), "\n")[1:] {
			f := strings.Fields(row)
			out += f[0] + " " + f[2] + "\n"
		}
		return out
	}
	before := list()
	require.Regexp(t, `^sp-img `+named[7:19]+`\n<none> `+dangling[7:19]+`\ncfs/base [0-9a-f]{12}\n$`, before)
	layers := func() int {
		entries, err := os.ReadDir(filepath.Join(store, "layers"))
		require.NoError(t, err)
		return len(entries)
	}
	require.Equal(t, 2, layers(), "cfs/base's layer, and the one both commits made")

	// Anything but y keeps everything.
	warning := "WARNING! This will remove:\n  - all stopped containers\n  - all dangling images\n\nAre you sure you want to continue? [y/N] "
	r := stagetest.Run(t, "n\n", "system", "prune")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, warning, r.Stdout)
	r = stagetest.Run(t, "\n", "image", "prune", "-a")
	require.Equal(t, "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] ", r.Stdout)
	require.Equal(t, before, list())

	// y: the stopped container and the dangling image (whose one layer
	// sp-img shares, so only the image goes); /hi is 3 bytes.
	r = stagetest.Run(t, "y\n", "system", "prune")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, warning+"Deleted Containers:\n"+id+"\n\nDeleted Images:\ndeleted: "+dangling+"\n\nTotal reclaimed space: 3B\n", r.Stdout)
	require.Equal(t, []string{"sp-up"}, strings.Fields(ok(t, "ps", "-a", "--format", "{{.Names}}")))

	// image prune -a: sp-img and its layer; cfs/base is sp-up's.
	require.Equal(t, 2, layers(), "sp-img holds the committed layer")
	require.Equal(t, "Total reclaimed space: 0B\n", ok(t, "image", "prune", "-af", "--filter", "until=1h"), "sp-img was made just now")
	out := ok(t, "image", "prune", "-af")
	require.Regexp(t, `^Deleted Images:\nuntagged: sp-img:latest\ndeleted: `+named+`\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: [0-9.]+k?B\n$`, out)
	require.Regexp(t, `^cfs/base [0-9a-f]{12}\n$`, list())
	require.Equal(t, 1, layers(), "from outside: the committed layer is gone from the store")
	require.Equal(t, "Total reclaimed space: 0B\n", ok(t, "image", "prune", "-f"))
	require.Equal(t, "Total reclaimed space: 0B\n", ok(t, "system", "prune", "-af"), "the running container and its image stay")

	r = cfs(t, "image", "prune", "extra")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, `"cfs image prune" accepts no arguments.`, "docker's words")
}

// A detached container runs on after `run -d` returns; ps, logs,
// inspect, stop and rm see it, from inside and outside.
func TestDetachedLifecycle(t *testing.T) {
	setup(t)
	rmAll(t, "lifecycle")
	id := strings.TrimSpace(ok(t, "run", "-d", "--name", "lifecycle", "--network", "none", "cfs/base",
		"sh", "-c", "echo started; echo warn >&2; while :; do sleep 1; done"))
	require.Regexp(t, `^[0-9a-f]{64}$`, id)

	ps := ok(t, "ps")
	require.Regexp(t, `(?m)^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$`, ps)
	require.Regexp(t, `(?m)^`+id[:12]+`\s+cfs/base\s+"sh -c 'echo started…"\s+.*ago\s+Up .*\s+lifecycle$`, ps)
	require.Equal(t, id[:12]+"\n", ok(t, "ps", "-q"))
	// --format: docker's fields; "table" adds their titles; \t as typed.
	require.Regexp(t, `^lifecycle running Up .* "sh -c 'echo started…" none\n$`, ok(t, "ps", "--format", "{{.Names}} {{.State}} {{.Status}} {{.Command}} {{.Networks}}"))
	require.Regexp(t, `^CONTAINER ID   NAMES\n`+id[:12]+`   lifecycle\n$`, ok(t, "ps", "--format", `table {{.ID}}\t{{.Names}}`))
	require.Equal(t, id[:12]+"\n", ok(t, "ps", "-q", "--format", "{{.Names}}"), "-q wins, as in docker")
	require.Contains(t, ok(t, "ps", "--no-trunc"), id)

	c := inspect(t, "lifecycle")
	require.Equal(t, id, c.ID)
	require.Equal(t, "/lifecycle", c.Name)
	require.True(t, c.State.Running)
	require.NotNil(t, c.Config)
	require.Equal(t, id[:12], c.Config.Hostname)
	pid := c.State.Pid
	require.Positive(t, pid)
	// From outside: the init is in namespaces of its own, and in a cgroup
	// of its own.
	for _, ns := range []string{"pid", "mnt", "uts", "ipc", "net"} {
		require.NotEqual(t, stagetest.NS(t, "self", ns), stagetest.NS(t, pid, ns), ns)
	}
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	require.NoError(t, err)
	require.Contains(t, string(cg), id)
	// The unique prefix and the name both address it.
	require.Equal(t, ok(t, "inspect", "-f", "{{.Id}}", id[:8]), ok(t, "inspect", "-f", "{{.Id}}", "lifecycle"))

	// logs waits for nothing: both lines are in the log once printed.
	require.Eventually(t, func() bool { return strings.Contains(cfs(t, "logs", "lifecycle").Stdout, "started") }, 10e9, 50e6)
	r := cfs(t, "logs", "lifecycle")
	require.Equal(t, "started\n", r.Stdout)
	require.Equal(t, "warn\n", r.Stderr)
	r = cfs(t, "logs", "-t", "lifecycle")
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z started\n$`, r.Stdout)

	// rm refuses a running container; stop ends it (sh as PID 1 ignores
	// SIGTERM: killed after the timeout).
	r = cfs(t, "rm", "lifecycle")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "container is running: stop the container before removing or force remove")
	require.Equal(t, "lifecycle\n", ok(t, "stop", "-t", "1", "lifecycle"))
	require.Regexp(t, `(?m)^`+id[:12]+`.*Exited \(137\) .* ago\s+lifecycle$`, ok(t, "ps", "-a"))
	require.Equal(t, "", ok(t, "ps", "-q"))
	require.Equal(t, "137\n", ok(t, "wait", "lifecycle"))
	stagetest.WaitGone(pid)
	_, err = os.Stat(fmt.Sprintf("/proc/%d", pid))
	require.True(t, os.IsNotExist(err))

	// start again: the same container, its log appended.
	require.Equal(t, "lifecycle\n", ok(t, "start", "lifecycle"))
	require.True(t, inspect(t, "lifecycle").State.Running)
	require.Equal(t, "lifecycle\n", ok(t, "rm", "-f", "lifecycle"))
	r = cfs(t, "inspect", "lifecycle")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "No such object: lifecycle")
}

// The flags of run, checked from inside the container.
func TestRunFlags(t *testing.T) {
	setup(t)
	envFile := filepath.Join(t.TempDir(), "env")
	require.NoError(t, os.WriteFile(envFile, []byte("# comment\nFROM_FILE=yes\n"), 0o644))
	out := ok(t, "run", "--rm", "--network", "none", "-h", "box", "-e", "A=1", "--env-file", envFile, "-w", "/made/here",
		"-u", "1234:5678", "cfs/base", "sh", "-c", `hostname; echo $A $FROM_FILE; pwd; id -u; id -g; echo $HOSTNAME`)
	require.Equal(t, "box\n1 yes\n/made/here\n1234\n5678\nbox\n", out)

	// The image's Cmd, Env and ExposedPorts; --entrypoint replaces both
	// entrypoint and command.
	require.Equal(t, "hello\n", ok(t, "run", "--rm", "--network", "none", "cfs-test/helper", "sh", "-c", "echo $GREETING"))
	require.Equal(t, "x y\n", ok(t, "run", "--rm", "--network", "none", "--entrypoint", "echo", "cfs/base", "x", "y"))
	// -u by name, from the image's /etc/passwd.
	require.Equal(t, "0\n", ok(t, "run", "--rm", "--network", "none", "-u", "root", "cfs/base", "id", "-u"))
	// As docker's: HOME from /etc/passwd, the primary group among the
	// supplementary ones (the kernel's list, in /proc/self/status).
	require.Regexp(t, `^/root\nGroups:\s+0(\s|$)`, ok(t, "run", "--rm", "--network", "none", "cfs/base", "sh", "-c", "echo $HOME; grep ^Groups: /proc/self/status"))
	require.Regexp(t, `^/\nGroups:\s+1000\s*$`, ok(t, "run", "--rm", "--network", "none", "-u", "1000:1000", "cfs/base", "sh", "-c", "echo $HOME; grep ^Groups: /proc/self/status"))
	require.Equal(t, "/mine\n", ok(t, "run", "--rm", "--network", "none", "-e", "HOME=/mine", "cfs/base", "sh", "-c", "echo $HOME"))
	r := cfs(t, "run", "--rm", "--network", "none", "-u", "nosuchuser", "cfs/base", "true")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, "unable to find user nosuchuser")

	// -i: stdin reaches the container.
	r = stagetest.Run(t, "typed\n", "run", "--rm", "-i", "--network", "none", "cfs/base", "cat")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "typed\n", r.Stdout)
	// Without -i, it does not.
	r = stagetest.Run(t, "typed\n", "run", "--rm", "--network", "none", "cfs/base", "cat")
	require.Equal(t, "", r.Stdout)
}

// Bad input: a clear error, docker's exit status, and nothing left.
func TestBadInput(t *testing.T) {
	setup(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"run", "--bogus", "cfs/base"}, 125, "unknown flag: --bogus"},
		{[]string{"run", "-m", "lots", "cfs/base"}, 125, "invalid size"},
		{[]string{"run", "-m", "1k", "cfs/base"}, 125, "Minimum memory limit allowed is 6MB"},
		{[]string{"run", "--cpus", "abc", "cfs/base"}, 125, "--cpus"},
		{[]string{"run", "--cpus", "1000", "cfs/base"}, 125, "Range of CPUs"},
		{[]string{"run", "--cpuset-cpus", "x", "cfs/base"}, 125, "Invalid value x for cpuset cpus"},
		{[]string{"run", "--cpuset-cpus", "99999", "cfs/base"}, 125, "Requested CPUs are not available - requested 99999, available: 0"},
		{[]string{"run", "--cpuset-mems", "3-1", "cfs/base"}, 125, "Invalid value 3-1 for cpuset mems"},
		{[]string{"run", "--cpuset-mems", "99999", "cfs/base"}, 125, "Requested memory nodes are not available - requested 99999, available: 0"},
		{[]string{"run", "--memory-reservation", "1k", "cfs/base"}, 125, "Minimum memory reservation allowed is 6MB"},
		{[]string{"run", "--cpus", "1", "--cpu-period", "50000", "cfs/base"}, 125, "Conflicting options: Nano CPUs and CPU Period cannot both be set"},
		{[]string{"run", "--cpu-period", "900", "cfs/base"}, 125, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"},
		{[]string{"run", "-m", "8m", "--memory-reservation", "16m", "cfs/base"}, 125, "Minimum memory limit can not be less than memory reservation limit, see usage"},
		{[]string{"run", "--memory-reservation", "lots", "cfs/base"}, 125, `invalid argument "lots" for "--memory-reservation" flag: invalid size: 'lots'`},
		{[]string{"run", "-c", "many", "cfs/base"}, 125, `invalid argument "many" for "-c, --cpu-shares" flag`},
		{[]string{"run", "-p", "80:99999", "cfs/base"}, 125, "invalid containerPort"},
		{[]string{"run", "-p", "x:80", "cfs/base"}, 125, "invalid hostPort"},
		{[]string{"run", "-p", "80/icmp", "cfs/base"}, 125, "invalid proto"},
		{[]string{"run", "--network", "none", "-p", "80:80", "cfs/base"}, 125, "conflicting options"},
		{[]string{"run", "--network", "mine", "cfs/base"}, 125, "network mine not found"},
		{[]string{"run", "-v", "rel/ative:/x", "cfs/base"}, 125, `"rel/ative" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{[]string{"run", "-v", "data", "cfs/base"}, 125, "invalid mount path: 'data' mount path must be absolute"},
		{[]string{"run", "-v", "/tmp:/x:maybe", "cfs/base"}, 125, "invalid mode"},
		{[]string{"run", "--tmpfs", "rel", "cfs/base"}, 125, "must be absolute"},
		{[]string{"run", "--mount", "bind,dst=/x", "cfs/base"}, 125, `invalid argument "bind,dst=/x" for "--mount" flag: invalid field 'bind' must be a key=value pair`},
		{[]string{"run", "--mount", "type=image,src=cfs/base,dst=/x", "cfs/base"}, 125, `mount type "image" is not supported by cfs (it has bind, volume and tmpfs)`},
		{[]string{"run", "-v", "/tmp:/x", "--tmpfs", "/x", "cfs/base"}, 125, "Duplicate mount point: /x"},
		{[]string{"run", "--add-host", "db", "cfs/base"}, 125, `invalid argument "db" for "--add-host" flag: bad format for add-host: "db"`},
		{[]string{"run", "--network", "host", "--dns", "192.0.2.1", "cfs/base"}, 125, "conflicting options: dns and the network mode"},
		{[]string{"run", "--dns", "1.2.3", "cfs/base"}, 125, "IP address is not correctly formatted: 1.2.3"},
		{[]string{"run", "--sysctl", "kernel.panic=1", "cfs/base"}, 125, "sysctl 'kernel.panic' is not allowed"},
		{[]string{"run", "--ulimit", "fly=1", "cfs/base"}, 125, "invalid ulimit type: fly"},
		{[]string{"run", "--shm-size", "lots", "cfs/base"}, 125, `invalid argument "lots" for "--shm-size" flag`},
		{[]string{"run", "--stop-signal", "SIGFLY", "cfs/base"}, 125, `unknown signal "SIGFLY"`},
		{[]string{"run", "--expose", "99999", "cfs/base"}, 125, `invalid argument "99999" for "--expose" flag`},
		{[]string{"run", "--cap-add", "CAP_FLY", "cfs/base"}, 125, "invalid capability"},
		{[]string{"run", "--device", "/no/such/node", "cfs/base"}, 125, `error gathering device information while adding custom device "/no/such/node": no such file or directory`},
		{[]string{"run", "--device", "/etc/hostname", "cfs/base"}, 125, `adding custom device "/etc/hostname": not a device node`},
		{[]string{"run", "--device", "/dev/null:/null", "cfs/base"}, 125, "/null: cfs makes a device under the container's /dev only"},
		{[]string{"run", "--device", "/dev/null:dev/x", "cfs/base"}, 125, `invalid argument "/dev/null:dev/x" for "--device" flag: dev/x is not an absolute path`},
		{[]string{"run", "--device", "/dev/null:/dev/x:rx", "cfs/base"}, 125, "bad mode specified: rx"},
		{[]string{"run", "-w", "relative", "cfs/base"}, 125, "needs to be an absolute path"},
		{[]string{"run", "--name", "bad/name", "cfs/base"}, 125, "Invalid container name"},
		{[]string{"run", "-h", "-bad-", "cfs/base"}, 125, "invalid hostname"},
		{[]string{"run", "-e", "=x", "cfs/base"}, 125, "invalid environment variable"},
		{[]string{"run", "--env-file", "/no/such/file", "cfs/base"}, 125, "/no/such/file"},
		{[]string{"run"}, 1, `"cfs run" requires at least 1 argument`},
		{[]string{"run", "-it", "cfs/base", "true"}, 1, "the input device is not a TTY"}, // stdin is a pipe here
		{[]string{"exec", "-it", "nosuch", "true"}, 1, "No such container: nosuch"},
		{[]string{"run", "localhost:1/nope"}, 125, "Unable to find image 'localhost:1/nope:latest' locally"},
		{[]string{"logs", "nosuch"}, 1, "No such container: nosuch"},
		{[]string{"stop", "nosuch"}, 1, "No such container: nosuch"},
		{[]string{"kill", "-s", "NOPE", "nosuch"}, 1, "invalid signal"},
		{[]string{"logs", "--tail", "x", "nosuch"}, 1, "invalid value for \"tail\""},
		{[]string{"exec", "nosuch", "true"}, 1, "No such container"},
		{[]string{"exec", "-e", "=x", "nosuch", "true"}, 125, `invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x`},
	} {
		r := cfs(t, tc.args...)
		require.Equal(t, tc.code, r.Code, "%v: %s", tc.args, r.Stderr)
		require.Contains(t, r.Stderr, tc.msg, tc.args)
	}
	require.Equal(t, "", ok(t, "ps", "-aq"), "bad input leaves no container")
	// A container that is not there: dockerd's words, as docker's CLI
	// prints them, without the command's name.
	for _, cmd := range [][]string{{"logs", "nosuch"}, {"exec", "nosuch", "true"}, {"top", "nosuch"}, {"port", "nosuch"},
		{"export", "nosuch"}, {"commit", "nosuch"}, {"start", "-a", "nosuch"}, {"stats", "--no-stream", "nosuch"}} {
		r := cfs(t, cmd...)
		require.Equal(t, 1, r.Code, cmd)
		require.Equal(t, "Error response from daemon: No such container: nosuch\n", r.Stderr, cmd)
	}
	r := cfs(t, "inspect", "nosuch")
	require.Equal(t, "[]\n", r.Stdout)
	require.Equal(t, "Error: No such object: nosuch\n", r.Stderr)

	// A name in use.
	rmAll(t, "taken")
	ok(t, "create", "--name", "taken", "cfs/base", "true")
	r = cfs(t, "create", "--name", "taken", "cfs/base", "true")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, `The container name "/taken" is already in use`)
	require.Equal(t, 1, strings.Count(ok(t, "ps", "-aq"), "\n"))
}

// create, then start -a; wait prints the status; a created container
// shows as Created.
func TestCreateStartWait(t *testing.T) {
	setup(t)
	rmAll(t, "twostep")
	id := strings.TrimSpace(ok(t, "create", "--name", "twostep", "--network", "none", "cfs/base", "sh", "-c", "echo out; exit 4"))
	require.Regexp(t, `(?m)^`+id[:12]+`.*Created\s+twostep$`, ok(t, "ps", "-a"))
	require.Equal(t, "created", string(inspect(t, id).State.Status))
	r := cfs(t, "start", "-a", "twostep")
	require.Equal(t, 4, r.Code, r.Stderr)
	require.Equal(t, "out\n", r.Stdout)
	require.Equal(t, "4\n", ok(t, "wait", "twostep"))
	st := inspect(t, "twostep").State
	require.Equal(t, "exited", string(st.Status))
	require.Equal(t, 4, st.ExitCode)
	stats := ok(t, "stats", "--no-stream", "twostep")
	require.Regexp(t, `(?m)^[0-9a-f]{12}\s+twostep\s+0\.00%\s+0B / 0B\s+0\.00%\s+0B / 0B\s+0B / 0B\s+0$`, stats, "a stopped container: docker's zeros")
	r = cfs(t, "exec", "twostep", "true")
	require.Equal(t, 1, r.Code, "exec in a stopped container: docker's 1")
	require.Contains(t, r.Stderr, "is not running")
	require.Equal(t, 4, cfs(t, "start", "-a", "twostep").Code)
	require.Equal(t, "out\nout\n", ok(t, "logs", "twostep"), "the log of both runs")

	// start -a of a command that is not there: docker start's 1.
	rmAll(t, "badcmd")
	bad := strings.TrimSpace(ok(t, "create", "--name", "badcmd", "--network", "none", "cfs/base", "no-such-program"))
	// run -d of it prints the ID first, as docker's, then fails with
	// 127 and leaves the container Created; with --rm, nothing.
	rmAll(t, "badcmd-d")
	r = cfs(t, "run", "-d", "--name", "badcmd-d", "--network", "none", "cfs/base", "no-such-program")
	require.Equal(t, 127, r.Code, r.Stderr)
	require.Regexp(t, `^[0-9a-f]{64}\n$`, r.Stdout)
	require.Equal(t, "created", string(inspect(t, "badcmd-d").State.Status))
	ok(t, "rm", "badcmd-d")
	r = cfs(t, "run", "-d", "--rm", "--name", "badcmd-d", "--network", "none", "cfs/base", "no-such-program")
	require.Equal(t, 127, r.Code, r.Stderr)
	require.NotContains(t, ok(t, "ps", "-a"), "badcmd-d")
	// ps -l, -n N: the last created, whatever their state, as docker's.
	require.Equal(t, bad[:12]+"\n", ok(t, "ps", "-lq"))
	require.Equal(t, bad[:12]+"\n"+id[:12]+"\n", ok(t, "ps", "-q", "-n", "2"))
	require.Regexp(t, `(?m)^CONTAINER ID.*\n`+bad[:12]+`\s.*Created\s+badcmd$`, ok(t, "ps", "--latest"))
	r = cfs(t, "start", "-a", "badcmd")
	require.Equal(t, 1, r.Code, r.Stderr)
	require.Contains(t, r.Stderr, "executable file not found")
}

// The cgroup limits of -m, --cpus and --pids-limit, read on the host.
// --device: a node of the host's made again in the container's /dev,
// and a device cgroup rule that lets the container use it as it says.
// The test's own nodes, in directories of its own: a twin of /dev/kmsg,
// which every kernel has and anyone may open for writing, and one of
// /dev/loop0, never opened (the cgroup's refusal comes first).
func TestDevices(t *testing.T) {
	setup(t)
	rmAll(t, "devices")
	dir, disks := t.TempDir(), t.TempDir()
	require.NoError(t, unix.Mknod(dir+"/kmsg", unix.S_IFCHR|0o600, int(unix.Mkdev(1, 11))))
	require.NoError(t, unix.Mknod(disks+"/loop0", unix.S_IFBLK|0o660, int(unix.Mkdev(7, 0))))
	require.NoError(t, os.WriteFile(disks+"/notes", nil, 0o644))
	ok(t, "run", "-d", "--name", "devices", "--network", "none", "--device", dir+"/kmsg:/dev/hostlog:w",
		"--device", disks+":/dev/mine:r", "cfs/base", "sleep", "1000")
	// From outside: the node in the container's /dev, the host's type,
	// numbers and mode; the directory gave its device, not its file.
	pid := inspect(t, "devices").State.Pid
	var st unix.Stat_t
	require.NoError(t, unix.Stat(fmt.Sprintf("/proc/%d/root/dev/hostlog", pid), &st))
	require.Equal(t, uint32(unix.S_IFCHR|0o600), st.Mode)
	require.Equal(t, "1:11", fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	require.Equal(t, "/dev/mine/loop0\n", ok(t, "exec", "devices", "find", "/dev/mine", "!", "-type", "d"))
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		// v1 lists the rules (v2 has them in an eBPF program).
		cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		require.NoError(t, err)
		dev := regexp.MustCompile(`(?m)^\d+:devices:(.*)$`).FindSubmatch(cg)
		require.NotNil(t, dev, "no devices cgroup in %s", cg)
		list, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/devices", string(dev[1]), "devices.list"))
		require.NoError(t, err)
		require.Contains(t, string(list), "c 1:11 w\n")
		require.Contains(t, string(list), "b 7:0 r\n")
	}
	// From inside: written as w lets it, not read; /dev/mine/loop0 is
	// not to be written. The rule is the device's, not its name's: a node
	// the container makes itself (it may mknod) of the same device opens
	// as the container's own; of another device, not.
	require.Equal(t, "written\n", ok(t, "exec", "devices", "sh", "-c", "exec 3>/dev/hostlog && echo written"))
	require.Equal(t, "written\n", ok(t, "exec", "devices", "sh", "-c", "mknod /tmp/k c 1 11 && exec 3>/tmp/k && echo written"))
	for _, script := range []string{"exec 3</dev/hostlog", "exec 3>/dev/mine/loop0", "mknod /tmp/l b 7 1 && exec 3</tmp/l"} {
		r := cfs(t, "exec", "devices", "sh", "-c", script)
		require.NotEqual(t, 0, r.Code, script)
		require.Contains(t, r.Stderr, "Operation not permitted", script)
	}
	ok(t, "rm", "-f", "devices")

	// --device-cgroup-rule: a rule alone; the container's own node of
	// that device opens as the rule says (w), not otherwise (r).
	// --oom-score-adj: the init's, seen from outside, and its children's.
	rmAll(t, "devrule")
	ok(t, "run", "-d", "--name", "devrule", "--network", "none", "--device-cgroup-rule", "c 1:11 w", "--oom-score-adj", "500",
		"cfs/base", "sleep", "1000")
	require.Equal(t, "written\n", ok(t, "exec", "devrule", "sh", "-c", "mknod /tmp/k c 1 11 && exec 3>/tmp/k && echo written"))
	r := cfs(t, "exec", "devrule", "sh", "-c", "exec 3</tmp/k")
	require.NotEqual(t, 0, r.Code)
	require.Contains(t, r.Stderr, "Operation not permitted")
	adj, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", inspect(t, "devrule").State.Pid))
	require.NoError(t, err)
	require.Equal(t, "500\n", string(adj))
	require.Equal(t, "500\n", ok(t, "exec", "devrule", "cat", "/proc/self/oom_score_adj"))
	ok(t, "rm", "-f", "devrule")

	// --privileged: the host's devices, all allowed; /proc unmasked, /sys
	// writable (docker's). Without it, /proc/sys is read-only (a mount).
	rmAll(t, "privileged")
	ok(t, "run", "-d", "--name", "privileged", "--privileged", "--network", "none", "cfs/base", "sleep", "1000")
	require.Equal(t, "written\n", ok(t, "exec", "privileged", "sh", "-c", "exec 3>/dev/kmsg && echo written"))
	mi := ok(t, "exec", "privileged", "cat", "/proc/self/mountinfo")
	require.NotContains(t, mi, " /proc/sys ", "not made read-only")
	require.Regexp(t, `(?m)^\S+ \S+ \S+ \S+ /sys rw,`, mi, "/sys writable")
	require.Contains(t, ok(t, "run", "--rm", "--network", "none", "cfs/base", "cat", "/proc/self/mountinfo"), " /proc/sys ro,", "read-only without --privileged")
	pid = inspect(t, "privileged").State.Pid
	require.NoError(t, unix.Stat(fmt.Sprintf("/proc/%d/root/dev/kmsg", pid), &st))
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		require.NoError(t, err)
		dev := regexp.MustCompile(`(?m)^\d+:devices:(.*)$`).FindSubmatch(cg)
		require.NotNil(t, dev)
		list, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/devices", string(dev[1]), "devices.list"))
		require.NoError(t, err)
		require.Equal(t, "a *:* rwm\n", string(list), "every device")
	}
	ok(t, "rm", "-f", "privileged")
}

func TestLimits(t *testing.T) {
	setup(t)
	rmAll(t, "limited")
	ok(t, "run", "-d", "--name", "limited", "--network", "none", "-m", "64m", "--cpus", "0.5", "--pids-limit", "20", "cfs/base", "sleep", "1000")
	pid := inspect(t, "limited").State.Pid
	read := func(controller, file string) string {
		cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		require.NoError(t, err)
		for _, line := range strings.Split(string(cg), "\n") {
			f := strings.SplitN(line, ":", 3)
			if len(f) == 3 && (f[1] == "" && controller == "" || strings.Contains(","+f[1]+",", ","+controller+",")) {
				root := "/sys/fs/cgroup"
				if controller != "" {
					root += "/" + controller
				}
				data, err := os.ReadFile(filepath.Join(root, f[2], file))
				require.NoError(t, err)
				return strings.TrimSpace(string(data))
			}
		}
		t.Fatalf("no %s cgroup in %s", controller, cg)
		return ""
	}
	// Swap: as much again as memory, docker's default, where the kernel
	// accounts it (v2's memory.swap.max is swap alone, v1's memsw both).
	check := func(mem, quota int, pids string) {
		t.Helper()
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
			require.Equal(t, strconv.Itoa(mem), read("", "memory.max"))
			require.Equal(t, fmt.Sprintf("%d 100000", quota), read("", "cpu.max"))
			require.Equal(t, pids, read("", "pids.max"))
			if cgroups.SwapAccounted() {
				require.Equal(t, strconv.Itoa(mem), read("", "memory.swap.max"))
			}
		} else {
			require.Equal(t, strconv.Itoa(mem), read("memory", "memory.limit_in_bytes"))
			require.Equal(t, strconv.Itoa(quota), read("cpu", "cpu.cfs_quota_us"))
			require.Equal(t, pids, read("pids", "pids.max"))
			if cgroups.SwapAccounted() {
				require.Equal(t, strconv.Itoa(2*mem), read("memory", "memory.memsw.limit_in_bytes"))
			}
		}
	}
	check(64<<20, 50000, "20")
	// From inside: the pids limit holds.
	r := cfs(t, "exec", "limited", "sh", "-c", "for i in $(seq 40); do sleep 5 & done 2>&1; wait")
	require.Contains(t, r.Stdout+r.Stderr, "fork", "the 21st process cannot be made")

	// docker update: the same files, written while it runs, and kept in
	// the record for its next start.
	require.Equal(t, "limited\n", ok(t, "update", "-m", "128m", "--cpus", "1", "--pids-limit", "100", "limited"))
	check(128<<20, 100000, "100")
	require.Equal(t, "134217728\n", ok(t, "inspect", "-f", "{{.HostConfig.Memory}}", "limited"), "the record, in docker's digits")
	// (with what is left of the first 40, which sh left when it failed)
	r = cfs(t, "exec", "limited", "sh", "-c", "for i in $(seq 40); do sleep 1 & done 2>&1; wait")
	require.NotContains(t, r.Stdout+r.Stderr, "fork", "40 processes fit under the new limit")
	ok(t, "update", "--pids-limit", "-1", "limited")
	check(128<<20, 100000, "max")
	ok(t, "stop", "-t", "0", "limited")
	ok(t, "update", "--pids-limit", "30", "limited")
	ok(t, "start", "limited")
	pid = inspect(t, "limited").State.Pid
	check(128<<20, 100000, "30")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-m", "1k"}, 1, "Minimum memory limit allowed is 6MB"},
		{[]string{"--memory-swap", "64m"}, 1, "Minimum memoryswap limit should be larger than memory limit"},
		{[]string{}, 1, "you must provide one or more flags"},
		{[]string{"--trace"}, 1, "you must provide one or more flags"},
		{[]string{"--cpus", "many"}, 125, `invalid argument "many" for "--cpus" flag`},
		{[]string{"--restart", "always:2"}, 1, "Cannot update container limited: invalid restart policy: maximum retry count can only be used with 'on-failure'"},
		{[]string{"--memory-reservation", "1g"}, 1, "Cannot update container limited: Minimum memory limit can not be less than memory reservation limit, see usage"},
		{[]string{"--cpuset-cpus", "0-99999"}, 1, "Cannot update container limited: Requested CPUs are not available - requested 0-99999, available: "},
		{[]string{"--cpu-quota", "20000"}, 1, "Cannot update container limited: Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"},
	} {
		r := cfs(t, append(append([]string{"update"}, c.args...), "limited")...)
		require.Equal(t, c.code, r.Code, c.args)
		require.Contains(t, r.Stderr, c.want, c.args)
	}
	check(128<<20, 100000, "30") // nothing changed by a refused update

	// The relative limits: a soft memory limit, a CPU weight, the CPUs
	// and memory nodes to run on (cpuset). From outside, the files; from
	// inside, the CPUs the scheduler lets it use (sched_getaffinity).
	rmAll(t, "weighed")
	ok(t, "run", "-d", "--name", "weighed", "--network", "none", "--memory-reservation", "32m", "-c", "512",
		"--cpuset-cpus", "0", "--cpuset-mems", "0", "cfs/base", "sleep", "1000")
	pid = inspect(t, "weighed").State.Pid
	online, err := os.ReadFile("/sys/devices/system/cpu/online")
	require.NoError(t, err)
	all := strings.TrimSpace(string(online))
	relative := func(reservation int, shares, weight, cpus string) {
		t.Helper()
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
			require.Equal(t, strconv.Itoa(reservation), read("", "memory.low"))
			require.Equal(t, weight, read("", "cpu.weight"))
			require.Equal(t, cpus, read("", "cpuset.cpus"))
			require.Equal(t, "0", read("", "cpuset.mems"))
		} else {
			require.Equal(t, strconv.Itoa(reservation), read("memory", "memory.soft_limit_in_bytes"))
			require.Equal(t, shares, read("cpu", "cpu.shares"))
			require.Equal(t, cpus, read("cpuset", "cpuset.cpus"))
			require.Equal(t, "0", read("cpuset", "cpuset.mems"))
		}
	}
	relative(32<<20, "512", "20", "0") // cpu.weight: 1 + (512-2)·9999/262142, runc's mapping
	require.Equal(t, "1\n", ok(t, "exec", "weighed", "nproc"), "one CPU to run on")
	ok(t, "update", "--memory-reservation", "48m", "--cpu-shares", "2048", "--cpuset-cpus", all, "weighed")
	relative(48<<20, "2048", "79", all)
	require.Equal(t, fmt.Sprintln(runtime.NumCPU()), ok(t, "exec", "weighed", "nproc"), "every CPU again")
	require.Equal(t, "50331648 2048 "+all+"\n", ok(t, "inspect", "-f", "{{.HostConfig.MemoryReservation}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}}", "weighed"))
	// --cpus's two numbers, given as they are: 25 ms of CPU time in
	// each 50 ms.
	ok(t, "update", "--cpu-period", "50000", "--cpu-quota", "25000", "weighed")
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		require.Equal(t, "25000 50000", read("", "cpu.max"))
	} else {
		require.Equal(t, "50000 25000", read("cpu", "cpu.cfs_period_us")+" "+read("cpu", "cpu.cfs_quota_us"))
	}
	r = cfs(t, "update", "--cpus", "1", "weighed")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
}

// Ctrl-C in a foreground run without a terminal: cfs passes the signal
// on to the container (docker's --sig-proxy), whose program ends with it.
//
// The signal goes to the program, as tini passes it on: the shell execs
// sleep, since dash, Debian's sh, catches SIGINT under -c and waits for
// its child, as a shell should.
func TestSignalProxy(t *testing.T) {
	setup(t)
	p := stagetest.Start(t, "run", "--rm", "--init", "--network", "none", "cfs/base", "sh", "-c", "echo ready; exec sleep 1000")
	p.WaitLine(t, "ready")
	require.NoError(t, p.Cmd.Process.Signal(os.Interrupt))
	r := p.Wait(t)
	require.Equal(t, 130, r.Code, r.Stderr)
	require.Equal(t, "", ok(t, "ps", "-aq"))
}

// A command on several containers goes on past one that fails, as
// docker's does: stdout has each that worked, as it was given (wait: its
// status), stderr says why each other failed, and the status is 1.
func TestEachContainer(t *testing.T) {
	setup(t)
	rmAll(t, "each-a", "each-b")
	id := strings.TrimSpace(ok(t, "run", "-d", "--name", "each-a", "--network", "none", "cfs/base", "sleep", "1000"))
	ok(t, "run", "-d", "--name", "each-b", "--network", "none", "cfs/base", "sleep", "1000")
	const nosuch = "Error response from daemon: No such container: nosuch\n"
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"pause", id[:12], "nosuch", "each-b"}, 1, id[:12] + "\neach-b\n", nosuch},
		{[]string{"unpause", "each-a", "nosuch", "each-b"}, 1, "each-a\neach-b\n", nosuch},
		// -s "" is SIGKILL, as dockerd takes it: wait hears 137.
		{[]string{"kill", "-s", "", "nosuch", "each-a", "each-b"}, 1, "each-a\neach-b\n", nosuch},
		{[]string{"wait", "each-a", "nosuch", "each-b"}, 1, "137\n137\n", nosuch},
		{[]string{"start", "each-a", "nosuch"}, 1, "each-a\n", nosuch + "Error: failed to start containers: nosuch\n"},
		{[]string{"restart", "-t", "0", "nosuch", "each-a"}, 1, "each-a\n", nosuch},
		{[]string{"stop", "-t", "0", "nosuch", "nosuch"}, 1, "", nosuch + nosuch},
		{[]string{"stop", "-t", "0", "each-a", "each-b"}, 0, "each-a\neach-b\n", ""},
		// rm -f: what is not there is said, and is no failure.
		{[]string{"rm", "-f", "each-a", "nosuch", "each-b"}, 0, "each-a\neach-b\n", nosuch},
	} {
		r := cfs(t, tc.args...)
		require.Equal(t, tc.code, r.Code, "%v: %s", tc.args, r.Stderr)
		require.Equal(t, tc.stdout, r.Stdout, tc.args)
		require.Equal(t, tc.stderr, r.Stderr, tc.args)
	}
	require.NotContains(t, ok(t, "ps", "-a"), "each-", "rm -f removed both")
}

// A monitor whose container runs on executes itself again, slimmed (see
// slim_linux.go): the same process, holding the container's output, its
// log (a line half written stays one entry), its attach socket and its
// lock, and it takes the container down as before.
func TestMonitorSlims(t *testing.T) {
	setup(t)
	rmAll(t, "slim")
	id := strings.TrimSpace(ok(t, "run", "-d", "--name", "slim", "cfs/base", "sh", "-c",
		`printf first; while [ ! -e /go ]; do sleep 0.1; done; echo " line"; echo err >&2; while :; do sleep 1; done`))
	mon := monitorOf(t, id)
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", mon.PID))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", mon.PID))
		return strings.Contains(string(env), "_CFS_MONITOR_SLIM=")
	}, 10e9, 50e6, "the monitor executes itself again")
	require.True(t, mon.Alive(), "the same process")
	require.Equal(t, mon, monitorOf(t, id))
	// execve names it "exe" (it runs /proc/self/exe) until it renames
	// itself, first thing.
	require.Eventually(t, func() bool {
		after, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", mon.PID))
		return string(after) == string(comm)
	}, 10e9, 10e6, "ps shows the same name")

	ok(t, "exec", "slim", "touch", "/go")
	require.Eventually(t, func() bool { return strings.Contains(cfs(t, "logs", "slim").Stderr, "err") }, 10e9, 50e6)
	r := cfs(t, "logs", "slim")
	require.Equal(t, "first line\n", r.Stdout, "the line begun before is one entry")
	require.Equal(t, "err\n", r.Stderr)

	// It still holds its lock (stop and wait take it) and tears down.
	require.Equal(t, "slim\n", ok(t, "stop", "-t", "1", "slim"))
	require.Equal(t, "137\n", ok(t, "wait", "slim"))
	stagetest.WaitGone(mon.PID)
	require.False(t, mon.Alive())
	require.Equal(t, "slim\n", ok(t, "rm", "slim"))
}

// --add-host, --dns*, --group-add, --ulimit, --sysctl, --shm-size, seen
// from inside (the files, id, ulimit, /proc/sys, df) and from outside (the
// init's /proc/PID/limits and status, the hosts file the engine wrote);
// --stop-signal and --stop-timeout, by the exit status stop gives.
func TestEtcAndProcessFlags(t *testing.T) {
	setup(t)
	rmAll(t, "etcflags", "stopflags")
	ok(t, "run", "-d", "--name", "etcflags", "--add-host", "db:10.1.2.3", "--add-host", "gw:host-gateway",
		"--dns", "192.0.2.53", "--dns-search", "corp.example", "--dns-option", "ndots:2", "--group-add", "29", "--group-add", "nogroup",
		"--ulimit", "nofile=100:200", "--sysctl", "kernel.shm_rmid_forced=1", "--sysctl", "net.ipv4.ip_forward=1", "--shm-size", "8m",
		"cfs/base", "sleep", "1000")
	c := inspect(t, "etcflags")
	gw := c.NetworkSettings.Networks["bridge"].Gateway.String()
	hosts := ok(t, "exec", "etcflags", "cat", "/etc/hosts")
	require.Contains(t, hosts, "10.1.2.3\tdb\n"+gw+"\tgw\n", "gw is the bridge's address")
	require.Equal(t, "nameserver 192.0.2.53\nsearch corp.example\noptions ndots:2\n", ok(t, "exec", "etcflags", "cat", "/etc/resolv.conf"))
	require.Equal(t, "uid=0(root) gid=0(root) groups=0(root),29,65534(nogroup)\n", ok(t, "exec", "etcflags", "id"))
	require.Equal(t, "1\n1\n", ok(t, "exec", "etcflags", "cat", "/proc/sys/kernel/shm_rmid_forced", "/proc/sys/net/ipv4/ip_forward"))
	require.Regexp(t, `(?m)^shm\s+8192\s`, ok(t, "exec", "etcflags", "df", "-k", "/dev/shm"))
	// Outside: the init's limits and groups, and the file bound in.
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", c.State.Pid))
	require.NoError(t, err)
	require.Regexp(t, `(?m)^Max open files\s+100\s+200\s+files`, string(limits))
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.State.Pid))
	require.NoError(t, err)
	require.Regexp(t, `(?m)^Groups:\s+0 29 65534\s*$`, string(status))
	onHost, err := os.ReadFile(c.HostsPath)
	require.NoError(t, err)
	require.Equal(t, hosts, string(onHost))
	ok(t, "rm", "-f", "etcflags")

	// The stop signal is the container's (its trap exits 4); a stop
	// timeout of 0 kills it at once, before its TERM trap (exit 3) runs.
	trap := `trap "exit 3" TERM; trap "exit 4" USR1; while :; do sleep 0.2; done`
	ok(t, "run", "-d", "--name", "stopflags", "--network", "none", "--stop-signal", "USR1", "cfs/base", "sh", "-c", trap)
	ok(t, "stop", "stopflags")
	require.Equal(t, "4\n", ok(t, "inspect", "-f", "{{.State.ExitCode}}", "stopflags"))
	ok(t, "rm", "stopflags")
	ok(t, "run", "-d", "--name", "stopflags", "--network", "none", "--stop-timeout", "0", "cfs/base", "sh", "-c", trap)
	ok(t, "stop", "stopflags")
	require.Equal(t, "137 0\n", ok(t, "inspect", "-f", "{{.State.ExitCode}} {{.Config.StopTimeout}}", "stopflags"))
	ok(t, "start", "stopflags")
	ok(t, "stop", "-t", "10", "stopflags")
	require.Equal(t, "3\n", ok(t, "inspect", "-f", "{{.State.ExitCode}}", "stopflags"), "-t wins over --stop-timeout")
	ok(t, "rm", "stopflags")
}

// --pid container:NAME joins a running container's PID namespace (its
// processes seen from inside, the same /proc/PID/ns/pid from outside);
// --pid host, --ipc host and --uts host leave the namespaces out.
func TestNamespaceModes(t *testing.T) {
	setup(t)
	rmAll(t, "ns-target", "ns-joiner")
	ok(t, "run", "-d", "--name", "ns-target", "--network", "none", "cfs/base", "sleep", "1000")
	ok(t, "run", "-d", "--name", "ns-joiner", "--network", "none", "--pid", "container:ns-target", "--ipc", "container:ns-target",
		"cfs/base", "sleep", "999")
	target, joiner := inspect(t, "ns-target").State.Pid, inspect(t, "ns-joiner").State.Pid
	for _, ns := range []string{"pid", "ipc"} {
		require.Equal(t, stagetest.NS(t, target, ns), stagetest.NS(t, joiner, ns), ns)
	}
	require.NotEqual(t, stagetest.NS(t, target, "uts"), stagetest.NS(t, joiner, "uts"), "a UTS namespace of its own")
	ps := ok(t, "exec", "ns-joiner", "ps", "-o", "pid,args")
	require.Regexp(t, `(?m)^\s*1 sleep 1000$`, ps, "the target's PID 1, seen from the joiner")
	require.Regexp(t, `(?m)^\s*\d+ sleep 999$`, ps)
	r := cfs(t, "run", "--rm", "--pid", "container:nosuch", "cfs/base", "true")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, "No such container: nosuch")
	// The target's end is its PID namespace's: the joiner ends with it.
	ok(t, "rm", "-f", "ns-target")
	require.Equal(t, "137\n", ok(t, "wait", "ns-joiner"))
	ok(t, "rm", "ns-joiner")

	self := func(ns string) string { return stagetest.NS(t, os.Getpid(), ns) }
	host, err := os.Hostname()
	require.NoError(t, err)
	out := ok(t, "run", "--rm", "--network", "none", "--pid", "host", "--ipc", "host", "--uts", "host", "cfs/base",
		"sh", "-c", "for ns in pid ipc uts; do readlink /proc/self/ns/$ns; done; hostname")
	require.Equal(t, self("pid")+"\n"+self("ipc")+"\n"+self("uts")+"\n"+host+"\n", out)
	r = cfs(t, "run", "--rm", "--uts", "host", "-h", "box", "cfs/base", "true")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, "conflicting options: hostname and the UTS mode")
}
