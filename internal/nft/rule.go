package nft

// A rule's statements, compiled to the register machine that nft(8)
// compiles them to: load something into a register (meta, payload, ct,
// fib), compare it, and end with a verdict or a NAT. Each case below is
// one statement as nft(8) writes it.

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// ctStates are the bits of `ct state`.
var ctStates = map[string]uint32{
	"invalid": expr.CtStateBitINVALID, "established": expr.CtStateBitESTABLISHED,
	"related": expr.CtStateBitRELATED, "new": expr.CtStateBitNEW, "untracked": expr.CtStateBitUNTRACKED,
}

// ctStatuses are the bits of `ct status` (IPS_* in the kernel's
// nf_conntrack_common.h).
var ctStatuses = map[string]uint32{"snat": 1 << 4, "dnat": 1 << 5}

// parseRule compiles a rule's statements:
//
//	iifname|oifname [!=] "NAME"     the packet's input or output device
//	ip saddr|daddr CIDR|ADDR        its IPv4 source or destination
//	tcp|udp dport N                 its transport protocol and destination port
//	fib daddr type local            its destination is one of the host's addresses
//	ct state S[,S…]                 conntrack's state (new, established, related…)
//	ct status dnat|snat             the connection was NATed
//	counter                         count packets and bytes
//	accept | drop | return | jump CHAIN  verdicts
//	masquerade                      source NAT to the outgoing device's address
//	dnat to ADDR:PORT               destination NAT
func parseRule(w []string) ([]expr.Any, error) {
	var out []expr.Any
	need := func(i, n int) error {
		if i+n >= len(w) {
			return fmt.Errorf("%q wants %d more words", w[i], n)
		}
		return nil
	}
	for i := 0; i < len(w); i++ {
		switch word := w[i]; word {
		case "iifname", "oifname":
			key := map[string]expr.MetaKey{"iifname": expr.MetaKeyIIFNAME, "oifname": expr.MetaKeyOIFNAME}[word]
			op := expr.CmpOpEq
			if i+1 < len(w) && w[i+1] == "!=" {
				op, i = expr.CmpOpNeq, i+1
			}
			if err := need(i, 1); err != nil {
				return nil, err
			}
			i++
			// A device name as the kernel compares it: NUL-terminated, as
			// iptables-nft writes it too.
			out = append(out, &expr.Meta{Key: key, Register: 1},
				&expr.Cmp{Op: op, Register: 1, Data: append([]byte(w[i]), 0)})
		case "ip":
			if err := need(i, 2); err != nil {
				return nil, err
			}
			offset := map[string]uint32{"saddr": 12, "daddr": 16}[w[i+1]]
			if offset == 0 {
				return nil, fmt.Errorf("ip %s: want saddr or daddr", w[i+1])
			}
			p, err := netip.ParsePrefix(w[i+2])
			if err != nil {
				a, aerr := netip.ParseAddr(w[i+2])
				if aerr != nil || !a.Is4() {
					return nil, fmt.Errorf("ip %s %s: not an IPv4 address or network", w[i+1], w[i+2])
				}
				p = netip.PrefixFrom(a, 32)
			}
			i += 2
			// Load 4 bytes of the IP header, mask them, compare.
			network := p.Masked().Addr().As4()
			out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: net.CIDRMask(p.Bits(), 32), Xor: make([]byte, 4)},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: network[:]})
		case "tcp", "udp":
			if err := need(i, 2); err != nil {
				return nil, err
			}
			if w[i+1] != "dport" {
				return nil, fmt.Errorf("%s %s: only dport is understood", word, w[i+1])
			}
			port, err := strconv.ParseUint(w[i+2], 10, 16)
			if err != nil {
				return nil, fmt.Errorf("%s dport %s: not a port", word, w[i+2])
			}
			proto := byte(unix.IPPROTO_TCP)
			if word == "udp" {
				proto = unix.IPPROTO_UDP
			}
			i += 2
			out = append(out, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}, // destination port
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(uint16(port))})
		case "fib":
			if err := need(i, 3); err != nil {
				return nil, err
			}
			if strings.Join(w[i+1:i+4], " ") != "daddr type local" {
				return nil, fmt.Errorf("fib: only \"fib daddr type local\" is understood")
			}
			i += 3
			out = append(out, &expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)})
		case "ct":
			if err := need(i, 2); err != nil {
				return nil, err
			}
			key, names := expr.CtKeySTATE, ctStates
			if w[i+1] == "status" {
				key, names = expr.CtKeySTATUS, ctStatuses
			} else if w[i+1] != "state" {
				return nil, fmt.Errorf("ct %s: want state or status", w[i+1])
			}
			var bits uint32
			for _, s := range strings.Split(w[i+2], ",") {
				b, ok := names[s]
				if !ok {
					return nil, fmt.Errorf("ct %s %s: unknown", w[i+1], s)
				}
				bits |= b
			}
			i += 2
			// Any of the bits set.
			out = append(out, &expr.Ct{Register: 1, Key: key},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
				&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)})
		case "counter":
			out = append(out, &expr.Counter{})
		case "accept":
			out = append(out, &expr.Verdict{Kind: expr.VerdictAccept})
		case "drop":
			out = append(out, &expr.Verdict{Kind: expr.VerdictDrop})
		case "return":
			out = append(out, &expr.Verdict{Kind: expr.VerdictReturn})
		case "jump":
			if err := need(i, 1); err != nil {
				return nil, err
			}
			i++
			out = append(out, &expr.Verdict{Kind: expr.VerdictJump, Chain: w[i]})
		case "masquerade":
			out = append(out, &expr.Masq{})
		case "dnat":
			if err := need(i, 2); err != nil {
				return nil, err
			}
			ap, err := netip.ParseAddrPort(w[i+2])
			if w[i+1] != "to" || err != nil || !ap.Addr().Is4() {
				return nil, fmt.Errorf("dnat %s %s: want dnat to ADDR:PORT", w[i+1], w[i+2])
			}
			i += 2
			ip := ap.Addr().As4()
			out = append(out, &expr.Immediate{Register: 1, Data: ip[:]},
				&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(ap.Port())},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true})
		default:
			return nil, fmt.Errorf("unknown statement %q", word)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("a rule without statements")
	}
	return out, nil
}
