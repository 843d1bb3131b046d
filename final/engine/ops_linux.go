package engine

// What can be read of a container or made from it: stats and update (its
// cgroup, stage 07), top (its processes), export (its files), diff and
// commit (its writable layer, stage 08: listed, or made a new image).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"cfs/final/image"
	"cfs/final/runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Stats is one sample of a container's usage.
type Stats struct {
	Read          time.Time
	CPUNanos      uint64 // CPU time used so far
	MemUsage      uint64
	MemLimit      uint64 // the cgroup's limit, or the host's memory
	Pids          uint64
	NetRx, NetTx  uint64
	BlkRd, BlkWrt uint64
}

// Stats reads the usage of a running container from its cgroup, and its
// network counters from /proc/PID/net/dev, which shows its namespace's.
func (e *Engine) Stats(c *Container) (*Stats, error) {
	rc, err := e.runtime().Get(c.ID)
	if err != nil {
		return nil, err
	}
	cs, err := rc.Stats()
	if err != nil {
		return nil, err
	}
	s := &Stats{Read: time.Now(), CPUNanos: cs.CPU.Usage.Total, MemUsage: cs.Memory.Usage.Usage, MemLimit: cs.Memory.Usage.Limit, Pids: cs.Pids.Current}
	// docker subtracts the page cache it could free: inactive files.
	for _, k := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := cs.Memory.Raw[k]; ok && v < s.MemUsage {
			s.MemUsage -= v
			break
		}
	}
	if host := hostMemory(); s.MemLimit == 0 || s.MemLimit > host {
		s.MemLimit = host
	}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", c.State.Pid)); err == nil {
		s.NetRx, s.NetTx = netDev(string(data))
	}
	return s, nil
}

// Update is docker update: new limits in the record, for every later
// start, and, while the container runs, in its cgroup, where the
// runtime's Update (`runc update`) writes stage 07's files: memory.max or
// memory.limit_in_bytes, memory.low or memory.soft_limit_in_bytes,
// cpu.max or cpu.cfs_quota_us, cpu.weight or cpu.shares, cpuset.cpus and
// cpuset.mems, pids.max. A field of u left zero (nil for PidsLimit, ""
// for a list or the restart policy's name) stays as it was. A new restart
// policy applies at the container's next end: its monitor reads it from
// the record then.
func (e *Engine) Update(arg string, u container.UpdateConfig) error {
	c, unlock, err := e.lockRecord(arg)
	if err != nil {
		return err
	}
	defer unlock()
	hc, r := c.HostConfig, u.Resources
	// --cpus is a period and a quota: dockerd keeps one way of setting
	// them (its words).
	switch {
	case r.NanoCPUs > 0 && hc.CPUPeriod > 0, r.CPUPeriod > 0 && hc.NanoCPUs > 0:
		return fmt.Errorf("Cannot update container %s: Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set", arg)
	case r.NanoCPUs > 0 && hc.CPUQuota > 0, r.CPUQuota > 0 && hc.NanoCPUs > 0:
		return fmt.Errorf("Cannot update container %s: Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set", arg)
	}
	if p := u.RestartPolicy; p.Name != "" {
		if err := container.ValidateRestartPolicy(p); err != nil {
			return fmt.Errorf("Cannot update container %s: %w", arg, err)
		}
		if hc.AutoRemove && !p.IsNone() {
			return fmt.Errorf("Cannot update container %s: Restart policy cannot be updated because AutoRemove is enabled for the container", arg)
		}
		hc.RestartPolicy = p
	}
	for _, f := range []struct{ dst, src *int64 }{{&hc.Memory, &r.Memory}, {&hc.MemorySwap, &r.MemorySwap},
		{&hc.MemoryReservation, &r.MemoryReservation}, {&hc.NanoCPUs, &r.NanoCPUs}, {&hc.CPUShares, &r.CPUShares},
		{&hc.CPUPeriod, &r.CPUPeriod}, {&hc.CPUQuota, &r.CPUQuota}} {
		if *f.src != 0 {
			*f.dst = *f.src
		}
	}
	if r.CpusetCpus != "" {
		hc.CpusetCpus = r.CpusetCpus
	}
	if r.CpusetMems != "" {
		hc.CpusetMems = r.CpusetMems
	}
	if r.PidsLimit != nil {
		hc.PidsLimit = r.PidsLimit
	}
	if err := checkResources(&hc.Resources); err != nil {
		return fmt.Errorf("Cannot update container %s: %w", arg, err)
	}
	if c.Running() {
		res := limits(&hc)
		if p := hc.PidsLimit; p != nil && *p <= 0 {
			res.Pids = &specs.LinuxPids{Limit: -1} // no limit again: "max"
		}
		rc, err := e.runtime().Get(c.ID)
		if err == nil {
			err = rc.Update(res)
		}
		if err != nil {
			return fmt.Errorf("Cannot update container %s: %w", arg, err)
		}
	}
	c.HostConfig = hc
	if err := e.save(c); err != nil {
		return err
	}
	e.ContainerEvent(c, events.ActionUpdate, nil)
	return nil
}

// DiskUsage is what `docker system df` counts: the images' layers, each
// once (stage 08's sharing: two images of one base hold it once), and
// the containers' writable layers.
type DiskUsage struct {
	Images, ActiveImages                  int   // active: a container was made from it
	LayersSize, ImagesReclaimable         int64 // every layer once; what removing unused images frees, as docker reckons it
	Containers, ActiveContainers          int   // active: running or paused
	ContainersSize, ContainersReclaimable int64 // writable layers; those of stopped containers
	Volumes, ActiveVolumes                int   // active: a container mounts it
	VolumesSize, VolumesReclaimable       int64 // their files; those of the volumes no container mounts
}

// Size is docker ps -s's: the bytes of the container's writable layer,
// and of its whole root with its image's layers ("virtual").
func (e *Engine) Size(c *Container) (rw, rootfs int64) {
	rw = int64(treeSize(filepath.Join(e.Dir(c.ID), "upper")))
	rootfs = rw
	if img, err := e.Images.Get(c.ImageID); err == nil {
		rootfs += img.Size
	}
	return rw, rootfs
}

// DiskUsage adds up the disk the images and containers take.
func (e *Engine) DiskUsage() (*DiskUsage, error) {
	imgs, err := e.Images.List()
	if err != nil {
		return nil, err
	}
	ctrs, err := e.List()
	if err != nil {
		return nil, err
	}
	vols, err := e.Volumes()
	if err != nil {
		return nil, err
	}
	du := &DiskUsage{Images: len(imgs), Containers: len(ctrs), Volumes: len(vols)}
	made := map[string]bool{} // image IDs containers were made from
	mounted := map[string]bool{}
	for _, c := range ctrs {
		for _, b := range e.mounts(c) {
			mounted[b.Volume] = true
		}
		made[c.ImageID] = true
		size, _ := e.Size(c)
		du.ContainersSize += size
		if c.Running() {
			du.ActiveContainers++
		} else {
			du.ContainersReclaimable += size
		}
	}
	holders := map[v1.Hash]int{} // layer → images that have it
	for _, img := range imgs {
		for _, l := range img.Layers {
			if holders[l.ChainID]++; holders[l.ChainID] == 1 {
				du.LayersSize += l.Size
			}
		}
	}
	// docker's reckoning: all layers but the unshared ones of the images
	// in use.
	du.ImagesReclaimable = du.LayersSize
	for _, img := range imgs {
		if !made[img.ID.String()] {
			continue
		}
		du.ActiveImages++
		for _, l := range img.Layers {
			if holders[l.ChainID] == 1 {
				du.ImagesReclaimable -= l.Size
			}
		}
	}
	for _, v := range vols {
		size := e.VolumeSize(v.Name)
		du.VolumesSize += size
		if mounted[v.Name] {
			du.ActiveVolumes++
		} else {
			du.VolumesReclaimable += size
		}
	}
	return du, nil
}

func hostMemory() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return si.Totalram * uint64(si.Unit)
}

// netDev sums the received and sent bytes of every device but lo.
func netDev(data string) (rx, tx uint64) {
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, _ := strconv.ParseUint(f[0], 10, 64)
		t, _ := strconv.ParseUint(f[8], 10, 64)
		rx, tx = rx+r, tx+t
	}
	return rx, tx
}

// CPUPercent is docker's CPU %: the container's share of the time that
// passed between two samples, over all CPUs (100% is one CPU).
func CPUPercent(prev, cur *Stats) float64 {
	if prev == nil || cur.Read.Sub(prev.Read) <= 0 || cur.CPUNanos < prev.CPUNanos {
		return 0
	}
	return float64(cur.CPUNanos-prev.CPUNanos) / float64(cur.Read.Sub(prev.Read).Nanoseconds()) * 100
}

// NumCPU is what 100% per CPU is measured against.
func NumCPU() int { return goruntime.NumCPU() }

// Export writes the container's filesystem as a tar: its layers and its
// writable layer seen through a read-only overlay (no workdir: nothing
// can be written), mounted in a mount namespace of a thread of its own,
// so that no one else sees it.
func (e *Engine) Export(arg string, w io.Writer) error {
	c, err := e.Get(arg)
	if err != nil {
		return err
	}
	img, err := e.Images.Get(c.ImageID)
	if err != nil {
		return err
	}
	lowers := append([]string{filepath.Join(e.Dir(c.ID), "upper")}, img.LowerDirs()...)
	root, err := mountPrivately(lowers)
	if err != nil {
		return err
	}
	defer root.Close()
	// "/.": the descriptor's link is followed to the directory it holds.
	return image.TarTree(w, fmt.Sprintf("/proc/self/fd/%d/.", root.Fd()))
}

// Changes lists what the container changed over its image, as `docker
// diff` does: its writable layer (stage 08's upper directory) read against
// the image's layers, merged read-only.
func (e *Engine) Changes(arg string) ([]image.Change, error) {
	c, err := e.Get(arg)
	if err != nil {
		return nil, err
	}
	img, err := e.Images.Get(c.ImageID)
	if err != nil {
		return nil, err
	}
	var below *os.File
	if lowers := img.LowerDirs(); len(lowers) == 1 {
		below, err = os.Open(lowers[0]) // overlay needs two layers to mount with no upper
	} else {
		below, err = mountPrivately(lowers)
	}
	if err != nil {
		return nil, err
	}
	defer below.Close()
	return image.Changes(filepath.Join(e.Dir(c.ID), "upper"), below)
}

// mountPrivately mounts overlay(lowers) read-only in a throw-away mount
// namespace and returns the root directory, open: the open descriptor
// keeps the mount alive, and reaches it from any thread.
func mountPrivately(lowers []string) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread goes with its namespace
		f, err := func() (*os.File, error) {
			if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
				return nil, os.NewSyscallError("unshare CLONE_NEWNS", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return nil, err
			}
			dir, err := os.MkdirTemp("", "cfs-export-")
			if err != nil {
				return nil, err
			}
			defer os.Remove(dir)
			// Same as `mount -t overlay overlay -o ro,lowerdir=UPPER:LAYERS… DIR`.
			if err := unix.Mount("overlay", dir, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(lowers, ":")); err != nil {
				return nil, fmt.Errorf("mount the container's layers read-only: %w", err)
			}
			f, err := os.Open(dir)
			_ = unix.Unmount(dir, unix.MNT_DETACH) // alive through f
			return f, err
		}()
		done <- result{f, err}
	}()
	r := <-done
	return r.f, r.err
}

// CommitOptions are docker commit's.
type CommitOptions struct {
	Name, Author, Message string
	Changes               []string
	Pause                 bool // pause a running container meanwhile (docker's default)
}

// Commit makes a new image of the container's image and its writable
// layer (final/image's Commit, stage 08's lesson), with the container's
// config: its Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts.
func (e *Engine) Commit(ctx context.Context, arg string, opt CommitOptions) (*image.Image, error) {
	c, err := e.Get(arg)
	if err != nil {
		return nil, err
	}
	if opt.Pause && c.State.Status == Running {
		if err := e.Pause(c.ID); err == nil {
			defer func() { _ = e.Unpause(c.ID) }()
		}
	}
	img, err := e.Images.Get(c.ImageID)
	if err != nil {
		return nil, err
	}
	cfg := img.Config.Config
	cfg.Env, cfg.Cmd, cfg.Entrypoint = c.Config.Env, c.Config.Cmd, c.Config.Entrypoint
	cfg.WorkingDir, cfg.User, cfg.Labels, cfg.Volumes = c.Config.WorkingDir, c.Config.User, c.Config.Labels, c.Config.Volumes
	cfg.ExposedPorts = nil
	for p := range c.Config.ExposedPorts {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		cfg.ExposedPorts[p.String()] = struct{}{}
	}
	img, err = e.Images.Commit(ctx, image.CommitOptions{
		Parent: c.ImageID, Upper: filepath.Join(e.Dir(c.ID), "upper"), Name: opt.Name,
		Author: opt.Author, Message: opt.Message, CreatedBy: strings.Join(append([]string{c.Path}, c.Args...), " "), Config: &cfg, Changes: opt.Changes,
	})
	if err == nil {
		e.ContainerEvent(c, events.ActionCommit, map[string]string{"comment": opt.Message, "imageID": img.ID.String(), "imageRef": opt.Name})
	}
	return img, err
}

var (
	_ = v1.Hash{}
	_ = network.Port{}
	_ = errors.New
	_ = runtime.Running
)
