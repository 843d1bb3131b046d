package main

// The bookkeeping behind the network, none of which the kernel does for
// us: which address each container holds, which host ports it published,
// which subnet the bridge serves, and which of those records belong to a
// stage that is gone. It lives in files under /run/cfs, a tmpfs that a
// reboot empties together with the links and rules the files describe.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"cfs/internal/cli"

	"golang.org/x/sys/unix"
)

// stateDir holds the ledger and the containers' /etc files.
const stateDir = "/run/cfs"

// etcFiles are the files each container gets its own copy of.
var etcFiles = []string{"hosts", "hostname", "resolv.conf"}

// ---------------------------------------------------------------------------
// The command line: --net, --subnet and -p.

// netFlags is what the command line says about the network.
type netFlags struct {
	Mode   string       // "bridge" or "none"
	Subnet netip.Prefix // zero: choose one
	Ports  portList
}

// check rejects combinations that make no sense, before anything exists.
func (f netFlags) check() error {
	switch f.Mode {
	case "bridge":
	case "none":
		if len(f.Ports) > 0 {
			return cli.Usagef("-p needs a network: it cannot be used with --net none")
		}
		if f.Subnet.IsValid() {
			return cli.Usagef("--subnet needs a network: it cannot be used with --net none")
		}
	default:
		return cli.Usagef("--net %q: want bridge or none", f.Mode)
	}
	return nil
}

// portMap is one published port: connections to the host's HOSTPORT go to
// the container's CTRPORT.
type portMap struct {
	Host  uint16 `json:"host"`
	Ctr   uint16 `json:"ctr"`
	Proto string `json:"proto"` // "tcp" or "udp"
}

func (p portMap) String() string { return fmt.Sprintf("%d:%d/%s", p.Host, p.Ctr, p.Proto) }

// portList is the value of the repeatable -p flag.
type portList []portMap

func (l *portList) String() string {
	if l == nil {
		return ""
	}
	var s []string
	for _, p := range *l {
		s = append(s, p.String())
	}
	return strings.Join(s, ",")
}

// Set parses HOSTPORT:CTRPORT[/tcp|/udp], as docker's -p does (without an
// address or ranges). The flag package puts the flag and value before the
// error.
func (l *portList) Set(v string) error {
	p, err := parsePort(v)
	if err != nil {
		return err
	}
	for _, q := range *l {
		if q.Host == p.Host && q.Proto == p.Proto {
			return cli.Usagef("host port %d/%s is already published by -p %s", p.Host, p.Proto, q)
		}
	}
	*l = append(*l, p)
	return nil
}

func parsePort(v string) (portMap, error) {
	spec, proto, hasProto := strings.Cut(v, "/")
	if !hasProto {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return portMap{}, cli.Usagef("protocol %q: want tcp or udp", proto)
	}
	hostPort, ctrPort, ok := strings.Cut(spec, ":")
	if !ok {
		return portMap{}, cli.Usagef("want HOSTPORT:CTRPORT[/tcp|/udp], as in -p 8080:80")
	}
	h, err := parsePortNumber("host", hostPort)
	if err != nil {
		return portMap{}, err
	}
	c, err := parsePortNumber("container", ctrPort)
	if err != nil {
		return portMap{}, err
	}
	return portMap{Host: h, Ctr: c, Proto: proto}, nil
}

func parsePortNumber(which, s string) (uint16, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, cli.Usagef("%s port %q is not a number (want HOSTPORT:CTRPORT[/tcp|/udp], as in -p 8080:80)", which, s)
	}
	if n < 1 || n > 65535 {
		return 0, cli.Usagef("%s port %d is out of range 1-65535", which, n)
	}
	return uint16(n), nil
}

// parseSubnet accepts an IPv4 network address with a prefix length that
// leaves room for the gateway and at least one container.
func parseSubnet(v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, cli.Usagef("want an IPv4 network in CIDR notation, as in 10.10.0.0/24")
	}
	if p.Bits() < 8 || p.Bits() > 30 {
		return netip.Prefix{}, cli.Usagef("the prefix length must be 8 to 30 (/30 holds the gateway and one container)")
	}
	if p.Masked() != p {
		return netip.Prefix{}, cli.Usagef("not a network address (did you mean %s?)", p.Masked())
	}
	a := p.Addr()
	if a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.As4()[0] >= 240 {
		return netip.Prefix{}, cli.Usagef("not a unicast range a host can route (use a private one, as in 10.10.0.0/24)")
	}
	return p, nil
}

// ---------------------------------------------------------------------------
// Choosing the subnet.

// subnetCandidates are tried in order when --subnet is not given: one in
// each private range, because a VPN or a cloud network often takes a whole
// range (all of 10.0.0.0/8, say) and the next candidate must lie outside it.
var subnetCandidates = []netip.Prefix{
	netip.MustParsePrefix("172.29.0.0/24"),
	netip.MustParsePrefix("10.29.0.0/24"),
	netip.MustParsePrefix("192.168.229.0/24"),
}

func candidateList() string {
	var s []string
	for _, p := range subnetCandidates {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

// hostRoute is a route of the host's main table, as chooseSubnet needs it.
type hostRoute struct {
	Dst netip.Prefix
	Dev string
}

func (r hostRoute) String() string { return r.Dst.String() + " dev " + r.Dev }

// chooseSubnet returns the requested subnet, or the first candidate, that
// overlaps none of the host's routes. A container address that the host
// already routes elsewhere would make replies to it go there instead. The
// default route overlaps everything and is the way out, so it does not
// count; nor do routes of cfs0 itself, which the caller leaves out.
func chooseSubnet(requested netip.Prefix, routes []hostRoute) (netip.Prefix, error) {
	overlap := func(p netip.Prefix) *hostRoute {
		for i, r := range routes {
			if r.Dst.Bits() > 0 && r.Dst.Overlaps(p) {
				return &routes[i]
			}
		}
		return nil
	}
	if requested.IsValid() {
		if r := overlap(requested); r != nil {
			return netip.Prefix{}, fmt.Errorf("--subnet %s overlaps the host's route %s: pick a range the host does not use (see: ip route)", requested, r)
		}
		return requested, nil
	}
	var taken []string
	for _, p := range subnetCandidates {
		r := overlap(p)
		if r == nil {
			return p, nil
		}
		taken = append(taken, fmt.Sprintf("%s overlaps route %s", p, r))
	}
	return netip.Prefix{}, fmt.Errorf("no free default subnet for %s (%s): pass --subnet CIDR with a range the host does not use (see: ip route)",
		bridgeName, strings.Join(taken, "; "))
}

// gateway is the bridge's address: the first one in the subnet.
func gateway(subnet netip.Prefix) netip.Addr {
	return subnet.Masked().Addr().Next()
}

// ---------------------------------------------------------------------------
// The ledger: who holds which address.

// owner names a running stage. A PID alone is not enough, since the kernel
// reuses PIDs: the start time (in clock ticks after boot, field 22 of
// /proc/PID/stat) tells a new process with an old number apart.
type owner struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

func self() owner {
	start, _ := procStart(os.Getpid())
	return owner{PID: os.Getpid(), Start: start}
}

func (o owner) alive() bool {
	start, err := procStart(o.PID)
	return err == nil && start == o.Start
}

func procStart(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: count
	// fields from the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return strconv.ParseUint(f[19], 10, 64) // field 22 overall
}

// lease is one container's claim on an address and on host ports.
type lease struct {
	ID    string     `json:"id"`
	IP    netip.Addr `json:"ip"`
	Owner owner      `json:"owner"`
	Ports []portMap  `json:"ports,omitempty"`
}

// ledger is the state of one network namespace's bridge: the subnet it
// serves and the leases of its containers. There is one file per network
// namespace, named after the namespace's inode number (the N that
// `readlink /proc/self/ns/net` shows as net:[N]): the bridge, veths and
// rules it describes exist in that namespace only, and two stages in two
// namespaces (as parallel tests are) each have a cfs0 and addresses of
// their own. One lock serves every namespace; it is held for milliseconds.
type ledger struct {
	Subnet netip.Prefix `json:"subnet"`
	Leases []lease      `json:"leases"`

	path string
	lock *os.File
}

// openLedger locks the ledger of the stage's network namespace and reads
// it; close writes it back and unlocks. Between the two, no other stage
// reads or changes it, so two containers starting at once cannot take the
// same address.
func openLedger() (*ledger, error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", stateDir, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		return nil, fmt.Errorf("identify this network namespace: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(stateDir, "net.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the network lock: %w", err)
	}
	// flock(2) waits while another stage holds the lock, and the kernel
	// drops it when the holder dies, even by SIGKILL: no stale lock.
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	l := &ledger{path: filepath.Join(stateDir, fmt.Sprintf("net-%d.json", st.Ino)), lock: lock}
	data, err := os.ReadFile(l.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		l.close()
		return nil, fmt.Errorf("read the address ledger: %w", err)
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, l); err != nil {
			// Leases only matter while their stages run; a file that
			// cannot be read is started afresh rather than blocking every
			// run. Its stages' rules are rebuilt from the new ledger.
			fmt.Fprintf(os.Stderr, "%s: %s is damaged (%v); starting a new one\n", stage, l.path, err)
			l.Subnet, l.Leases = netip.Prefix{}, nil
		}
	}
	return l, nil
}

// save writes the ledger, or removes it once no container is left, so an
// idle host has no state. The new content appears by rename: a stage
// killed while writing leaves the old file, never half a new one.
func (l *ledger) save() error {
	if len(l.Leases) == 0 {
		if err := os.Remove(l.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", l.path, err)
		}
		return nil
	}
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	tmp := l.path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// close unlocks the ledger (closing the file drops the flock).
func (l *ledger) close() {
	l.lock.Close()
}

// reap drops the leases of stages that are gone (killed with SIGKILL,
// say, before they could release them) and returns them.
func (l *ledger) reap() []lease {
	var live, dead []lease
	for _, ls := range l.Leases {
		if ls.Owner.alive() {
			live = append(live, ls)
		} else {
			dead = append(dead, ls)
		}
	}
	l.Leases = live
	if len(live) == 0 {
		l.Subnet = netip.Prefix{}
	}
	return dead
}

// portOwner returns the lease that already publishes the host port p.
func (l *ledger) portOwner(p portMap) *lease {
	for i, ls := range l.Leases {
		for _, q := range ls.Ports {
			if q.Host == p.Host && q.Proto == p.Proto {
				return &l.Leases[i]
			}
		}
	}
	return nil
}

// allocate leases the lowest free address of the subnet to container id.
// The gateway holds the first address, the last is the broadcast address.
func (l *ledger) allocate(id string, o owner, ports []portMap) (netip.Addr, error) {
	used := map[netip.Addr]bool{gateway(l.Subnet): true}
	for _, ls := range l.Leases {
		used[ls.IP] = true
	}
	ip, ok := freeAddr(l.Subnet, used)
	if !ok {
		return netip.Addr{}, fmt.Errorf("no free address in %s: all %d are taken by running containers (use a larger --subnet when none run)",
			l.Subnet, len(l.Leases))
	}
	l.Leases = append(l.Leases, lease{ID: id, IP: ip, Owner: o, Ports: ports})
	return ip, nil
}

// freeAddr returns the lowest address of subnet, after the network
// address and before the broadcast address, that is not in used.
func freeAddr(subnet netip.Prefix, used map[netip.Addr]bool) (netip.Addr, bool) {
	for a := subnet.Masked().Addr().Next(); subnet.Contains(a); a = a.Next() {
		if !subnet.Contains(a.Next()) {
			break // a is the broadcast address
		}
		if !used[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// release drops container id's lease.
func (l *ledger) release(id string) {
	for i, ls := range l.Leases {
		if ls.ID == id {
			l.Leases = append(l.Leases[:i], l.Leases[i+1:]...)
			break
		}
	}
	if len(l.Leases) == 0 {
		l.Subnet = netip.Prefix{}
	}
}

// ---------------------------------------------------------------------------
// Each container's /etc files, in /run/cfs/ID.

// writeEtc writes the container's own hosts, hostname and resolv.conf in
// a directory named after it, with a note of its owner so that a later run
// can remove it if this stage dies without doing so.
func writeEtc(dir, hostname string, ip netip.Addr) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	ownerData, _ := json.Marshal(self())
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	systemdResolv, _ := os.ReadFile("/run/systemd/resolve/resolv.conf")
	for name, content := range map[string]string{
		"owner":       string(ownerData) + "\n",
		"hosts":       hostsFile(hostname, ip),
		"hostname":    hostname + "\n",
		"resolv.conf": resolvConf(hostResolv, systemdResolv),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
		}
	}
	return nil
}

// sweepEtc removes the /etc directories of containers whose stage is gone.
func sweepEtc() {
	dirs, _ := filepath.Glob(filepath.Join(stateDir, "*", "owner"))
	for _, f := range dirs {
		var o owner
		data, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(data, &o) != nil || o.alive() {
			continue
		}
		_ = os.RemoveAll(filepath.Dir(f))
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

// resolvConf writes the container's resolv.conf from the host's. A name
// server on a loopback address (systemd-resolved's stub at 127.0.0.53,
// dnsmasq at 127.0.0.1) is the host's own loopback, which the container's
// loopback is not: drop those, and when none is left use the upstream
// servers systemd-resolved lists in /run/systemd/resolve/resolv.conf, as
// docker does. IPv6 servers go too: the container has IPv4 only.
func resolvConf(host, systemd []byte) string {
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
