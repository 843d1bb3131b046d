package nft

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The expressions stage 05 wrote by hand before the rules were written in
// nft syntax: each rule must compile to exactly these.
func ifname(name string) []byte { return append([]byte(name), 0) }

func matchIfname(key expr.MetaKey, op expr.CmpOp) []expr.Any {
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: ifname("cfs0")}}
}

func matchSaddr(p netip.Prefix) []expr.Any {
	network := p.Masked().Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: net.CIDRMask(p.Bits(), 32), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: network[:]},
	}
}

func matchCtBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestRulesCompileAsWrittenByHand(t *testing.T) {
	subnet := netip.MustParsePrefix("172.29.0.0/24")
	ip := netip.MustParseAddr("172.29.0.2").As4()
	accept := []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}
	for _, tc := range []struct {
		rule string
		want []expr.Any
	}{
		{"fib daddr type local jump published", []expr.Any{
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
			&expr.Verdict{Kind: expr.VerdictJump, Chain: "published"},
		}},
		{"udp dport 8081 counter dnat to 172.29.0.2:80", []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(8081)},
			&expr.Counter{},
			&expr.Immediate{Register: 1, Data: ip[:]},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(80)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		}},
		{`ip saddr 172.29.0.0/24 oifname != "cfs0" counter masquerade`, concat(
			matchSaddr(subnet), matchIfname(expr.MetaKeyOIFNAME, expr.CmpOpNeq), []expr.Any{&expr.Counter{}, &expr.Masq{}})},
		{`oifname "cfs0" ip saddr 127.0.0.0/8 counter masquerade`, concat(
			matchIfname(expr.MetaKeyOIFNAME, expr.CmpOpEq), matchSaddr(netip.MustParsePrefix("127.0.0.0/8")), []expr.Any{&expr.Counter{}, &expr.Masq{}})},
		{`oifname "cfs0" ip saddr 172.29.0.0/24 ct status dnat counter masquerade`, concat(
			matchIfname(expr.MetaKeyOIFNAME, expr.CmpOpEq), matchSaddr(subnet), matchCtBits(expr.CtKeySTATUS, 1<<5), []expr.Any{&expr.Counter{}, &expr.Masq{}})},
		{`oifname "cfs0" ct state established,related accept`, concat(
			matchIfname(expr.MetaKeyOIFNAME, expr.CmpOpEq), matchCtBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept)},
		{`oifname "cfs0" ct status dnat accept`, concat(
			matchIfname(expr.MetaKeyOIFNAME, expr.CmpOpEq), matchCtBits(expr.CtKeySTATUS, 1<<5), accept)},
		{`oifname "cfs0" iifname != "cfs0" counter drop`, concat(
			matchIfname(expr.MetaKeyOIFNAME, expr.CmpOpEq), matchIfname(expr.MetaKeyIIFNAME, expr.CmpOpNeq), []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}})},
		{`iifname "cfs0" counter accept`, concat(matchIfname(expr.MetaKeyIIFNAME, expr.CmpOpEq), []expr.Any{&expr.Counter{}}, accept)},
	} {
		c, err := parse("add rule ip cfs x " + tc.rule)
		require.NoError(t, err, tc.rule)
		require.Equal(t, tc.want, c.rule.Exprs, tc.rule)
	}
}

func TestCommands(t *testing.T) {
	c, err := parse(`insert rule inet filter forward oifname "cfs0" counter accept comment "cfs: containers on cfs0"`)
	require.NoError(t, err)
	require.Equal(t, &nftables.Table{Family: nftables.TableFamilyINet, Name: "filter"}, c.rule.Table)
	require.Equal(t, "forward", c.rule.Chain.Name)
	s, _ := userdata.GetString(c.rule.UserData, userdata.TypeComment)
	require.Equal(t, "cfs: containers on cfs0", s)
	require.Equal(t, "NFT_MSG_NEWRULE(inet filter forward oifname cfs0 counter accept comment cfs: containers on cfs0)", c.message())

	c, err = parse("add chain ip cfs prerouting { type nat hook prerouting priority dstnat; }")
	require.NoError(t, err)
	require.Equal(t, nftables.ChainTypeNAT, c.chain.Type)
	require.Equal(t, nftables.ChainHookPrerouting, c.chain.Hooknum)
	require.Equal(t, *nftables.ChainPriorityNATDest, *c.chain.Priority)
	c, err = parse("add chain ip cfs output { type nat hook output priority -100; }")
	require.NoError(t, err)
	require.Equal(t, *nftables.ChainPriorityNATDest, *c.chain.Priority)
	c, err = parse("add chain ip filter FORWARD { type filter hook forward priority filter; policy drop; }")
	require.NoError(t, err)
	require.Equal(t, nftables.ChainPolicyDrop, *c.chain.Policy)
	c, err = parse("add chain ip cfs published")
	require.NoError(t, err)
	require.Nil(t, c.chain.Hooknum)

	c, err = parse("delete rule ip filter FORWARD handle 12")
	require.NoError(t, err)
	require.Equal(t, uint64(12), c.rule.Handle)
	c, err = parse("delete table ip cfs")
	require.NoError(t, err)
	require.Equal(t, "NFT_MSG_DELTABLE(ip cfs)", c.message())

	for _, bad := range []string{
		"add table", "add table ip6x cfs", "add rule ip cfs x", "add rule ip cfs x frobnicate",
		"add rule ip cfs x tcp dport 70000 accept", `add rule ip cfs x oifname "cfs0`, "add chain ip cfs c { type nat; }",
		"add rule ip cfs x dnat to 10.0.0.1", "delete rule ip cfs x handle", "frob table ip cfs",
	} {
		_, err := parse(bad)
		require.Error(t, err, bad)
	}

	var b Batch
	b.Add("add table ip %s", "cfs")
	b.Add("add rule ip cfs x bogus")
	require.Equal(t, []string{"add table ip cfs", "add rule ip cfs x bogus"}, b.Lines())
	require.ErrorContains(t, b.Run(nil, nil), `unknown statement "bogus"`)
}
