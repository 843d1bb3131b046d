package engine_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"cfs/internal/layout"
	"cfs/internal/stagetest"

	"github.com/moby/moby/api/types/network"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

// An HTTP server in a container behind -p, fetched from the host (the
// package's network namespace), from a second container on the bridge,
// and from an "outside" host in a namespace of its own, cabled to ours.
func TestPublishedPort(t *testing.T) {
	setup(t)
	rmAll(t, "web")
	ok(t, "run", "-d", "--name", "web", "-h", "web", "-p", "8080:80", "cfs-test/helper")
	c := inspect(t, "web")
	ip := c.NetworkSettings.Networks["bridge"].IPAddress
	require.True(t, ip.IsValid(), "an address on the bridge")
	require.Equal(t, ip.String()+"\n", ok(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"), "where dockerd 20.10 shows it too")
	require.Equal(t, "80/tcp -> 0.0.0.0:8080\n", ok(t, "port", "web"))
	require.Equal(t, "0.0.0.0:8080\n", ok(t, "port", "web", "80"))
	require.Regexp(t, `0\.0\.0\.0:8080->80/tcp\s+web`, ok(t, "ps"))

	// From the host, through the DNAT rule of the table ip cfs.
	require.Equal(t, "hello from web\n", inNetNS(t, "http://127.0.0.1:8080/"))
	// From a second container, at its address on the bridge and at the
	// published port of the gateway.
	require.Equal(t, "hello from web\n", ok(t, "run", "--rm", "cfs-test/helper", "/cfs-helper", "get", "http://"+ip.String()+"/"))

	// From outside: a namespace cabled to the package's, which reaches
	// the host at its address on that cable.
	wan := stagetest.NewNetNS(t, "wan")
	host := stagetest.PackageNetNS()
	h, err := host.Handle()
	require.NoError(t, err)
	defer h.Close()
	wh, err := wan.Handle()
	require.NoError(t, err)
	defer wh.Close()
	wanNS, err := netlinkNS(wan.Path)
	require.NoError(t, err)
	la := netlink.NewLinkAttrs()
	la.Name = "uplink"
	require.NoError(t, h.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(wanNS)}))
	t.Cleanup(func() {
		h, err := host.Handle()
		if err != nil {
			return
		}
		defer h.Close()
		if l, err := h.LinkByName("uplink"); err == nil {
			_ = h.LinkDel(l)
		}
	})
	up, err := h.LinkByName("uplink")
	require.NoError(t, err)
	a, _ := netlink.ParseAddr("198.51.100.1/24")
	require.NoError(t, h.AddrAdd(up, a))
	require.NoError(t, h.LinkSetUp(up))
	eth0, err := wh.LinkByName("eth0")
	require.NoError(t, err)
	b, _ := netlink.ParseAddr("198.51.100.2/24")
	require.NoError(t, wh.AddrAdd(eth0, b))
	require.NoError(t, wh.LinkSetUp(eth0))
	var body string
	require.NoError(t, wan.Do(func() error {
		conn, err := net.Dial("tcp", "198.51.100.1:8080")
		if err != nil {
			return err
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET / HTTP/1.0\r\n\r\n")
		buf := make([]byte, 4096)
		var all []byte
		for {
			n, err := conn.Read(buf)
			all = append(all, buf[:n]...)
			if err != nil {
				break
			}
		}
		_, body, _ = strings.Cut(string(all), "\r\n\r\n")
		return nil
	}))
	require.Equal(t, "hello from web\n", body)

	// -P publishes the image's exposed port on a free host port.
	rmAll(t, "web2")
	ok(t, "run", "-d", "--name", "web2", "-h", "web2", "-P", "cfs-test/helper")
	line := strings.TrimSpace(ok(t, "port", "web2"))
	require.Regexp(t, `^80/tcp -> 0\.0\.0\.0:\d+$`, line)
	hostPort := line[strings.LastIndex(line, ":")+1:]
	require.Equal(t, "hello from web2\n", inNetNS(t, "http://127.0.0.1:"+hostPort+"/"))

	// The same host port twice: refused, nothing left.
	r := cfs(t, "run", "-d", "--name", "web3", "-p", "8080:80", "cfs-test/helper")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, "already published")
	cfs(t, "rm", "-f", "web3")

	// Gone with the containers: the rules, the veths, the bridge.
	ok(t, "rm", "-f", "web", "web2")
	contents, err := host.Contents()
	require.NoError(t, err)
	for _, c := range contents {
		require.NotContains(t, c, layout.Bridge, "the network goes with the last container")
	}
}

// 50 containers at once, each with an address of its own.
func TestFiftyContainers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	setup(t)
	const n = 50
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("many%02d", i)
	}
	rmAll(t, names...)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i += 10 { // ten at a time, from five commands at once
		for j := i; j < i+10; j++ {
			wg.Add(1)
			go func(name string) {
				defer wg.Done()
				if r := cfs(t, "run", "-d", "--name", name, "cfs/base", "sleep", "1000"); r.Code != 0 {
					errs <- name + ": " + r.Stderr
				}
			}(names[j])
		}
		wg.Wait()
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	seen := map[netip.Addr]string{}
	out := ok(t, append([]string{"inspect", "-f", "{{.Name}} {{.NetworkSettings.Networks.bridge.IPAddress}}"}, names...)...)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, addr, _ := strings.Cut(line, " ")
		ip, err := netip.ParseAddr(addr)
		require.NoError(t, err, line)
		require.Empty(t, seen[ip], "%s and %s share %s", seen[ip], name, ip)
		seen[ip] = name
	}
	require.Len(t, seen, n)
	require.Equal(t, n, strings.Count(ok(t, "ps", "-q"), "\n"))
	ok(t, append([]string{"rm", "-f"}, names...)...)
	require.Equal(t, "", ok(t, "ps", "-aq"))
}

// network ls and network inspect: docker's three networks; the bridge's
// subnet and gateway are cfs0's own (read from outside, with netlink),
// and its containers are those running on it, with their addresses.
func TestNetworks(t *testing.T) {
	setup(t)
	rmAll(t, "net-a", "net-b", "net-none")
	ok(t, "run", "-d", "--name", "net-a", "cfs/base", "sleep", "1000")
	ok(t, "run", "-d", "--name", "net-b", "cfs/base", "sleep", "1000")
	ok(t, "run", "-d", "--name", "net-none", "--network", "none", "cfs/base", "sleep", "1000")

	ls := ok(t, "network", "ls")
	require.Regexp(t, `^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE\n`+
		`[0-9a-f]{12}\s+bridge\s+bridge\s+local\n[0-9a-f]{12}\s+host\s+host\s+local\n[0-9a-f]{12}\s+none\s+null\s+local\n$`, ls)
	id := strings.TrimSpace(ok(t, "network", "ls", "-q", "--no-trunc", "-f", "driver=bridge"))
	require.Regexp(t, `^[0-9a-f]{64}$`, id)
	require.Regexp(t, `^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE\n[0-9a-f]{12}\s+none\s+null\s+local\n$`, ok(t, "network", "ls", "-f", "name=no"))
	require.Empty(t, ok(t, "network", "ls", "-q", "-f", "type=custom"), "cfs makes no networks of its own")
	require.Equal(t, "bridge bridge\nhost host\nnone null\n", ok(t, "network", "ls", "--format", "{{.Name}} {{.Driver}}"))
	require.Regexp(t, `^NAME +IPV6\nbridge +false\n$`, ok(t, "network", "ls", "-f", "name=bri", "--format", `table {{.Name}}\t{{.IPv6}}`))

	var nets []network.Inspect
	require.NoError(t, json.Unmarshal([]byte(ok(t, "network", "inspect", "bridge", id[:5], "none")), &nets))
	require.Len(t, nets, 3)
	br := nets[0]
	require.Equal(t, id, br.ID)
	require.Equal(t, nets[0], nets[1], "the name and a prefix of the ID name the same network")
	require.Equal(t, layout.Bridge, br.Options["com.docker.network.bridge.name"])
	require.Len(t, br.IPAM.Config, 1)
	subnet, gw := br.IPAM.Config[0].Subnet, br.IPAM.Config[0].Gateway

	// From outside: cfs0 holds the gateway, in that subnet.
	h, err := stagetest.PackageNetNS().Handle()
	require.NoError(t, err)
	defer h.Close()
	link, err := h.LinkByName(layout.Bridge)
	require.NoError(t, err)
	addrs, err := h.AddrList(link, netlink.FAMILY_V4)
	require.NoError(t, err)
	require.Len(t, addrs, 1)
	require.Equal(t, netip.PrefixFrom(gw, subnet.Bits()).String(), addrs[0].IPNet.String())

	for _, name := range []string{"net-a", "net-b"} {
		c := inspect(t, name)
		ep, found := br.Containers[c.ID]
		require.True(t, found, "%s is on the bridge: %v", name, br.Containers)
		require.Equal(t, name, ep.Name)
		require.Equal(t, netip.PrefixFrom(c.NetworkSettings.Networks["bridge"].IPAddress, subnet.Bits()), ep.IPv4Address)
		require.True(t, subnet.Contains(ep.IPv4Address.Addr()))
		// Inside: the container's eth0 has that address and MAC.
		require.Contains(t, ok(t, "exec", name, "ip", "-o", "addr", "show", "eth0"), "inet "+ep.IPv4Address.String())
		require.Contains(t, ok(t, "exec", name, "cat", "/sys/class/net/eth0/address"), ep.MacAddress.String())
	}
	none := nets[2]
	require.Equal(t, "null", none.Driver)
	c := inspect(t, "net-none")
	require.Contains(t, none.Containers, c.ID)
	require.False(t, none.Containers[c.ID].IPv4Address.IsValid(), "no address on none")
	require.NotContains(t, br.Containers, c.ID)

	// docker inspect finds networks too, after containers and images.
	require.Equal(t, "bridge "+subnet.String()+"\n", ok(t, "inspect", "-f", "{{.Name}} {{range .IPAM.Config}}{{.Subnet}}{{end}}", "bridge"))

	r := cfs(t, "network", "inspect", "bridge", "nope")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stdout, id, "what was found is printed")
	require.Equal(t, "Error response from daemon: network nope not found (cfs has the networks bridge, host and none)\n", r.Stderr, "as docker network inspect says it")
	r = cfs(t, "network", "ls", "-f", "colour=red")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "invalid filter 'colour'")
	r = cfs(t, "network", "create", "mine")
	require.Equal(t, 125, r.Code)
	require.Contains(t, r.Stderr, `unknown command "create"`)

	// Stopped, a container is on no network.
	ok(t, "stop", "-t", "0", "net-a")
	var after []network.Inspect
	require.NoError(t, json.Unmarshal([]byte(ok(t, "network", "inspect", "bridge")), &after))
	require.NotContains(t, after[0].Containers, c.ID)
	require.NotContains(t, after[0].Containers, inspect(t, "net-a").ID)
	require.Contains(t, after[0].Containers, inspect(t, "net-b").ID)
}
