package doctor

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeHost builds a healthy cgroup v2 host in a temporary directory: every
// check passes on it, and each test below breaks one thing.
type fakeHost struct {
	*Host
	t      *testing.T
	dir    string
	env    map[string]string
	chains []Chain
	routes []Route
	execs  map[string]string // "name args" → output; missing means not found
	tried  map[string]error  // TryNamespace results by kind
	// userEnv is the environment of the user who ran sudo; dialErr what
	// a connection to a module proxy gets.
	userEnv map[string]string
	dialErr error
}

func newFakeHost(t *testing.T) *fakeHost {
	t.Helper()
	dir := t.TempDir()
	f := &fakeHost{t: t, dir: dir, env: map[string]string{},
		execs: map[string]string{"iptables --version": "iptables v1.8.9 (nf_tables)\n"},
		tried: map[string]error{},
		routes: []Route{
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth0", Table: 254},
			{Dst: netip.MustParsePrefix("192.168.1.0/24"), Dev: "eth0", Table: 254},
		},
	}
	f.Host = &Host{
		Root: filepath.Join(dir, "root"), Proc: filepath.Join(dir, "proc"), Sys: filepath.Join(dir, "sys"),
		Etc: filepath.Join(dir, "etc"), Run: filepath.Join(dir, "run"),
		StateDir: filepath.Join(dir, "root/var/lib/cfs"),
		Euid:     0,
		Getenv:   func(k string) string { return f.env[k] },
		LookPath: func(file string) (string, error) {
			switch file {
			case "go":
				return "/usr/local/go/bin/go", nil
			case "sudo":
				return "/usr/bin/sudo", nil
			}
			return "", exec.ErrNotFound
		},
		FSType:       func(string) (string, error) { return "ext4", nil },
		TryOverlay:   func(string) error { return nil },
		TryNamespace: func(kind string) error { return f.tried[kind] },
		Routes:       func() ([]Route, error) { return f.routes, nil },
		Nftables:     func() ([]Chain, error) { return f.chains, nil },
		Exec: func(name string, args ...string) (string, error) {
			out, ok := f.execs[strings.Join(append([]string{name}, args...), " ")]
			if !ok {
				return "", exec.ErrNotFound
			}
			return out, nil
		},
		ModuleDir: filepath.Join(dir, "root/home/alice/cfs"),
		UserEnv:   func() map[string]string { return f.userEnv },
		Dial:      func(string) error { return f.dialErr },
	}
	f.userEnv = map[string]string{"HOME": "/home/alice", "PATH": "/usr/local/go/bin:/usr/bin:/bin"}
	f.env["SUDO_UID"] = "1000"
	f.write("root/home/alice/cfs/go.mod", "module cfs\n")
	f.write("root/home/alice/cfs/vendor/modules.txt", "# github.com/vishvananda/netlink v1.3.1\n")
	f.write("proc/sys/kernel/osrelease", "6.8.0-45-generic\n")
	for _, ns := range []string{"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "user", "uts"} {
		f.write("proc/self/ns/"+ns, "")
	}
	f.write("proc/self/mountinfo", ""+
		"24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"+
		"35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n")
	f.write("proc/1/cgroup", "0::/init.scope\n")
	f.write("proc/1/environ", "HOME=/\x00TERM=linux\x00")
	f.write("proc/cgroups", "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"+
		"cpu\t0\t80\t1\nmemory\t0\t80\t1\npids\t0\t80\t1\nio\t0\t80\t1\n")
	f.write("proc/filesystems", "nodev\tsysfs\nnodev\toverlay\n\text4\n")
	f.write("proc/sys/user/max_user_namespaces", "63541\n")
	f.write("proc/sys/net/ipv4/ip_forward", "1\n")
	f.write("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
	f.write("sys/fs/cgroup/cgroup.subtree_control", "cpuset cpu io memory hugetlb pids rdma misc\n")
	f.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n")
	f.write("etc/subuid", "alice:100000:65536\nroot:165536:65536\n")
	f.write("etc/subgid", "alice:100000:65536\nroot:165536:65536\n")
	f.write("etc/sudoers", "Defaults\tenv_reset\nDefaults\tsecure_path=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\n")
	f.write("root/usr/local/bin/go", "#!/bin/sh\n")
	require.NoError(t, os.Chmod(filepath.Join(dir, "root/usr/local/bin/go"), 0o755))
	require.NoError(t, os.MkdirAll(f.StateDir, 0o755))
	return f
}

func (f *fakeHost) write(path, content string) {
	f.t.Helper()
	p := filepath.Join(f.dir, path)
	require.NoError(f.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(f.t, os.WriteFile(p, []byte(content), 0o644))
}

func (f *fakeHost) remove(path string) {
	f.t.Helper()
	require.NoError(f.t, os.RemoveAll(filepath.Join(f.dir, path)))
}

func (f *fakeHost) check(name string) Result {
	f.t.Helper()
	for _, r := range f.Checks() {
		if r.Name == name {
			return r
		}
	}
	f.t.Fatalf("no check named %q", name)
	return Result{}
}

func TestHealthyHostPassesEveryCheck(t *testing.T) {
	f := newFakeHost(t)
	seen := map[string]bool{}
	for _, r := range f.Checks() {
		require.False(t, seen[r.Name], "two checks named %s", r.Name)
		seen[r.Name] = true
		require.Equal(t, OK, r.Status, "%s: %s", r.Name, r.Detail)
		require.NotEmpty(t, r.Detail, r.Name)
		require.False(t, r.Failed())
	}
	require.Len(t, seen, len(checks))
	require.Equal(t, "Linux 6.8.0-45-generic", f.check("kernel").Detail)
	require.Contains(t, f.check("cgroups").Detail, "cgroup v2: cpu memory pids enabled for /sys/fs/cgroup/cfs")
	require.Contains(t, f.check("subnet").Detail, "stage05-net will use 172.29.0.0/24")
	require.Contains(t, f.check("sudo-go").Detail, "sudo finds /usr/local/bin/go")
	require.Contains(t, f.check("subuid").Detail, "root 165536-231071")
}

// Each case breaks the healthy host in one way, as a student's VM does,
// and names the line that must turn, and what it must say.
func TestBadHosts(t *testing.T) {
	eperm := &os.PathError{Op: "fork/exec", Path: "/usr/bin/true", Err: syscall.EPERM}
	for _, tc := range []struct {
		name   string
		breakf func(f *fakeHost)
		check  string
		status Status
		want   []string // in Detail or Fix
	}{
		{"old kernel", func(f *fakeHost) { f.write("proc/sys/kernel/osrelease", "4.19.0-27-amd64\n") },
			"kernel", Warn, []string{"older than 5.4"}},
		{"WSL 1", func(f *fakeHost) { f.write("proc/sys/kernel/osrelease", "4.4.0-19041-Microsoft\n") },
			"wsl", Fail, []string{"WSL 1", "wsl --set-version"}},
		{"WSL 2", func(f *fakeHost) { f.write("proc/sys/kernel/osrelease", "5.15.153.1-microsoft-standard-WSL2\n") },
			"wsl", Warn, []string{"WSL 2", "systemd=true"}},
		{"docker", func(f *fakeHost) { f.write("root/.dockerenv", "") },
			"container", Warn, []string{"/.dockerenv", "--privileged"}},
		{"podman", func(f *fakeHost) { f.write("run/.containerenv", "") },
			"container", Warn, []string{"podman"}},
		{"lxc", func(f *fakeHost) { f.write("proc/1/environ", "container=lxc\x00") },
			"container", Warn, []string{"container=lxc"}},
		{"overlay root", func(f *fakeHost) {
			f.write("proc/self/mountinfo", "700 650 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w\n")
		}, "container", Warn, []string{"/ is an overlay mount"}},
		{"no net namespaces", func(f *fakeHost) { f.remove("proc/self/ns/net") },
			"namespaces", Fail, []string{"no net namespaces", "CONFIG_NET_NS"}},
		{"namespaces refused in a container", func(f *fakeHost) {
			f.tried["mnt"] = eperm
			f.write("root/.dockerenv", "")
		}, "namespaces", Fail, []string{"mnt (operation not permitted)", "--privileged"}},
		{"not root", func(f *fakeHost) { f.Euid = 1000 },
			"root", Warn, []string{"uid 1000", Command}},
		{"not root: no trial mount", func(f *fakeHost) { f.Euid = 1000 },
			"overlay", Warn, []string{"not tried"}},
		{"max_user_namespaces=0", func(f *fakeHost) { f.write("proc/sys/user/max_user_namespaces", "0\n") },
			"userns", Fail, []string{"not even root", "sysctl -w user.max_user_namespaces"}},
		{"user namespace refused", func(f *fakeHost) { f.tried["user"] = eperm },
			"userns", Fail, []string{"root cannot create a user namespace: operation not permitted"}},
		{"Ubuntu 24.04 AppArmor", func(f *fakeHost) { f.write("proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1\n") },
			"userns", Warn, []string{"apparmor_restrict_unprivileged_userns=1", "uid_map"}},
		{"Debian unprivileged_userns_clone", func(f *fakeHost) { f.write("proc/sys/kernel/unprivileged_userns_clone", "0\n") },
			"userns", Warn, []string{"unprivileged_userns_clone=0"}},
		{"no subuid for root", func(f *fakeHost) {
			f.write("etc/subuid", "alice:100000:65536\nroot:165536:65536\nbob:231072:65536\n")
			f.remove("etc/subgid")
		},
			"subuid", Warn, []string{"root in /etc/subgid", "--add-subgids 296608-362143"}},
		{"sudo user's range too small", func(f *fakeHost) {
			f.env["SUDO_USER"] = "alice"
			f.write("etc/subuid", "1000:100000:1000\nroot:165536:65536\n")
		}, "subuid", Warn, []string{"alice in /etc/subuid"}},
		{"cgroup v2 without pids delegated", func(f *fakeHost) { f.write("sys/fs/cgroup/cgroup.subtree_control", "cpu memory\n") },
			"cgroups", Warn, []string{"pids not enabled for /sys/fs/cgroup/cfs", `echo "+pids" | sudo tee /sys/fs/cgroup/cgroup.subtree_control`}},
		{"cgroup v2 parent lacks memory", func(f *fakeHost) { f.write("sys/fs/cgroup/cfs/cgroup.controllers", "cpu pids\n") },
			"cgroups", Warn, []string{"memory not enabled"}},
		{"memory held by v1", func(f *fakeHost) {
			f.write("sys/fs/cgroup/cgroup.controllers", "cpu pids\n")
			f.write("proc/cgroups", "cpu\t0\t1\t1\nmemory\t4\t1\t1\npids\t0\t1\t1\n")
		}, "cgroups", Fail, []string{"memory is held by a cgroup v1 hierarchy", "systemd.unified_cgroup_hierarchy=1"}},
		{"memory disabled", func(f *fakeHost) {
			f.write("sys/fs/cgroup/cgroup.controllers", "cpu pids\n")
			f.write("proc/cgroups", "cpu\t0\t1\t1\nmemory\t0\t1\t0\npids\t0\t1\t1\n")
		}, "cgroups", Fail, []string{"memory is disabled on the kernel command line", "cgroup_enable=memory"}},
		{"cgroup v2 read-only", func(f *fakeHost) {
			f.write("proc/self/mountinfo", "35 24 0:30 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 ro\n")
		}, "cgroups", Fail, []string{"read-only", "--privileged"}},
		{"hybrid", hybrid, "cgroups", OK, []string{"hybrid", "/sys/fs/cgroup/CONTROLLER/cfs"}},
		{"v1 without pids", func(f *fakeHost) { hybrid(f); f.remove("sys/fs/cgroup/pids") },
			"cgroups", Fail, []string{"no v1 hierarchy for pids", "mount -t cgroup -o pids"}},
		{"no cgroups at all", func(f *fakeHost) { hybrid(f); f.remove("sys/fs/cgroup") },
			"cgroups", Fail, []string{"no cgroup filesystem"}},
		{"overlay on overlay", func(f *fakeHost) {
			f.FSType = func(string) (string, error) { return "overlay", nil }
			f.TryOverlay = func(string) error { return fmt.Errorf("mount -t overlay: %w", syscall.EINVAL) }
		}, "overlay", Fail, []string{"(overlay): mount -t overlay: invalid argument", "docker run -v cfs-state:"}},
		{"overlay on WSL's 9p", func(f *fakeHost) {
			f.FSType = func(string) (string, error) { return "9p", nil }
			f.TryOverlay = func(string) error { return syscall.EINVAL }
		}, "overlay", Fail, []string{"Linux side"}},
		{"no overlayfs", func(f *fakeHost) {
			f.write("proc/filesystems", "nodev\tsysfs\n\text4\n")
			f.TryOverlay = func(string) error { return syscall.ENODEV }
		}, "overlay", Fail, []string{"modprobe overlay"}},
		{"ip_forward off", func(f *fakeHost) { f.write("proc/sys/net/ipv4/ip_forward", "0\n") },
			"ip-forward", Warn, []string{"ip_forward=0", "sysctl -w net.ipv4.ip_forward=1"}},
		{"br_netfilter with Docker's legacy drop", func(f *fakeHost) {
			f.write("proc/sys/net/bridge/bridge-nf-call-iptables", "1\n")
			legacyDrop(f)
		}, "br-netfilter", Warn, []string{"iptables-legacy filter FORWARD drops by default: containers on cfs0 cannot reach each other", "bridge-nf-call-iptables=0"}},
		{"br_netfilter with a drop stage05-net accepts cfs0 in", func(f *fakeHost) {
			f.write("proc/sys/net/bridge/bridge-nf-call-iptables", "1\n")
			f.chains = dockerChains
		}, "br-netfilter", OK, []string{"nothing drops it that stage05-net does not accept"}},
		{"Docker's FORWARD DROP", func(f *fakeHost) { f.chains = dockerChains },
			"forward-drop", Warn, []string{"policy drop in ip filter FORWARD (Docker sets this policy): stage05-net inserts accept rules", "sudo iptables -I FORWARD -i cfs0 -j ACCEPT"}},
		{"firewalld's forward drop", func(f *fakeHost) {
			f.chains = []Chain{{Family: "inet", Table: "firewalld", Name: "filter_FORWARD", Hook: "forward", Policy: "drop"}}
		}, "forward-drop", Warn, []string{"sudo nft insert rule inet firewalld filter_FORWARD iifname cfs0 accept"}},
		{"FORWARD drop without iptables installed", func(f *fakeHost) {
			f.chains = dockerChains
			delete(f.execs, "iptables --version")
		}, "forward-drop", Warn, []string{"sudo nft insert rule ip filter FORWARD iifname cfs0 accept"}},
		{"bridge family drop", func(f *fakeHost) {
			f.chains = []Chain{{Family: "bridge", Table: "filter", Name: "forward", Hook: "forward", Policy: "drop"}}
		}, "forward-drop", Warn, []string{"frames between containers", `iifname "cfs*" accept`}},
		{"ip6 drop does not matter", func(f *fakeHost) {
			f.chains = []Chain{{Family: "ip6", Table: "filter", Name: "FORWARD", Hook: "forward", Policy: "drop"}}
		}, "forward-drop", OK, []string{"no chain"}},
		{"legacy FORWARD DROP", legacyDrop,
			"forward-drop", Fail, []string{"iptables-legacy filter FORWARD, which nftables does not see", "sudo iptables-legacy -I FORWARD -i cfs0 -j ACCEPT"}},
		{"firewall unreadable", func(f *fakeHost) {
			f.Nftables = func() ([]Chain, error) { return nil, syscall.EPERM }
		}, "forward-drop", Warn, []string{"operation not permitted"}},
		{"legacy and nft side by side", func(f *fakeHost) {
			f.write("proc/thread-self/net/ip_tables_names", "filter\n")
			f.execs["iptables --version"] = "iptables v1.8.7 (legacy)\n"
			f.chains = []Chain{{Family: "inet", Table: "firewalld", Name: "filter_INPUT", Hook: "input", Policy: "accept"}}
		}, "iptables", Warn, []string{"(legacy); legacy tables: filter; nftables tables: inet firewalld", "two rulesets"}},
		{"every default subnet taken", func(f *fakeHost) {
			f.routes = append(f.routes,
				Route{Dst: netip.MustParsePrefix("172.16.0.0/12"), Dev: "docker0", Table: 254},
				Route{Dst: netip.MustParsePrefix("10.29.0.0/16"), Dev: "tun0", Table: 254},
				Route{Dst: netip.MustParsePrefix("192.168.229.0/24"), Dev: "virbr0", Table: 254})
		}, "subnet", Fail, []string{"172.29.0.0/24 overlaps route 172.16.0.0/12 dev docker0", "192.168.229.0/24 overlaps route 192.168.229.0/24 dev virbr0", "--subnet 10.30.0.0/24"}},
		{"sudo without go matters only for the old form", func(f *fakeHost) { f.remove("root/usr/local/bin/go") },
			"sudo-go", OK, []string{"fine for go run -exec sudo", "go: command not found", `sudo env "PATH=$PATH" go run`, "sudo ln -s /usr/local/go/bin/go /usr/local/bin/go"}},
		{"GOPROXY set for the user only", func(f *fakeHost) { f.userEnv["GOPROXY"] = "https://goproxy.cn,direct" },
			"goproxy", Warn, []string{"your GOPROXY is https://goproxy.cn,direct (environment), root's https://proxy.golang.org,direct (default)", "go run -exec sudo", `sudo env "PATH=$PATH" GOPROXY=https://goproxy.cn,direct go run`}},
		{"GOPROXY from the user's go env file", func(f *fakeHost) { f.write("root/home/alice/.config/go/env", "GOPROXY=https://goproxy.cn\n") },
			"goproxy", Warn, []string{"your GOPROXY is https://goproxy.cn (", "alice/.config/go/env)"}},
		{"GOPROXY the same for root", func(f *fakeHost) {
			f.userEnv["GOPROXY"] = "https://goproxy.cn"
			f.write("root/root/.config/go/env", "GOPROXY=https://goproxy.cn\n")
		}, "goproxy", OK, []string{"GOPROXY is https://goproxy.cn for you and for root"}},
		{"no vendor and no network", func(f *fakeHost) {
			f.remove("root/home/alice/cfs/vendor")
			f.dialErr = errors.New("dial tcp: lookup proxy.golang.org: no such host")
		}, "vendor", Fail, []string{"no vendor/", "no network", "proxy.golang.org:443", "git checkout -- vendor", "goproxy.cn"}},
		{"no vendor, a proxy that answers", func(f *fakeHost) {
			f.remove("root/home/alice/cfs/vendor")
			f.env["GOPROXY"] = "https://goproxy.cn,direct"
		}, "vendor", Warn, []string{"downloads the modules from goproxy.cn:443", "git checkout -- vendor"}},
		{"no vendor and GOPROXY=off", func(f *fakeHost) {
			f.remove("root/home/alice/cfs/vendor")
			f.env["GOPROXY"] = "off"
		}, "vendor", Fail, []string{"names no proxy"}},
		{"sudoers.d sets a path with go", func(f *fakeHost) {
			f.remove("root/usr/local/bin/go")
			f.write("etc/sudoers.d/go", "Defaults secure_path=\"/usr/local/go/bin:/usr/bin\"\n")
			f.write("root/usr/local/go/bin/go", "")
			require.NoError(t, os.Chmod(filepath.Join(f.dir, "root/usr/local/go/bin/go"), 0o755))
		}, "sudo-go", OK, []string{"/usr/local/go/bin/go", "/etc/sudoers.d/go"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeHost(t)
			tc.breakf(f)
			r := f.check(tc.check)
			require.Equal(t, tc.status, r.Status, "%s: %s", r.Name, r.Detail)
			for _, w := range tc.want {
				require.Contains(t, r.Detail+"\n"+r.Fix, w)
			}
			if r.Status != OK {
				require.NotEmpty(t, r.Fix, "a warning or failure must say what to do")
			}
			if r.Status == Fail {
				require.True(t, r.Failed(), "a failure must name the stages it stops")
			}
		})
	}
}

var dockerChains = []Chain{
	{Family: "ip", Table: "filter", Name: "INPUT", Hook: "input", Policy: "accept"},
	{Family: "ip", Table: "filter", Name: "FORWARD", Hook: "forward", Policy: "drop"},
	{Family: "ip", Table: "filter", Name: "DOCKER-USER"},
	{Family: "ip", Table: "nat", Name: "POSTROUTING", Hook: "postrouting", Policy: "accept"},
}

// legacyDrop gives the fake host Docker's rules in legacy iptables.
func legacyDrop(f *fakeHost) {
	f.write("proc/thread-self/net/ip_tables_names", "nat\nfilter\n")
	f.execs["iptables-legacy -S FORWARD"] = "-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n"
}

// hybrid turns the fake host into a systemd hybrid one: a v1 hierarchy
// per controller, and an empty cgroup2 at /sys/fs/cgroup/unified.
func hybrid(f *fakeHost) {
	f.remove("sys/fs/cgroup")
	for _, c := range []string{"cpu", "memory", "pids"} {
		f.write("sys/fs/cgroup/"+c+"/tasks", "1\n")
	}
	f.write("sys/fs/cgroup/unified/cgroup.controllers", "")
	f.write("proc/cgroups", "cpu\t2\t1\t1\nmemory\t4\t1\t1\npids\t8\t1\t1\n")
}

// The checks that a stage's network depends on only ever look at the
// main table, like stage05-net, and not at cfs0's own routes.
func TestSubnetIgnoresOtherTablesAndTheBridge(t *testing.T) {
	f := newFakeHost(t)
	f.routes = append(f.routes,
		Route{Dst: netip.MustParsePrefix("172.29.0.0/24"), Dev: Bridge, Table: 254},
		Route{Dst: netip.MustParsePrefix("172.29.0.0/16"), Dev: "wg0", Table: 51820})
	require.Contains(t, f.check("subnet").Detail, "will use 172.29.0.0/24")

	f.routes = append(f.routes, Route{Dst: netip.MustParsePrefix("172.29.0.128/25"), Dev: "eth1", Table: 254})
	r := f.check("subnet")
	require.Equal(t, OK, r.Status)
	require.Contains(t, r.Detail, "will use 10.29.0.0/24")
	require.Contains(t, r.Detail, "172.29.0.0/24 overlaps route 172.29.0.128/25 dev eth1")
}

func TestOverlayTriesTheNearestExistingDirectory(t *testing.T) {
	f := newFakeHost(t)
	f.remove("root/var/lib/cfs")
	var tried string
	f.TryOverlay = func(dir string) error { tried = dir; return nil }
	require.Equal(t, OK, f.check("overlay").Status)
	require.Equal(t, filepath.Join(f.dir, "root/var/lib"), tried)
}

func TestParseRelease(t *testing.T) {
	for rel, want := range map[string][2]int{
		"6.8.0-45-generic": {6, 8}, "5.15.153.1-microsoft-standard-WSL2": {5, 15},
		"4.4.0-19041-Microsoft": {4, 4}, "6.10": {6, 10}, "6.11.0-rc1+": {6, 11},
	} {
		major, minor, ok := parseRelease(rel)
		require.True(t, ok, rel)
		require.Equal(t, want, [2]int{major, minor}, rel)
	}
	_, _, ok := parseRelease("garbage")
	require.False(t, ok)
}

func TestParseSecurePath(t *testing.T) {
	p, ok := parseSecurePath("# comment\nDefaults env_reset, secure_path=\"/a:/b\"\nDefaults:alice secure_path=/x\n")
	require.True(t, ok)
	require.Equal(t, "/a:/b", p)
	_, ok = parseSecurePath("Defaults env_reset\n")
	require.False(t, ok)
}

func TestMountinfo(t *testing.T) {
	f := newFakeHost(t)
	f.write("proc/self/mountinfo", ""+
		"24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"+
		"90 24 0:40 / /mnt/my\\040dir rw master:3 - tmpfs tmpfs rw,size=10k\n"+
		"91 24 0:41 / / ro - overlay overlay rw\n")
	m, ok := f.mountAt("/mnt/my dir")
	require.True(t, ok)
	require.Equal(t, "tmpfs", m.FSType)
	require.False(t, m.Shared())
	top, _ := f.mountAt("/")
	require.Equal(t, "overlay", top.FSType, "the last mount at a point hides the ones below")
	require.True(t, readOnly(f.Host, "/"))
}

func TestNeededByText(t *testing.T) {
	require.Equal(t, "stage05-net and later", Result{NeededBy: from("stage05-net")}.NeededByText())
	require.Equal(t, "every stage", Result{NeededBy: from(Stages[0])}.NeededByText())
	require.Equal(t, "stage06-user", Result{NeededBy: []string{"stage06-user"}}.NeededByText())
	require.Equal(t, "final", Result{NeededBy: from("final")}.NeededByText())
}

// The runtime's containers: none, running, and stopped but not deleted.
func TestCheckRuntime(t *testing.T) {
	h := &Host{Run: t.TempDir(), Proc: t.TempDir()}
	r := checkRuntime(h)
	require.Equal(t, OK, r.Status)
	require.Contains(t, r.Detail, "no containers")
	state := func(id string, pid int, start uint64) {
		dir := filepath.Join(h.Run, "cfs/runtime", id)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "state.json"), []byte(fmt.Sprintf(`{"id":%q,"init":{"pid":%d,"start":%d}}`, id, pid, start)), 0o644))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(h.Proc, "42"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(h.Proc, "42/stat"), []byte("42 (sleep) S 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0"), 0o644))
	state("web", 42, 777)
	r = checkRuntime(h)
	require.Equal(t, OK, r.Status)
	require.Contains(t, r.Detail, "1 running: web (PID 42)")
	state("old", 42, 1) // PID 42 was reused
	r = checkRuntime(h)
	require.Equal(t, Warn, r.Status)
	require.Contains(t, r.Detail, "1 stopped but not deleted: old")
	require.Contains(t, r.Fix, "cfs runtime delete")
}

// The engine's containers: running ones, and those whose monitor is gone.
func TestCheckEngine(t *testing.T) {
	h := &Host{StateDir: t.TempDir(), Proc: t.TempDir()}
	r := checkEngine(h)
	require.Equal(t, OK, r.Status)
	require.Contains(t, r.Detail, "0 running, 0 stopped")
	record := func(id, status string, pid int, start uint64) {
		dir := filepath.Join(h.StateDir, "engine/containers", id)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "container.json"), []byte(fmt.Sprintf(`{"id":%q,"name":"n%s","state":{"status":%q,"monitor":{"pid":%d,"start":%d}}}`, id, status, status, pid, start)), 0o644))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(h.Proc, "42"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(h.Proc, "42/stat"), []byte("42 (cfs-monitor) S 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0"), 0o644))
	record(strings.Repeat("a", 64), "running", 42, 777)
	record(strings.Repeat("b", 64), "exited", 0, 0)
	r = checkEngine(h)
	require.Equal(t, OK, r.Status)
	require.Contains(t, r.Detail, "1 running, 1 stopped")
	record(strings.Repeat("c", 64), "running", 42, 1) // its monitor's PID was reused
	r = checkEngine(h)
	require.Equal(t, Warn, r.Status)
	require.Contains(t, r.Detail, "1 whose monitor was killed: cccccccccccc (nrunning, monitor PID 42 gone)")
	require.Contains(t, r.Fix, "cleanup")
}
