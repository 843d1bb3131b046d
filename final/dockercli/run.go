package dockercli

// run, create, start and attach: a container made from an image and the
// flags (docker's names and defaults), started, and attached to when it
// runs in the foreground; detach.go has the keys that leave it running.

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"cfs/final/engine"
	"cfs/final/image"
	"cfs/final/runtime"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// runFlags are the flags run and create share.
type runFlags struct {
	name, hostname, workdir, user, network, restart  string
	entrypoint                                       *string
	env, envFile, labels, publish, volumes, tmpfs    []string
	mounts, devices, deviceRules                     []string
	addHosts, dns, dnsSearch, dnsOptions, groupAdd   []string
	ulimits, sysctls, expose, volumesFrom            []string
	shmSize, stopSignal, pid, ipc, uts               string
	stopTimeout, oomScoreAdj                         int
	capAdd, capDrop, securityOpt                     []string
	limits                                           limitFlags
	interactive, tty, publishAll, readOnly, init, rm bool
	privileged                                       bool
}

func (f *runFlags) register(fs *pflag.FlagSet) {
	// -h is docker's --hostname here, not --help.
	fs.Bool("help", false, "print usage")
	fs.StringVar(&f.name, "name", "", "assign a name to the container")
	fs.StringVarP(&f.hostname, "hostname", "h", "", "container host name")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set environment variables (`KEY=VALUE`, or KEY to take the host's)")
	fs.StringArrayVar(&f.envFile, "env-file", nil, "read in a file of environment variables")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "set meta data on a container (`KEY=VALUE`; ps --filter label=KEY finds it)")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fs.StringVarP(&f.user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	fs.String("entrypoint", "", "overwrite the default ENTRYPOINT of the image")
	f.limits.register(fs)
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a container's port(s) to the host (`[HOSTPORT:]CTRPORT[/PROTO]`)")
	fs.BoolVarP(&f.publishAll, "publish-all", "P", false, "publish all exposed ports to random ports")
	fs.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind mount a host directory or a volume (`HOST|NAME:CTR[:ro]`; CTR alone: a volume of its own)")
	fs.StringArrayVar(&f.volumesFrom, "volumes-from", nil, "mount the volumes and binds of a container (`CONTAINER[:ro|rw]`)")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs directory (`PATH[:OPTIONS]`)")
	fs.StringArrayVar(&f.mounts, "mount", nil, "attach a filesystem mount to the container (`MOUNT`: type=bind|volume|tmpfs,src=…,dst=…[,ro])")
	fs.StringArrayVar(&f.devices, "device", nil, "add a host device to the container (`HOST[:CTR][:PERMS]`, PERMS of r, w, m)")
	fs.StringArrayVar(&f.addHosts, "add-host", nil, "add a line to /etc/hosts (`NAME:IP`; IP host-gateway: the host)")
	fs.StringArrayVar(&f.dns, "dns", nil, "set a DNS server in /etc/resolv.conf")
	fs.StringArrayVar(&f.dnsSearch, "dns-search", nil, "set a DNS search domain in /etc/resolv.conf")
	fs.StringArrayVar(&f.dnsOptions, "dns-option", nil, "set a DNS option in /etc/resolv.conf")
	fs.StringArrayVar(&f.expose, "expose", nil, "expose a port (`PORT[/PROTO]`, which -P publishes)")
	fs.StringArrayVar(&f.groupAdd, "group-add", nil, "add more groups to the container's process (names or GIDs)")
	fs.StringArrayVar(&f.ulimits, "ulimit", nil, "set a resource limit (`NAME=SOFT[:HARD]`, as nofile=1024:2048)")
	fs.StringArrayVar(&f.sysctls, "sysctl", nil, "set a namespaced kernel parameter (`KEY=VALUE`)")
	fs.StringVar(&f.shmSize, "shm-size", "", "size of /dev/shm (default 64m)")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "signal to stop the container (default: the image's, else SIGTERM)")
	fs.IntVar(&f.stopTimeout, "stop-timeout", 0, "seconds stop waits before it kills the container (default 10; -1: for ever)")
	fs.StringVar(&f.pid, "pid", "", "PID namespace to use: host, or container:NAME (default: its own)")
	fs.StringVar(&f.ipc, "ipc", "", "IPC namespace to use: host, or container:NAME (default: its own)")
	fs.StringVar(&f.uts, "uts", "", "UTS namespace to use: host (default: its own)")
	fs.StringArrayVar(&f.deviceRules, "device-cgroup-rule", nil, "add a rule to the cgroup's allowed devices list (`RULE`: TYPE MAJOR:MINOR ACCESS, as 'c 1:3 rwm')")
	fs.IntVar(&f.oomScoreAdj, "oom-score-adj", 0, "tune the host's OOM preferences for the container (-1000 to 1000)")
	fs.StringVar(&f.network, "network", "default", "connect a container to a network: bridge, host or none")
	fs.StringVar(&f.network, "net", "default", "")
	_ = fs.MarkHidden("net")
	fs.BoolVar(&f.readOnly, "read-only", false, "mount the container's root filesystem as read only")
	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "add Linux capabilities")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "drop Linux capabilities")
	fs.StringArrayVar(&f.securityOpt, "security-opt", nil, "security options (no-new-privileges, seccomp=unconfined)")
	fs.BoolVar(&f.init, "init", false, "run an init inside the container that forwards signals and reaps processes")
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open even if not attached")
	fs.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fs.StringVar(&f.restart, "restart", "no", "restart policy to apply when a container exits: no, always, unless-stopped, on-failure[:N]")
	fs.BoolVar(&f.privileged, "privileged", false, "give extended privileges to this container")
}

// parseRestart reads --restart as docker's CLI does (no, always,
// unless-stopped, on-failure[:N]); the engine checks the policy.
func parseRestart(policy string) (container.RestartPolicy, error) {
	name, count, hasCount := strings.Cut(policy, ":")
	p := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	switch {
	case hasCount && name == "":
		return p, errors.New("invalid restart policy format: no policy provided before colon")
	case count != "":
		n, err := strconv.Atoi(count)
		if err != nil {
			return p, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	return p, nil
}

// options turns the flags into docker's Config and HostConfig, checking
// each as docker's CLI does.
func (f *runFlags) options(cmd *cobra.Command, args []string) (engine.CreateOptions, error) {
	var o engine.CreateOptions
	o.Name = f.name
	cfg := &o.Config
	hc := &o.HostConfig
	cfg.Image = args[0]
	if len(args) > 1 {
		cfg.Cmd = args[1:]
	}
	if cmd.Flags().Changed("entrypoint") {
		ep, _ := cmd.Flags().GetString("entrypoint")
		cfg.Entrypoint = []string{}
		if ep != "" {
			cfg.Entrypoint = []string{ep}
		}
	}
	cfg.Hostname, cfg.WorkingDir, cfg.User = f.hostname, f.workdir, f.user
	cfg.Tty, cfg.OpenStdin = f.tty, f.interactive
	if f.hostname != "" {
		if err := checkHostname(f.hostname); err != nil {
			return o, err
		}
	}
	policy, err := parseRestart(f.restart)
	if err != nil {
		return o, err
	}
	hc.RestartPolicy = policy
	if f.workdir != "" && !strings.HasPrefix(f.workdir, "/") {
		return o, fmt.Errorf("the working directory '%s' is invalid, it needs to be an absolute path", f.workdir)
	}
	for _, file := range f.envFile {
		env, err := readEnvFile(file)
		if err != nil {
			return o, err
		}
		cfg.Env = append(cfg.Env, env...)
	}
	env, err := envFlags(f.env)
	if err != nil {
		return o, err
	}
	cfg.Env = append(cfg.Env, env...)
	if cfg.Labels, err = labelMap(f.labels); err != nil {
		return o, err
	}
	if hc.Resources, err = f.limits.resources(cmd.Flags()); err != nil {
		return o, err
	}
	if p := hc.PidsLimit; p != nil && *p == 0 {
		hc.PidsLimit = nil // 0: no limit of its own
	}
	hc.NetworkMode = container.NetworkMode(f.network)
	for _, p := range f.publish {
		port, binding, err := parsePublish(p)
		if err != nil {
			return o, err
		}
		if hc.PortBindings == nil {
			hc.PortBindings = network.PortMap{}
		}
		hc.PortBindings[port] = append(hc.PortBindings[port], binding)
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		cfg.ExposedPorts[port] = struct{}{}
	}
	hc.PublishAllPorts = f.publishAll
	for _, v := range f.volumes {
		if strings.Contains(v, ":") {
			hc.Binds = append(hc.Binds, v)
			continue
		}
		// -v /path: a volume of the container's own (anonymous).
		if !path.IsAbs(v) {
			return o, fmt.Errorf("invalid volume specification: '%s': invalid mount config for type \"volume\": invalid mount path: '%s' mount path must be absolute", v, v)
		}
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[path.Clean(v)] = struct{}{}
	}
	for _, t := range f.tmpfs {
		dst, opts, _ := strings.Cut(t, ":")
		if hc.Tmpfs == nil {
			hc.Tmpfs = map[string]string{}
		}
		hc.Tmpfs[dst] = opts
	}
	if err := f.etcAndProcess(cmd, cfg, hc); err != nil {
		return o, err
	}
	hc.VolumesFrom = f.volumesFrom
	hc.DeviceCgroupRules, hc.OomScoreAdj = f.deviceRules, f.oomScoreAdj
	hc.PidMode, hc.IpcMode, hc.UTSMode = container.PidMode(f.pid), container.IpcMode(f.ipc), container.UTSMode(f.uts)
	for _, m := range f.mounts {
		mt, err := parseMount(m)
		if err != nil {
			return o, fmt.Errorf("invalid argument %q for \"--mount\" flag: %v", m, err)
		}
		hc.Mounts = append(hc.Mounts, mt)
	}
	for _, d := range f.devices {
		m, err := parseDevice(d)
		if err != nil {
			return o, fmt.Errorf("invalid argument %q for \"--device\" flag: %v", d, err)
		}
		hc.Devices = append(hc.Devices, m)
	}
	hc.ReadonlyRootfs = f.readOnly
	hc.CapAdd, hc.CapDrop, hc.SecurityOpt = f.capAdd, f.capDrop, f.securityOpt
	hc.Privileged = f.privileged
	if f.init {
		hc.Init = &f.init
	}
	hc.AutoRemove = f.rm
	if f.rm && !policy.IsNone() {
		return o, errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	err = engine.CheckConfig(cfg, hc)
	return o, err
}

// parseDevice reads docker's --device HOST[:CTR][:PERMS]: CTR is HOST
// unless given, PERMS rwm.
func parseDevice(s string) (container.DeviceMapping, error) {
	parts := strings.Split(s, ":")
	m := container.DeviceMapping{PathOnHost: parts[0], CgroupPermissions: "rwm"}
	switch {
	case len(parts) > 3 || parts[0] == "":
		return m, fmt.Errorf("bad format for path: %s", s)
	case len(parts) == 3 && !engine.ValidDeviceMode(parts[2]):
		return m, fmt.Errorf("bad mode specified: %s", parts[2])
	case len(parts) == 3:
		m.PathInContainer, m.CgroupPermissions = parts[1], parts[2]
	case len(parts) == 2 && engine.ValidDeviceMode(parts[1]):
		m.CgroupPermissions = parts[1]
	case len(parts) == 2:
		m.PathInContainer = parts[1]
	}
	if m.PathInContainer == "" {
		m.PathInContainer = m.PathOnHost
	}
	if !path.IsAbs(m.PathInContainer) {
		return m, fmt.Errorf("%s is not an absolute path", m.PathInContainer)
	}
	return m, nil
}

// etcAndProcess reads --add-host, --dns, --dns-search, --dns-option,
// --expose, --group-add, --ulimit, --sysctl, --shm-size, --stop-signal
// and --stop-timeout, in docker's CLI's words; the engine checks what
// they say.
func (f *runFlags) etcAndProcess(cmd *cobra.Command, cfg *container.Config, hc *container.HostConfig) error {
	bad := func(flag, v string, err error) error {
		return fmt.Errorf("invalid argument %q for \"--%s\" flag: %v", v, flag, err)
	}
	for _, h := range f.addHosts {
		if _, _, err := engine.ParseExtraHost(h); err != nil {
			return bad("add-host", h, err)
		}
	}
	hc.ExtraHosts = f.addHosts
	for _, d := range f.dns {
		ip, err := netip.ParseAddr(d)
		if err != nil {
			return bad("dns", d, fmt.Errorf("IP address is not correctly formatted: %s", d))
		}
		hc.DNS = append(hc.DNS, ip)
	}
	hc.DNSSearch, hc.DNSOptions, hc.GroupAdd = f.dnsSearch, f.dnsOptions, f.groupAdd
	for _, e := range f.expose {
		port, err := network.ParsePort(e)
		if err != nil {
			return bad("expose", e, err)
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		cfg.ExposedPorts[port] = struct{}{}
	}
	for _, u := range f.ulimits {
		l, err := units.ParseUlimit(u)
		if err != nil {
			return bad("ulimit", u, err)
		}
		hc.Ulimits = append(hc.Ulimits, l)
	}
	for _, kv := range f.sysctls {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return bad("sysctl", kv, fmt.Errorf("sysctl '%s' is not allowed (want KEY=VALUE)", kv))
		}
		if hc.Sysctls == nil {
			hc.Sysctls = map[string]string{}
		}
		hc.Sysctls[k] = v
	}
	if f.shmSize != "" {
		n, err := units.RAMInBytes(f.shmSize)
		if err != nil {
			return bad("shm-size", f.shmSize, err)
		}
		hc.ShmSize = n
	}
	if f.stopSignal != "" {
		if _, err := runtime.ParseSignal(f.stopSignal); err != nil {
			return err
		}
		cfg.StopSignal = f.stopSignal
	}
	if cmd.Flags().Changed("stop-timeout") {
		cfg.StopTimeout = &f.stopTimeout
	}
	return nil
}

// parseMount reads docker's --mount, comma-separated KEY=VALUE fields
// (a field with a comma in it quoted, as in CSV): type (volume unless
// given), source or src (./DIR: this directory's), target, dst or
// destination, readonly or ro, bind-propagation, volume-nocopy,
// tmpfs-size, tmpfs-mode (octal). The engine checks what they say
// (engine.CheckConfig).
func parseMount(s string) (mount.Mount, error) {
	m := mount.Mount{Type: mount.TypeVolume}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return m, err
	}
	var vol, bind, tmpfs bool // a field of that type's given
	for _, field := range fields {
		key, val, hasVal := strings.Cut(field, "=")
		flag := func() (bool, error) {
			if !hasVal {
				return true, nil
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return false, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			return b, nil
		}
		if !hasVal && !slices.Contains([]string{"readonly", "ro", "volume-nocopy"}, key) {
			return m, fmt.Errorf("invalid field '%s' must be a key=value pair", field)
		}
		switch key {
		case "type":
			m.Type = mount.Type(strings.ToLower(val))
		case "source", "src":
			m.Source = val
			if val == "." || strings.HasPrefix(val, "./") {
				m.Source, err = filepath.Abs(val) // as docker's CLI: ./dir is here
			}
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			m.ReadOnly, err = flag()
		case "bind-propagation":
			bind = true
			m.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(strings.ToLower(val))}
		case "volume-nocopy":
			vol = true
			m.VolumeOptions = &mount.VolumeOptions{}
			m.VolumeOptions.NoCopy, err = flag()
		case "tmpfs-size", "tmpfs-mode":
			tmpfs = true
			if m.TmpfsOptions == nil {
				m.TmpfsOptions = &mount.TmpfsOptions{}
			}
			if key == "tmpfs-size" {
				m.TmpfsOptions.SizeBytes, err = units.RAMInBytes(val)
			} else {
				var mode uint64
				mode, err = strconv.ParseUint(val, 8, 32)
				m.TmpfsOptions.Mode = os.FileMode(mode)
			}
			if err != nil {
				err = fmt.Errorf("invalid value for %s: %s", key, val)
			}
		default:
			return m, fmt.Errorf("unexpected key '%s' in '%s' (cfs knows type, source, target, readonly, bind-propagation, volume-nocopy, tmpfs-size, tmpfs-mode)", key, field)
		}
		if err != nil {
			return m, err
		}
	}
	switch {
	case m.Type == "":
		return m, errors.New("type is required")
	case m.Target == "":
		return m, errors.New("target is required")
	case vol && m.Type != mount.TypeVolume:
		return m, fmt.Errorf("cannot mix 'volume-*' options with mount type '%s'", m.Type)
	case bind && m.Type != mount.TypeBind:
		return m, fmt.Errorf("cannot mix 'bind-*' options with mount type '%s'", m.Type)
	case tmpfs && m.Type != mount.TypeTmpfs:
		return m, fmt.Errorf("cannot mix 'tmpfs-*' options with mount type '%s'", m.Type)
	}
	return m, nil
}

// parsePublish reads docker's -p: [[0.0.0.0:]HOSTPORT:]CTRPORT[/tcp|/udp].
func parsePublish(s string) (network.Port, network.PortBinding, error) {
	spec, proto, _ := strings.Cut(s, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return network.Port{}, network.PortBinding{}, fmt.Errorf("invalid proto: %s", proto)
	}
	parts := strings.Split(spec, ":")
	var host, ctr string
	switch len(parts) {
	case 1:
		ctr = parts[0]
	case 2:
		host, ctr = parts[0], parts[1]
	case 3:
		if parts[0] != "" && parts[0] != "0.0.0.0" {
			return network.Port{}, network.PortBinding{}, fmt.Errorf("-p %s: cfs publishes on every address of the host (give 0.0.0.0 or no address)", s)
		}
		host, ctr = parts[1], parts[2]
	default:
		return network.Port{}, network.PortBinding{}, fmt.Errorf("invalid port format for --publish: %s", s)
	}
	n, err := strconv.Atoi(ctr)
	if err != nil || n < 1 || n > 65535 {
		return network.Port{}, network.PortBinding{}, fmt.Errorf("invalid containerPort: %s", ctr)
	}
	if host != "" {
		h, err := strconv.Atoi(host)
		if err != nil || h < 1 || h > 65535 {
			return network.Port{}, network.PortBinding{}, fmt.Errorf("invalid hostPort: %s", host)
		}
	}
	port, _ := network.PortFrom(uint16(n), network.IPProtocol(proto))
	return port, network.PortBinding{HostPort: host}, nil
}

// checkHostname applies the kernel's and RFC 1123's rules.
func checkHostname(h string) error {
	if len(h) > 64 {
		return fmt.Errorf("invalid hostname %q: at most 64 characters", h)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("invalid hostname %q", h)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("invalid hostname %q", h)
			}
		}
	}
	return nil
}

// envFlags checks -e's values as docker's CLI does, for run and exec:
// KEY=VALUE as it is, KEY alone for the host's value (left out if the
// host has none), and no empty KEY.
func envFlags(list []string) ([]string, error) {
	var env []string
	for _, kv := range list {
		k, _, has := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid argument %q for \"-e, --env\" flag: invalid environment variable: %s", kv, kv)
		}
		if !has {
			v, ok := os.LookupEnv(k)
			if !ok {
				continue
			}
			kv += "=" + v
		}
		env = append(env, kv)
	}
	return env, nil
}

// readEnvFile reads docker's --env-file: KEY=VALUE lines, # comments,
// and KEY alone to take the host's value.
func readEnvFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, errors.Unwrap(err))
	}
	var env []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimLeft(line, " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, has := strings.Cut(line, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%s:%d: variable '%s' contains whitespaces", path, i+1, k)
		}
		if !has {
			v, ok := os.LookupEnv(k)
			if !ok {
				continue
			}
			line = k + "=" + v
		}
		env = append(env, line)
	}
	return env, nil
}

// isBase reports whether ref names cfs/base.
func isBase(ref string) bool {
	switch ref {
	case "cfs/base", "cfs/base:latest", "docker.io/cfs/base", image.BaseName:
		return true
	}
	return false
}

// create makes the container, pulling its image first if it is not here,
// as docker does ("Unable to find image … locally").
func (c *CLI) create(ctx context.Context, e *engine.Engine, o engine.CreateOptions) (*engine.Container, error) {
	ctr, err := e.Create(o)
	var missing *engine.ImageNotFoundError
	if !errors.As(err, &missing) {
		return ctr, err
	}
	if isBase(o.Config.Image) {
		// cfs/base is made here, from the stages' root filesystem.
		if _, err := e.Images.EnsureBase(); err != nil {
			return nil, err
		}
		return e.Create(o)
	}
	ref := o.Config.Image
	if !hasTagOrDigest(ref) {
		ref += ":latest"
	}
	fmt.Fprintf(c.Err, "Unable to find image '%s' locally\n", ref)
	if _, err := e.Images.Pull(ctx, o.Config.Image, image.PullOptions{Progress: newDisplay(c.Err, false).event}); err != nil {
		return nil, err
	}
	return e.Create(o)
}

// createFromFlags is what run and create share: it checks the flags and
// arguments, opens the engine and creates the container; run's attach
// settings go into the config through set. Every failure is docker's 125.
func (c *CLI) createFromFlags(cmd *cobra.Command, f *runFlags, args []string, set func(*container.Config)) (*engine.Engine, *engine.Container, error) {
	o, err := f.options(cmd, args)
	if err != nil {
		return nil, nil, &statusError{msg: err.Error(), code: 125}
	}
	set(&o.Config)
	e, err := c.engine()
	if err != nil {
		return nil, nil, engineError(err, 125)
	}
	ctr, err := c.create(cmd.Context(), e, o)
	if err != nil {
		return nil, nil, engineError(err, 125)
	}
	return e, ctr, nil
}

func (c *CLI) runCmd() *cobra.Command {
	var f runFlags
	var detach bool
	var detachKeys string
	cmd := c.command("run [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image", 1, -1,
		func(cmd *cobra.Command, args []string) error {
			keys, err := parseDetachKeys(detachKeys)
			if err != nil {
				return err
			}
			if !detach {
				if err := c.checkTTY(f.interactive, f.tty); err != nil {
					return err
				}
			}
			// -d and --rm work together, as in docker since 1.13.
			e, ctr, err := c.createFromFlags(cmd, &f, args, func(cfg *container.Config) {
				cfg.AttachStdin = f.interactive && !detach
				cfg.AttachStdout, cfg.AttachStderr = !detach, !detach
				cfg.StdinOnce = f.interactive && !detach
			})
			if err != nil {
				return err
			}
			if detach {
				// The ID first, as docker's CLI prints it once the
				// container is made: a start that fails leaves it Created
				// (unless --rm), and the ID says which.
				fmt.Fprintln(c.Out, ctr.ID)
				if _, err := e.Start(ctr.ID, engine.StartOptions{}); err != nil {
					c.removeAfterFailedStart(e, ctr)
					return engineError(err, 125)
				}
				return nil
			}
			e.ContainerEvent(ctr, events.ActionAttach, nil) // as docker's client attaches before the start
			att, err := e.Start(ctr.ID, engine.StartOptions{Attach: &engine.AttachOptions{Stdin: f.interactive, Stdout: true, Stderr: true}})
			if err != nil {
				c.removeAfterFailedStart(e, ctr)
				return engineError(err, 125)
			}
			return c.attached(e, ctr, att, f.interactive, f.tty, keys)
		})
	fs := cmd.Flags()
	fs.SetInterspersed(false) // flags after the image belong to the command
	f.register(fs)
	fs.BoolVarP(&detach, "detach", "d", false, "run container in background and print container ID")
	fs.StringVar(&detachKeys, "detach-keys", "", detachKeysUsage)
	fs.BoolVar(&f.rm, "rm", false, "automatically remove the container and its associated anonymous volumes when it exits")
	return cmd
}

// checkTTY refuses -it when this program's stdin is not a terminal (a
// pipe, a file, a CI job), before anything is made, as docker's CLI does:
// the container's terminal would have nothing to read keys from.
func (c *CLI) checkTTY(stdin, tty bool) error {
	if !stdin || !tty {
		return nil
	}
	if f, ok := c.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &statusError{msg: "the input device is not a TTY", code: 1}
}

// removeAfterFailedStart removes a --rm container whose start failed, as
// docker does.
func (c *CLI) removeAfterFailedStart(e *engine.Engine, ctr *engine.Container) {
	if ctr.HostConfig.AutoRemove {
		_ = e.Remove(ctr.ID, true, true)
	}
}

// attached copies the terminal or the streams until the container exits,
// and returns its status as the command's. Without a terminal, the
// signals cfs gets go to the container (docker's --sig-proxy); with one,
// Ctrl-C is a byte for the container's terminal, the window's size
// follows this terminal's, and the detach keys (detach.go) end the
// command with 0, the container running on.
func (c *CLI) attached(e *engine.Engine, ctr *engine.Container, att *engine.Attachment, stdin, tty bool, detachKeys []byte) error {
	defer att.Close()
	var in io.Reader
	var detached atomic.Bool
	if stdin {
		in = c.In
		if tty {
			in = &detachReader{r: in, keys: detachKeys, detach: func() {
				detached.Store(true)
				att.Close() // the monitor lets go of this client; the container runs on
			}}
		}
	}
	if tty {
		if f, ok := c.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			if stdin {
				if old, err := term.MakeRaw(int(f.Fd())); err == nil {
					defer term.Restore(int(f.Fd()), old)
				}
			}
			resize := func() {
				if w, h, err := term.GetSize(int(f.Fd())); err == nil {
					_ = att.Resize(uint16(h), uint16(w))
				}
			}
			resize()
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, unix.SIGWINCH)
			defer signal.Stop(winch)
			go func() {
				for range winch {
					resize()
				}
			}()
		}
	} else {
		sigs := make(chan os.Signal, 8)
		signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
		defer signal.Stop(sigs)
		go func() {
			for s := range sigs {
				_ = e.Kill(ctr.ID, s.(syscall.Signal))
			}
		}()
	}
	st, err := att.Copy(in, c.Out, c.Err)
	if detached.Load() {
		return nil
	}
	if err != nil {
		// The monitor was killed: the record, repaired, says how it ended.
		w, werr := e.Wait(ctr.ID)
		if werr != nil {
			return engineError(err, 125)
		}
		st = w
	}
	if st.Error != "" {
		fmt.Fprintf(c.Err, "%s: %s\n", c.Prog, st.Error)
	}
	if st.StatusCode != 0 {
		return &statusError{code: st.StatusCode}
	}
	return nil
}

func (c *CLI) createCmd() *cobra.Command {
	var f runFlags
	cmd := c.command("create [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", 1, -1,
		func(cmd *cobra.Command, args []string) error {
			_, ctr, err := c.createFromFlags(cmd, &f, args, func(*container.Config) {})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, ctr.ID)
			return nil
		})
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	f.register(fs)
	fs.BoolVar(&f.rm, "rm", false, "automatically remove the container when it exits")
	return cmd
}

func (c *CLI) startCmd() *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := c.command("start [OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers", 1, -1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			if attach || interactive {
				if len(args) > 1 {
					return &statusError{msg: "you cannot start and attach multiple containers at once", code: 1}
				}
				keys, err := parseDetachKeys(detachKeys)
				if err != nil {
					return err
				}
				ctr, err := e.Get(args[0])
				if err != nil {
					return err
				}
				e.ContainerEvent(ctr, events.ActionAttach, nil)
				att, err := e.Start(ctr.ID, engine.StartOptions{Attach: &engine.AttachOptions{Stdin: interactive && ctr.Config.OpenStdin, Stdout: true, Stderr: true}})
				var start *engine.StartError
				if errors.As(err, &start) {
					// docker start's 1, not run's 126 or 127: the start failed.
					return daemonError(start.Msg)
				}
				if err != nil {
					return err
				}
				if att == nil {
					return nil
				}
				return c.attached(e, ctr, att, interactive && ctr.Config.OpenStdin, ctr.Config.Tty, keys)
			}
			var failed []string
			err := c.each(args, func(a string) (string, error) {
				_, err := e.Start(a, engine.StartOptions{})
				if err != nil {
					failed = append(failed, a)
				}
				return a, err
			})
			if err != nil {
				// docker's CLI ends with the list of those that failed.
				fmt.Fprintf(c.Err, "Error: failed to start containers: %s\n", strings.Join(failed, ", "))
			}
			return err
		}))
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach container's STDIN")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", detachKeysUsage)
	return cmd
}

// attach joins a running container's streams, as docker attach does: the
// output from now on, the input (unless --no-stdin, or the container was
// made without -i), until the container exits (its status is attach's)
// or the detach keys.
func (c *CLI) attachCmd() *cobra.Command {
	var noStdin bool
	var detachKeys string
	cmd := c.command("attach [OPTIONS] CONTAINER", "Attach local standard input, output, and error streams to a running container", 1, 1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			keys, err := parseDetachKeys(detachKeys)
			if err != nil {
				return err
			}
			ctr, err := e.Get(args[0])
			if err != nil {
				return daemonError(err.Error())
			}
			if ctr.State.Status == engine.Paused {
				return daemonError("You cannot attach to a paused container, unpause it first")
			}
			stdin := !noStdin && ctr.Config.OpenStdin
			att, err := e.Attach(ctr.ID, engine.AttachOptions{Stdin: stdin, Stdout: true, Stderr: true})
			if err != nil {
				return daemonError(err.Error()) // not running: docker's message
			}
			e.ContainerEvent(ctr, events.ActionAttach, nil)
			if err := c.checkTTY(stdin, ctr.Config.Tty); err != nil {
				att.Close()
				return err
			}
			return c.attached(e, ctr, att, stdin, ctr.Config.Tty, keys)
		}))
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach STDIN")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", detachKeysUsage)
	return cmd
}

// limitFlags are the cgroup limits (stage 07's files) that run, create
// and update take, with docker's names.
type limitFlags struct {
	memory, swap, reservation, cpus, cpusetCPUs, cpusetMems string
	shares, period, quota, pids                             int64
	names                                                   []string // the flags, as registered
}

func (l *limitFlags) register(fs *pflag.FlagSet) {
	own := pflag.NewFlagSet("limits", pflag.ContinueOnError)
	own.StringVarP(&l.memory, "memory", "m", "", "memory limit (e.g. 64m)")
	own.StringVar(&l.swap, "memory-swap", "", "swap limit equal to memory plus swap: -1 to enable unlimited swap (default: twice --memory)")
	own.StringVar(&l.reservation, "memory-reservation", "", "memory soft limit (e.g. 32m): the kernel reclaims above it first")
	own.StringVar(&l.cpus, "cpus", "", "number of CPUs (e.g. 0.5)")
	own.Int64VarP(&l.shares, "cpu-shares", "c", 0, "CPU shares (relative weight, default 1024)")
	own.Int64Var(&l.period, "cpu-period", 0, "limit CPU CFS (Completely Fair Scheduler) period, in µs")
	own.Int64Var(&l.quota, "cpu-quota", 0, "limit CPU CFS (Completely Fair Scheduler) quota, in µs of each period")
	own.StringVar(&l.cpusetCPUs, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	own.StringVar(&l.cpusetMems, "cpuset-mems", "", "memory nodes in which to allow execution (0-3, 0,1)")
	own.Int64Var(&l.pids, "pids-limit", 0, "tune container pids limit (set -1 for unlimited)")
	own.VisitAll(func(f *pflag.Flag) { l.names = append(l.names, f.Name) })
	fs.AddFlagSet(own)
}

// resources reads the limits as docker's CLI does; a flag not given is
// left zero, and --pids-limit only if given.
func (l *limitFlags) resources(fs *pflag.FlagSet) (container.Resources, error) {
	var r container.Resources
	size := func(v, flag string, dst *int64) error {
		if v == "" {
			return nil
		}
		n, err := units.RAMInBytes(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("invalid argument %q for \"%s\" flag: invalid size: '%s'", v, flag, v)
		}
		*dst = n
		return nil
	}
	if err := size(l.memory, "-m, --memory", &r.Memory); err != nil {
		return r, err
	}
	if err := size(l.reservation, "--memory-reservation", &r.MemoryReservation); err != nil {
		return r, err
	}
	if l.swap == "-1" {
		r.MemorySwap = -1 // swap without limit
	} else if err := size(l.swap, "--memory-swap", &r.MemorySwap); err != nil {
		return r, err
	}
	if l.cpus != "" {
		v, err := strconv.ParseFloat(l.cpus, 64)
		if err != nil || v <= 0 {
			return r, fmt.Errorf("invalid argument %q for \"--cpus\" flag: failed to parse %s as a rational number", l.cpus, l.cpus)
		}
		r.NanoCPUs = int64(v * 1e9)
	}
	r.CPUShares, r.CpusetCpus, r.CpusetMems = l.shares, l.cpusetCPUs, l.cpusetMems
	r.CPUPeriod, r.CPUQuota = l.period, l.quota
	if fs.Changed("pids-limit") {
		r.PidsLimit = &l.pids
	}
	return r, nil
}
