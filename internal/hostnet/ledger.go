package hostnet

// The ledger: who holds which address. The kernel does not hand out
// addresses, so something must remember which are taken, which host ports
// are published, which subnet the bridge serves, and which of those
// records belong to a stage that is gone. It lives in files under
// /run/cfs, a tmpfs that a reboot empties together with the links and
// rules the files describe.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"cfs/internal/layout"
	"cfs/internal/trace"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Lease is one container's claim on an address and on host ports.
type Lease struct {
	ID    string       `json:"id"`
	IP    netip.Addr   `json:"ip"`
	Owner layout.Owner `json:"owner"`
	Ports []Port       `json:"ports,omitempty"`
}

// Ledger is the state of one network namespace's bridge: the subnet it
// serves and the leases of its containers. There is one file per network
// namespace, named after the namespace's inode number: the bridge, veths
// and rules it describes exist in that namespace only, and two stages in
// two namespaces (as parallel tests are) each have a cfs0 and addresses of
// their own. One lock serves every namespace; it is held while a container
// joins or leaves the network, milliseconds.
type Ledger struct {
	Subnet netip.Prefix `json:"subnet"`
	Leases []Lease      `json:"leases"`

	path string
	lock *os.File
}

// Open locks the ledger of the caller's network namespace and reads it;
// Close writes it back and unlocks. Between the two, no other stage reads
// or changes it, so two containers starting at once cannot take the same
// address, and the last container's leaving cannot take the bridge away
// from one that is joining.
//
// Open drops the leases of stages that are gone (killed with SIGKILL, say,
// before they could release them), with their published ports' rules and
// veths; when no container is left, it removes the network they left: the
// bridge, the table and the accepts in other forward chains.
func Open() (*Ledger, error) {
	if err := os.MkdirAll(layout.RunDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", layout.RunDir, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		return nil, fmt.Errorf("identify this network namespace: %w", err)
	}
	lock, err := os.OpenFile(layout.NetLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the network lock: %w", err)
	}
	// flock(2) waits while another stage holds the lock, and the kernel
	// drops it when the holder dies, even by SIGKILL: no stale lock.
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	l := &Ledger{path: layout.LedgerPath(st.Ino), lock: lock}
	data, err := os.ReadFile(l.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		l.lock.Close()
		return nil, fmt.Errorf("read the address ledger: %w", err)
	}
	if len(data) > 0 && json.Unmarshal(data, l) != nil {
		// Leases only matter while their stages run; a file that cannot be
		// read is started afresh rather than blocking every run, and the
		// network it described is removed below.
		l.Subnet, l.Leases = netip.Prefix{}, nil
	}
	if err := l.sweep(); err != nil {
		l.lock.Close()
		return nil, err
	}
	return l, nil
}

// ReadLedger reads the ledger at path without locking it, for a look.
func ReadLedger(path string) (*Ledger, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l := &Ledger{path: path}
	return l, json.Unmarshal(data, l)
}

// Close writes the ledger, or removes it once no container is left, so an
// idle host has no state, and unlocks. The new content appears by rename:
// a stage killed while writing leaves the old file, never half a new one.
func (l *Ledger) Close() error {
	defer l.lock.Close() // closing the file drops the flock
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

// Address is a container's place on the bridge.
type Address struct {
	IP     netip.Addr
	Subnet netip.Prefix
	// First: no other container is on the bridge, and there is no bridge
	// or table yet; the caller makes them.
	First bool
}

// Gateway is the bridge's address.
func (a Address) Gateway() netip.Addr { return Gateway(a.Subnet) }

// IPNet is the container's address with the subnet's mask, as netlink
// takes it: 172.29.0.2/24.
func (a Address) IPNet() *net.IPNet { return ipNet(a.IP, a.Subnet.Bits()) }

// GatewayNet is the gateway with the subnet's mask: 172.29.0.1/24.
func (a Address) GatewayNet() *net.IPNet { return ipNet(a.Gateway(), a.Subnet.Bits()) }

func ipNet(ip netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, 32)}
}

// Lease takes an address for container id, owned by the calling process,
// with its published ports. The first container's lease chooses the
// subnet: want, or the first candidate no host route overlaps. It fails,
// taking nothing, when a port is published already or used by a program
// on the host, or the subnet cannot be had.
func (l *Ledger) Lease(id string, want netip.Prefix, ports []Port) (Address, error) {
	return l.LeaseAs(layout.Self(), id, want, ports)
}

// LeaseAs is Lease with another owner than the caller: for an engine whose
// containers outlive the command that made them, the process that watches
// over the container (its monitor), whose end makes the lease stale.
func (l *Ledger) LeaseAs(owner layout.Owner, id string, want netip.Prefix, ports []Port) (Address, error) {
	first := len(l.Leases) == 0
	if !first {
		// The bridge already serves running containers: one bridge, one
		// subnet.
		if want.IsValid() && want != l.Subnet {
			return Address{}, fmt.Errorf("--subnet %s: %s already serves %s for %d running container(s); use that subnet, or stop them first",
				want, layout.Bridge, l.Subnet, len(l.Leases))
		}
	} else {
		routes, err := hostRoutes()
		if err != nil {
			return Address{}, err
		}
		if l.Subnet, err = chooseSubnet(want, routes); err != nil {
			return Address{}, err
		}
	}
	for _, p := range ports {
		if o := l.portOwner(p); o != nil {
			return Address{}, fmt.Errorf("-p %s: host port %d/%s is already published by container %s (stage PID %d); choose another HOSTPORT",
				p, p.Host, p.Proto, o.ID, o.Owner.PID)
		}
		if err := checkPortFree(p); err != nil {
			return Address{}, err
		}
	}
	ip, err := l.allocate(id, owner, ports)
	if err != nil {
		return Address{}, err
	}
	return Address{IP: ip, Subnet: l.Subnet, First: first}, nil
}

// Release drops container id's lease and takes what the network kept for
// it off the host: its published ports' rules and, when it was the last
// container on the bridge, the network itself (the table, the accepts in
// other forward chains and the bridge). Each step is narrated on tr.
func (l *Ledger) Release(tr *trace.Tracer, id string) error {
	published := false
	for i, ls := range l.Leases {
		if ls.ID == id {
			l.Leases = append(l.Leases[:i], l.Leases[i+1:]...)
			published = len(ls.Ports) > 0
			break
		}
	}
	switch {
	case len(l.Leases) == 0:
		l.Subnet = netip.Prefix{}
		return removeNetwork(tr)
	case published:
		return deletePublished(tr, id)
	}
	return nil
}

// sweep drops the leases of owners that are gone, and what they left.
func (l *Ledger) sweep() error {
	var live, dead []Lease
	for _, ls := range l.Leases {
		if ls.Owner.Alive() {
			live = append(live, ls)
		} else {
			dead = append(dead, ls)
		}
	}
	l.Leases = live
	if len(live) == 0 {
		l.Subnet = netip.Prefix{}
		return removeNetwork(nil)
	}
	var errs []error
	for _, ls := range dead {
		if len(ls.Ports) > 0 {
			errs = append(errs, deletePublished(nil, ls.ID))
		}
	}
	return errors.Join(append(errs, l.sweepVeths())...)
}

// portOwner returns the lease that already publishes the host port p.
func (l *Ledger) portOwner(p Port) *Lease {
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
func (l *Ledger) allocate(id string, o layout.Owner, ports []Port) (netip.Addr, error) {
	used := map[netip.Addr]bool{Gateway(l.Subnet): true}
	for _, ls := range l.Leases {
		used[ls.IP] = true
	}
	ip, ok := freeAddr(l.Subnet, used)
	if !ok {
		return netip.Addr{}, fmt.Errorf("no free address in %s: all %d are taken by running containers (use a larger --subnet when none run)",
			l.Subnet, len(l.Leases))
	}
	l.Leases = append(l.Leases, Lease{ID: id, IP: ip, Owner: o, Ports: ports})
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

// sweepVeths deletes host veth ends that no lease accounts for: left, for
// example, by a stage killed between creating its veth and its container
// namespace's end. (A killed container's namespace takes its veth with it.)
func (l *Ledger) sweepVeths() error {
	links, err := RetryDump(netlink.LinkList)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	live := map[string]bool{}
	for _, ls := range l.Leases {
		live[layout.VethName(ls.ID)] = true
	}
	var errs []error
	for _, link := range links {
		name := link.Attrs().Name
		if _, ok := layout.IsVethName(name); !ok || link.Type() != "veth" || live[name] {
			continue
		}
		if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("delete stale %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// RetryDump repeats a netlink listing that the kernel flagged as
// interrupted: a link, address or route changed while it was being read
// (another container starting, say), so the answer may be inconsistent.
func RetryDump[T any](list func() ([]T, error)) ([]T, error) {
	for i := 0; ; i++ {
		v, err := list()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == 20 {
			return v, err
		}
	}
}

// Join leases an address for container id with f's subnet and published
// ports (see Lease) and calls plug with it, all under the ledger's lock,
// so that containers starting and stopping at once find the network
// whole: plug makes the network for the first container and publishes the
// ports. The lease is kept even when plug fails; Leave gives it back.
func Join(id string, f Flags, plug func(Address) error) (a Address, err error) {
	l, err := Open()
	if err != nil {
		return a, err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	if a, err = l.Lease(id, f.Subnet, f.Ports); err != nil {
		return a, err
	}
	return a, plug(a)
}

// Leave gives container id's address back under the ledger's lock (see
// Release): its published ports' rules go, and with the last container
// the table and the bridge. Each step is narrated on tr.
func Leave(tr *trace.Tracer, id string) error {
	l, err := Open()
	if err != nil {
		return err
	}
	return errors.Join(l.Release(tr, id), l.Close())
}
