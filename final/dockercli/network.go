package dockercli

// network ls and network inspect: docker's three networks, the bridge
// (stage 05's cfs0) with its subnet and the containers on it.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cfs/final/engine"

	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"
)

func (c *CLI) networkCmd() *cobra.Command {
	return c.group("network", "Manage networks: network ls, inspect (docker's bridge, host and none)",
		c.networkLsCmd(), c.networkInspectCmd())
}

func (c *CLI) networkLsCmd() *cobra.Command {
	var quiet, noTrunc bool
	var format string
	filter := filterValue{}
	cmd := c.command("ls [OPTIONS]", "List networks", 0, 0,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			match, err := engine.NetworkMatcher(engine.Filter(filter))
			if err != nil {
				return &statusError{msg: "Error response from daemon: " + err.Error(), code: 1, bare: true}
			}
			list, err := e.Networks()
			if err != nil {
				return err
			}
			list = slices.DeleteFunc(list, func(n network.Inspect) bool { return !match(n) })
			tmpl, table, err := parseFormat(format)
			if err != nil {
				return err
			}
			if tmpl != nil && !quiet {
				var rows []any
				for _, n := range list {
					rows = append(rows, networkRow{n, noTrunc})
				}
				return c.printFormatted(tmpl, table, networkHeader{}, rows)
			}
			tw := newTable(c.Out)
			if !quiet {
				fmt.Fprintln(tw, "NETWORK ID\tNAME\tDRIVER\tSCOPE")
			}
			for _, n := range list {
				r := networkRow{n, noTrunc}
				if quiet {
					fmt.Fprintln(tw, r.ID())
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID(), n.Name, n.Driver, n.Scope)
			}
			return tw.Flush()
		}))
	cmd.Aliases = []string{"list"}
	f := cmd.Flags()
	f.VarP(filter, "filter", "f", "provide filter values ("+strings.Join(engine.NetworkFilterKeys, ", ")+"; e.g. 'driver=bridge')")
	f.BoolVarP(&quiet, "quiet", "q", false, "only display network IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate the output")
	f.StringVar(&format, "format", "", "format output using a Go template ('{{.Name}}'; 'table {{.ID}}\\t{{.Name}}' for a table with its header)")
	return cmd
}

// networkRow is a network as docker network ls --format sees it.
type networkRow struct {
	n       network.Inspect
	noTrunc bool
}

func (r networkRow) ID() string {
	if r.noTrunc {
		return r.n.ID
	}
	return r.n.ID[:12]
}

func (r networkRow) Name() string     { return r.n.Name }
func (r networkRow) Driver() string   { return r.n.Driver }
func (r networkRow) Scope() string    { return r.n.Scope }
func (r networkRow) IPv6() string     { return strconv.FormatBool(r.n.EnableIPv6) }
func (r networkRow) Internal() string { return strconv.FormatBool(r.n.Internal) }
func (r networkRow) CreatedAt() string {
	return r.n.Created.Format("2006-01-02 15:04:05.999999999 -0700 MST")
}

// networkHeader is the header line of network ls --format 'table …'.
type networkHeader struct{}

func (networkHeader) ID() string        { return "NETWORK ID" }
func (networkHeader) Name() string      { return "NAME" }
func (networkHeader) Driver() string    { return "DRIVER" }
func (networkHeader) Scope() string     { return "SCOPE" }
func (networkHeader) IPv6() string      { return "IPV6" }
func (networkHeader) Internal() string  { return "INTERNAL" }
func (networkHeader) CreatedAt() string { return "CREATED AT" }

func (c *CLI) networkInspectCmd() *cobra.Command {
	var format string
	cmd := c.command("inspect [OPTIONS] NETWORK [NETWORK...]", "Display detailed information on one or more networks", 1, -1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			var out []any
			var missing []string // docker's words: the daemon's error, one line each
			for _, a := range args {
				n, err := e.Network(a)
				var nf engine.NetworkNotFoundError
				if errors.As(err, &nf) {
					missing = append(missing, "Error response from daemon: "+err.Error())
					continue
				} else if err != nil {
					return err
				}
				out = append(out, n)
			}
			if err := c.printInspect(out, format); err != nil {
				return err
			}
			if len(missing) > 0 {
				return &statusError{msg: strings.Join(missing, "\n"), code: 1, bare: true}
			}
			return nil
		}))
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a custom template ('{{range .IPAM.Config}}{{.Subnet}}{{end}}')")
	return cmd
}
