package engine

// Create: a container's record, from an image and docker's Config and
// HostConfig. Nothing runs yet; Start does that.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"cfs/final/image"
	"cfs/final/runtime"
	"cfs/internal/layout"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// CreateOptions are what `docker create` sends: a name (empty: one is
// made up), and docker's Config (Image, Cmd, Entrypoint, Env, …) and
// HostConfig (resources, ports, binds, network, …).
type CreateOptions struct {
	Name       string
	Config     container.Config
	HostConfig container.HostConfig
}

// ImageNotFoundError is a missing image: the command line pulls it and
// creates again, as docker does on a 404.
type ImageNotFoundError struct{ Image string }

func (e *ImageNotFoundError) Error() string { return "No such image: " + e.Image }

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

func validName(n string) bool { return nameRE.MatchString(n) }

// checkName is docker's refusal of a name it would not take.
func checkName(n string) error {
	if !validName(n) {
		return fmt.Errorf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", n)
	}
	return nil
}

// Create makes a container and returns it, created. A create killed at
// any point leaves its work in tmp/ID, whose flock died with it, which the
// next create (or `cfs cleanup`) removes: the container directory
// appears whole, by rename, or not at all.
func (e *Engine) Create(opt CreateOptions) (c *Container, retErr error) {
	cfg, hc := opt.Config, opt.HostConfig
	if err := CheckConfig(&cfg, &hc); err != nil {
		return nil, err
	}
	for _, mode := range []string{string(hc.PidMode), string(hc.IpcMode)} {
		if other, ok := strings.CutPrefix(mode, "container:"); ok {
			if _, err := e.Get(other); err != nil {
				return nil, err // (it must run when this one starts: Spec)
			}
		}
	}
	if opt.Name != "" {
		opt.Name = strings.TrimPrefix(opt.Name, "/")
		if err := checkName(opt.Name); err != nil {
			return nil, err
		}
	}
	img, err := e.Images.Get(cfg.Image)
	if errors.Is(err, image.ErrNotFound) {
		return nil, &ImageNotFoundError{Image: cfg.Image}
	}
	if err != nil {
		return nil, err
	}
	if img.Config.OS != "" && img.Config.OS != "linux" || img.Config.Architecture != "" && img.Config.Architecture != goruntime.GOARCH {
		return nil, fmt.Errorf("image %s is for %s, and this machine is linux/%s", cfg.Image, img.Platform(), goruntime.GOARCH)
	}
	e.sweepTmp()

	id := NewID()
	c = &Container{ID: id, Name: opt.Name, Created: time.Now().UTC(), Image: cfg.Image, ImageID: img.ID.String(),
		HostConfig: hc, State: State{Status: Created}}
	c.Config = mergeImageConfig(cfg, img)
	c.Path, c.Args = command(c.Config)
	if c.Path == "" {
		return nil, errors.New("no command specified")
	}
	if c.Config.Hostname == "" {
		c.Config.Hostname = id[:12]
	}
	if hc.UTSMode == "host" {
		c.Config.Hostname, _ = os.Hostname() // the host's, as dockerd records it
	}

	// The work directory, locked (flock) while this process makes it: a
	// sweeper that can take the lock knows its maker is gone. It is made
	// and locked under the engine's lock, under which the engine's
	// sweepers sweep, so none takes it between the mkdir and the flock;
	// cfs cleanup, which does not wait for that lock, may: then try
	// another ID.
	var tmp string
	for try := 0; ; try++ {
		tmp = e.path("tmp", id)
		unlockEngine, err := e.lockEngine()
		if err != nil {
			return nil, err
		}
		if err := os.Mkdir(tmp, 0o711); err != nil {
			unlockEngine()
			return nil, err
		}
		unlockTmp, err := lockDir(tmp, unix.LOCK_EX|unix.LOCK_NB)
		unlockEngine()
		if err == nil {
			// A sweeper may have locked and removed it between our open
			// and our flock: then the lock is on a directory that is gone.
			if _, err = os.Stat(tmp); err == nil {
				defer unlockTmp()
				break
			}
			unlockTmp()
		}
		if try == 3 {
			return nil, fmt.Errorf("lock %s: %w", tmp, err)
		}
		old := id
		id = NewID()
		c.ID = id
		if c.Config.Hostname == old[:12] {
			c.Config.Hostname = id[:12]
		}
	}
	defer func() {
		if retErr != nil {
			_ = os.RemoveAll(tmp)
			_ = e.Images.Release(id)
		}
	}()
	for _, d := range []string{"rootfs", "upper", "work"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return nil, err
		}
	}
	// rmi refuses the image from now on (image.Store.Hold).
	if _, err := e.Images.Hold(id, img.ID.String()); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(tmp, "container.json"), c); err != nil {
		return nil, err
	}

	unlock, err := e.lockEngine()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if c.Name == "" {
		c.Name = e.freeName()
		if err := writeJSON(filepath.Join(tmp, "container.json"), c); err != nil {
			return nil, err
		}
	}
	if err := e.claimName(id, c.Name); err != nil {
		return nil, err
	}
	err = e.volumesFrom(&c.HostConfig)
	undoVolumes := func() {}
	if err == nil {
		undoVolumes, err = e.makeVolumes(c)
	}
	if err == nil && (len(c.Volumes) > 0 || len(c.HostConfig.VolumesFrom) > 0) {
		err = writeJSON(filepath.Join(tmp, "container.json"), c)
	}
	if err == nil {
		err = os.Rename(tmp, e.Dir(id))
	}
	if err != nil {
		undoVolumes()
		_ = os.Remove(e.path("names", c.Name))
		return nil, err
	}
	e.ContainerEvent(c, events.ActionCreate, nil)
	return c, nil
}

// claimName makes names/NAME a link to id, under the engine's lock: a
// name another container holds is docker's conflict; a name left by a
// container that is gone is taken.
func (e *Engine) claimName(id, name string) error {
	link := e.path("names", name)
	err := os.Symlink(id, link)
	if err == nil || !errors.Is(err, fs.ErrExist) {
		return err
	}
	if e.nameInUse(name) {
		other, _ := os.Readlink(link)
		return &ConflictError{Msg: fmt.Sprintf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, other)}
	}
	if err := os.Remove(link); err != nil {
		return err
	}
	return os.Symlink(id, link)
}

// Rename gives the container arg names a new name, as docker rename: the
// new name is claimed, the record says it, and the old name goes, under
// the engine's lock and the container's. A running container keeps its
// hostname, as in docker.
func (e *Engine) Rename(arg, name string) error {
	name = strings.TrimPrefix(name, "/")
	if err := checkName(name); err != nil {
		return err
	}
	c, unlock, err := e.lockRecord(arg)
	if err != nil {
		return err
	}
	defer unlock()
	unlockEngine, err := e.lockEngine()
	if err != nil {
		return err
	}
	defer unlockEngine()
	id := c.ID
	if c.Name == name {
		return &ConflictError{Msg: "Renaming a container with the same name as its current name"}
	}
	if err := e.claimName(id, name); err != nil {
		return err
	}
	old := c.Name
	c.Name = name
	if err := e.save(c); err != nil {
		_ = os.Remove(e.path("names", name))
		return err
	}
	if target, err := os.Readlink(e.path("names", old)); err == nil && target == id {
		_ = os.Remove(e.path("names", old))
	}
	e.ContainerEvent(c, events.ActionRename, map[string]string{"oldName": "/" + old})
	return nil
}

// nameInUse reports whether a container holds name.
func (e *Engine) nameInUse(name string) bool {
	id, err := os.Readlink(e.path("names", name))
	if err != nil {
		return false
	}
	_, err = os.Stat(e.Dir(id))
	return err == nil
}

// freeName makes up a name no container has, as docker does
// ("admiring_turing").
func (e *Engine) freeName() string {
	for i := 0; ; i++ {
		n := randomName(i / 10)
		if !e.nameInUse(n) {
			return n
		}
	}
}

// sweepTmp removes the work of creates whose maker is gone: those whose
// lock it can take, with the anonymous volumes they made. It sweeps
// under the engine's lock, under which a maker makes and locks its
// directory, and removes the volumes after (RemoveVolume takes that lock).
func (e *Engine) sweepTmp() {
	unlockEngine, err := e.lockEngine()
	if err != nil {
		return
	}
	var gone []*Container
	entries, _ := os.ReadDir(e.path("tmp"))
	for _, en := range entries {
		dir := e.path("tmp", en.Name())
		unlock, err := lockDir(dir, unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			continue // its maker works on it
		}
		c := &Container{}
		if data, err := os.ReadFile(filepath.Join(dir, "container.json")); err == nil {
			_ = json.Unmarshal(data, c)
		}
		c.ID = en.Name()
		_ = os.RemoveAll(dir)
		unlock()
		gone = append(gone, c)
	}
	unlockEngine()
	for _, c := range gone {
		_ = e.removeAnonymousVolumes(c)
		if layout.IsEngineID(c.ID) {
			_ = e.Images.Release(c.ID)
		}
	}
}

// mergeImageConfig completes the container's Config with the image's:
// its Env (the container's -e win), Cmd and Entrypoint, WorkingDir, User,
// ExposedPorts, Labels, StopSignal, as docker does.
func mergeImageConfig(cfg container.Config, img *image.Image) container.Config {
	ic := img.Config.Config
	cfg.Env = setEnv(append([]string(nil), ic.Env...), cfg.Env...)
	if len(cfg.Entrypoint) == 0 && cfg.Entrypoint == nil {
		cfg.Entrypoint = ic.Entrypoint
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = ic.Cmd
		}
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = ic.WorkingDir
	}
	if cfg.User == "" {
		cfg.User = ic.User
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = ic.StopSignal
	}
	if len(ic.ExposedPorts) > 0 {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		for p := range ic.ExposedPorts {
			if port, err := network.ParsePort(p); err == nil {
				cfg.ExposedPorts[port] = struct{}{}
			}
		}
	}
	if len(ic.Volumes) > 0 { // the image's VOLUME places: each gets an anonymous volume
		vols := map[string]struct{}{}
		for v := range ic.Volumes {
			vols[v] = struct{}{}
		}
		for v := range cfg.Volumes {
			vols[v] = struct{}{}
		}
		cfg.Volumes = vols
	}
	if len(ic.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range ic.Labels {
			labels[k] = v
		}
		for k, v := range cfg.Labels {
			labels[k] = v
		}
		cfg.Labels = labels
	}
	return cfg
}

// command is what runs: the entrypoint, then the command.
func command(cfg container.Config) (string, []string) {
	argv := append(append([]string(nil), cfg.Entrypoint...), cfg.Cmd...)
	if len(argv) == 0 {
		return "", nil
	}
	return argv[0], argv[1:]
}

// checkResources is dockerd's check of the cgroup limits, in its words
// (for create and update alike). Like dockerd it brings --cpu-shares into
// the kernel's range (2 to 262144) rather than refuse it.
func checkResources(r *container.Resources) error {
	const minMemory = 6 << 20
	switch {
	case r.Memory != 0 && r.Memory < minMemory:
		return errors.New("Minimum memory limit allowed is 6MB")
	case r.Memory == 0 && r.MemorySwap > 0:
		return errors.New("You should always set the Memory limit when using Memoryswap limit, see usage")
	case r.MemorySwap > 0 && r.MemorySwap < r.Memory:
		return errors.New("Minimum memoryswap limit should be larger than memory limit, see usage")
	case r.MemoryReservation > 0 && r.MemoryReservation < minMemory:
		return errors.New("Minimum memory reservation allowed is 6MB")
	case r.Memory > 0 && r.MemoryReservation > r.Memory:
		return errors.New("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	switch {
	case r.NanoCPUs > 0 && r.CPUPeriod > 0:
		return errors.New("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	case r.NanoCPUs > 0 && r.CPUQuota > 0:
		return errors.New("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	case r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000):
		return errors.New("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	case r.CPUQuota > 0 && r.CPUQuota < 1000:
		return errors.New("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	if n := r.NanoCPUs; n != 0 {
		ncpu := int64(goruntime.NumCPU())
		if n < 1e7 || n > ncpu*1e9 {
			return fmt.Errorf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu)
		}
	}
	if r.CPUShares < 0 {
		r.CPUShares = 2
	} else if r.CPUShares > 262144 {
		r.CPUShares = 262144
	}
	if err := checkCPUSet(r.CpusetCpus, "/sys/devices/system/cpu/online", "cpus", "CPUs"); err != nil {
		return err
	}
	return checkCPUSet(r.CpusetMems, "/sys/devices/system/node/online", "mems", "memory nodes")
}

// checkCPUSet checks a list of CPUs or memory nodes ("0-2,4", as
// cpuset.cpus takes it) against what the machine has online.
func checkCPUSet(list, online, what, plural string) error {
	if list == "" {
		return nil
	}
	want, err := parseCPUList(list)
	if err != nil {
		return fmt.Errorf("Invalid value %s for cpuset %s", list, what)
	}
	have := "0" // a kernel without NUMA has node 0 alone, and no node directory
	if data, err := os.ReadFile(online); err == nil {
		have = strings.TrimSpace(string(data))
	}
	avail, err := parseCPUList(have)
	if err != nil {
		return fmt.Errorf("%s: %w", online, err)
	}
	for n := range want {
		if !avail[n] {
			return fmt.Errorf("Requested %s are not available - requested %s, available: %s", plural, list, have)
		}
	}
	return nil
}

// parseCPUList reads the kernel's list format: numbers and ranges,
// separated by commas ("0-2,4").
func parseCPUList(s string) (map[int]bool, error) {
	out := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a {
			return nil, fmt.Errorf("invalid list %q", s)
		}
		for n := a; n <= b; n++ {
			out[n] = true
		}
	}
	return out, nil
}

// CheckConfig refuses what cfs cannot do, or what makes no sense, before
// anything is made, with docker's messages where docker has one.
func CheckConfig(cfg *container.Config, hc *container.HostConfig) error {
	if cfg.Image == "" {
		return errors.New("no image given")
	}
	switch mode := string(hc.NetworkMode); mode {
	case "", "default":
		hc.NetworkMode = "bridge"
	case "bridge", "none", "host":
	default:
		return fmt.Errorf("network %s not found (cfs has the networks bridge, host and none)", mode)
	}
	if hc.NetworkMode != "bridge" && (len(hc.PortBindings) > 0 || hc.PublishAllPorts) {
		return fmt.Errorf("conflicting options: port publishing and the container type network mode %s", hc.NetworkMode)
	}
	if err := checkResources(&hc.Resources); err != nil {
		return err
	}
	if p := hc.PidsLimit; p != nil && *p < 0 && *p != -1 {
		return fmt.Errorf("invalid --pids-limit %d", *p)
	}
	if err := container.ValidateRestartPolicy(hc.RestartPolicy); err != nil {
		return err
	}
	if hc.AutoRemove && !hc.RestartPolicy.IsNone() {
		return errors.New("can't create 'AutoRemove' container with restart policy")
	}
	if err := unsupported(cfg, hc); err != nil {
		return err
	}
	if err := checkEtcAndProcess(cfg, hc); err != nil {
		return err
	}
	if err := checkNamespaceModes(cfg, hc); err != nil {
		return err
	}
	if err := mountsAsFlags(cfg, hc); err != nil {
		return err
	}
	for _, from := range hc.VolumesFrom {
		if arg, mode, _ := strings.Cut(from, ":"); arg == "" || mode != "" && mode != "ro" && mode != "rw" {
			return fmt.Errorf("invalid volumes-from %q: want CONTAINER[:ro|rw]", from)
		}
	}
	seen := map[string]bool{}
	for _, s := range hc.Binds {
		b, err := ParseBind(s)
		if err != nil {
			return err
		}
		if seen[filepath.Clean(b.Destination)] {
			return fmt.Errorf("Duplicate mount point: %s", b.Destination)
		}
		seen[filepath.Clean(b.Destination)] = true
	}
	for _, m := range hc.Devices {
		if _, _, err := userDevices(m); err != nil {
			return err
		}
	}
	for _, r := range hc.DeviceCgroupRules {
		if _, err := ParseDeviceRule(r); err != nil {
			return err
		}
	}
	if a := hc.OomScoreAdj; a < -1000 || a > 1000 {
		return fmt.Errorf("Invalid value %d, range for oom score adj is [-1000, 1000]", a)
	}
	for dst := range cfg.Volumes {
		if !strings.HasPrefix(dst, "/") || filepath.Clean(dst) == "/" {
			return fmt.Errorf("invalid volume specification: '%s': the container path must be absolute, and not /", dst)
		}
	}
	for dst := range hc.Tmpfs {
		if !strings.HasPrefix(dst, "/") {
			return fmt.Errorf("invalid mount path %s: mount path must be absolute", dst)
		}
		if seen[filepath.Clean(dst)] {
			return fmt.Errorf("Duplicate mount point: %s", dst)
		}
	}
	for _, capName := range append(append([]string(nil), hc.CapAdd...), hc.CapDrop...) {
		if strings.EqualFold(capName, "ALL") {
			continue
		}
		if !knownCap(capName) {
			return fmt.Errorf("invalid capability: %q (see: man 7 capabilities)", capName)
		}
	}
	if hc.Init != nil && *hc.Init && cfg.Tty {
		// Works; nothing to refuse.
	}
	return nil
}

// unsupported refuses what a docker client may ask that cfs does not do,
// rather than leave it out without a word.
func unsupported(cfg *container.Config, hc *container.HostConfig) error {
	r := hc.Resources
	for _, no := range []struct {
		set  bool
		what string
	}{
		{len(hc.Links) > 0, "--link"},
		{hc.UsernsMode != "", "--userns"},
		{hc.CgroupnsMode != "" && (hc.CgroupnsMode == "host") == isCgroup2(), "--cgroupns " + string(hc.CgroupnsMode)},
		{hc.Cgroup != "" || r.CgroupParent != "", "--cgroup-parent"},
		{r.OomKillDisable != nil && *r.OomKillDisable, "--oom-kill-disable"},
		{r.MemorySwappiness != nil && *r.MemorySwappiness != -1, "--memory-swappiness"},
		{hc.Runtime != "" && hc.Runtime != "runc" && hc.Runtime != "cfs", "--runtime " + hc.Runtime},
		{hc.LogConfig.Type != "" && hc.LogConfig.Type != "json-file", "--log-driver " + hc.LogConfig.Type},
		{len(hc.LogConfig.Config) > 0, "--log-opt"},
		{hc.Isolation != "" && hc.Isolation != "default", "--isolation"},
		{len(hc.StorageOpt) > 0, "--storage-opt"},
		{len(r.DeviceRequests) > 0, "--gpus"},
		{r.BlkioWeight != 0 || len(r.BlkioWeightDevice) > 0, "--blkio-weight"},
		{len(r.BlkioDeviceReadBps)+len(r.BlkioDeviceWriteBps)+len(r.BlkioDeviceReadIOps)+len(r.BlkioDeviceWriteIOps) > 0, "--device-read-bps and the like"},
		{r.CPURealtimePeriod != 0 || r.CPURealtimeRuntime != 0, "--cpu-rt-period and --cpu-rt-runtime"},
		{r.CPUCount != 0 || r.CPUPercent != 0 || r.IOMaximumBandwidth != 0 || r.IOMaximumIOps != 0, "Windows' resource options"},
		{cfg.Healthcheck != nil && len(cfg.Healthcheck.Test) > 0 && cfg.Healthcheck.Test[0] != "NONE", "--health-cmd"},
	} {
		if no.set {
			return fmt.Errorf("%s is not supported by cfs (docs/11-engine.md, What cfs leaves out)", no.what)
		}
	}
	return nil
}

// checkEtcAndProcess checks --add-host, --dns, --dns-search, --sysctl,
// --ulimit, --shm-size, --stop-timeout, with docker's words.
func checkEtcAndProcess(cfg *container.Config, hc *container.HostConfig) error {
	for _, h := range hc.ExtraHosts {
		_, ip, err := ParseExtraHost(h)
		if err != nil {
			return err
		}
		if ip == HostGateway && hc.NetworkMode == "none" {
			return fmt.Errorf("--add-host %s: a container with --network none has no way to the host", h)
		}
	}
	if hc.NetworkMode == "host" && len(hc.DNS)+len(hc.DNSSearch)+len(hc.DNSOptions) > 0 {
		return errors.New("conflicting options: dns and the network mode")
	}
	for key := range hc.Sysctls {
		ns, err := runtime.SysctlNamespace(key)
		if err != nil {
			return fmt.Errorf("sysctl '%s' is not allowed: %v", key, err)
		}
		if ns == specs.NetworkNamespace && hc.NetworkMode == "host" {
			return fmt.Errorf("sysctl '%s' is not allowed in host network mode", key)
		}
	}
	for _, u := range hc.Ulimits {
		if _, err := units.ParseUlimit(fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard)); err != nil {
			return err
		}
	}
	if hc.ShmSize < 0 {
		return errors.New("SHM size can not be less than 0")
	}
	if t := cfg.StopTimeout; t != nil && *t < -1 {
		return fmt.Errorf("invalid stop timeout %d: -1 (wait for ever) or more", *t)
	}
	return nil
}

// checkNamespaceModes checks --pid, --ipc and --uts, in dockerd's words:
// a namespace of the container's own (the default), the host's (host),
// or for pid and ipc another container's (container:NAME).
func checkNamespaceModes(cfg *container.Config, hc *container.HostConfig) error {
	for _, m := range []struct{ kind, mode string }{{"PID", string(hc.PidMode)}, {"IPC", string(hc.IpcMode)}, {"UTS", string(hc.UTSMode)}} {
		other, isOther := strings.CutPrefix(m.mode, "container:")
		switch {
		case m.mode == "", m.mode == "host":
		case m.kind == "IPC" && (m.mode == "private" || m.mode == "shareable"):
		case m.kind != "UTS" && isOther && other != "":
		default:
			return fmt.Errorf("invalid %s mode: %s (cfs has host%s)", m.kind, m.mode, map[bool]string{true: "", false: " and container:NAME"}[m.kind == "UTS"])
		}
	}
	if hc.UTSMode == "host" && cfg.Hostname != "" {
		return errors.New("conflicting options: hostname and the UTS mode")
	}
	return nil
}

// HostGateway in --add-host NAME:host-gateway is the host, as the
// container reaches it: the bridge's address.
const HostGateway = "host-gateway"

// ParseExtraHost reads --add-host NAME:IP (or NAME=IP), docker's form; IP
// may be host-gateway.
func ParseExtraHost(s string) (name, ip string, err error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	if !ok || name == "" {
		return "", "", fmt.Errorf("bad format for add-host: %q", s)
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	if _, err := netip.ParseAddr(ip); err != nil && ip != HostGateway {
		return "", "", fmt.Errorf("invalid IP address in add-host: %q", ip)
	}
	return name, ip, nil
}

// mountsAsFlags reads --mount (HostConfig.Mounts) as the -v and --tmpfs
// it stands for, with dockerd's checks: type=bind is -v HOST:CTR (the
// host's path must be there), type=volume -v NAME:CTR (without a source,
// -v CTR: an anonymous volume), type=tmpfs --tmpfs CTR:size=…,mode=….
// The record keeps those, as one way to say each mount.
func mountsAsFlags(cfg *container.Config, hc *container.HostConfig) error {
	for _, m := range hc.Mounts {
		bad := func(format string, a ...any) error {
			return fmt.Errorf("invalid mount config for type %q: %s", m.Type, fmt.Sprintf(format, a...))
		}
		if !strings.HasPrefix(m.Target, "/") {
			return bad("invalid mount path: '%s' mount path must be absolute", m.Target)
		}
		if filepath.Clean(m.Target) == "/" {
			return bad("invalid specification: destination can't be '/'")
		}
		mode := ""
		if m.ReadOnly {
			mode = ":ro"
		}
		switch m.Type {
		case mount.TypeBind:
			if m.Source == "" {
				return bad("field Source must not be empty")
			}
			if !filepath.IsAbs(m.Source) {
				return bad("invalid mount path: '%s' mount path must be absolute", m.Source)
			}
			if _, err := os.Stat(m.Source); err != nil {
				return bad("bind source path does not exist: %s", m.Source)
			}
			if o := m.BindOptions; o != nil && (o.NonRecursive || o.CreateMountpoint || o.ReadOnlyNonRecursive ||
				o.ReadOnlyForceRecursive || o.Propagation != "" && o.Propagation != mount.PropagationRPrivate && o.Propagation != mount.PropagationPrivate) {
				return bad("cfs's binds are recursive and private (bind-propagation=rprivate): no other bind options")
			}
			hc.Binds = append(hc.Binds, m.Source+":"+m.Target+mode)
		case mount.TypeVolume:
			o := m.VolumeOptions
			if o == nil {
				o = &mount.VolumeOptions{}
			}
			if len(o.Labels) > 0 || o.Subpath != "" || o.DriverConfig != nil && (o.DriverConfig.Name != "" && o.DriverConfig.Name != "local" || len(o.DriverConfig.Options) > 0) {
				return bad("cfs's volumes are local directories: no volume-label, volume-subpath, volume-driver or volume-opt (make the volume with cfs volume create --label)")
			}
			if m.Source == "" {
				if m.ReadOnly || o.NoCopy {
					return bad("an anonymous volume (no source) is read-write and filled from the image in cfs: give it a name (source=NAME) to use ro or volume-nocopy")
				}
				if cfg.Volumes == nil {
					cfg.Volumes = map[string]struct{}{}
				}
				cfg.Volumes[filepath.Clean(m.Target)] = struct{}{}
				continue
			}
			if o.NoCopy && m.ReadOnly {
				mode = ":ro,nocopy"
			} else if o.NoCopy {
				mode = ":nocopy"
			}
			hc.Binds = append(hc.Binds, m.Source+":"+m.Target+mode)
		case mount.TypeTmpfs:
			if m.Source != "" {
				return bad("field Source must not be specified")
			}
			var opts []string
			if o := m.TmpfsOptions; o != nil {
				if o.SizeBytes < 0 {
					return bad("invalid tmpfs size %d", o.SizeBytes)
				}
				if o.SizeBytes > 0 {
					opts = append(opts, fmt.Sprintf("size=%d", o.SizeBytes))
				}
				if o.Mode != 0 {
					opts = append(opts, fmt.Sprintf("mode=%o", uint32(o.Mode))) // the octal given, as dockerd passes it
				}
			}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			if _, ok := hc.Tmpfs[m.Target]; ok {
				return fmt.Errorf("Duplicate mount point: %s", m.Target)
			}
			if hc.Tmpfs == nil {
				hc.Tmpfs = map[string]string{}
			}
			hc.Tmpfs[m.Target] = strings.Join(opts, ",")
		default:
			return fmt.Errorf("mount type %q is not supported by cfs (it has bind, volume and tmpfs)", m.Type)
		}
	}
	hc.Mounts = nil
	return nil
}

func knownCap(name string) bool {
	n := "CAP_" + strings.TrimPrefix(strings.ToUpper(name), "CAP_")
	for _, c := range runtime.CapNames() {
		if c == n {
			return true
		}
	}
	return false
}

// Bind is one -v HOST:CTR[:ro] or VOLUME:CTR[:ro].
type Bind struct {
	Source, Destination string
	ReadOnly            bool
	Volume              string // the volume's name, for VOLUME:CTR (Source: its files, once resolved)
	NoCopy              bool   // a volume not filled from the image (nocopy)
}

// ParseBind reads HOST:CTR[:ro|rw] or VOLUME:CTR[:ro|rw][,nocopy],
// docker's -v for a host directory (an absolute path) or a volume (a
// name).
func ParseBind(s string) (Bind, error) {
	parts := strings.Split(s, ":")
	var b Bind
	switch len(parts) {
	case 2, 3:
		b.Source, b.Destination = parts[0], parts[1]
	default:
		return b, fmt.Errorf("invalid volume specification: '%s' (want HOST:CTR[:ro])", s)
	}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				b.ReadOnly = true
			case "nocopy":
				b.NoCopy = true
			case "rw", "z", "Z", "rprivate", "private":
			default:
				return b, fmt.Errorf("invalid mode: %s", parts[2])
			}
		}
	}
	if !strings.HasPrefix(b.Source, "/") {
		if b.Source == "" {
			return b, fmt.Errorf("invalid volume specification: '%s'", s)
		}
		if err := checkVolumeName(b.Source); err != nil {
			return b, err
		}
		b.Volume, b.Source = b.Source, ""
	}
	if b.NoCopy && b.Volume == "" {
		return b, fmt.Errorf("invalid mode: %s", parts[2])
	}
	if !strings.HasPrefix(b.Destination, "/") {
		return b, fmt.Errorf("invalid volume specification: '%s': invalid mount config: the container path must be absolute", s)
	}
	if filepath.Clean(b.Destination) == "/" {
		return b, fmt.Errorf("invalid volume specification: '%s': invalid mount config for type \"bind\": invalid specification: destination can't be '/'", s)
	}
	return b, nil
}
