package docs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The comparison must catch a changed output, and only let through what the
// placeholders and "…" say may differ.
func TestCompareCatchesAChangedOutput(t *testing.T) {
	want := []string{
		"uts:[4026532176]",
		"drwxr-xr-x 2 root root 4096 Nov 27 22:27 etc",
		"stage08-layers: kept the container's writable layer: /var/lib/cfs/containers/4137ac09f2f5/upper",
		"… root     ps",
		"…",
		"64 bytes from 172.29.0.1: seq=0 ttl=64 time=0.174 ms",
		"1 packets transmitted, 1 received, 0% packet loss, time 0ms",
	}
	same := "uts:[4026532999]\n" +
		"drwxr-xr-x 2 root root 4096 Jan  2 03:04 etc\n" +
		"stage08-layers: kept the container's writable layer: /var/lib/cfs/containers/0123456789ab/upper\n" +
		"    8 root     ps\n" +
		"anything at all\n" +
		"64 bytes from 172.29.0.1: seq=0 ttl=64 time=12.5 ms\n" +
		"1 packets transmitted, 1 received, 0% packet loss, time 1ms\n"
	ids := map[string]string{}
	require.Empty(t, compare(want, same, ids))
	require.Equal(t, map[string]string{"4137ac09f2f5": "0123456789ab"}, ids, "the chapter's ID stands for this run's")
	require.Equal(t, "cd /var/lib/cfs/containers/0123456789ab", substitute("cd /var/lib/cfs/containers/4137ac09f2f5", ids))

	for _, changed := range []string{
		strings.Replace(same, "uts:", "pid:", 1),               // another namespace
		strings.Replace(same, "root root", "root 100000", 1),   // another owner
		strings.Replace(same, "writable layer", "layer", 1),    // another message
		strings.Replace(same, "root     ps", "root     sh", 1), // "…" covers its part of the line only
		strings.Replace(same, "seq=0", "seq=1", 1),             // another line
		strings.Replace(same, "1 received", "0 received", 1),   // a lost packet
		same + "one line more\n",                               // more output
		same[:strings.LastIndex(same[:len(same)-1], "\n")+1],   // a line less
	} {
		require.NotEmpty(t, compare(want, changed, map[string]string{}), "not caught:\n%s", changed)
	}
	require.NotEmpty(t, compare([]string{"box"}, "", map[string]string{}), "no output at all")
	require.Empty(t, compare([]string{"16", ""}, "16\n", map[string]string{}), "a blank last line of a fence is layout")
}

// A fence that shows some lines of a long output (a trace) must find them
// all, in its order; any others may come before, between and after.
func TestCompareAmongCatchesAMissingLine(t *testing.T) {
	want := []string{
		"[cfs init] sethostname(\"3f2a9c1e7b04\")  ≈ hostname 3f2a9c1e7b04",
		"[cfs init] mount(\"…/rootfs\", \"…/rootfs\", \"\", MS_BIND|MS_REC, \"\")",
		"[cfs init] setgroups([0])  ≈ setpriv --groups=0",
		"[cfs monitor] → host PID 5120, the container's init (runtime create)",
	}
	same := "[cfs monitor] clone(CLONE_NEWUTS)\n" +
		"[cfs init] sethostname(\"d167a14b8915\")  ≈ hostname d167a14b8915\n" +
		"[cfs init] mount(\"\", \"/\", \"\", MS_REC|MS_SLAVE, \"\")\n" +
		"[cfs init] mount(\"/var/lib/cfs/engine/containers/d167/rootfs\", \"/var/lib/cfs/engine/containers/d167/rootfs\", \"\", MS_BIND|MS_REC, \"\")\n" +
		"[cfs init] setgroups([0])  ≈ setpriv --groups=0\n" +
		"[cfs init] setresgid(0, 0, 0)  ≈ setpriv --regid=0\n" +
		"[cfs monitor] → host PID 23639, the container's init (runtime create)\n" +
		"[cfs init] execve(\"/usr/bin/true\", [\"true\"])  ≈ exec true\n"
	require.Empty(t, compareAmong(want, same))
	for _, changed := range []string{
		strings.Replace(same, "setgroups([0])  ≈ setpriv --groups=0", "setgroups([])  ≈ setpriv --clear-groups", 1), // another line
		strings.Replace(same, "[cfs init] sethostname", "[cfs monitor] sethostname", 1),                             // another side
		strings.Replace(same, "MS_BIND|MS_REC", "MS_BIND", 1),                                                       // "…" covers its part only
		strings.Replace(same, "[cfs init] setgroups([0])  ≈ setpriv --groups=0\n", "", 1) + // out of order
			"[cfs init] setgroups([0])  ≈ setpriv --groups=0\n",
		"", // no output
	} {
		require.NotEmpty(t, compareAmong(want, changed), "not caught:\n%s", changed)
	}
}

// The rules for a chapter's Try it section: every fence is replayed or
// excused, with a reason, and a root fence reads getfattr's "# file:" as
// output.
func TestTryItFencesAreReplayedOrExcused(t *testing.T) {
	chapter := "# Chapter\n\n## Try it\n\n" +
		"```\n$ hostname\nvm\n$ sudo hostname\nvm\n```\n\n" +
		"<!-- not replayed: needs a cgroup v2 host -->\n```\n$ cat /sys/fs/cgroup/cgroup.controllers\ncpu memory\n```\n\n" +
		"### More\n\n```\n# getfattr -d upper/var\n# file: upper/var\nuser.overlay.opaque=\"y\"\n```\n\n" +
		"```\nsome output\n```\n\n" +
		"## Look from outside\n\n```\nnot part of Try it\n```\n"
	fs, err := tryIt("x.md", chapter)
	require.NoError(t, err)
	require.Len(t, fs, 4, "the fences of Try it and its subsections, and no others")
	require.Equal(t, "not replayed: needs a cgroup v2 host", fs[1].directive)

	steps, err := transcript(fs[0])
	require.NoError(t, err)
	require.Len(t, steps, 2)
	require.False(t, steps[0].root, "a $ command runs as an ordinary user")
	require.True(t, steps[1].root, "unless it says sudo")
	require.Equal(t, []string{"vm"}, steps[1].want)

	steps, err = transcript(fs[2])
	require.NoError(t, err)
	require.Len(t, steps, 1)
	require.True(t, steps[0].root)
	require.Equal(t, []string{"# file: upper/var", "user.overlay.opaque=\"y\""}, steps[0].want)

	_, err = transcript(fs[3])
	require.Error(t, err, "a fence that is no transcript must be excused")

	_, err = tryIt("y.md", "# Chapter\n\n## Look from outside\n")
	require.Error(t, err, "a chapter without Try it")
}

// Every chapter has a Try it section whose fences are all transcripts or
// excused, and at least one transcript; checked here without root, so
// that a mistake shows up before the privileged replay.
func TestEveryChapterHasATranscript(t *testing.T) {
	chapters, err := filepath.Glob("[0-9][0-9]-*.md")
	require.NoError(t, err)
	for _, ch := range chapters {
		if strings.HasPrefix(ch, "00-") {
			continue
		}
		data, err := os.ReadFile(ch)
		require.NoError(t, err)
		fs, err := tryIt(ch, string(data))
		require.NoError(t, err)
		n := 0
		for _, f := range fs {
			if strings.HasPrefix(f.directive, notReplayed) || strings.HasPrefix(f.directive, replayFile) {
				continue
			}
			_, err := transcript(f)
			require.NoError(t, err)
			n++
		}
		require.NotZero(t, n, "%s: no transcript in Try it is replayed", ch)
	}
}

// README.md replays only the fences marked <!-- replay -->.
func TestReadmeFencesMarkedReplay(t *testing.T) {
	readme := "# cfs\n\n```sh\ngit clone x\n```\n\n<!-- replay -->\n```\n$ hostname\nvm\n```\n"
	fs := fences("README.md", readme, 0, strings.Count(readme, "\n")+1)
	require.Len(t, fs, 2)
	require.Empty(t, fs[0].directive)
	require.Equal(t, replayMark, fs[1].directive)
	steps, err := transcript(fs[1])
	require.NoError(t, err)
	require.Equal(t, []step{{line: 9, cmd: "hostname", want: []string{"vm"}}}, steps)
}

func TestTracePIDsArePlaceholders(t *testing.T) {
	require.True(t, lineMatches(
		"[cfs look] cat /proc/7834/uid_map /proc/7834/gid_map; sudo nsenter -t 7834 -n ip addr",
		"[cfs look] cat /proc/912/uid_map /proc/912/gid_map; sudo nsenter -t 912 -n ip addr"))
	require.True(t, lineMatches(
		`[cfs parent] write(/sys/fs/cgroup/pids/cfs/0123456789ab/cgroup.procs, "7834")  ≈ echo 7834 > /sys/fs/cgroup/pids/cfs/0123456789ab/cgroup.procs`,
		`[cfs parent] write(/sys/fs/cgroup/pids/cfs/ba9876543210/cgroup.procs, "912")  ≈ echo 912 > /sys/fs/cgroup/pids/cfs/ba9876543210/cgroup.procs`))
	// Values other than PIDs still count.
	require.False(t, lineMatches(
		`[cfs parent] write(/sys/fs/cgroup/pids/cfs/0123456789ab/pids.max, "50")  ≈ echo 50 > /sys/fs/cgroup/pids/cfs/0123456789ab/pids.max`,
		`[cfs parent] write(/sys/fs/cgroup/pids/cfs/0123456789ab/pids.max, "51")  ≈ echo 51 > /sys/fs/cgroup/pids/cfs/0123456789ab/pids.max`))
	require.False(t, lineMatches("1234", "1235"), "PIDs are placeholders in trace lines only")
}
