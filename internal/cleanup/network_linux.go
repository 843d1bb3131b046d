package cleanup

// The network: veths, the bridge and the nft rules in this network
// namespace, the address ledgers in /run/cfs, and named namespaces.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"cfs/internal/hostnet"
	"cfs/internal/layout"
	"cfs/internal/nft"
	"cfs/internal/nftname"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// network cleans this namespace's links and rules, then every ledger,
// under the lock the stages take for the same work (internal/hostnet),
// so that no stage changes them meanwhile.
func (h *host) network() {
	if !h.opt.DryRun && exists(RunDir) {
		lock, err := os.OpenFile(layout.NetLock, os.O_CREATE|os.O_RDWR, 0o600)
		if err == nil {
			err = unix.Flock(int(lock.Fd()), unix.LOCK_EX)
			defer lock.Close() // closing drops the lock
		}
		if err != nil {
			h.fail(Resource{Kind: KindState, Name: layout.NetLock}, fmt.Errorf("take the network lock: %w", err))
			return
		}
	}
	h.localNetwork()
	h.cleanLedgers()
}

// localNetwork removes the veths of the containers that go, and, once no
// container is left on cfs0 here, the rules for it in other tables, the
// table ip cfs and cfs0 itself, as the stage does after its last container.
// While some stay, only the published ports of those that go are removed.
func (h *host) localNetwork() {
	ledger := layout.LedgerPath(h.nsIno)
	var leases []lease
	if l, err := hostnet.ReadLedger(ledger); err == nil {
		leases = l.Leases
	}
	var dropped []lease
	stay := 0
	for _, l := range leases {
		if h.removing[l.ID] && h.allowed(leaseResource(ledger, l)) {
			dropped = append(dropped, l)
		} else {
			stay++
		}
	}

	nh, err := netlink.NewHandleAt(h.ns, unix.NETLINK_ROUTE)
	if err != nil {
		h.fail(Resource{Kind: KindLink, Name: "cfs*", Why: "cannot list links"}, err)
		return
	}
	defer nh.Close()
	links, err := hostnet.RetryDump(nh.LinkList)
	if err != nil {
		h.fail(Resource{Kind: KindLink, Name: "cfs*", Why: "cannot list links"}, fmt.Errorf("ip link: %w", err))
		return
	}
	var bridge netlink.Link
	for _, link := range links {
		name := link.Attrs().Name
		if name == BridgeName {
			bridge = link
			continue
		}
		prefix, ok := IsVethName(name)
		if !ok || link.Type() != "veth" {
			continue
		}
		id := prefix
		if c := h.byPrefix(prefix); c != nil {
			if !h.removing[c.ID] {
				stay++
				continue
			}
			id = c.ID
		}
		// Deleting either end of a veth pair deletes both. Same as
		// `ip link del cfsXXXXXXXX`.
		gone := h.do(Resource{Kind: KindLink, Name: name, Container: id, Why: "veth"}, func() error {
			err := nh.LinkDel(link)
			if errors.Is(err, unix.ENODEV) {
				return errGone // its namespace went, and took it along
			}
			return err
		})
		if !gone {
			stay++
		}
	}

	c, err := nftables.New(nftables.WithNetNSFd(int(h.ns)))
	if err != nil {
		h.fail(Resource{Kind: KindNft, Name: "table ip " + TableName}, err)
		return
	}
	if stay > 0 {
		for _, l := range dropped {
			if len(l.Ports) > 0 {
				h.delPublished(c, l.ID)
			}
		}
		return
	}
	h.delForwardRules(c)
	h.delTable(c)
	switch {
	case bridge == nil:
	case bridge.Type() != "bridge":
		h.keep(Resource{Kind: KindLink, Name: BridgeName, Why: "a " + bridge.Type() + " device, not cfs's bridge"})
	default:
		// Same as `ip link del cfs0`.
		h.do(Resource{Kind: KindLink, Name: BridgeName, Why: "bridge"}, func() error {
			err := nh.LinkDel(bridge)
			if errors.Is(err, unix.ENODEV) {
				return errGone
			}
			return err
		})
	}
}

// delForwardRules removes the accept rules for cfs0 that the stage put
// into other programs' forward chains (Docker's "ip filter FORWARD"),
// found by their comment; the chains and their own rules stay.
func (h *host) delForwardRules(c *nftables.Conn) {
	chains, err := c.ListChains()
	if hostnet.NoNftables(err) {
		return
	}
	if err != nil {
		h.fail(Resource{Kind: KindNft, Name: "rules commented " + strconv.Quote(ForwardComment)}, fmt.Errorf("nft list chains: %w", err))
		return
	}
	for _, ch := range chains {
		if ch.Table.Family == nftables.TableFamilyIPv4 && ch.Table.Name == TableName {
			continue // goes whole, below
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			continue // the chain went meanwhile
		}
		for _, r := range rules {
			if nft.Comment(r) != ForwardComment {
				continue
			}
			r.Table, r.Chain = ch.Table, ch
			name := fmt.Sprintf("rule %d in chain %s %s %s", r.Handle, nftname.Family(ch.Table.Family), ch.Table.Name, ch.Name)
			h.do(Resource{Kind: KindNft, Name: name, Why: "comment " + strconv.Quote(ForwardComment)}, func() error {
				if err := c.DelRule(r); err != nil {
					return err
				}
				return nftFlush(c)
			})
		}
	}
}

// delTable removes the table ip cfs. Same as `nft delete table ip cfs`.
func (h *host) delTable(c *nftables.Conn) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if hostnet.NoNftables(err) {
		return
	}
	if err != nil {
		h.fail(Resource{Kind: KindNft, Name: "table ip " + TableName}, fmt.Errorf("nft list tables: %w", err))
		return
	}
	for _, t := range tables {
		if t.Name != TableName {
			continue
		}
		h.do(Resource{Kind: KindNft, Name: "table ip " + TableName}, func() error {
			c.DelTable(t)
			return nftFlush(c)
		})
	}
}

// delPublished removes the rules that publish container id's ports, in
// the chain "published" of ip cfs, marked with the comment "container ID".
func (h *host) delPublished(c *nftables.Conn, id string) {
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: TableName}
	ch := &nftables.Chain{Name: layout.PublishedChain, Table: t}
	rules, err := c.GetRules(t, ch)
	if err != nil {
		return // no table, no chain: nothing published
	}
	for _, r := range rules {
		if nft.Comment(r) != layout.PortsComment(id) {
			continue
		}
		r.Table, r.Chain = t, ch
		h.do(Resource{Kind: KindNft, Name: fmt.Sprintf("rule %d in chain ip %s published", r.Handle, TableName), Container: id, Why: "a published port of container " + id}, func() error {
			if err := c.DelRule(r); err != nil {
				return err
			}
			return nftFlush(c)
		})
	}
}

// nftFlush sends the queued changes; what someone else removed meanwhile
// is gone already.
func nftFlush(c *nftables.Conn) error {
	err := c.Flush()
	if errors.Is(err, unix.ENOENT) {
		return errGone
	}
	return err
}

// ---------------------------------------------------------------------------
// Ledgers.

func leaseResource(ledger string, l lease) Resource {
	return Resource{Kind: KindLease, Name: l.IP.String() + " in " + ledger, Container: l.ID, Why: "address of container " + l.ID}
}

// cleanLedgers drops the leases of the containers that go from every
// ledger, and removes a ledger left with none, as the stage does when its
// last container leaves. The rest of each file is written back as it was.
func (h *host) cleanLedgers() {
	paths, _ := filepath.Glob(filepath.Join(RunDir, "net-*.json"))
	for _, path := range paths {
		if _, ok := ledgerIno(filepath.Base(path)); !ok {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var doc map[string]json.RawMessage
		var raws []json.RawMessage
		err = json.Unmarshal(data, &doc)
		if err == nil && doc["leases"] != nil {
			err = json.Unmarshal(doc["leases"], &raws)
		}
		if err != nil {
			h.do(Resource{Kind: KindState, Name: path, Why: "a damaged ledger, which the stages would replace"}, func() error { return os.Remove(path) })
			continue
		}
		var kept []json.RawMessage
		var dropped []Resource
		for _, raw := range raws {
			var l lease
			if json.Unmarshal(raw, &l) == nil && h.removing[l.ID] && h.allowed(leaseResource(path, l)) {
				dropped = append(dropped, leaseResource(path, l))
				continue
			}
			kept = append(kept, raw)
		}
		file := Resource{Kind: KindState, Name: path, Why: "a ledger with no lease left"}
		switch {
		case len(raws) == 0:
			h.do(file, func() error { return os.Remove(path) })
			continue
		case len(dropped) == 0:
			continue
		}
		// Without its last lease, the ledger goes, as the stage removes it
		// after its last container; otherwise the other leases stay.
		err = nil
		if !h.opt.DryRun {
			if len(kept) == 0 {
				err = os.Remove(path)
			} else {
				err = writeLedger(path, doc, kept)
			}
		}
		for _, r := range dropped {
			if err != nil {
				h.fail(r, err)
			} else {
				h.record(r)
			}
		}
		if err == nil && len(kept) == 0 {
			h.record(file)
		}
	}
	// A stage killed while writing a ledger leaves its temporary file.
	tmps, _ := filepath.Glob(filepath.Join(RunDir, "net-*.json.tmp"))
	for _, p := range tmps {
		if _, ok := ledgerIno(strings.TrimSuffix(filepath.Base(p), ".tmp")); ok {
			h.do(Resource{Kind: KindState, Name: p, Why: "half a ledger"}, func() error { return os.Remove(p) })
		}
	}
}

// writeLedger writes a ledger with the leases kept, by rename as the stage
// does, so no reader ever sees half a file.
func writeLedger(path string, doc map[string]json.RawMessage, leases []json.RawMessage) error {
	l, err := json.Marshal(leases)
	if err != nil {
		return err
	}
	doc["leases"] = l
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ---------------------------------------------------------------------------
// Named network namespaces.

// removeNetns removes the project's named network namespaces that nobody
// uses any more: a test's, once its test process is gone; another cfs* one
// (the docs' cfs-demo), once no process is in it. Same as `ip netns del`:
// the name goes, and the namespace with its links when nothing holds it.
func (h *host) removeNetns() {
	entries, err := os.ReadDir(NetnsDir)
	if err != nil {
		return
	}
	var inUse map[uint64]bool
	for _, e := range entries {
		name := e.Name()
		if !IsProjectNetns(name) {
			continue
		}
		path := filepath.Join(NetnsDir, name)
		var why string
		if pid, ok := TestNetnsPID(name); ok {
			if exists(fmt.Sprintf("/proc/%d", pid)) {
				continue // its test runs
			}
			why = fmt.Sprintf("its test, PID %d, is gone", pid)
		} else {
			if inUse == nil {
				inUse = netnsInUse()
			}
			var st unix.Stat_t
			if err := unix.Stat(path, &st); err != nil {
				continue
			}
			if inUse[st.Ino] {
				continue
			}
			why = "no process is in it"
		}
		h.do(Resource{Kind: KindNetns, Name: path, Why: why}, func() error {
			if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				if errors.Is(err, unix.ENOENT) {
					return errGone
				}
				return fmt.Errorf("umount -l %s: %w", path, err)
			}
			return os.Remove(path)
		})
	}
}

// netnsInUse returns the network namespaces that some thread is in, by
// inode number.
func netnsInUse() map[uint64]bool {
	out := map[uint64]bool{}
	tasks, _ := filepath.Glob("/proc/[0-9]*/task/[0-9]*/ns/net")
	for _, t := range tasks {
		var st unix.Stat_t
		if unix.Stat(t, &st) == nil {
			out[st.Ino] = true
		}
	}
	return out
}

// ---------------------------------------------------------------------------
