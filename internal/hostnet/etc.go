package hostnet

// Each container's /etc files, in /run/cfs/ID: many containers share one
// root filesystem, but /etc/hosts, /etc/hostname and /etc/resolv.conf must
// speak of each one. The child binds them over the shared files.

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"cfs/internal/layout"
)

// EtcFiles are the files of /etc each container gets its own copy of.
var EtcFiles = []string{"hosts", "hostname", "resolv.conf"}

// WriteEtc writes container id's hosts, hostname and resolv.conf into
// layout.EtcDir(id), with a note of its owner, the calling process, so
// that a later run can remove them if the caller dies without doing so;
// and removes the files of containers whose owner is gone. ip is invalid
// for a container without a network.
func WriteEtc(id, hostname string, ip netip.Addr) (dir string, err error) {
	SweepEtc()
	dir = layout.EtcDir(id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	if err := layout.WriteOwner(filepath.Join(dir, "owner")); err != nil {
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, "owner"), err)
	}
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	systemdResolv, _ := os.ReadFile("/run/systemd/resolve/resolv.conf")
	for name, content := range map[string]string{
		"hosts":       hostsFile(hostname, ip),
		"hostname":    hostname + "\n",
		"resolv.conf": ResolvConf(hostResolv, systemdResolv),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
		}
	}
	return dir, nil
}

// EtcBinds lists the binds that put the files of dir (WriteEtc's) over
// those of a root filesystem: only over a regular file, since a root
// filesystem without one must not get one (creating it would change the
// shared directory), and a symbolic link would be followed on the host's
// side.
func EtcBinds(dir, root string) (binds [][2]string) {
	for _, name := range EtcFiles {
		if dir == "" {
			break // no files: a container without a network of the host's
		}
		target := filepath.Join(root, "etc", name)
		if fi, err := os.Lstat(target); err == nil && fi.Mode().IsRegular() {
			binds = append(binds, [2]string{filepath.Join(dir, name), target})
		}
	}
	return binds
}

// RemoveEtc removes what WriteEtc wrote.
func RemoveEtc(id string) error { return os.RemoveAll(layout.EtcDir(id)) }

// SweepEtc removes the /etc directories of containers whose owner is gone.
func SweepEtc() {
	owners, _ := filepath.Glob(filepath.Join(layout.RunDir, "*", "owner"))
	for _, f := range owners {
		if o, err := layout.ReadOwner(f); err == nil && !o.Alive() {
			_ = os.RemoveAll(filepath.Dir(f))
		}
	}
}

// hostsFile maps the container's hostname to its address (to nothing more
// than loopback without a network), so that programs looking up their own
// name find it.
func hostsFile(hostname string, ip netip.Addr) string {
	s := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if ip.IsValid() {
		s += ip.String() + "\t" + hostname + "\n"
	}
	return s
}

// fallbackDNS is what docker writes when the host names no server that a
// container can reach.
var fallbackDNS = []string{"8.8.8.8", "8.8.4.4"}

// ResolvConf writes the container's resolv.conf from the host's. A name
// server on a loopback address (systemd-resolved's stub at 127.0.0.53,
// dnsmasq at 127.0.0.1) is the host's own loopback, which the container's
// loopback is not: drop those, and when none is left use the upstream
// servers systemd-resolved lists in /run/systemd/resolve/resolv.conf, as
// docker does. IPv6 servers go too: the container has IPv4 only.
func ResolvConf(host, systemd []byte) string {
	servers, other := parseResolv(host)
	if len(servers) == 0 {
		if s, o := parseResolv(systemd); len(s) > 0 {
			servers, other = s, o
		}
	}
	var b strings.Builder
	if len(servers) == 0 {
		b.WriteString("# cfs: the host names no name server a container can reach; using docker's defaults\n")
		servers = fallbackDNS
	}
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	for _, o := range other {
		b.WriteString(o + "\n")
	}
	return b.String()
}

// parseResolv returns the usable IPv4 name servers of a resolv.conf, and
// its search, domain and options lines.
func parseResolv(data []byte) (servers, other []string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			a, err := netip.ParseAddr(f[1])
			if err == nil && a.Is4() && !a.IsLoopback() {
				servers = append(servers, a.String())
			}
		case "search", "domain", "options":
			other = append(other, strings.Join(f, " "))
		}
	}
	return servers, other
}
