package stagetest

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync/atomic"
	"syscall"
	"testing"

	"cfs/internal/nftname"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NetNS is a network namespace made for tests and named under /run/netns,
// as `ip netns add NAME` does, so that tools and the stage can enter it by
// path. A stage started through its Wrapper creates its bridge, veths and
// nft rules there, never in the host's own network.
type NetNS struct {
	Name string // as `ip netns list` shows it
	Path string // /run/netns/NAME
}

var netnsSeq atomic.Int64

// NewNetNS creates a network namespace with its loopback up, named uniquely
// for this test process (role is a readable suffix: "host", "wan"), and
// deletes it when the test ends.
func NewNetNS(t testing.TB, role string) *NetNS {
	t.Helper()
	n, err := newNetNS(role)
	if err != nil {
		t.Fatalf("create network namespace for %q: %v", role, err)
	}
	t.Cleanup(func() {
		if err := n.Delete(); err != nil {
			t.Errorf("delete network namespace %s: %v", n.Name, err)
		}
	})
	return n
}

func newNetNS(role string) (*NetNS, error) {
	name := fmt.Sprintf("cfs-test-%d-%d-%s", os.Getpid(), netnsSeq.Add(1), role)
	errc := make(chan error, 1)
	go func() {
		// unshare(CLONE_NEWNET) moves the calling thread into the new
		// namespace. The thread stays locked and is thrown away when this
		// goroutine returns, so no other goroutine ever runs in it.
		runtime.LockOSThread()
		h, err := netns.NewNamed(name)
		if err == nil {
			h.Close()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	n := &NetNS{Name: name, Path: "/run/netns/" + name}
	h, err := n.Handle()
	if err != nil {
		n.Delete()
		return nil, err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		n.Delete()
		return nil, fmt.Errorf("set lo up in %s: %w", name, err)
	}
	return n, nil
}

// Delete removes the name; the namespace itself goes when nothing uses it.
func (n *NetNS) Delete() error {
	return netns.DeleteNamed(n.Name)
}

// Wrapper returns the command prefix that runs a program in the namespace,
// for StartWrapped.
func (n *NetNS) Wrapper() []string {
	return []string{"nsenter", "--net=" + n.Path}
}

// Handle returns a netlink handle whose requests act in the namespace.
func (n *NetNS) Handle() (*netlink.Handle, error) {
	ns, err := netns.GetFromPath(n.Path)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
}

// Nft returns an nftables connection to the namespace's ruleset; close it
// with the returned function.
func (n *NetNS) Nft() (*nftables.Conn, func(), error) {
	f, err := os.Open(n.Path)
	if err != nil {
		return nil, nil, err
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())), nftables.AsLasting())
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return c, func() { _ = c.CloseLasting(); f.Close() }, nil
}

// Ino returns the namespace's inode number, the number in "net:[N]".
func (n *NetNS) Ino() (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(n.Path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// Do runs fn on an OS thread inside the namespace. Sockets keep the
// namespace they were created in, so a listener or connection made in fn
// can be used from any goroutine afterwards.
func (n *NetNS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it leaves the namespace by being
		// thrown away when the goroutine returns.
		runtime.LockOSThread()
		ns, err := netns.GetFromPath(n.Path)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter %s: %w", n.Name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Contents lists the links (other than lo) and nft tables in the
// namespace, as "link NAME" and "nft table FAMILY NAME", sorted.
func (n *NetNS) Contents() ([]string, error) {
	h, err := n.Handle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := h.LinkList()
	for i := 0; errors.Is(err, netlink.ErrDumpInterrupted) && i < 20; i++ {
		links, err = h.LinkList() // a link changed while listing: ask again
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range links {
		if l.Attrs().Name != "lo" {
			out = append(out, "link "+l.Attrs().Name)
		}
	}
	c, done, err := n.Nft()
	if err != nil {
		return nil, err
	}
	defer done()
	tables, err := c.ListTables()
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		out = append(out, fmt.Sprintf("nft table %s %s", nftname.Family(t.Family), t.Name))
	}
	sort.Strings(out)
	return out, nil
}
