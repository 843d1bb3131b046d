package engine_test

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"cfs/internal/layout"
	"cfs/internal/stagetest"

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
