package doctor

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// The path a container's packets take: from its veth over the bridge cfs0,
// through the host's forward hook, NATed out of the host's own interface.
// Everything here is per network namespace; /proc/thread-self/net and
// /proc/sys/net show the namespace of the thread that reads them, so a test
// can run these checks in a namespace of its own.

var netStages = from("stage05-net")

func checkIPForward(h *Host) Result {
	r := Result{Name: "ip-forward", NeededBy: netStages}
	v, err := readTrim(h.proc("sys/net/ipv4/ip_forward"))
	switch {
	case err != nil:
		r.Status, r.Detail = Warn, fmt.Sprintf("cannot read net.ipv4.ip_forward: %v", err)
	case v == "1":
		r.Status, r.Detail = OK, "net.ipv4.ip_forward=1"
	default:
		// stage05-net turns it on as it starts a container (and leaves it
		// on, as Docker does); a program of your own must do the same.
		r.Status = Warn
		r.Detail = "net.ipv4.ip_forward=" + v + ": the host does not route between interfaces; stage05-net turns it on, but until something does, containers reach the bridge and nothing beyond"
		r.Fix = "sudo sysctl -w net.ipv4.ip_forward=1 (and net.ipv4.ip_forward=1 in /etc/sysctl.d/99-cfs.conf to keep it)"
	}
	return r
}

// checkBrNetfilter: with br_netfilter loaded and bridge-nf-call-iptables=1
// (Docker and Kubernetes want both), frames that cfs0 switches from one
// container to another pass the IPv4 forward hook as if routed, so a drop
// there cuts containers off from each other, not just from the outside.
func checkBrNetfilter(h *Host) Result {
	r := Result{Name: "br-netfilter", NeededBy: netStages}
	v, err := readTrim(h.proc("sys/net/bridge/bridge-nf-call-iptables"))
	switch {
	case os.IsNotExist(err):
		r.Status, r.Detail = OK, "br_netfilter is not loaded: bridged frames skip the IP hooks"
		return r
	case err != nil:
		r.Status, r.Detail = Warn, fmt.Sprintf("cannot read net.bridge.bridge-nf-call-iptables: %v", err)
		return r
	case v != "1":
		r.Status, r.Detail = OK, "net.bridge.bridge-nf-call-iptables="+v+": bridged frames skip the IP hooks"
		return r
	}
	drops, _ := h.forwardDrops()
	var blocking []string
	for _, d := range drops {
		if !d.accepted && d.family != "bridge" {
			blocking = append(blocking, d.String())
		}
	}
	if len(blocking) == 0 {
		r.Status = OK
		r.Detail = "net.bridge.bridge-nf-call-iptables=1: traffic between containers passes the IPv4 forward hook, where nothing drops it that stage05-net does not accept"
		return r
	}
	r.Status = Warn
	r.Detail = "net.bridge.bridge-nf-call-iptables=1 and " + strings.Join(blocking, ", ") + " drops by default: containers on " + Bridge + " cannot reach each other"
	r.Fix = "accept " + Bridge + " in that chain (see forward-drop), or, if neither Docker nor Kubernetes runs here: sudo sysctl -w net.bridge.bridge-nf-call-iptables=0"
	return r
}

// legacyTables lists the tables of the legacy iptables (x_tables) in use;
// the file exists once ip_tables is loaded.
func (h *Host) legacyTables() []string {
	return readFields(h.proc("thread-self/net/ip_tables_names"))
}

// checkIptables says which iptables this host has. The stages write
// nftables directly, but Docker, ufw and firewalld write through iptables:
// with the nf_tables backend their rules show up in `nft list ruleset`;
// with the legacy backend they live apart, and a packet must pass both.
func checkIptables(h *Host) Result {
	r := Result{Name: "iptables", NeededBy: netStages}
	version := "iptables is not installed"
	if h.Exec != nil {
		if out, err := h.Exec("iptables", "--version"); err == nil {
			version = strings.TrimSpace(out)
		}
	}
	legacy := h.legacyTables()
	var nft []string
	nftText := "not read"
	if h.Nftables != nil {
		chains, err := h.Nftables()
		seen := map[string]bool{}
		for _, c := range chains {
			if t := c.Family + " " + c.Table; !seen[t] {
				seen[t] = true
				nft = append(nft, t)
			}
		}
		nftText = orNone(nft)
		if err != nil {
			nftText = "cannot list (" + errnoOf(err).Error() + ")"
		}
	}
	detail := version + "; legacy tables: " + orNone(legacy) + "; nftables tables: " + nftText
	if len(legacy) > 0 && len(nft) > 0 {
		r.Status = Warn
		r.Detail = detail + ": two rulesets, and a packet must pass both"
		r.Fix = "read both when a packet goes missing: sudo iptables-legacy -S; sudo nft list ruleset"
		return r
	}
	r.Status, r.Detail = OK, detail
	return r
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// forwardDrop is a chain at the forward hook whose policy is drop.
type forwardDrop struct {
	family, chain string // "ip", "ip filter FORWARD"; family "legacy" for iptables-legacy
	// accepted: stage05-net inserts accept rules for cfs0 at the top of
	// the chain, as Docker does for its own bridges. It does so in the
	// IPv4 and inet chains that nftables lists; legacy iptables is out of
	// its sight.
	accepted bool
}

func (d forwardDrop) String() string { return d.chain }

// forwardDrops lists the chains at the forward hook whose policy is drop,
// in nftables and in legacy iptables. An accept in one base chain does not
// save a packet from a drop in another: each chain at the hook must let it
// through.
func (h *Host) forwardDrops() ([]forwardDrop, error) {
	if h.Nftables == nil {
		return nil, fmt.Errorf("nftables not read")
	}
	chains, err := h.Nftables()
	if err != nil {
		return nil, err
	}
	var drops []forwardDrop
	for _, c := range chains {
		switch c.Family {
		case "ip", "inet", "bridge": // ip6 does not see the stages' IPv4
			if c.Hook == "forward" && c.Policy == "drop" {
				drops = append(drops, forwardDrop{c.Family, c.String(), c.Family != "bridge"})
			}
		}
	}
	if contains(h.legacyTables(), "filter") && h.Exec != nil {
		if out, err := h.Exec("iptables-legacy", "-S", "FORWARD"); err == nil && strings.Contains(out, "-P FORWARD DROP") {
			drops = append(drops, forwardDrop{"legacy", "iptables-legacy filter FORWARD", false})
		}
	}
	return drops, nil
}

// checkForwardDrop: Docker sets the FORWARD policy to drop, so that only
// its own bridges' traffic, which it accepts rule by rule, is forwarded.
func checkForwardDrop(h *Host) Result {
	r := Result{Name: "forward-drop", NeededBy: netStages}
	drops, err := h.forwardDrops()
	if err != nil {
		r.Status, r.Detail = Warn, fmt.Sprintf("cannot list the firewall: %v", err)
		r.Fix = Command
		return r
	}
	if len(drops) == 0 {
		r.Status, r.Detail = OK, "no chain at the forward hook drops by default"
		return r
	}
	// Worst first: a chain stage05-net cannot see, then one it does not
	// touch, then the ones it accepts cfs0 in.
	for _, d := range drops {
		if d.family == "legacy" {
			r.Status = Fail
			r.Detail = "policy drop in " + d.chain + ", which nftables does not see: stage05-net cannot accept " + Bridge + " there, so containers reach nothing beyond the host"
			r.Fix = forwardFix(h, d)
			return r
		}
	}
	for _, d := range drops {
		if d.family == "bridge" {
			r.Status = Warn
			r.Detail = "policy drop in " + d.chain + ": frames between containers on " + Bridge + " are dropped there"
			r.Fix = forwardFix(h, d)
			return r
		}
	}
	r.Status = Warn
	r.Detail = "policy drop in " + joinDrops(drops) + " (Docker sets this policy): stage05-net inserts accept rules for " + Bridge + " first in it; code of your own must do the same, or containers reach nothing beyond the host"
	r.Fix = "nothing for stage05-net; by hand, " + forwardFix(h, drops[0])
	return r
}

func joinDrops(ds []forwardDrop) string {
	var s []string
	for _, d := range ds {
		s = append(s, d.chain)
	}
	return strings.Join(s, ", ")
}

// forwardFix says how to accept the bridge ahead of a chain's drop
// policy, in the tool that owns the chain: iptables for the chain that
// iptables-nft and Docker make, nft for the others.
func forwardFix(h *Host, d forwardDrop) string {
	tool := ""
	switch {
	case d.family == "legacy":
		tool = "iptables-legacy"
	case d.chain == "ip filter FORWARD" && h.Exec != nil:
		if _, err := h.Exec("iptables", "--version"); err == nil {
			tool = "iptables"
		}
	}
	if tool != "" {
		return fmt.Sprintf("accept the bridge first: sudo %s -I FORWARD -i %s -j ACCEPT && sudo %s -I FORWARD -o %s -j ACCEPT", tool, Bridge, tool, Bridge)
	}
	if d.family == "bridge" {
		// Here the interfaces are the bridge's ports: the containers'
		// host-side veths, which stage05-net names cfs<id>.
		return fmt.Sprintf("accept the containers' veths first: sudo nft insert rule %s iifname \"cfs*\" accept", d.chain)
	}
	return fmt.Sprintf("accept the bridge first: sudo nft insert rule %s iifname %s accept && sudo nft insert rule %s oifname %s accept", d.chain, Bridge, d.chain, Bridge)
}

// checkSubnet does what stage05-net does when --subnet is not given: take
// the first candidate that no route of the main table overlaps, leaving out
// the default route and cfs0's own routes. A container address the host
// already routes elsewhere would have its replies sent there.
func checkSubnet(h *Host) Result {
	r := Result{Name: "subnet", NeededBy: netStages}
	if h.Routes == nil {
		r.Status, r.Detail = Warn, "routes not read"
		return r
	}
	routes, err := h.Routes()
	if err != nil {
		r.Status, r.Detail = Warn, fmt.Sprintf("cannot list the routes: %v", err)
		return r
	}
	var relevant []Route
	for _, rt := range routes {
		if rt.Table == mainTable && rt.Dst.Bits() > 0 && rt.Dev != Bridge {
			relevant = append(relevant, rt)
		}
	}
	overlap := func(p netip.Prefix) *Route {
		for i, rt := range relevant {
			if rt.Dst.Overlaps(p) {
				return &relevant[i]
			}
		}
		return nil
	}
	var taken []string
	for _, p := range SubnetCandidates {
		rt := overlap(p)
		if rt == nil {
			r.Status = OK
			r.Detail = fmt.Sprintf("stage05-net will use %s: no host route overlaps it", p)
			if len(taken) > 0 {
				r.Detail += " (" + strings.Join(taken, "; ") + ")"
			}
			return r
		}
		taken = append(taken, fmt.Sprintf("%s overlaps route %s", p, rt))
	}
	r.Status = Fail
	r.Detail = "no free default subnet: " + strings.Join(taken, "; ")
	r.Fix = "pass --subnet CIDR with a range no route overlaps (see: ip route)"
	for i := 30; i < 255; i++ {
		if p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 24); overlap(p) == nil {
			r.Fix += ", such as --subnet " + p.String()
			break
		}
	}
	return r
}
