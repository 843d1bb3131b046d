package trace

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestOffPrintsNothing(t *testing.T) {
	tr, err := New("parent", false, false)
	require.NoError(t, err)
	require.Nil(t, tr)
	tr.Step("clone(CLONE_NEWUTS)", "unshare --uts") // a nil tracer is usable
	tr.Result("x")
	tr.LookAt(1)
}

func TestLineFormat(t *testing.T) {
	var out bytes.Buffer
	tr := &Tracer{side: "child", out: &out}
	tr.Step("sethostname(\"box\")", "hostname box")
	tr.Step("batch", "", "add table ip cfs")
	tr.Result("host PID %d", 42)
	tr.Look("lsns -p %d", 42)
	require.Equal(t, `[cfs child] sethostname("box")  ≈ hostname box
[cfs child] batch
[cfs child]   add table ip cfs
[cfs child] → host PID 42
[cfs look] lsns -p 42
`, out.String())
}

func TestDescriptions(t *testing.T) {
	call, shell := Clone(unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWUSER)
	require.Equal(t, "clone(CLONE_NEWUSER|CLONE_NEWUTS|CLONE_NEWPID)", call)
	require.Equal(t, "unshare --user --uts --pid --fork", shell)

	call, shell = Unshare(unix.CLONE_NEWCGROUP)
	require.Equal(t, "unshare(CLONE_NEWCGROUP)", call)
	require.Equal(t, "unshare --cgroup", shell)

	for _, c := range []struct {
		src, dst, fs string
		flags        uintptr
		data         string
		call, shell  string
	}{
		{"", "/", "", unix.MS_REC | unix.MS_PRIVATE, "",
			`mount("", "/", "", MS_REC|MS_PRIVATE, "")`, "mount --make-rprivate /"},
		{"/r", "/r", "", unix.MS_BIND | unix.MS_REC, "",
			`mount("/r", "/r", "", MS_BIND|MS_REC, "")`, "mount --rbind /r /r"},
		{"proc", "/r/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "",
			`mount("proc", "/r/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, "")`, "mount -t proc -o nosuid,nodev,noexec proc /r/proc"},
		{"", "/r/sys/fs/cgroup", "", unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY, "",
			`mount("", "/r/sys/fs/cgroup", "", MS_BIND|MS_RDONLY|MS_REMOUNT, "")`, "mount -o bind,ro,remount /r/sys/fs/cgroup"},
		{"overlay", "/m", "overlay", 0, "lowerdir=/a:/b,upperdir=/u,workdir=/w",
			`mount("overlay", "/m", "overlay", 0, "lowerdir=/a:/b,upperdir=/u,workdir=/w")`, "mount -t overlay -o lowerdir=/a:/b,upperdir=/u,workdir=/w overlay /m"},
	} {
		call, shell := Mount(c.src, c.dst, c.fs, c.flags, c.data)
		require.Equal(t, c.call, call)
		require.Equal(t, c.shell, shell)
	}
	require.Equal(t, `execve("/bin/sh", ["sh", "-c", "echo hi"])`, Exec("/bin/sh", []string{"sh", "-c", "echo hi"}))
}

func TestQuote(t *testing.T) {
	require.Equal(t, `sh -c 'echo $$; it'\''s' /bin/true ''`, Quote([]string{"sh", "-c", "echo $$; it's", "/bin/true", ""}))
}
