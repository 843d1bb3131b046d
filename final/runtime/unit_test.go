package runtime

// Tests of the runtime's pure logic: no root, no kernel beyond lstat.

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	mseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{
		"9": 9, "15": 15, "KILL": 9, "SIGKILL": 9, "sigterm": 15, "term": 15, "USR1": 10,
		"SIGUSR2": 12, "HUP": 1, "RTMIN": 34, "RTMIN+3": 37, "SIGRTMAX-1": 63, "64": 64,
	} {
		got, err := ParseSignal(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "0", "65", "-1", "FROB", "SIGFROB", "RTMIN+40", "RTMIN3"} {
		_, err := ParseSignal(bad)
		require.Error(t, err, bad)
	}
}

func TestCheckVersionAndID(t *testing.T) {
	for _, v := range []string{"1.0.0", "1.0.2-dev", "1.1.0", "1.2.0", "1.2.1"} {
		require.NoError(t, CheckVersion(v), v)
	}
	for _, v := range []string{"", "1.3.0", "2.0.0", "0.9.0", "1.0", "one"} {
		require.Error(t, CheckVersion(v), v)
	}
	for _, id := range []string{"a", "web-1", "abc_DEF.0+x"} {
		require.NoError(t, CheckID(id), id)
	}
	for _, id := range []string{"", ".", "..", "a/b", "a b", "a:b"} {
		require.Error(t, CheckID(id), id)
	}
}

// validSpec is DefaultSpec with a root in a temporary directory.
func validSpec(t *testing.T) (*specs.Spec, string) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "rootfs"), 0o755))
	return DefaultSpec(), dir
}

func TestValidate(t *testing.T) {
	s, dir := validSpec(t)
	require.NoError(t, Validate(s, dir), "runc's default spec is valid")
	require.NoError(t, Validate(RootlessSpec(), dir))
	for _, tc := range []struct {
		edit func(*specs.Spec)
		want string
	}{
		{func(s *specs.Spec) { s.Version = "1.3.0" }, `unsupported ociVersion "1.3.0"`},
		{func(s *specs.Spec) { s.Root.Path = "missing" }, `root.path "missing"`},
		{func(s *specs.Spec) { s.Process = nil }, "process is missing"},
		{func(s *specs.Spec) { s.Process.Cwd = "tmp" }, `process.cwd "tmp" must be an absolute path`},
		{func(s *specs.Spec) { s.Process.Args = nil }, "process.args"},
		{func(s *specs.Spec) { s.Process.Env = []string{"NOEQUALS"} }, `process.env "NOEQUALS"`},
		{func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_FROB"}} }, `unknown type "RLIMIT_FROB"`},
		{func(s *specs.Spec) { s.Process.Capabilities.Ambient = []string{"CAP_NOPE"} }, `ambient: unknown capability "CAP_NOPE"`},
		{func(s *specs.Spec) { s.Process.SelinuxLabel = "x" }, "SELinux is not supported"},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "frob"})
		}, `unknown namespace type "frob"`},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "pid"})
		}, "pid is listed twice"},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
		}, "time namespaces are not supported"},
		{func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:4] }, "a mount namespace is required"},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: "mount"}}
		}, "hostname and domainname need a new uts namespace"},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
		}, "uidMappings and gidMappings go with a user namespace"},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user", Path: "/proc/1/ns/user"})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{Size: 1}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{Size: 1}}
		}, "joining a user namespace by path is not supported"},
		{func(s *specs.Spec) { s.Mounts[0].Destination = "proc" }, `destination "proc" must be an absolute path`},
		{func(s *specs.Spec) { s.Mounts[0].Options = []string{"idmap"} }, "idmapped mounts"},
		{func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind"}) }, "a bind mount needs a source"},
		{func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "rel"}}} }, `hooks.poststop[0]: path "rel" must be absolute`},
		{func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "/etc/x", Type: "c"}} }, "must be under /dev"},
		{func(s *specs.Spec) { s.Linux.Resources.Rdma = map[string]specs.LinuxRdma{"x": {}} }, "rdma is not supported"},
		{func(s *specs.Spec) { s.Linux.Resources.Devices[0].Access = "rwx" }, `access "rwx"`},
		{func(s *specs.Spec) { s.Linux.RootfsPropagation = "sideways" }, `rootfsPropagation "sideways"`},
		{func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.pid_max": "1"} }, "kernel.pid_max is not namespaced"},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = s.Linux.Namespaces[2:] // no pid, no network
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, "needs a new network namespace"},
		{func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"proc/kcore"} }, "must be absolute"},
		{func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{} }, "personality is not supported"},
		{func(s *specs.Spec) { s.Windows = &specs.Windows{} }, "only Linux containers"},
	} {
		s, dir := validSpec(t)
		tc.edit(s)
		err := Validate(s, dir)
		require.Error(t, err, tc.want)
		require.Contains(t, err.Error(), tc.want)
		require.Contains(t, err.Error(), "config.json: ")
	}
}

// A symbolic link, absolute or relative, is followed inside the root and
// never above it.
func TestSecureJoin(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc/real"), 0o755))
	for name, target := range map[string]string{
		"abs": "/etc", "up": "../../../../etc", "loop": "loop", "file": "/etc/real/../real",
		"etc/rel": "real", "etc/outside": "/../../tmp",
	} {
		require.NoError(t, os.Symlink(target, filepath.Join(root, name)))
	}
	for in, want := range map[string]string{
		"/etc":             "/etc",
		"/abs/x":           "/etc/x",
		"/up/real":         "/etc/real",
		"/../../../etc":    "/etc",
		"/etc/rel/sub":     "/etc/real/sub",
		"/etc/outside/a":   "/tmp/a",
		"/file":            "/etc/real",
		"/new/dir/../file": "/new/file",
	} {
		got, err := secureJoin(root, in)
		require.NoError(t, err, in)
		require.Equal(t, filepath.Join(root, want), got, in)
	}
	_, err := secureJoin(root, "/loop/x")
	require.ErrorContains(t, err, "too many levels of symbolic links")
}

func TestParseMountOptions(t *testing.T) {
	o := parseMountOptions("tmpfs", []string{"nosuid", "noexec", "mode=755", "size=64k", "ro", "rw", "rslave"})
	require.Equal(t, uintptr(unix.MS_NOSUID|unix.MS_NOEXEC), o.Flags)
	require.Equal(t, "mode=755,size=64k", o.Data)
	require.Equal(t, uintptr(unix.MS_SLAVE|unix.MS_REC), o.Propagation)
	require.False(t, o.Bind)
	o = parseMountOptions("none", []string{"rbind", "ro"})
	require.True(t, o.Bind)
	require.True(t, o.Rec)
	require.Equal(t, uintptr(unix.MS_RDONLY), o.Flags)
	require.True(t, parseMountOptions("bind", nil).Bind)
}

func TestCapMask(t *testing.T) {
	m, err := capMask([]string{"CAP_CHOWN", "CAP_KILL", "cap_sys_admin", "CAP_CHECKPOINT_RESTORE"}, 40)
	require.NoError(t, err)
	require.Equal(t, uint64(1<<0|1<<5|1<<21|1<<40), m)
	m, err = capMask([]string{"CAP_CHECKPOINT_RESTORE"}, 39)
	require.NoError(t, err)
	require.Zero(t, m, "a capability newer than the kernel is skipped")
	require.Len(t, CapNames(), 41)
}

// runFilter runs a compiled filter on a system call of this machine's
// architecture, as the kernel would, and returns what it decides. The
// VM of golang.org/x/net/bpf loads words big-endian (a packet's order):
// each 32-bit word of seccomp_data is written so that it reads as the
// kernel's native load would.
func runFilter(t *testing.T, f *filter, nr int, args ...uint64) uint32 {
	t.Helper()
	vm, err := bpf.NewVM(f.prog)
	require.NoError(t, err)
	info, err := arch.GetInfo("")
	require.NoError(t, err)
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], uint32(nr))
	binary.BigEndian.PutUint32(data[4:], uint32(info.ID))
	for i, a := range args {
		binary.BigEndian.PutUint32(data[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[16+8*i+4:], uint32(a>>32))
	}
	ret, err := vm.Run(data)
	require.NoError(t, err)
	return uint32(ret)
}

// docker's default profile shape: an allow list, EPERM by default, and
// conditions on arguments, several rules for one call (socket), each of
// which must work.
func TestSeccompFilter(t *testing.T) {
	eperm := uint(1)
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno, DefaultErrnoRet: &eperm,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "exit_group", "no_such_call_here"}, Action: specs.ActAllow},
			{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7e020000, Op: specs.OpMaskedEqual}}},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
			{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 3, Op: specs.OpLessThan}}},
			{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 16, Op: specs.OpEqualTo}}},
			{Names: []string{"kill"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 1 << 40, Op: specs.OpGreaterEqual}}},
			{Names: []string{"dup"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 5, Op: specs.OpNotEqual}}},
		},
	}
	f, err := seccompFilter(s)
	require.NoError(t, err)
	info, err := arch.GetInfo("")
	require.NoError(t, err)
	nr := func(name string) int { return info.SyscallNames[name] }
	allow, deny := uint32(unix.SECCOMP_RET_ALLOW), uint32(unix.SECCOMP_RET_ERRNO)|uint32(unix.EPERM)
	require.Equal(t, allow, runFilter(t, f, nr("read")))
	require.Equal(t, deny, runFilter(t, f, nr("mkdir")))
	require.Equal(t, allow, runFilter(t, f, nr("clone"), uint64(unix.SIGCHLD)), "a thread or a fork")
	require.Equal(t, deny, runFilter(t, f, nr("clone"), unix.CLONE_NEWUSER), "a new namespace")
	require.Equal(t, allow, runFilter(t, f, nr("personality"), 8))
	require.Equal(t, deny, runFilter(t, f, nr("personality"), 9))
	require.Equal(t, allow, runFilter(t, f, nr("socket"), unix.AF_INET))
	require.Equal(t, allow, runFilter(t, f, nr("socket"), unix.AF_NETLINK), "the second rule for socket")
	require.Equal(t, deny, runFilter(t, f, nr("socket"), unix.AF_VSOCK))
	require.Equal(t, allow, runFilter(t, f, nr("kill"), 0, 1<<40))
	require.Equal(t, allow, runFilter(t, f, nr("kill"), 0, 1<<41))
	require.Equal(t, deny, runFilter(t, f, nr("kill"), 0, 1<<40-1), "64-bit compares")
	require.Equal(t, allow, runFilter(t, f, nr("dup"), 4))
	require.Equal(t, allow, runFilter(t, f, nr("dup"), 5|1<<32), "not equal in the high word")
	require.Equal(t, deny, runFilter(t, f, nr("dup"), 5))

	enosys := uint(38)
	a, err := seccompAction(specs.ActErrno, &enosys)
	require.NoError(t, err)
	require.Equal(t, actErrno|38, a)
	require.Equal(t, uint32(seccomp.ActionErrno|38), uint32(a), "the kernel's values, as elastic/go-seccomp-bpf has them")

	for _, bad := range []*specs.LinuxSeccomp{
		{DefaultAction: "SCMP_ACT_FROB"},
		{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActNotify}}},
		{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}},
		{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FROB"}},
	} {
		_, err := seccompFilter(bad)
		require.Error(t, err, "%+v", bad)
	}
}

// The system call table (syscalls_linux_GOARCH.go) is the one of
// elastic/go-seccomp-bpf, which the tests here use to check the filters:
// number for number.
func TestSyscallTables(t *testing.T) {
	info, err := arch.GetInfo("")
	if err != nil {
		t.Skipf("no table for this architecture: %v", err)
	}
	require.Equal(t, uint32(info.ID), uint32(auditArch))
	want := map[string]uint32{}
	for name, nr := range info.SyscallNames {
		want[name] = uint32(nr)
	}
	require.Equal(t, want, syscallNumbers())
}

// docker's default profile, whole (moby/profiles/seccomp): it compiles,
// and what it allows and refuses is docker's.
func TestDockerSeccompProfile(t *testing.T) {
	s := DefaultSpec()
	s.Process.Capabilities.Bounding = []string{"CAP_CHOWN", "CAP_NET_RAW", "CAP_SETUID", "CAP_SETGID"}
	p, err := mseccomp.GetDefaultProfile(s)
	require.NoError(t, err)
	f, err := seccompFilter(p)
	require.NoError(t, err)
	info, err := arch.GetInfo("")
	require.NoError(t, err)
	nr := func(name string) int { return info.SyscallNames[name] }
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	for _, dom := range []uint64{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK, unix.AF_PACKET} {
		require.Equal(t, allow, runFilter(t, f, nr("socket"), dom), "socket(%d)", dom)
	}
	require.NotEqual(t, allow, runFilter(t, f, nr("socket"), unix.AF_VSOCK))
	require.NotEqual(t, allow, runFilter(t, f, nr("unshare"), unix.CLONE_NEWUSER))
	require.NotEqual(t, allow, runFilter(t, f, nr("mount")), "mount needs CAP_SYS_ADMIN")
	require.Equal(t, allow, runFilter(t, f, nr("getpid")))
	require.Equal(t, allow, runFilter(t, f, nr("clone"), uint64(unix.SIGCHLD)))
	require.NotEqual(t, allow, runFilter(t, f, nr("clone"), unix.CLONE_NEWNS))
}

// `runtime spec` is runc spec's config: it parses back, and says what
// each stage taught.
func TestDefaultSpec(t *testing.T) {
	data, err := json.Marshal(DefaultSpec())
	require.NoError(t, err)
	var s specs.Spec
	require.NoError(t, json.Unmarshal(data, &s))
	require.Equal(t, specs.Version, s.Version)
	require.Equal(t, []string{"sh"}, s.Process.Args)
	require.True(t, s.Process.Terminal)
	require.True(t, s.Root.Readonly)
	require.Len(t, s.Linux.Namespaces, 6)
	require.Equal(t, "CAP_AUDIT_WRITE", s.Process.Capabilities.Bounding[0])
	r := RootlessSpec()
	require.Nil(t, r.Linux.Resources)
	require.Equal(t, uint32(os.Geteuid()), r.Linux.UIDMappings[0].HostID)
}
