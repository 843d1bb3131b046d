package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Named volumes: one outlives its containers and is a directory on the
// host; a container mounts it read-only if asked; one a container mounts
// cannot be removed; an anonymous one (-v /path, the image's VOLUME) goes
// with rm -v and --rm; an empty one is filled from the image, owners
// kept. From inside (what the container reads and writes, its
// mountinfo) and from outside (the host's directory, the container's
// mountinfo through /proc/PID).
func TestNamedVolumes(t *testing.T) {
	setup(t)
	rmAll(t, "vol-a", "vol-src")
	names := []string{"cfs-test-notes", "cfs-test-etc", "cfs-test-spare", "cfs-test-nocopy"}
	t.Cleanup(func() {
		cfs(t, "rmi", "-f", "cfs-test/seeded")
		cfs(t, append([]string{"volume", "rm", "-f"}, names...)...)
	})

	// Made by run, written by one container, read by the host.
	ok(t, "run", "--rm", "--network", "none", "-v", "cfs-test-notes:/notes", "cfs/base", "sh", "-c", "echo kept > /notes/a")
	mp := strings.TrimSpace(ok(t, "volume", "inspect", "-f", "{{.Mountpoint}}", "cfs-test-notes"))
	require.Equal(t, "/var/lib/cfs/engine/volumes/cfs-test-notes/_data", mp)
	data, err := os.ReadFile(filepath.Join(mp, "a"))
	require.NoError(t, err)
	require.Equal(t, "kept\n", string(data))
	require.Contains(t, ok(t, "volume", "ls", "-q"), "cfs-test-notes\n")

	// A second container: read-only, and an anonymous volume beside it.
	ok(t, "run", "-d", "--name", "vol-a", "--network", "none", "-v", "cfs-test-notes:/notes:ro", "-v", "/scratch", "cfs/base", "sleep", "1000")
	require.Equal(t, "kept\n", ok(t, "exec", "vol-a", "cat", "/notes/a"))
	r := cfs(t, "exec", "vol-a", "touch", "/notes/b")
	require.NotEqual(t, 0, r.Code)
	require.Contains(t, r.Stderr, "Read-only file system")
	c := inspect(t, "vol-a")
	mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", c.State.Pid))
	require.NoError(t, err)
	notes := regexp.MustCompile(`(?m)^\S+ \S+ \S+ (\S+) /notes (\S+) `).FindSubmatch(mi)
	require.NotNil(t, notes, "no /notes in the container's mountinfo:\n%s", mi)
	require.True(t, strings.HasSuffix(string(notes[1]), "volumes/cfs-test-notes/_data"), "bound from the volume's directory: %s", notes[1])
	require.Contains(t, ","+string(notes[2])+",", ",ro,")
	var anon string
	for _, m := range c.Mounts {
		if m.Destination == "/scratch" {
			require.Equal(t, "volume", string(m.Type))
			anon = m.Name
		}
	}
	require.Len(t, anon, 64, "an anonymous volume: %+v", c.Mounts)
	require.DirExists(t, filepath.Join("/var/lib/cfs/engine/volumes", anon, "_data"))
	require.Equal(t, c.ID[:12]+"\n", ok(t, "ps", "-q", "-f", "volume=cfs-test-notes"))

	// --volumes-from: vol-a's volumes as they are mounted there (notes
	// read-only, its anonymous one writable), or all writable with :rw.
	out := ok(t, "run", "--rm", "--network", "none", "--volumes-from", "vol-a", "cfs/base", "sh", "-c", "cat /notes/a; touch /scratch/from; touch /notes/x 2>&1; true")
	require.Regexp(t, `^kept\n.*/notes/x.*Read-only file system\n$`, out)
	require.FileExists(t, filepath.Join("/var/lib/cfs/engine/volumes", anon, "_data/from"), "the anonymous volume is vol-a's own")
	ok(t, "run", "--rm", "--network", "none", "--volumes-from", "vol-a:rw", "cfs/base", "rm", "/scratch/from")
	require.NoFileExists(t, filepath.Join("/var/lib/cfs/engine/volumes", anon, "_data/from"))
	r = cfs(t, "run", "--rm", "--volumes-from", "nosuch", "cfs/base", "true")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, "No such container: nosuch")

	r = cfs(t, "volume", "rm", "cfs-test-notes")
	require.Equal(t, 1, r.Code)
	require.Equal(t, "Error response from daemon: remove cfs-test-notes: volume is in use - ["+c.ID+"]\n", r.Stderr)
	ok(t, "stop", "-t", "0", "vol-a")
	r = cfs(t, "volume", "rm", "cfs-test-notes")
	require.Equal(t, 1, r.Code, "a stopped container holds it too, as in docker")
	require.Equal(t, "vol-a\n", ok(t, "rm", "-v", "vol-a"))
	require.NoDirExists(t, filepath.Join("/var/lib/cfs/engine/volumes", anon), "rm -v: the anonymous volume went with it")
	require.DirExists(t, mp, "the named one stays")

	// Filled from the image: an empty volume at /etc gets the image's
	// /etc, owners and modes as they are.
	require.Contains(t, ok(t, "run", "--rm", "--network", "none", "-v", "cfs-test-etc:/etc", "cfs/base", "cat", "/etc/passwd"), "root:")
	var st unix.Stat_t
	require.NoError(t, unix.Stat("/var/lib/cfs/engine/volumes/cfs-test-etc/_data/passwd", &st))
	require.Equal(t, uint32(0o644), st.Mode&0o7777)

	// An image's VOLUME, with files there: each container gets its own
	// volume, filled from the image; --rm takes it away.
	ok(t, "run", "--name", "vol-src", "--network", "none", "cfs/base", "sh", "-c", "mkdir /seeded && echo seed > /seeded/f && chown 1000:1000 /seeded/f")
	ok(t, "commit", "-c", "VOLUME /seeded", "vol-src", "cfs-test/seeded")
	out = ok(t, "run", "--rm", "--network", "none", "cfs-test/seeded", "sh", "-c", "stat -c '%u %n' /seeded/f; grep ' /seeded ' /proc/self/mountinfo")
	m := regexp.MustCompile(`^1000 /seeded/f\n\S+ \S+ \S+ \S*volumes/([0-9a-f]{64})/_data /seeded `).FindStringSubmatch(out)
	require.NotNil(t, m, "the image's file, owner kept, in a volume of its own:\n%s", out)
	require.NoDirExists(t, filepath.Join("/var/lib/cfs/engine/volumes", m[1]), "--rm: the anonymous volume went with it")

	// --mount says the same in docker's other words; volume-nocopy leaves
	// a new volume empty where -v fills it (the image's /var has tmp).
	host := t.TempDir()
	out = ok(t, "run", "--rm", "--network", "none", "--mount", "type=volume,src=cfs-test-nocopy,dst=/var,volume-nocopy",
		"--mount", "type=bind,src="+host+",dst=/host,readonly", "--mount", "type=tmpfs,dst=/scratch,tmpfs-size=1m,tmpfs-mode=1770",
		"cfs/base", "sh", "-c", "ls -A /var; touch /host/x; grep -E ' /(host|scratch) ' /proc/self/mountinfo")
	require.Regexp(t, `^\S+ \S+ \S+ \S+ /host ro,.*\n\S+ \S+ \S+ / /scratch \S+ - tmpfs tmpfs rw,size=1024k,mode=1770\S*\n$`, out)
	entries, err := os.ReadDir("/var/lib/cfs/engine/volumes/cfs-test-nocopy/_data")
	require.NoError(t, err)
	require.Empty(t, entries, "volume-nocopy: not filled from the image")
	require.Equal(t, "tmp\n", ok(t, "run", "--rm", "--network", "none", "--mount", "src=cfs-test-spare,dst=/var", "cfs/base", "ls", "/var"))
	r = cfs(t, "run", "--rm", "--mount", "type=bind,src=/no/such/dir,dst=/x", "cfs/base", "true")
	require.Equal(t, 125, r.Code)
	require.Equal(t, "cfs run: invalid mount config for type \"bind\": bind source path does not exist: /no/such/dir\n", r.Stderr)
	ok(t, "volume", "rm", "cfs-test-spare")
	// -v of a host directory that is not there makes it, as dockerd does.
	ok(t, "run", "--rm", "--network", "none", "-v", host+"/made/here:/made", "cfs/base", "true")
	require.DirExists(t, host+"/made/here")

	// A create killed after it made its anonymous volume leaves its work
	// (tmp/ID, unlocked once its maker is gone): the next create removes
	// the work and the volume.
	ok(t, "volume", "create", "--label", "com.docker.volume.anonymous=", "cfs-test-killed")
	killed := filepath.Join("/var/lib/cfs/engine/tmp", strings.Repeat("e", 64))
	require.NoError(t, os.Mkdir(killed, 0o711))
	require.NoError(t, os.WriteFile(filepath.Join(killed, "container.json"), []byte(`{"volumes":{"/x":"cfs-test-killed"}}`), 0o600))
	ok(t, "rm", strings.TrimSpace(ok(t, "create", "--network", "none", "cfs/base", "true")))
	require.NoDirExists(t, killed)
	require.NoDirExists(t, "/var/lib/cfs/engine/volumes/cfs-test-killed")

	// prune, on this test's volume alone (the label): without -a only
	// anonymous volumes go, with -a every unused one.
	require.Equal(t, "cfs-test-spare\n", ok(t, "volume", "create", "--label", "cfs-test=volumes", "cfs-test-spare"))
	require.Equal(t, "Total reclaimed space: 0B\n", ok(t, "volume", "prune", "-f", "--filter", "label=cfs-test=volumes"))
	require.Equal(t, "Deleted Volumes:\ncfs-test-spare\n\nTotal reclaimed space: 0B\n", ok(t, "volume", "prune", "-a", "-f", "--filter", "label=cfs-test=volumes"))
	require.Equal(t, "cfs-test-notes\n", ok(t, "volume", "rm", "cfs-test-notes"))
	require.NoDirExists(t, filepath.Dir(mp))
}
