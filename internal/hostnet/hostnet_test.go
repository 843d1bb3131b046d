package hostnet

import (
	"net/netip"
	"os"
	"testing"

	"cfs/internal/layout"

	"github.com/stretchr/testify/require"
)

func TestParsePort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Port
		err  string
	}{
		{"8080:80", Port{8080, 80, "tcp"}, ""},
		{"53:5353/udp", Port{53, 5353, "udp"}, ""},
		{"1:65535/tcp", Port{1, 65535, "tcp"}, ""},
		{"70000:80", Port{}, "host port 70000 is out of range"},
		{"80", Port{}, "want HOSTPORT:CTRPORT"},
		{":80", Port{}, `host port "" is not a number`},
		{"80:80/icmp", Port{}, `protocol "icmp"`},
		{"-1:80", Port{}, "out of range"},
	} {
		got, err := ParsePort(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got)
	}
	var l PortList
	require.NoError(t, l.Set("8080:80"))
	require.ErrorContains(t, l.Set("8080:81"), "already published by -p 8080:80/tcp")
	require.NoError(t, l.Set("8080:81/udp"))
	require.Equal(t, "8080:80/tcp,8080:81/udp", l.String())
}

func TestParseSubnet(t *testing.T) {
	p, err := ParseSubnet("10.10.0.0/24")
	require.NoError(t, err)
	require.Equal(t, "10.10.0.1", Gateway(p).String())
	for in, msg := range map[string]string{
		"10.0.0.5/24": "did you mean 10.0.0.0/24?", "bogus": "want an IPv4 network in CIDR notation",
		"10.0.0.0/31": "prefix length must be 8 to 30", "127.0.0.0/24": "not a unicast range",
	} {
		_, err := ParseSubnet(in)
		require.ErrorContains(t, err, msg, in)
	}
}

func TestChooseSubnet(t *testing.T) {
	route := func(cidr, dev string) hostRoute { return hostRoute{netip.MustParsePrefix(cidr), dev} }
	p, err := chooseSubnet(netip.Prefix{}, []hostRoute{route("0.0.0.0/0", "eth0"), route("192.0.2.0/24", "eth0")})
	require.NoError(t, err)
	require.Equal(t, SubnetCandidates[0], p, "the default route must not count as a collision")
	p, err = chooseSubnet(netip.Prefix{}, []hostRoute{route("172.29.0.128/25", "docker0")})
	require.NoError(t, err)
	require.Equal(t, SubnetCandidates[1], p)
	_, err = chooseSubnet(netip.MustParsePrefix("10.1.0.0/16"), []hostRoute{route("10.1.2.0/24", "wg0")})
	require.EqualError(t, err, "--subnet 10.1.0.0/16 overlaps the host's route 10.1.2.0/24 dev wg0: pick a range the host does not use (see: ip route)")
}

func TestAllocate(t *testing.T) {
	l := &Ledger{Subnet: netip.MustParsePrefix("10.9.0.0/30")} // gateway .1, one container .2
	ip, err := l.allocate("aaaaaaaaaaaa", layout.Self(), nil)
	require.NoError(t, err)
	require.Equal(t, "10.9.0.2", ip.String())
	_, err = l.allocate("bbbbbbbbbbbb", layout.Self(), nil)
	require.ErrorContains(t, err, "no free address in 10.9.0.0/30")

	// An address freed is handed out again, lowest first.
	l.Subnet = netip.MustParsePrefix("10.9.0.0/24")
	l.Leases = []Lease{{ID: "eeeeeeeeeeee", IP: netip.MustParseAddr("10.9.0.3"), Owner: layout.Self()}}
	ip, err = l.allocate("cccccccccccc", layout.Self(), nil)
	require.NoError(t, err)
	require.Equal(t, "10.9.0.2", ip.String())
	ip, err = l.allocate("dddddddddddd", layout.Self(), []Port{{8080, 80, "tcp"}})
	require.NoError(t, err)
	require.Equal(t, "10.9.0.4", ip.String())
	require.Equal(t, "dddddddddddd", l.portOwner(Port{8080, 1, "tcp"}).ID)
	require.Nil(t, l.portOwner(Port{8080, 1, "udp"}))
	dead := layout.Owner{PID: os.Getpid(), Start: 1}
	require.False(t, dead.Alive(), "a lease whose owner's start time differs is stale")
}

func TestResolvConf(t *testing.T) {
	stub := []byte("# This is /run/systemd/resolve/stub-resolv.conf\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n")
	upstream := []byte("nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch lan\n")
	require.Equal(t, "nameserver 192.0.2.53\nsearch lan\n", ResolvConf(stub, upstream))
	require.Equal(t, "nameserver 198.51.100.53\n", ResolvConf([]byte("nameserver 198.51.100.53\n"), upstream))
	require.Equal(t, "# cfs: the host names no name server a container can reach; using docker's defaults\n"+
		"nameserver 8.8.8.8\nnameserver 8.8.4.4\noptions edns0 trust-ad\nsearch lan\n", ResolvConf(stub, nil))
	require.Equal(t, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.0.2\tweb\n", hostsFile("web", netip.MustParseAddr("10.0.0.2")))
}

func TestFlagsCheck(t *testing.T) {
	require.NoError(t, Flags{Mode: "bridge"}.Check())
	require.ErrorContains(t, Flags{Mode: "host"}.Check(), "want bridge or none")
	require.ErrorContains(t, Flags{Mode: "none", Ports: PortList{{80, 80, "tcp"}}}.Check(), "cannot be used with --net none")
	require.ErrorContains(t, Flags{Mode: "none", Subnet: SubnetCandidates[0]}.Check(), "cannot be used with --net none")
}
