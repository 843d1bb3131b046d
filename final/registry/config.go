package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// ConfigPath is where cfs reads its registry settings. The file has the
// keys, and the meaning, of the same settings in docker's
// /etc/docker/daemon.json, so a classroom's docker settings can be copied
// over as they are; other keys are ignored.
//
//	{
//	  "registry-mirrors": ["https://mirror.example.edu"],
//	  "insecure-registries": ["registry.lab:5000", "10.0.0.0/8"]
//	}
const ConfigPath = "/etc/cfs/daemon.json"

// Config is what daemon.json and the flags --registry-mirror and
// --insecure-registry say.
type Config struct {
	// Mirrors are asked for Docker Hub's images before Docker Hub itself,
	// in order; a mirror that fails is skipped. As in docker, mirrors
	// serve Docker Hub only. An http:// mirror is allowed plain HTTP.
	Mirrors []string `json:"registry-mirrors,omitempty"`
	// Insecure registries (HOST, HOST:PORT or a CIDR range of addresses)
	// may answer in plain HTTP, and over HTTPS with a certificate that is
	// not checked. Loopback registries (localhost, 127.0.0.0/8, ::1) are
	// always insecure, as in docker.
	Insecure []string `json:"insecure-registries,omitempty"`
	// Path is the file the settings came from, for messages.
	Path string `json:"-"`
}

// LoadConfig reads the settings in path. A missing file is no settings.
func LoadConfig(path string) (Config, error) {
	c := Config{Path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read the registry settings: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s: not valid JSON (%v): fix it, or move it away", path, err)
	}
	return c, c.Validate()
}

// Validate checks each mirror and insecure registry, as dockerd does when
// it starts.
func (c Config) Validate() error {
	where := ""
	if c.Path != "" {
		where = c.Path + ": "
	}
	for _, m := range c.Mirrors {
		if _, err := mirrorHost(m); err != nil {
			return fmt.Errorf("%sregistry mirror %q: %v", where, m, err)
		}
	}
	for _, r := range c.Insecure {
		if strings.Contains(r, "://") {
			return fmt.Errorf("%sinsecure registry %q: write HOST[:PORT] or a CIDR range, without a scheme", where, r)
		}
		if _, _, err := net.ParseCIDR(r); err == nil {
			continue
		}
		if u, err := url.Parse("//" + r); err != nil || u.Host != r {
			return fmt.Errorf("%sinsecure registry %q: not HOST[:PORT] or a CIDR range", where, r)
		}
	}
	return nil
}

// mirrorHost returns the HOST[:PORT] of a mirror's URL.
func mirrorHost(m string) (string, error) {
	u, err := url.Parse(m)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("want a URL such as https://mirror.example.edu or http://10.0.0.5:5000")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("a mirror is a host: no path, query or fragment after it (as in docker)")
	}
	return u.Host, nil
}

// IsInsecure reports whether host (HOST or HOST:PORT, as in a reference)
// may answer in plain HTTP or with a certificate that is not checked.
func (c Config) IsInsecure(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	if ip != nil && ip.IsLoopback() {
		return true
	}
	for _, m := range c.Mirrors {
		if mh, err := mirrorHost(m); err == nil && strings.HasPrefix(m, "http://") && mh == host {
			return true
		}
	}
	for _, r := range c.Insecure {
		if r == host || r == h {
			return true
		}
		if _, cidr, err := net.ParseCIDR(r); err == nil {
			if ip == nil {
				if addrs, err := net.LookupIP(h); err == nil && len(addrs) > 0 {
					ip = addrs[0]
				}
			}
			if ip != nil && cidr.Contains(ip) {
				return true
			}
		}
	}
	return false
}

// With returns c with more mirrors and insecure registries (the flags'),
// checked.
func (c Config) With(mirrors, insecure []string) (Config, error) {
	c.Mirrors = append(append([]string(nil), c.Mirrors...), mirrors...)
	c.Insecure = append(append([]string(nil), c.Insecure...), insecure...)
	path := c.Path
	c.Path = ""
	err := c.Validate()
	c.Path = path
	return c, err
}
