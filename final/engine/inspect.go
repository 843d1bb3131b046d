package engine

// A container as the Docker Engine API shows it: `docker inspect`
// (InspectResponse) and `docker ps` (Summary, and the Filter of its
// --filter), in moby's own types, so that part 4's API serves them as
// they are.

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"cfs/final/image"

	"github.com/docker/go-units"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/storage"
)

// Inspect is `docker inspect`'s view of c.
func (e *Engine) Inspect(c *Container) container.InspectResponse {
	dir := e.Dir(c.ID)
	st := &container.State{
		Status: container.ContainerState(c.State.Status), Running: c.Up(), Paused: c.State.Status == Paused, Restarting: c.State.Status == Restarting,
		Pid: c.State.Pid, ExitCode: c.State.ExitCode, Error: c.State.Error,
		StartedAt: apiTime(c.State.StartedAt), FinishedAt: apiTime(c.State.FinishedAt),
	}
	cfg, hc := c.Config, c.HostConfig
	r := container.InspectResponse{
		ID: c.ID, Created: c.Created.Format(time.RFC3339Nano), Path: c.Path, Args: nonNil(c.Args), State: st, RestartCount: c.RestartCount,
		Image: c.ImageID, Name: "/" + c.Name, Driver: "overlay2", Platform: "linux",
		ResolvConfPath: filepath.Join(dir, "resolv.conf"), HostnamePath: filepath.Join(dir, "hostname"),
		HostsPath: filepath.Join(dir, "hosts"), LogPath: e.LogPath(c.ID),
		HostConfig: &hc, Config: &cfg, Mounts: []container.MountPoint{},
		NetworkSettings: &container.NetworkSettings{Ports: network.PortMap{}, Networks: map[string]*network.EndpointSettings{}},
	}
	// Stage 08's overlay: `docker inspect -f '{{.GraphDriver.Data.UpperDir}}'`.
	r.GraphDriver = &storage.DriverData{Name: "overlay2", Data: map[string]string{
		"MergedDir": filepath.Join(dir, "rootfs"), "UpperDir": filepath.Join(dir, "upper"), "WorkDir": filepath.Join(dir, "work")}}
	if img, err := e.Images.Get(c.ImageID); err == nil {
		r.GraphDriver.Data["LowerDir"] = strings.Join(img.LowerDirs(), ":")
	}
	if r.HostConfig.LogConfig.Type == "" {
		r.HostConfig.LogConfig.Type = "json-file"
	}
	for _, b := range e.mounts(c) {
		m := container.MountPoint{Type: "bind", Source: b.Source, Destination: b.Destination, RW: !b.ReadOnly, Propagation: "rprivate"}
		if b.Volume != "" {
			m = container.MountPoint{Type: "volume", Name: b.Volume, Source: b.Source, Destination: b.Destination, Driver: "local", Mode: "z", RW: !b.ReadOnly}
		}
		r.Mounts = append(r.Mounts, m)
	}
	ns := r.NetworkSettings
	ep := &network.EndpointSettings{}
	if n := c.Network; n != nil && c.Running() {
		ep.IPAddress, _ = netip.ParseAddr(n.IP)
		ep.Gateway, _ = netip.ParseAddr(n.Gateway)
		ep.IPPrefixLen = n.PrefixLen
		if mac, err := parseMAC(n.MAC); err == nil {
			ep.MacAddress = mac
		}
		for _, p := range n.Ports {
			port, _ := network.PortFrom(p.Ctr, network.IPProtocol(p.Proto))
			ns.Ports[port] = append(ns.Ports[port], network.PortBinding{HostIP: netip.IPv4Unspecified(), HostPort: fmt.Sprint(p.Host)})
		}
	}
	for p := range cfg.ExposedPorts {
		if _, ok := ns.Ports[p]; !ok {
			ns.Ports[p] = nil
		}
	}
	ns.Networks[string(hc.NetworkMode)] = ep
	return r
}

func parseMAC(s string) (network.HardwareAddr, error) {
	var m network.HardwareAddr
	err := m.UnmarshalText([]byte(s))
	return m, err
}

func apiTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.Format(time.RFC3339Nano)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Summary is `docker ps`'s view of c.
func (e *Engine) Summary(c *Container) container.Summary {
	s := container.Summary{
		ID: c.ID, Names: []string{"/" + c.Name}, Image: c.Image, ImageID: c.ImageID,
		Command: Command(c), Created: c.Created.Unix(), State: container.ContainerState(c.State.Status),
		Status: c.StatusText(), Labels: c.Config.Labels, Ports: []container.PortSummary{},
	}
	s.HostConfig.NetworkMode = string(c.HostConfig.NetworkMode)
	if n := c.Network; n != nil && c.Running() {
		for _, p := range n.Ports {
			s.Ports = append(s.Ports, container.PortSummary{IP: netip.IPv4Unspecified(), PrivatePort: p.Ctr, PublicPort: p.Host, Type: p.Proto})
		}
	}
	return s
}

// Filter is docker ps's --filter (the API's filters): for each key, one of
// its values must match; every key must. The keys cfs knows are docker's
// id (a prefix), name (a part), status, exited (the exit code), label
// (KEY or KEY=VALUE), network (a name or ID), publish and expose (a port
// or range, with /tcp or /udp: a host port published, a container port
// exposed or published), volume (a bind mount's source or target, or a
// tmpfs target), health (cfs has no health checks: every container's is
// none) and is-task (none is a swarm task), isolation (Windows' notion:
// on Linux dockerd lets every container through, and so does cfs), and
// ancestor, before and since (see Matcher).
type Filter map[string][]string

// FilterKeys are the keys a Filter may have.
var FilterKeys = []string{"id", "name", "status", "exited", "label", "network", "publish", "expose", "volume", "health", "is-task", "isolation", "ancestor", "before", "since"}

// Check refuses what docker's daemon refuses: an unknown key, a status
// docker does not have, an exit code that is not a number.
func (f Filter) Check() error {
	for key, values := range f {
		if !slices.Contains(FilterKeys, key) {
			return fmt.Errorf("invalid filter '%s' (cfs knows %s)", key, strings.Join(FilterKeys, ", "))
		}
		for _, v := range values {
			_, err := strconv.Atoi(v)
			if key == "publish" || key == "expose" {
				_, err = network.ParsePortRange(v)
			}
			if key == "status" && !slices.Contains([]string{Created, "restarting", Running, "removing", Paused, Exited, Dead}, v) ||
				(key == "exited" || key == "publish" || key == "expose") && err != nil ||
				key == "health" && !slices.Contains([]string{"starting", "healthy", "unhealthy", "none"}, v) ||
				key == "is-task" && v != "true" && v != "false" {
				return fmt.Errorf("invalid filter '%s=%s'", key, v)
			}
		}
	}
	return nil
}

// All: a filter on the status or the exit code looks at every container,
// not only the running ones, as docker's does.
func (f Filter) All() bool { return len(f["status"]) > 0 || len(f["exited"]) > 0 }

// Matcher is the filter with its references found: before and since
// name containers (made before or after them), ancestor an image (the
// containers of that image or of one made from it, such as a commit of
// it). An unknown container is an error, an unknown image matches
// nothing, as in docker.
func (e *Engine) Matcher(f Filter) (func(*Container) bool, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	times := map[string][]time.Time{}
	for _, key := range []string{"before", "since"} {
		for _, v := range f[key] {
			c, err := e.Get(v)
			if err != nil {
				return nil, err
			}
			times[key] = append(times[key], c.Created)
		}
	}
	var tops []v1.Hash // the top layer of each ancestor: its chain ID names all below it
	for _, v := range f["ancestor"] {
		if img, err := e.Images.Get(v); err == nil && len(img.Layers) > 0 {
			tops = append(tops, img.Layers[len(img.Layers)-1].ChainID)
		}
	}
	return func(c *Container) bool {
		if !f.match(c) ||
			len(f["before"]) > 0 && !slices.ContainsFunc(times["before"], c.Created.Before) ||
			len(f["since"]) > 0 && !slices.ContainsFunc(times["since"], c.Created.After) {
			return false
		}
		if len(f["ancestor"]) == 0 {
			return true
		}
		img, err := e.Images.Get(c.ImageID)
		return err == nil && slices.ContainsFunc(img.Layers, func(l image.Layer) bool { return slices.Contains(tops, l.ChainID) })
	}, nil
}

// match reports whether c passes the filter's keys that need nothing
// else to be known.
func (f Filter) match(c *Container) bool {
	is := func(key string, ok func(v string) bool) bool {
		return len(f[key]) == 0 || slices.ContainsFunc(f[key], ok)
	}
	return is("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
		is("name", func(v string) bool { return strings.Contains(c.Name, strings.TrimPrefix(v, "/")) }) &&
		is("status", func(v string) bool { return v == c.State.Status }) &&
		is("exited", func(v string) bool { return c.State.Status == Exited && v == strconv.Itoa(c.State.ExitCode) }) &&
		is("label", func(v string) bool { return HasLabel(c.Config.Labels, v) }) &&
		is("network", func(v string) bool {
			mode := string(c.HostConfig.NetworkMode)
			return v == mode || v == networkID(mode) || v == networkID(mode)[:12]
		}) &&
		is("publish", func(v string) bool { return slices.ContainsFunc(published(c), inRange(v, true)) }) &&
		is("expose", func(v string) bool { return slices.ContainsFunc(exposed(c), inRange(v, false)) }) &&
		is("volume", func(v string) bool { return hasMount(c, v) }) &&
		is("health", func(v string) bool { return v == "none" }) &&
		is("is-task", func(v string) bool { return v == "false" })
}

// published are a running container's published ports.
func published(c *Container) []Port {
	if c.Network == nil || !c.Running() {
		return nil
	}
	return c.Network.Ports
}

// exposed are the ports a container exposes: its image's and -p's.
func exposed(c *Container) []Port {
	ports := published(c)
	for p := range c.Config.ExposedPorts {
		ports = append(ports, Port{Ctr: p.Num(), Proto: string(p.Proto())})
	}
	return ports
}

// inRange is a publish or expose filter's test of a port: its host port
// (publish) or its container port (expose) in the value's range, with the
// value's protocol (tcp unless it says).
func inRange(v string, host bool) func(Port) bool {
	r, _ := network.ParsePortRange(v) // Check has parsed it
	return func(p Port) bool {
		n := p.Ctr
		if host {
			n = p.Host
		}
		return n >= r.Start() && n <= r.End() && string(r.Proto()) == p.Proto
	}
}

// hasMount is a volume filter's test: a bind mount's source or target,
// a volume's name or target, or a tmpfs's target, is path.
func hasMount(c *Container, path string) bool {
	for _, b := range c.HostConfig.Binds {
		if bind, err := ParseBind(b); err == nil && (bind.Source == path || bind.Destination == path || bind.Volume == path) {
			return true
		}
	}
	for dst, name := range c.Volumes {
		if dst == path || name == path {
			return true
		}
	}
	_, ok := c.HostConfig.Tmpfs[path]
	return ok
}

// HasLabel is a label filter's test: labels has KEY, or KEY=VALUE.
func HasLabel(labels map[string]string, kv string) bool {
	k, v, withValue := strings.Cut(kv, "=")
	have, ok := labels[k]
	return ok && (!withValue || have == v)
}

// Command is the command as docker ps shows it: entrypoint and command,
// space-separated, an argument with a space in it in single quotes, as
// dockerd writes it (sh -c 'echo hi; sleep 1'), so that one can tell
// where an argument ends.
func Command(c *Container) string {
	words := []string{c.Path}
	for _, a := range c.Args {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

// StatusText is docker ps's STATUS: "Up 2 minutes", "Up 3 seconds
// (Paused)", "Exited (0) 5 seconds ago", "Restarting (1) 1 second ago",
// "Created".
func (c *Container) StatusText() string {
	now := time.Now()
	switch c.State.Status {
	case Running:
		return "Up " + units.HumanDuration(now.Sub(c.State.StartedAt))
	case Paused:
		return "Up " + units.HumanDuration(now.Sub(c.State.StartedAt)) + " (Paused)"
	case Exited:
		if c.State.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", c.State.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s ago", c.State.ExitCode, units.HumanDuration(now.Sub(c.State.FinishedAt)))
	case Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", c.State.ExitCode, units.HumanDuration(now.Sub(c.State.FinishedAt)))
	case Dead:
		return "Dead"
	}
	return "Created"
}

// PortLines are `docker port`'s lines: "80/tcp -> 0.0.0.0:8080", sorted.
func (c *Container) PortLines() []string {
	var out []string
	if c.Network == nil || !c.Running() {
		return nil
	}
	ports := append([]Port(nil), c.Network.Ports...)
	sort.Slice(ports, func(i, j int) bool {
		if ports[i].Ctr != ports[j].Ctr {
			return ports[i].Ctr < ports[j].Ctr
		}
		return ports[i].Proto < ports[j].Proto
	})
	for _, p := range ports {
		out = append(out, fmt.Sprintf("%d/%s -> 0.0.0.0:%d", p.Ctr, p.Proto, p.Host))
	}
	return out
}
