// Package hostnet keeps the books of the containers' network on a host:
// what the kernel does not do for us, and what a student does not come to
// stage 05 to learn. The stage makes the bridge, the veth cable and the NAT
// rules itself; hostnet answers the questions around them:
//
//   - the command line: --net, --subnet and -p (Flags, ParsePort);
//   - which address each container holds, in a ledger per network
//     namespace under /run/cfs, locked so that containers starting at once
//     get different ones, with the stage that owns each lease, so that a
//     later run drops the leases (and the rules, veths and bridge) that a
//     killed run left (Open, Ledger.Lease, Ledger.Release);
//   - which subnet the bridge serves: the first candidate that no host
//     route overlaps;
//   - whether a published host port is free;
//   - living with another firewall's forward chain that drops by default,
//     docker's (ForwardAccepts);
//   - each container's /etc/hosts, /etc/hostname and /etc/resolv.conf
//     (WriteEtc).
//
// An engine that runs many containers uses it the same way: one lease per
// container, released when the container is removed.
package hostnet

import (
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"cfs/internal/cli"
	"cfs/internal/layout"
)

// Flags is what the command line says about a container's network.
type Flags struct {
	Mode   string       // "bridge" or "none"
	Subnet netip.Prefix // zero: choose one
	Ports  PortList
}

// Register adds -p, --net and --subnet to fs, filling f.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.Var(&f.Ports, "p", "publish a container port on the host: `HOSTPORT:CTRPORT[/tcp|/udp]` (repeatable)")
	fs.StringVar(&f.Mode, "net", "bridge", "network `MODE`: bridge (eth0 on "+layout.Bridge+", NAT to the outside) or none (loopback only)")
	fs.Func("subnet", "IPv4 `CIDR` of "+layout.Bridge+" (default: the first of "+candidateList()+" free of host routes)", func(v string) error {
		p, err := ParseSubnet(v)
		f.Subnet = p
		return err
	})
}

// Check rejects combinations that make no sense, before anything exists.
func (f Flags) Check() error {
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

// Port is one published port: connections to the host's port Host go to
// the container's port Ctr.
type Port struct {
	Host  uint16 `json:"host"`
	Ctr   uint16 `json:"ctr"`
	Proto string `json:"proto"` // "tcp" or "udp"
}

func (p Port) String() string { return fmt.Sprintf("%d:%d/%s", p.Host, p.Ctr, p.Proto) }

// PortList is the value of the repeatable -p flag.
type PortList []Port

func (l *PortList) String() string {
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
func (l *PortList) Set(v string) error {
	p, err := ParsePort(v)
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

// ParsePort reads HOSTPORT:CTRPORT[/tcp|/udp].
func ParsePort(v string) (Port, error) {
	spec, proto, hasProto := strings.Cut(v, "/")
	if !hasProto {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return Port{}, cli.Usagef("protocol %q: want tcp or udp", proto)
	}
	hostPort, ctrPort, ok := strings.Cut(spec, ":")
	if !ok {
		return Port{}, cli.Usagef("want HOSTPORT:CTRPORT[/tcp|/udp], as in -p 8080:80")
	}
	h, err := parsePortNumber("host", hostPort)
	if err != nil {
		return Port{}, err
	}
	c, err := parsePortNumber("container", ctrPort)
	if err != nil {
		return Port{}, err
	}
	return Port{Host: h, Ctr: c, Proto: proto}, nil
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

// ParseSubnet accepts an IPv4 network address with a prefix length that
// leaves room for the gateway and at least one container.
func ParseSubnet(v string) (netip.Prefix, error) {
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

// SubnetCandidates are tried in order when --subnet is not given: one in
// each private range, because a VPN or a cloud network often takes a whole
// range (all of 10.0.0.0/8, say) and the next candidate must lie outside it.
var SubnetCandidates = []netip.Prefix{
	netip.MustParsePrefix("172.29.0.0/24"),
	netip.MustParsePrefix("10.29.0.0/24"),
	netip.MustParsePrefix("192.168.229.0/24"),
}

func candidateList() string {
	var s []string
	for _, p := range SubnetCandidates {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

// Gateway is the bridge's address in subnet: the first one.
func Gateway(subnet netip.Prefix) netip.Addr {
	return subnet.Masked().Addr().Next()
}
