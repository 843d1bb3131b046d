package hostnet

// The nft side of the books: the accepts that cfs0 needs in another
// program's forward chain, and taking rules off again by their comments.

import (
	"errors"
	"fmt"

	"cfs/internal/kernel"
	"cfs/internal/layout"
	"cfs/internal/nft"
	"cfs/internal/trace"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ForwardAccepts adds to b what makes containers' traffic pass other
// programs' forward chains. A packet is forwarded only if every base chain
// on the forward hook accepts it: an accept in the table ip cfs does not
// undo a drop in docker's "ip filter FORWARD", whose policy is drop. So the
// accepts go into the dropping chain itself, first, as docker does for its
// own bridges, written the way iptables-nft writes them, so that `iptables
// -L` and docker can still read the chain. Same as `iptables -I FORWARD -i
// cfs0 -j ACCEPT` and `-o cfs0`. They are replaced at every container's
// start, which also puts them back if docker flushed its chain meanwhile.
func ForwardAccepts(b *nft.Batch) error {
	c, err := nftables.New()
	if err != nil {
		return &kernel.Error{Op: "nft", What: "open nftables", Err: err}
	}
	chains, err := ForwardChains(c)
	if err != nil {
		return err
	}
	for _, ch := range chains {
		if ch.Policy == nil || *ch.Policy != nftables.ChainPolicyDrop {
			continue
		}
		if err := nft.DeleteCommented(b, c, ch, layout.ForwardComment); err != nil {
			return err
		}
		for _, dir := range []string{"oifname", "iifname"} {
			b.Add("insert rule %s %s %q counter accept comment %q", nft.Chain(ch), dir, layout.Bridge, layout.ForwardComment)
		}
	}
	return nil
}

// ForwardChains lists the base chains of other tables, IPv4 or inet, on
// the forward hook: docker's "ip filter FORWARD", a firewall's "inet
// filter forward". Same as `nft list chains`.
func ForwardChains(c *nftables.Conn) ([]*nftables.Chain, error) {
	all, err := c.ListChains()
	if err != nil {
		return nil, &kernel.Error{Op: "nft", What: "list nft chains", Err: err}
	}
	var out []*nftables.Chain
	for _, ch := range all {
		fam := ch.Table.Family
		if fam != nftables.TableFamilyIPv4 && fam != nftables.TableFamilyINet {
			continue
		}
		if fam == nftables.TableFamilyIPv4 && ch.Table.Name == layout.NftTable {
			continue
		}
		if ch.Hooknum != nil && *ch.Hooknum == *nftables.ChainHookForward && ch.Type == nftables.ChainTypeFilter {
			out = append(out, ch)
		}
	}
	return out, nil
}

// NoNftables reports whether err says the kernel has no nf_tables (the
// module is not loaded): then no table or rule of the project's exists.
func NoNftables(err error) bool {
	return errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOENT)
}

// deletePublished takes container id's published ports off: the rules of
// the chain published commented with its ID.
func deletePublished(tr *trace.Tracer, id string) error {
	c, err := nftables.New()
	if err != nil {
		return &kernel.Error{Op: "nft", What: "open nftables", Err: err}
	}
	var b nft.Batch
	ch := &nftables.Chain{Name: layout.PublishedChain, Table: &nftables.Table{Family: nftables.TableFamilyIPv4, Name: layout.NftTable}}
	if err := nft.DeleteCommented(&b, c, ch, layout.PortsComment(id)); err != nil {
		return nil // no table, no chain: nothing is published
	}
	return b.Run(tr, c)
}

// removeNetwork takes the network of the last container off the host, as
// it was before the first: this stage's accepts in other forward chains,
// the table ip cfs, the bridge, and any veth left. (IPv4 forwarding stays
// on: other programs rely on it.) Same as `nft delete table ip cfs` and
// `ip link del cfs0`.
func removeNetwork(tr *trace.Tracer) error {
	var errs []error
	if c, err := nftables.New(); err != nil {
		errs = append(errs, &kernel.Error{Op: "nft", What: "open nftables", Err: err})
	} else {
		errs = append(errs, removeRules(tr, c))
	}
	br, err := netlink.LinkByName(layout.Bridge)
	if err == nil && br.Type() == "bridge" {
		errs = append(errs, kernel.Do(tr, "netlink RTM_DELLINK("+layout.Bridge+")", "ip link del "+layout.Bridge, func() error {
			return DeleteLink(br)
		}))
	}
	errs = append(errs, (&Ledger{}).sweepVeths())
	return errors.Join(errs...)
}

func removeRules(tr *trace.Tracer, c *nftables.Conn) error {
	chains, err := ForwardChains(c)
	if NoNftables(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var b nft.Batch
	for _, ch := range chains {
		if err := nft.DeleteCommented(&b, c, ch, layout.ForwardComment); err != nil {
			return err
		}
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return &kernel.Error{Op: "nft", What: "list nft tables", Err: err}
	}
	for _, t := range tables {
		if t.Name == layout.NftTable {
			b.Add("delete table ip %s", layout.NftTable)
		}
	}
	if err := b.Run(tr, c); err != nil {
		return fmt.Errorf("remove the nft table ip %s and the %s rules: %w", layout.NftTable, layout.Bridge, err)
	}
	return nil
}

// DeleteLink deletes a link, and returns once the kernel has taken it off
// the namespace, which it announces to RTNLGRP_LINK as RTM_DELLINK: gone
// from `ip link`, its addresses and routes with it, its name free. The
// kernel then waits for an RCU grace period before it frees the device
// (about 20 ms of a bridge's 55 on a 2-CPU VM), which `ip link del` waits
// for too, and nobody needs: that part goes on in the background (a
// program that exits meanwhile finishes it on its way out).
func DeleteLink(l netlink.Link) error {
	updates := make(chan netlink.LinkUpdate, 16)
	done := make(chan struct{})
	defer func() {
		close(done)
		go func() { // until the listener ends
			for range updates {
			}
		}()
	}()
	err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{
		ReceiveTimeout: &unix.Timeval{Sec: 5}, // the listener ends after this, if nothing more comes
	})
	if err != nil {
		return netlink.LinkDel(l)
	}
	// The request goes from a goroutine, which may run on any thread: its
	// socket is opened in this thread's network namespace, the one the
	// notice comes from, not in whichever namespace that thread is in.
	here, err := netns.Get()
	if err != nil {
		return netlink.LinkDel(l)
	}
	h, err := netlink.NewHandleAt(here, unix.NETLINK_ROUTE)
	here.Close()
	if err != nil {
		return netlink.LinkDel(l)
	}
	deleted := make(chan error, 1)
	go func() {
		defer h.Close()
		deleted <- h.LinkDel(l)
	}()
	for {
		select {
		case err := <-deleted:
			return err
		case u, ok := <-updates:
			if !ok {
				return <-deleted
			}
			if u.Header.Type == unix.RTM_DELLINK && u.Attrs().Index == l.Attrs().Index {
				return nil
			}
		}
	}
}
