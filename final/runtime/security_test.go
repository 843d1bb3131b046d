package runtime_test

import (
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"cfs/final/runtime"
	"cfs/internal/rootfs"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// What the config asks of a process's privileges, seen from outside in
// /proc/PID/status and from inside by what fails: capabilities,
// no_new_privs, a seccomp filter, masked /proc paths, a device the
// devices cgroup denies.
func TestSecurity(t *testing.T) {
	r := newRT(t)
	caps := []string{"CAP_CHOWN", "CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE"}
	errno := uint(unix.EPERM)
	probe := `echo ready
mkdir /tmp/denied 2>&1 | grep -o "Operation not permitted"
echo "timer_list: $(cat /proc/timer_list | wc -c)"
echo "firmware: $(ls /sys/firmware | wc -l)"
echo "proc/sys: $( (echo x > /proc/sys/kernel/domainname) 2>&1 | grep -o 'Read-only file system')"
mknod /dev/kmsg2 c 1 11 && cat /dev/kmsg2 2>&1 | grep -o "Operation not permitted"
echo done
read x`
	b := bundle(t, []string{"sh", "-c", probe}, func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
		s.Process.NoNewPrivileges = true
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &errno},
			},
		}
	})
	id := r.id()
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pw.Close()
	out := r.createPiped(b, id, pr)
	r.ok("start", id)
	require.Equal(t, "ready", readLine(t, out))
	pid := r.state(id).Pid

	// Outside: the kernel's view of the process.
	require.Equal(t, capHex(t, caps...), statusField(t, pid, "CapEff"))
	require.Equal(t, capHex(t, caps...), statusField(t, pid, "CapBnd"))
	require.Equal(t, "1", statusField(t, pid, "NoNewPrivs"))
	require.Equal(t, "2", statusField(t, pid, "Seccomp"), "2: a filter is installed")
	mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	require.NoError(t, err)
	require.Contains(t, string(mi), " /proc/timer_list ")
	require.Regexp(t, `/proc/sys ro,`, string(mi))

	// Inside: what the process could not do.
	require.Equal(t, "Operation not permitted", readLine(t, out), "seccomp: mkdir fails with EPERM")
	require.Equal(t, "timer_list: 0", readLine(t, out), "a masked file reads as /dev/null")
	require.Equal(t, "firmware: 0", readLine(t, out), "a masked directory is an empty tmpfs")
	require.Equal(t, "proc/sys: Read-only file system", readLine(t, out), "a read-only path")
	require.Equal(t, "Operation not permitted", readLine(t, out), "the devices cgroup denies /dev/kmsg (1:11)")
	require.Equal(t, "done", readLine(t, out))
	pw.Close()
	waitExit(t, pid)
	reap(pid)
}

// CVE-2019-5736: a process in the container holds /proc/<init>/exe, the
// runtime's binary, while the init (our program) waits for start, and
// once no runtime process runs any more, opens it for writing. It must
// fail (the binary is seen through a read-only mount), and the binary on
// the host must stay as it was.
func TestExeOverwrite(t *testing.T) {
	r := newRT(t)
	id := r.id()
	out := r.createWithPipe(bundle(t, waitLoop, nil), id)
	before := sum(t, r.bin)
	// While the init runs our binary, a write is refused anyway (ETXTBSY).
	res := r.run("exec", id, "/cfs-helper", "overwrite", "/proc/1/exe")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "open for writing: open /proc/1/exe: text file busy\n")

	// The patient attack: detached, its stdio pipes of the test's.
	inR, inW, err := os.Pipe()
	require.NoError(t, err)
	defer inW.Close()
	outR, outW, err := os.Pipe()
	require.NoError(t, err)
	defer outR.Close()
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := r.cmd("exec", "--detach", "--pid-file", pidFile, id, "/cfs-helper", "overwrite-later", "/proc/1/exe")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, outW
	require.NoError(t, cmd.Run())
	inR.Close()
	outW.Close()
	data, _ := os.ReadFile(pidFile)
	helperPid, _ := strconv.Atoi(string(data))
	adopt(helperPid)
	require.Equal(t, "held", readLine(t, outR))
	// start: the init becomes the shell; no process runs the runtime now.
	r.ok("start", id)
	require.Equal(t, "started", readLine(t, out))
	_, err = inW.Write([]byte("go\n"))
	require.NoError(t, err)
	require.Regexp(t, `^open for writing: open /proc/self/fd/\d+: read-only file system$`, readLine(t, outR))
	require.Equal(t, before, sum(t, r.bin), "the runtime's binary on the host is unchanged")
	pid := r.state(id).Pid
	r.ok("delete", "--force", id)
	reap(pid)
}

func sum(t *testing.T, p string) string {
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

// A mount destination that is a symbolic link in the image is resolved
// inside the root: a link to a host directory, absolute or made of "..",
// must not make the runtime create or mount anything there.
func TestSymlinkMountTarget(t *testing.T) {
	r := newRT(t)
	_, shared := setup(t)
	host := filepath.Join(t.TempDir(), "host")
	require.NoError(t, os.Mkdir(host, 0o755))
	root := filepath.Join(t.TempDir(), "rootfs")
	require.NoError(t, rootfs.CopyTree(shared, root, nil))
	require.NoError(t, os.Symlink(host, filepath.Join(root, "abs")))
	require.NoError(t, os.Symlink("../../../../../../../.."+host, filepath.Join(root, "rel")))
	b := bundle(t, []string{"sh", "-c", "grep -o ' [^ ]*/sub[12] ' /proc/self/mountinfo"}, func(s *specs.Spec) {
		s.Root.Path = root
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/abs/sub1", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/rel/sub2", Type: "tmpfs", Source: "tmpfs"})
	})
	res := r.run("run", "--bundle", b, r.id())
	require.Equal(t, 0, res.code, res.stdout+res.stderr)
	entries, _ := os.ReadDir(host)
	require.Empty(t, entries, "nothing was made in the host's directory")
	require.DirExists(t, filepath.Join(root, host, "sub1"), "the mount point is made inside the root")
	require.Contains(t, res.stdout, " "+host+"/sub1 ")
	require.Contains(t, res.stdout, " "+host+"/sub2 ")
}

// process.terminal with --console-socket: the master arrives on the
// socket as one descriptor, the program's stdio is the terminal, and the
// runtime's own stdout and stderr do not leak into the container (a
// caller reading them to the end would wait forever).
func TestConsoleSocket(t *testing.T) {
	r := newRT(t)
	b := bundle(t, []string{"sh", "-c", "tty; echo hello; read x; echo got $x"}, func(s *specs.Spec) { s.Process.Terminal = true })
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer l.Close()
	id := r.id()
	// create's output is read to the end: it ends only if nothing in the
	// container holds it.
	res := r.run("create", "--bundle", b, "--console-socket", sock, id)
	require.Equal(t, 0, res.code, res.stderr)
	conn, err := l.Accept()
	require.NoError(t, err)
	f, err := conn.(*net.UnixConn).File()
	require.NoError(t, err)
	conn.Close()
	master, err := runtime.RecvConsole(f)
	f.Close()
	require.NoError(t, err)
	defer master.Close()
	_, err = unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS)
	require.NoError(t, err, "the master is a terminal")
	require.Equal(t, "/dev/pts/0", master.Name(), "the first terminal of the container's own devpts")
	r.ok("start", id)
	require.Equal(t, "/dev/pts/0\r", readLine(t, master))
	require.Equal(t, "hello\r", readLine(t, master))
	_, err = master.Write([]byte("typed\n"))
	require.NoError(t, err)
	for {
		if l := readLine(t, master); strings.HasPrefix(l, "got") {
			require.Equal(t, "got typed\r", l)
			break
		}
	}
	pid := r.state(id).Pid
	waitExit(t, pid)
	reap(pid)
	r.ok("delete", id)
}

// --preserve-fds passes descriptors 3.. on; every other descriptor of the
// runtime is closed before the program starts.
func TestPreserveFDs(t *testing.T) {
	r := newRT(t)
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pr.Close()
	b := bundle(t, []string{"sh", "-c", "echo via3 >&3; ls /proc/self/fd | sort -n | tr '\\n' ' '"}, nil)
	cmd := r.cmd("run", "--preserve-fds", "1", "--bundle", b, r.id())
	cmd.ExtraFiles = []*os.File{pw}
	out, err := cmd.Output()
	pw.Close()
	require.NoError(t, err)
	require.Equal(t, "0 1 2 3 4 ", string(out), "stdio, the preserved descriptor, and ls's own directory")
	require.Equal(t, "via3", readLine(t, pr))
}

// The process settings and kernel knobs of the config, from inside:
// user and groups, umask, rlimits, the OOM score, sysctls in the
// container's namespaces, the NIS domain name.
func TestProcessSettings(t *testing.T) {
	r := newRT(t)
	umask := uint32(0o027)
	adj := 500
	b := bundle(t, []string{"sh", "-c", `id -u; id -G; umask; ulimit -n; cat /proc/self/oom_score_adj; cat /proc/sys/net/ipv4/ip_forward; cat /proc/sys/kernel/domainname`}, func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1001, 1002}, Umask: &umask}
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 321, Hard: 654}}
		s.Process.OOMScoreAdj = &adj
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		s.Domainname = "example.test"
	})
	res := r.run("run", "--bundle", b, r.id())
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "1000\n1000 1001 1002\n0027\n321\n500\n1\nexample.test\n", res.stdout)
}
