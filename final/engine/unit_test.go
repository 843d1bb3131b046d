package engine

// Tests of what needs no root: the OCI config from docker's options, the
// user from an image's /etc/passwd, binds, the log and the stream.

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cfs/final/runtime"
	"cfs/internal/layout"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestCapabilities(t *testing.T) {
	c := capabilities(nil, nil, false)
	require.Equal(t, len(DefaultCaps), len(c.Bounding))
	require.Equal(t, c.Bounding, c.Effective)
	c = capabilities([]string{"net_admin"}, []string{"CAP_CHOWN", "mknod"}, false)
	require.Contains(t, c.Bounding, "CAP_NET_ADMIN")
	require.NotContains(t, c.Bounding, "CAP_CHOWN")
	require.NotContains(t, c.Bounding, "CAP_MKNOD")
	c = capabilities([]string{"SYS_ADMIN"}, []string{"ALL"}, false)
	require.Equal(t, []string{"CAP_SYS_ADMIN"}, c.Bounding)
}

func TestContainerEnv(t *testing.T) {
	c := &Container{Config: container.Config{Hostname: "box", Tty: true, Env: []string{"PATH=/bin", "A=1"}}}
	require.Equal(t, []string{"PATH=/bin", "HOSTNAME=box", "TERM=xterm", "A=1"}, containerEnv(c))
}

func TestResolveUser(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(lower, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(lower, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nweb:x:33:33::/var/www:/bin/sh\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(lower, "etc/group"), []byte("root:x:0:\nweb:x:33:\naudio:x:29:web\n"), 0o644))
	layers := []string{upper, lower}
	u, err := resolveUser("web", layers)
	require.NoError(t, err)
	require.Equal(t, uint32(33), u.UID)
	require.Equal(t, uint32(33), u.GID)
	require.Equal(t, []uint32{33, 29}, u.AdditionalGids, "the primary group first, as dockerd: id says groups=33(web),29(audio)")
	u, err = resolveUser("1000:audio", layers)
	require.NoError(t, err)
	require.Equal(t, uint32(1000), u.UID)
	require.Equal(t, uint32(29), u.GID)
	require.Equal(t, []uint32{29}, u.AdditionalGids)
	// HOME, as runc sets it: the user's home, or / for a user the image
	// does not know; never over one the environment has.
	require.Equal(t, []string{"A=1", "HOME=/var/www"}, withHome([]string{"A=1"}, 33, layers))
	require.Equal(t, []string{"HOME=/"}, withHome(nil, 1000, layers))
	require.Equal(t, []string{"HOME=/mine"}, withHome([]string{"HOME=/mine"}, 33, layers))
	_, err = resolveUser("nobody", layers)
	require.ErrorContains(t, err, "unable to find user nobody")
	// The writable layer wins over the image's.
	require.NoError(t, os.MkdirAll(filepath.Join(upper, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(upper, "etc/passwd"), []byte("web:x:44:44::/:/bin/sh\n"), 0o644))
	u, err = resolveUser("web", layers)
	require.NoError(t, err)
	require.Equal(t, uint32(44), u.UID)
}

func TestParseBind(t *testing.T) {
	b, err := ParseBind("/srv:/data:ro")
	require.NoError(t, err)
	require.Equal(t, Bind{Source: "/srv", Destination: "/data", ReadOnly: true}, b)
	b, err = ParseBind("pg-data:/var/lib/db")
	require.NoError(t, err)
	require.Equal(t, Bind{Volume: "pg-data", Destination: "/var/lib/db"}, b, "a name: a volume")
	b, err = ParseBind("cache:/c:ro,nocopy")
	require.NoError(t, err)
	require.Equal(t, Bind{Volume: "cache", Destination: "/c", ReadOnly: true, NoCopy: true}, b, "nocopy: not filled")
	for in, msg := range map[string]string{
		"rel/dir:/data": `"rel/dir" includes invalid characters for a local volume name`, "/srv:data": "container path must be absolute",
		"/srv:/": "destination can't be '/'", "/srv:/d:xx": "invalid mode", "/srv": "invalid volume specification",
		"/srv:/d:nocopy": "invalid mode: nocopy",
	} {
		_, err := ParseBind(in)
		require.ErrorContains(t, err, msg, in)
	}
}

// --mount is read as the -v and --tmpfs it stands for, with dockerd's
// checks.
func TestMountsAsFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := &container.Config{Image: "cfs/base"}
	hc := &container.HostConfig{Mounts: []mount.Mount{
		{Type: mount.TypeBind, Source: dir, Target: "/src", ReadOnly: true},
		{Type: mount.TypeVolume, Source: "data", Target: "/data"},
		{Type: mount.TypeVolume, Source: "cache", Target: "/cache", ReadOnly: true, VolumeOptions: &mount.VolumeOptions{NoCopy: true}},
		{Type: mount.TypeVolume, Target: "/anon/"},
		{Type: mount.TypeTmpfs, Target: "/run/x", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o1770}},
	}}
	require.NoError(t, CheckConfig(cfg, hc))
	require.Equal(t, []string{dir + ":/src:ro", "data:/data", "cache:/cache:ro,nocopy"}, hc.Binds)
	require.Equal(t, map[string]struct{}{"/anon": {}}, cfg.Volumes)
	require.Equal(t, map[string]string{"/run/x": "size=1048576,mode=1770"}, hc.Tmpfs)
	require.Empty(t, hc.Mounts, "the record keeps them as -v and --tmpfs")
	for _, tc := range []struct {
		m   mount.Mount
		msg string
	}{
		{mount.Mount{Type: mount.TypeBind, Source: dir + "/nope", Target: "/x"}, `invalid mount config for type "bind": bind source path does not exist: ` + dir + "/nope"},
		{mount.Mount{Type: mount.TypeBind, Target: "/x"}, "field Source must not be empty"},
		{mount.Mount{Type: mount.TypeBind, Source: dir, Target: "x"}, "invalid mount path: 'x' mount path must be absolute"},
		{mount.Mount{Type: mount.TypeVolume, Source: "vol", Target: "/"}, "destination can't be '/'"},
		{mount.Mount{Type: mount.TypeTmpfs, Source: "t", Target: "/x"}, "field Source must not be specified"},
		{mount.Mount{Type: mount.TypeImage, Source: "cfs/base", Target: "/x"}, `mount type "image" is not supported by cfs`},
		{mount.Mount{Type: mount.TypeVolume, Target: "/x", ReadOnly: true}, "give it a name"},
		{mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/x", BindOptions: &mount.BindOptions{Propagation: mount.PropagationRShared}}, "recursive and private"},
		{mount.Mount{Type: mount.TypeVolume, Source: "vol", Target: "/x", VolumeOptions: &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "nfs"}}}, "local directories"},
		{mount.Mount{Type: mount.TypeVolume, Source: "vol", Target: "/data"}, "Duplicate mount point: /data"},
		{mount.Mount{Type: mount.TypeTmpfs, Target: "/run/x"}, "Duplicate mount point: /run/x"},
	} {
		hc := &container.HostConfig{Binds: []string{"data:/data"}, Tmpfs: map[string]string{"/run/x": ""}, Mounts: []mount.Mount{tc.m}}
		require.ErrorContains(t, CheckConfig(&container.Config{Image: "cfs/base"}, hc), tc.msg, "%+v", tc.m)
	}
}

func TestLogWriterAndTail(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	defer f.Close()
	w := &logWriter{f: f, stream: "stdout"}
	_, _ = w.Write([]byte("one\ntw"))
	_, _ = w.Write([]byte("o\nthree"))
	require.NoError(t, w.flush())
	var got []string
	_, _ = f.Seek(0, 0)
	require.NoError(t, readLog(f, func(l LogLine) error { got = append(got, l.Stream+":"+l.Text); return nil }))
	require.Equal(t, []string{"stdout:one\n", "stdout:two\n", "stdout:three"}, got)
	for n, want := range map[int]int{-1: 3, 0: 0, 1: 1, 2: 2, 5: 3} {
		off, err := tailStart(f, n)
		require.NoError(t, err)
		_, _ = f.Seek(off, 0)
		count := 0
		require.NoError(t, readLog(f, func(LogLine) error { count++; return nil }))
		require.Equal(t, want, count, "tail %d", n)
	}
}

func TestFrames(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeFrame(&b, streamStderr, []byte("hi")))
	require.Equal(t, []byte{2, 0, 0, 0, 0, 0, 0, 2, 'h', 'i'}, b.Bytes(), "docker's header")
	s, p, err := readFrame(&b)
	require.NoError(t, err)
	require.Equal(t, byte(streamStderr), s)
	require.Equal(t, "hi", string(p))
}

func TestStartErrorCodes(t *testing.T) {
	require.Equal(t, 127, startError(`exec "x": executable file not found in $PATH`).Code)
	require.Equal(t, 126, startError("exec /etc: permission denied: not executable").Code)
	require.Equal(t, 126, startError("exec /etc: is a directory").Code)
	require.Equal(t, 125, startError("mount: no such device").Code)
}

// docker ps's COMMAND quotes an argument with a space in it, as dockerd
// does, so that `sh -c 'echo a; echo b'` does not read as four words.
func TestCommandQuotesArguments(t *testing.T) {
	c := &Container{Path: "sh", Args: []string{"-c", "echo started; sleep 1"}}
	require.Equal(t, "sh -c 'echo started; sleep 1'", Command(c))
	require.Equal(t, "sleep 1000", Command(&Container{Path: "sleep", Args: []string{"1000"}}))
}

func TestStatusText(t *testing.T) {
	c := &Container{State: State{Status: Created}}
	require.Equal(t, "Created", c.StatusText())
	c.State.Status, c.State.ExitCode = Exited, 3
	require.Equal(t, "Exited (3)", c.StatusText())
	c.State.Status, c.State.FinishedAt = Restarting, time.Now().Add(-2*time.Second)
	require.Equal(t, "Restarting (3) 2 seconds ago", c.StatusText())
}

// ps --filter: values of one key are alternatives, keys must all match;
// bad keys and values are refused as docker's daemon refuses them.
func TestFilter(t *testing.T) {
	web := &Container{ID: "abc123", Name: "web-1", State: State{Status: Running, Monitor: layout.Self()},
		Network: &Endpoint{Ports: []Port{{Host: 8080, Ctr: 80, Proto: "tcp"}}}}
	web.Config.Labels = map[string]string{"tier": "front"}
	web.Config.ExposedPorts = network.PortSet{network.MustParsePort("443/tcp"): {}}
	web.HostConfig.NetworkMode = "bridge"
	web.HostConfig.Binds = []string{"/srv/www:/usr/share/www:ro"}
	job := &Container{ID: "def456", Name: "job", State: State{Status: Exited, ExitCode: 3}}
	job.HostConfig.NetworkMode = "none"
	job.HostConfig.Tmpfs = map[string]string{"/scratch": ""}
	for _, tc := range []struct {
		f        Filter
		web, job bool
	}{
		{Filter{}, true, true},
		{Filter{"name": {"web"}}, true, false},
		{Filter{"name": {"/job"}}, false, true},
		{Filter{"id": {"abc"}}, true, false},
		{Filter{"status": {"running", "exited"}}, true, true},
		{Filter{"status": {"exited"}, "name": {"web"}}, false, false},
		{Filter{"exited": {"3"}}, false, true},
		{Filter{"exited": {"0"}}, false, false},
		{Filter{"label": {"tier"}}, true, false},
		{Filter{"label": {"tier=back"}}, false, false},
		{Filter{"network": {"bridge"}}, true, false},
		{Filter{"network": {networkID("none")[:12]}}, false, true},
		{Filter{"publish": {"8080"}}, true, false},
		{Filter{"publish": {"8000-8100/tcp"}}, true, false},
		{Filter{"publish": {"8080/udp"}}, false, false},
		{Filter{"publish": {"80"}}, false, false},
		{Filter{"expose": {"80"}}, true, false},
		{Filter{"expose": {"443/tcp"}}, true, false},
		{Filter{"volume": {"/srv/www"}}, true, false},
		{Filter{"volume": {"/usr/share/www"}}, true, false},
		{Filter{"volume": {"/scratch"}}, false, true},
		{Filter{"health": {"none"}}, true, true},
		{Filter{"health": {"healthy"}}, false, false},
		{Filter{"is-task": {"false"}}, true, true},
		{Filter{"isolation": {"default"}}, true, true},
		{Filter{"isolation": {"hyperv"}}, true, true}, // dockerd on Linux: no isolation modes to tell apart
	} {
		require.NoError(t, tc.f.Check(), tc.f)
		require.Equal(t, tc.web, tc.f.match(web), "web: %v", tc.f)
		require.Equal(t, tc.job, tc.f.match(job), "job: %v", tc.f)
	}
	require.True(t, Filter{"exited": {"3"}}.All())
	require.False(t, Filter{"name": {"web"}}.All())
	require.EqualError(t, Filter{"runtime": {"x"}}.Check(), "invalid filter 'runtime' (cfs knows id, name, status, exited, label, network, publish, expose, volume, health, is-task, isolation, ancestor, before, since)")
	require.EqualError(t, Filter{"health": {"x"}}.Check(), "invalid filter 'health=x'")
	require.EqualError(t, Filter{"publish": {"http"}}.Check(), "invalid filter 'publish=http'")
	require.EqualError(t, Filter{"status": {"up"}}.Check(), "invalid filter 'status=up'")
	require.EqualError(t, Filter{"exited": {"x"}}.Check(), "invalid filter 'exited=x'")
}

// prune removes the containers that are not running, and only those,
// and counts what their writable layers held: on an engine of its own,
// with records made by hand (no container runs).
func TestPrune(t *testing.T) {
	e := &Engine{Root: t.TempDir(), RunRoot: t.TempDir()}
	require.NoError(t, e.init())
	add := func(name, status string, upper int) *Container {
		c := &Container{ID: NewID(), Name: name, State: State{Status: status}}
		if status == Running {
			c.State.Monitor = layout.Self() // alive: this test
		}
		require.NoError(t, os.MkdirAll(filepath.Join(e.Dir(c.ID), "upper"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(e.Dir(c.ID), "upper", "file"), make([]byte, upper), 0o644))
		require.NoError(t, e.save(c))
		require.NoError(t, e.claimName(c.ID, name))
		return c
	}
	up, done, made := add("up", Running, 1000), add("done", Exited, 300), add("made", Created, 20)
	removed, reclaimed, err := e.Prune(nil)
	require.NoError(t, err)
	var ids []string
	for _, c := range removed {
		ids = append(ids, c.ID)
	}
	require.ElementsMatch(t, []string{done.ID, made.ID}, ids)
	require.Equal(t, uint64(320), reclaimed)
	list, err := e.List()
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, up.ID, list[0].ID)
	_, err = os.Lstat(e.path("names", "done"))
	require.ErrorIs(t, err, os.ErrNotExist, "the name goes with it")
	removed, reclaimed, err = e.Prune(nil)
	require.NoError(t, err)
	require.Empty(t, removed)
	require.Zero(t, reclaimed)
}

// rm of a container that a start holding its lock makes run meanwhile
// leaves its files: Remove looks again once it has the lock.
func TestRemoveRacesStart(t *testing.T) {
	e := &Engine{Root: t.TempDir(), RunRoot: t.TempDir()}
	require.NoError(t, e.init())
	c := &Container{ID: NewID(), Name: "racer", State: State{Status: Created}}
	require.NoError(t, os.MkdirAll(e.Dir(c.ID), 0o755))
	require.NoError(t, e.save(c))
	unlock, err := e.lock(c.ID) // the start
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- e.Remove(c.ID, false, false) }()
	// Wait until the rm waits for the lock: /proc/locks lists a blocked
	// request with "->" on the directory's inode.
	var st unix.Stat_t
	require.NoError(t, unix.Stat(e.Dir(c.ID), &st))
	inode := fmt.Sprintf(":%d ", st.Ino)
	require.Eventually(t, func() bool {
		locks, _ := os.ReadFile("/proc/locks")
		for _, l := range strings.Split(string(locks), "\n") {
			if strings.Contains(l, "->") && strings.Contains(l, inode) {
				return true
			}
		}
		return false
	}, 10*time.Second, time.Millisecond)
	c.State = State{Status: Running, Monitor: layout.Self()}
	require.NoError(t, e.save(c))
	unlock()
	var conflict *ConflictError
	require.ErrorAs(t, <-done, &conflict)
	_, err = os.Stat(filepath.Join(e.Dir(c.ID), "container.json"))
	require.NoError(t, err, "a running container's files stay")
}

// Unix times as docker's clients send them, to the nanosecond.
func TestParseUnixTime(t *testing.T) {
	for v, want := range map[string]time.Time{
		"1765064888":           time.Unix(1765064888, 0),
		"1765064888.397964746": time.Unix(1765064888, 397964746),
		"1765064888.5":         time.Unix(1765064888, 500000000),
	} {
		got, err := ParseUnixTime(v)
		require.NoError(t, err, v)
		require.True(t, want.Equal(got), "%s: %v", v, got)
	}
	for _, v := range []string{"", "x", "1.2.3", "1.1234567891", "1e9", "1.-5"} {
		_, err := ParseUnixTime(v)
		require.Error(t, err, v)
	}
}

// The config the engine writes is one the runtime accepts, with docker's
// defaults in it.
func TestSpecValidates(t *testing.T) {
	e := &Engine{Root: t.TempDir()}
	c := &Container{ID: strings.Repeat("ab", 32), Name: "x", Path: "sh", Args: []string{"-c", "true"},
		Config: container.Config{Hostname: "x", Tty: true, User: "0", WorkingDir: "/w"},
		HostConfig: container.HostConfig{NetworkMode: "bridge", Binds: []string{"/srv:/data:ro"}, Tmpfs: map[string]string{"/t": "size=1m"},
			ReadonlyRootfs: true, Resources: container.Resources{Memory: 64 << 20, NanoCPUs: 5e8}}}
	init := true
	c.HostConfig.Init = &init
	require.NoError(t, os.MkdirAll(filepath.Join(e.Dir(c.ID), "rootfs"), 0o755))
	s, err := e.Spec(c, nil)
	require.NoError(t, err)
	require.NoError(t, runtime.Validate(s, e.Dir(c.ID)))
	require.NotNil(t, s.Linux.Seccomp, "docker's default profile")
	require.Equal(t, "true", s.Annotations[runtime.InitAnnotation])
	require.True(t, s.Root.Readonly)
	require.Equal(t, int64(50000), *s.Linux.Resources.CPU.Quota)
	require.Equal(t, []string{"sh", "-c", "true"}, s.Process.Args)
	require.Equal(t, "/w", s.Process.Cwd)
	var dsts []string
	for _, m := range s.Mounts {
		dsts = append(dsts, m.Destination)
	}
	require.Subset(t, dsts, []string{"/proc", "/dev", "/sys", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/data", "/t"})
}

// The networks as records make them, with no root and no bridge: a
// running container is on its network with its address, a stopped one
// on none; the bridge's subnet is the running containers'.
func TestNetworkViews(t *testing.T) {
	e := &Engine{Root: t.TempDir(), RunRoot: t.TempDir()}
	require.NoError(t, e.init())
	add := func(name, mode, status string, ep *Endpoint) *Container {
		c := &Container{ID: NewID(), Name: name, State: State{Status: status}, Network: ep}
		c.HostConfig.NetworkMode = container.NetworkMode(mode)
		if status == Running {
			c.State.Monitor = layout.Self() // alive: this test
		}
		require.NoError(t, os.MkdirAll(e.Dir(c.ID), 0o755))
		require.NoError(t, e.save(c))
		return c
	}
	web := add("web", "bridge", Running, &Endpoint{IP: "10.9.0.2", Gateway: "10.9.0.1", MAC: "02:42:0a:09:00:02", PrefixLen: 24})
	old := add("old", "bridge", Exited, &Endpoint{IP: "10.9.0.3", Gateway: "10.9.0.1", PrefixLen: 24})
	lo := add("lo", "none", Running, nil)

	list, err := e.Networks()
	require.NoError(t, err)
	require.Len(t, list, 3)
	br, host, none := list[0], list[1], list[2]
	require.Equal(t, []string{"bridge", "host", "null"}, []string{br.Driver, host.Driver, none.Driver})
	require.Equal(t, "10.9.0.0/24", br.IPAM.Config[0].Subnet.String())
	require.Equal(t, "10.9.0.1", br.IPAM.Config[0].Gateway.String())
	require.Equal(t, "10.9.0.2/24", br.Containers[web.ID].IPv4Address.String())
	require.Equal(t, "02:42:0a:09:00:02", br.Containers[web.ID].MacAddress.String())
	require.NotContains(t, br.Containers, old.ID, "a stopped container is on no network")
	require.Empty(t, host.Containers)
	require.Empty(t, host.IPAM.Config)
	require.Equal(t, "lo", none.Containers[lo.ID].Name)

	for _, arg := range []string{"bridge", br.ID, br.ID[:4]} {
		n, err := e.Network(arg)
		require.NoError(t, err, arg)
		require.Equal(t, "bridge", n.Name, arg)
	}
	_, err = e.Network("nope")
	require.EqualError(t, err, "network nope not found (cfs has the networks bridge, host and none)")
	_, err = e.Network("")
	require.Error(t, err)

	for _, tc := range []struct {
		f    Filter
		want []string
	}{
		{Filter{}, []string{"bridge", "host", "none"}},
		{Filter{"name": {"o"}}, []string{"host", "none"}},
		{Filter{"driver": {"null", "host"}}, []string{"host", "none"}},
		{Filter{"id": {host.ID[3:9]}}, []string{"host"}},
		{Filter{"type": {"builtin"}, "scope": {"local"}}, []string{"bridge", "host", "none"}},
		{Filter{"type": {"custom"}}, nil},
	} {
		match, err := NetworkMatcher(tc.f)
		require.NoError(t, err, tc.f)
		var got []string
		for _, n := range list {
			if match(n) {
				got = append(got, n.Name)
			}
		}
		require.Equal(t, tc.want, got, tc.f)
	}
	_, err = NetworkMatcher(Filter{"label": {"x"}})
	require.EqualError(t, err, "invalid filter 'label' (cfs knows id, name, driver, scope, type)")
	_, err = NetworkMatcher(Filter{"type": {"mine"}})
	require.EqualError(t, err, "invalid filter: 'type'='mine' (want builtin or custom)")
}

// restartDelay is dockerd's restart manager: which ends restart, and the
// wait before each restart.
func TestRestartDelay(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		policy   string
		max      int
		stopped  bool
		restarts int
		delay    time.Duration
		status   int
		ran      time.Duration
		want     time.Duration // 0: no restart
	}{
		{policy: "", status: 1},
		{policy: "no", status: 1},
		{policy: "always", status: 0, want: 100 * ms},
		{policy: "always", status: 1, delay: 100 * ms, want: 200 * ms},
		{policy: "always", status: 1, delay: 40 * time.Second, want: time.Minute},
		{policy: "always", status: 1, delay: 800 * ms, ran: 10 * time.Second, want: 100 * ms},
		{policy: "always", status: 137, stopped: true},
		{policy: "unless-stopped", status: 0, want: 100 * ms},
		{policy: "unless-stopped", status: 137, stopped: true},
		{policy: "on-failure", status: 0},
		{policy: "on-failure", status: 3, restarts: 50, want: 100 * ms},
		{policy: "on-failure", max: 2, status: 3, restarts: 1, want: 100 * ms},
		{policy: "on-failure", max: 2, status: 3, restarts: 2},
	} {
		c := &Container{}
		c.HostConfig.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyMode(tc.policy), MaximumRetryCount: tc.max}
		c.State = State{Stopped: tc.stopped, Restarts: tc.restarts, Delay: tc.delay}
		d, ok := c.restartDelay(tc.status, tc.ran)
		require.Equal(t, tc.want != 0, ok, "%+v", tc)
		require.Equal(t, tc.want, d, "%+v", tc)
	}
}

// The kernel's list format, as cpuset.cpus takes it, and dockerd's checks
// of the limits, in its words.
func TestCheckResources(t *testing.T) {
	for in, want := range map[string][]int{"0": {0}, "0-2,4": {0, 1, 2, 4}, "1,1": {1}} {
		got, err := parseCPUList(in)
		require.NoError(t, err, in)
		require.Len(t, got, len(want), in)
		for _, n := range want {
			require.True(t, got[n], "%s has %d", in, n)
		}
	}
	for _, in := range []string{"", "x", "2-1", "-1", "0,", "1-"} {
		_, err := parseCPUList(in)
		require.Error(t, err, in)
	}
	r := container.Resources{CPUShares: -5}
	require.NoError(t, checkResources(&r))
	require.Equal(t, int64(2), r.CPUShares, "brought to the kernel's least")
	r = container.Resources{CPUShares: 1 << 20}
	require.NoError(t, checkResources(&r))
	require.Equal(t, int64(262144), r.CPUShares, "and most")
	for _, tc := range []struct {
		r    container.Resources
		want string
	}{
		{container.Resources{Memory: 1 << 20}, "Minimum memory limit allowed is 6MB"},
		{container.Resources{MemorySwap: 64 << 20}, "You should always set the Memory limit"},
		{container.Resources{Memory: 64 << 20, MemorySwap: 32 << 20}, "Minimum memoryswap limit should be larger"},
		{container.Resources{MemoryReservation: 1 << 20}, "Minimum memory reservation allowed is 6MB"},
		{container.Resources{Memory: 8 << 20, MemoryReservation: 16 << 20}, "can not be less than memory reservation limit"},
		{container.Resources{CpusetCpus: "0-"}, "Invalid value 0- for cpuset cpus"},
		{container.Resources{CpusetCpus: "4096"}, "Requested CPUs are not available - requested 4096"},
		{container.Resources{CpusetMems: "4096"}, "Requested memory nodes are not available - requested 4096"},
		{container.Resources{NanoCPUs: 1e9, CPUQuota: 50000}, "Conflicting options: Nano CPUs and CPU Quota cannot both be set"},
		{container.Resources{CPUPeriod: 2000000}, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"},
		{container.Resources{CPUQuota: 999}, "CPU cfs quota can not be less than 1ms (i.e. 1000)"},
	} {
		require.ErrorContains(t, checkResources(&tc.r), tc.want)
	}
	require.NoError(t, checkResources(&container.Resources{Memory: 64 << 20, MemoryReservation: 32 << 20, CpusetCpus: "0", CpusetMems: "0"}))
	require.NoError(t, checkResources(&container.Resources{CPUPeriod: 50000, CPUQuota: -1}), "-1: no quota")
}

// --dns, --dns-search and --dns-option replace the host's lines of their
// kind, and keep the others.
func TestWithDNS(t *testing.T) {
	host := "nameserver 10.0.0.2\nsearch corp.example\noptions edns0\n"
	require.Equal(t, host, withDNS(host, nil))
	hc := &container.HostConfig{DNS: []netip.Addr{netip.MustParseAddr("9.9.9.9")}, DNSOptions: []string{"ndots:2"}}
	require.Equal(t, "nameserver 9.9.9.9\noptions ndots:2\nsearch corp.example\n", withDNS(host, dnsLines(hc)))
	hc = &container.HostConfig{DNSSearch: []string{"a.example", "b.example"}}
	require.Equal(t, "search a.example b.example\nnameserver 10.0.0.2\noptions edns0\n", withDNS("nameserver 10.0.0.2\ndomain x\noptions edns0\n", dnsLines(hc)))
	require.Equal(t, "size=65536k", shmSize(0), "docker's 64 MiB")
	require.Equal(t, "size=8192k", shmSize(8<<20))
}

// What cfs does not do is refused, not left out without a word; the
// docker CLI's defaults are not refused.
func TestUnsupportedAndEtcChecks(t *testing.T) {
	no, yes, minus1 := false, true, int64(-1)
	ok := &container.HostConfig{IpcMode: "private", Runtime: "runc", LogConfig: container.LogConfig{Type: "json-file"},
		Resources: container.Resources{OomKillDisable: &no, MemorySwappiness: &minus1}, NetworkMode: "bridge"}
	require.NoError(t, CheckConfig(&container.Config{Image: "cfs/base"}, ok))
	for _, tc := range []struct {
		hc  container.HostConfig
		cfg container.Config
		msg string
	}{
		{hc: container.HostConfig{UsernsMode: "host"}, msg: "--userns is not supported by cfs"},
		{hc: container.HostConfig{Links: []string{"other:db"}}, msg: "--link is not supported by cfs"},
		{hc: container.HostConfig{LogConfig: container.LogConfig{Config: map[string]string{"max-size": "1m"}}}, msg: "--log-opt is not supported"},
		{hc: container.HostConfig{Resources: container.Resources{OomKillDisable: &yes}}, msg: "--oom-kill-disable is not supported"},
		{hc: container.HostConfig{Resources: container.Resources{BlkioWeight: 300}}, msg: "--blkio-weight is not supported"},
		{cfg: container.Config{Healthcheck: &container.HealthConfig{Test: []string{"CMD", "true"}}}, msg: "--health-cmd is not supported"},
		{hc: container.HostConfig{ExtraHosts: []string{"db"}}, msg: `bad format for add-host: "db"`},
		{hc: container.HostConfig{ExtraHosts: []string{"gw:host-gateway"}, NetworkMode: "none"}, msg: "--network none has no way to the host"},
		{hc: container.HostConfig{DNS: []netip.Addr{netip.MustParseAddr("1.1.1.1")}, NetworkMode: "host"}, msg: "conflicting options: dns and the network mode"},
		{hc: container.HostConfig{Sysctls: map[string]string{"vm.swappiness": "1"}}, msg: "sysctl 'vm.swappiness' is not allowed"},
		{hc: container.HostConfig{Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}, NetworkMode: "host"}, msg: "not allowed in host network mode"},
		{hc: container.HostConfig{Resources: container.Resources{Ulimits: []*container.Ulimit{{Name: "nofile", Soft: 10, Hard: 5}}}}, msg: "ulimit soft limit must be less than or equal to hard limit"},
		{hc: container.HostConfig{ShmSize: -1}, msg: "SHM size can not be less than 0"},
	} {
		tc.cfg.Image = "cfs/base"
		require.ErrorContains(t, CheckConfig(&tc.cfg, &tc.hc), tc.msg)
	}
	for s, want := range map[string][2]string{"db:10.0.0.5": {"db", "10.0.0.5"}, "db=10.0.0.5": {"db", "10.0.0.5"},
		"v6:[::1]": {"v6", "::1"}, "v6:::1": {"v6", "::1"}, "gw:host-gateway": {"gw", "host-gateway"}} {
		name, ip, err := ParseExtraHost(s)
		require.NoError(t, err, s)
		require.Equal(t, want, [2]string{name, ip}, s)
	}
}

// --pid, --ipc, --uts: host leaves the namespace out (and --ipc host
// binds the host's /dev/shm); container:NAME joins the running
// container's by its /proc/PID/ns path.
func TestNamespaceModes(t *testing.T) {
	e := &Engine{Root: t.TempDir(), RunRoot: t.TempDir()}
	require.NoError(t, e.init())
	other := &Container{ID: strings.Repeat("cd", 32), Name: "other", State: State{Status: Running, Pid: os.Getpid(), Monitor: layout.Self()}}
	require.NoError(t, os.MkdirAll(e.Dir(other.ID), 0o711))
	require.NoError(t, e.save(other))
	require.NoError(t, e.claimName(other.ID, "other"))
	c := &Container{ID: strings.Repeat("ab", 32), Name: "x", Path: "true", Config: container.Config{Hostname: "x"},
		HostConfig: container.HostConfig{NetworkMode: "none", PidMode: "host", IpcMode: "host", UTSMode: "host"}}
	require.NoError(t, os.MkdirAll(filepath.Join(e.Dir(c.ID), "rootfs"), 0o755))
	kinds := func(s *specs.Spec) map[specs.LinuxNamespaceType]string {
		out := map[specs.LinuxNamespaceType]string{}
		for _, n := range s.Linux.Namespaces {
			out[n.Type] = n.Path
		}
		return out
	}
	s, err := e.Spec(c, nil)
	require.NoError(t, err)
	require.NoError(t, runtime.Validate(s, e.Dir(c.ID)))
	ns := kinds(s)
	for _, typ := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace} {
		require.NotContains(t, ns, typ)
	}
	require.Contains(t, ns, specs.MountNamespace)
	require.Empty(t, s.Hostname)
	require.Contains(t, s.Mounts, specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "rprivate"}})

	c.HostConfig = container.HostConfig{NetworkMode: "none", PidMode: "container:other", IpcMode: container.IpcMode("container:" + other.ID[:12])}
	s, err = e.Spec(c, nil)
	require.NoError(t, err)
	ns = kinds(s)
	require.Equal(t, fmt.Sprintf("/proc/%d/ns/pid", os.Getpid()), ns[specs.PIDNamespace])
	require.Equal(t, fmt.Sprintf("/proc/%d/ns/ipc", os.Getpid()), ns[specs.IPCNamespace])
	require.Equal(t, "", ns[specs.UTSNamespace], "a UTS namespace of its own")
	other.State = State{Status: Exited}
	require.NoError(t, e.save(other))
	_, err = e.Spec(c, nil)
	require.EqualError(t, err, "cannot join PID namespace of a non running container: other")

	for hc, msg := range map[*container.HostConfig]string{
		{PidMode: "private"}:                   "invalid PID mode: private (cfs has host and container:NAME)",
		{IpcMode: "none"}:                      "invalid IPC mode: none (cfs has host and container:NAME)",
		{UTSMode: "container:x"}:               "invalid UTS mode: container:x (cfs has host)",
		{PidMode: "container:"}:                "invalid PID mode: container: (cfs has host and container:NAME)",
		{UTSMode: "host", NetworkMode: "none"}: "conflicting options: hostname and the UTS mode",
	} {
		require.EqualError(t, CheckConfig(&container.Config{Image: "x", Hostname: "h"}, hc), msg)
	}
}

// --device-cgroup-rule in the device cgroup's own form; --oom-score-adj
// in its range.
func TestDeviceRuleAndOOMScore(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	for s, want := range map[string]specs.LinuxDeviceCgroup{
		"c 1:3 rwm": {Allow: true, Type: "c", Major: n(1), Minor: n(3), Access: "rwm"},
		"b 8:* r":   {Allow: true, Type: "b", Major: n(8), Access: "r"},
		"a *:* m":   {Allow: true, Type: "a", Access: "m"},
	} {
		got, err := ParseDeviceRule(s)
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
	}
	for _, s := range []string{"c 1:3", "x 1:3 rwm", "c 1 rwm", "c a:3 rwm", "c 1:3 rwx", "c -1:3 r"} {
		_, err := ParseDeviceRule(s)
		require.ErrorContains(t, err, "invalid device cgroup rule", s)
	}
	require.EqualError(t, CheckConfig(&container.Config{Image: "x"}, &container.HostConfig{OomScoreAdj: 1001}),
		"Invalid value 1001, range for oom score adj is [-1000, 1000]")

	e := &Engine{Root: t.TempDir()}
	c := &Container{ID: strings.Repeat("ab", 32), Name: "x", Path: "true", Config: container.Config{Hostname: "x"},
		HostConfig: container.HostConfig{NetworkMode: "none", OomScoreAdj: 500, Resources: container.Resources{DeviceCgroupRules: []string{"c 10:200 rwm"}}}}
	require.NoError(t, os.MkdirAll(filepath.Join(e.Dir(c.ID), "rootfs"), 0o755))
	s, err := e.Spec(c, nil)
	require.NoError(t, err)
	require.NoError(t, runtime.Validate(s, e.Dir(c.ID)))
	require.Equal(t, 500, *s.Process.OOMScoreAdj)
	require.Contains(t, s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(10), Minor: n(200), Access: "rwm"})
}
