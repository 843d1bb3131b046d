package engine

// What docker info and docker version tell about the engine and its
// host, for the command line and the API alike.

import (
	"os"
	goruntime "runtime"
	"strings"
	"time"

	"cfs/final/cgroups"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"
)

// Version is cfs's version, as `docker version` shows the server's.
const Version = "0.17.0-cfs"

// APIVersion is the version of the Docker Engine API that `cfs serve`
// (final/api) speaks: docker CLI 28 negotiates down to it, and CLI 29
// needs at least 1.44. MinAPIVersion is the oldest it answers.
const (
	APIVersion    = "1.47"
	MinAPIVersion = "1.24"
)

// Info is docker info's "Server:" part: the containers by state, the
// images, and what the engine uses on this host (overlay2, cgroupfs on
// cgroup v1 or v2, the kernel).
func (e *Engine) Info() (system.Info, error) {
	list, err := e.List()
	if err != nil {
		return system.Info{}, err
	}
	imgs, err := e.Images.List()
	if err != nil {
		return system.Info{}, err
	}
	host, _ := os.Hostname()
	var si unix.Sysinfo_t
	_ = unix.Sysinfo(&si)
	cgroupVersion := "1"
	if cgroups.IsV2() {
		cgroupVersion = "2"
	}
	in := system.Info{
		ID: "cfs", Containers: len(list), Images: len(imgs), Driver: "overlay2", LoggingDriver: "json-file",
		CgroupDriver: "cgroupfs", CgroupVersion: cgroupVersion, KernelVersion: KernelRelease(),
		OperatingSystem: osName(), OSType: "linux", Architecture: goruntime.GOARCH, NCPU: goruntime.NumCPU(),
		MemTotal: int64(si.Totalram) * int64(si.Unit), Name: host, ServerVersion: Version,
		DockerRootDir: e.Root, MemoryLimit: true, CPUCfsQuota: true, CPUCfsPeriod: true, PidsLimit: true,
		IPv4Forwarding: true, DefaultRuntime: "cfs", SystemTime: time.Now().Format(time.RFC3339Nano),
		Runtimes: map[string]system.RuntimeWithStatus{"cfs": {Runtime: system.Runtime{Path: e.Exe}}},
		Swarm:    swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
		Warnings: []string{},
	}
	for _, c := range list {
		switch c.State.Status {
		case Running:
			in.ContainersRunning++
		case Paused:
			in.ContainersPaused++
		default:
			in.ContainersStopped++
		}
	}
	return in, nil
}

// ServerVersion is docker version's "Server:" part.
func ServerVersion() system.VersionResponse {
	v := system.VersionResponse{
		Platform: system.PlatformInfo{Name: "cfs — containers from scratch"}, Version: Version,
		APIVersion: APIVersion, MinAPIVersion: MinAPIVersion, Os: "linux", Arch: goruntime.GOARCH,
		GoVersion: goruntime.Version(), KernelVersion: KernelRelease(), GitCommit: "cfs",
	}
	v.Components = []system.ComponentVersion{{Name: "Engine", Version: Version, Details: map[string]string{
		"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion, "Os": "linux", "Arch": goruntime.GOARCH,
		"GoVersion": v.GoVersion, "KernelVersion": v.KernelVersion, "GitCommit": "cfs", "Experimental": "false",
	}}}
	return v
}

// KernelRelease is uname -r.
func KernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// osName is PRETTY_NAME of /etc/os-release.
func osName() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}
