package dockercli

// network ls and network inspect: docker's three networks, the bridge
// (stage 05's cfs0) with its subnet and the containers on it.

import (
	"errors"
	"fmt"
	"strings"

	"cfs/final/engine"

	"github.com/spf13/cobra"
)

func (c *CLI) networkCmd() *cobra.Command {
	return c.group("network", "Manage networks: network ls, inspect (docker's bridge, host and none)",
		c.networkLsCmd(), c.networkInspectCmd())
}

func (c *CLI) networkLsCmd() *cobra.Command {
	var quiet, noTrunc bool
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
			tw := newTable(c.Out)
			if !quiet {
				fmt.Fprintln(tw, "NETWORK ID\tNAME\tDRIVER\tSCOPE")
			}
			for _, n := range list {
				if !match(n) {
					continue
				}
				id := n.ID
				if !noTrunc {
					id = id[:12]
				}
				if quiet {
					fmt.Fprintln(tw, id)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", id, n.Name, n.Driver, n.Scope)
			}
			return tw.Flush()
		}))
	cmd.Aliases = []string{"list"}
	f := cmd.Flags()
	f.VarP(filter, "filter", "f", "provide filter values ("+strings.Join(engine.NetworkFilterKeys, ", ")+"; e.g. 'driver=bridge')")
	f.BoolVarP(&quiet, "quiet", "q", false, "only display network IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate the output")
	return cmd
}

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
