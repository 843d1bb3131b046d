package engine

// Networks, as `docker network ls` and `docker network inspect` show them.
// cfs has docker's three and makes no others: bridge is stage 05's cfs0
// (final/network), host is the host's own network namespace, none a
// namespace with only lo. The bridge is on the host only while a container
// uses it, and its subnet is chosen then, away from the host's routes: so
// what a network holds (its subnet, its containers and their addresses)
// comes from the records of the running containers.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"cfs/internal/layout"

	"github.com/moby/moby/api/types/network"
)

// networks are docker's names and drivers, in `docker network ls` order.
var networks = []struct{ name, driver string }{{"bridge", "bridge"}, {"host", "host"}, {"none", "null"}}

// NetworkNotFoundError is a name or ID that no network has.
type NetworkNotFoundError string

func (e NetworkNotFoundError) Error() string {
	return fmt.Sprintf("network %s not found (cfs has the networks bridge, host and none)", string(e))
}

// networkID is a network's ID: fixed, as the networks are, and as long as
// docker's (64 hex digits, shown as 12).
func networkID(name string) string {
	sum := sha256.Sum256([]byte("cfs network " + name))
	return hex.EncodeToString(sum[:])
}

// Networks is every network with the running containers on it.
func (e *Engine) Networks() ([]network.Inspect, error) {
	list, err := e.List()
	if err != nil {
		return nil, err
	}
	var out []network.Inspect
	for _, d := range networks {
		n := network.Inspect{
			Network: network.Network{Name: d.name, ID: networkID(d.name), Scope: "local", Driver: d.driver,
				EnableIPv4: d.name == "bridge", IPAM: network.IPAM{Driver: "default", Config: []network.IPAMConfig{}},
				Options: map[string]string{}, Labels: map[string]string{}},
			Containers: map[string]network.EndpointResource{},
		}
		if d.name == "bridge" {
			n.Options["com.docker.network.bridge.name"] = layout.Bridge
		}
		for _, c := range list {
			if !c.Running() || string(c.HostConfig.NetworkMode) != d.name {
				continue
			}
			r := network.EndpointResource{Name: c.Name}
			if ep := c.Network; ep != nil {
				ip, _ := netip.ParseAddr(ep.IP)
				gw, _ := netip.ParseAddr(ep.Gateway)
				r.IPv4Address = netip.PrefixFrom(ip, ep.PrefixLen)
				r.MacAddress, _ = parseMAC(ep.MAC)
				if len(n.IPAM.Config) == 0 {
					n.IPAM.Config = append(n.IPAM.Config, network.IPAMConfig{Subnet: r.IPv4Address.Masked(), Gateway: gw})
				}
			}
			n.Containers[c.ID] = r
		}
		out = append(out, n)
	}
	return out, nil
}

// Network is the network arg names: its name, its ID or a unique prefix
// of the ID, as docker resolves them.
func (e *Engine) Network(arg string) (network.Inspect, error) {
	all, err := e.Networks()
	if err != nil {
		return network.Inspect{}, err
	}
	var found []network.Inspect
	for _, n := range all {
		if n.Name == arg || n.ID == arg {
			return n, nil
		}
		if arg != "" && strings.HasPrefix(n.ID, arg) {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		return network.Inspect{}, NetworkNotFoundError(arg)
	}
	return found[0], nil
}

// NetworkFilterKeys are the keys of `docker network ls --filter` cfs has.
var NetworkFilterKeys = []string{"id", "name", "driver", "scope", "type"}

// NetworkMatcher is docker's network filter: id and name match a part,
// driver and scope the whole; type builtin matches every network of cfs
// (docker's own three) and custom none.
func NetworkMatcher(f Filter) (func(network.Inspect) bool, error) {
	for key, values := range f {
		if !slices.Contains(NetworkFilterKeys, key) {
			return nil, fmt.Errorf("invalid filter '%s' (cfs knows %s)", key, strings.Join(NetworkFilterKeys, ", "))
		}
		for _, v := range values {
			if key == "type" && v != "builtin" && v != "custom" {
				return nil, fmt.Errorf("invalid filter: 'type'='%s' (want builtin or custom)", v)
			}
		}
	}
	return func(n network.Inspect) bool {
		is := func(key string, ok func(v string) bool) bool {
			return len(f[key]) == 0 || slices.ContainsFunc(f[key], ok)
		}
		return is("id", func(v string) bool { return strings.Contains(n.ID, v) }) &&
			is("name", func(v string) bool { return strings.Contains(n.Name, v) }) &&
			is("driver", func(v string) bool { return v == n.Driver }) &&
			is("scope", func(v string) bool { return v == n.Scope }) &&
			is("type", func(v string) bool { return v == "builtin" })
	}, nil
}
