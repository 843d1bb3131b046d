package dockercli

// volume create, ls, inspect, rm and prune: docker's named volumes, which
// the engine keeps under /var/lib/cfs/engine/volumes (engine/volumes.go).

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"cfs/final/engine"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/volume"
	"github.com/spf13/cobra"
)

func (c *CLI) volumeCmd() *cobra.Command {
	return c.group("volume", "Manage volumes: volume create, ls, inspect, rm, prune",
		c.volumeCreateCmd(), c.volumeLsCmd(), c.volumeInspectCmd(), c.volumeRmCmd(), c.volumePruneCmd())
}

func (c *CLI) volumeCreateCmd() *cobra.Command {
	var name, driver string
	var labels, opts []string
	cmd := c.command("create [OPTIONS] [VOLUME]", "Create a volume", 0, 1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			if len(args) == 1 {
				if name != "" && name != args[0] {
					return &statusError{msg: "conflicting options: cannot specify a volume-name through both --name and as a positional arg", code: 1, bare: true}
				}
				name = args[0]
			}
			if driver != "local" {
				return &statusError{msg: fmt.Sprintf("Error response from daemon: create %s: error looking up volume plugin %s: plugin %q not found (cfs has the local driver only)", name, driver, driver), code: 1, bare: true}
			}
			if len(opts) > 0 {
				return &statusError{msg: "Error response from daemon: cfs's local volumes take no driver options (-o): a volume is a directory on the host", code: 1, bare: true}
			}
			l, err := labelMap(labels)
			if err != nil {
				return err
			}
			v, err := e.CreateVolume(name, l)
			if err != nil {
				return &statusError{msg: "Error response from daemon: " + err.Error(), code: 1, bare: true}
			}
			fmt.Fprintln(c.Out, v.Name)
			return nil
		}))
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "specify volume name")
	_ = f.MarkHidden("name")
	f.StringVarP(&driver, "driver", "d", "local", "specify volume driver name")
	f.StringArrayVarP(&labels, "label", "l", nil, "set metadata for a volume")
	f.StringArrayVarP(&opts, "opt", "o", nil, "set driver specific options (none for cfs's local volumes)")
	return cmd
}

// labelMap reads -l KEY[=VALUE] flags.
func labelMap(labels []string) (map[string]string, error) {
	if len(labels) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		if strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("invalid argument %q for \"-l, --label\" flag: invalid label '%s': empty name", l, l)
		}
		m[k] = v
	}
	return m, nil
}

func (c *CLI) volumeLsCmd() *cobra.Command {
	var quiet bool
	var format string
	filter := filterValue{}
	cmd := c.command("ls [OPTIONS]", "List volumes", 0, 0,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			match, err := engine.VolumeMatcher(engine.Filter(filter))
			if err != nil {
				return &statusError{msg: "Error response from daemon: " + err.Error(), code: 1, bare: true}
			}
			list, err := e.Volumes()
			if err != nil {
				return err
			}
			users, err := e.VolumeUsers()
			if err != nil {
				return err
			}
			var rows []volumeRow
			for _, v := range list {
				if match(v, len(users[v.Name]) > 0) {
					rows = append(rows, volumeRow{v: e.InspectVolume(v), links: len(users[v.Name])})
				}
			}
			tmpl, table, err := parseFormat(format)
			if err != nil {
				return err
			}
			if tmpl != nil && !quiet {
				var out []any
				for _, r := range rows {
					out = append(out, r)
				}
				return c.printFormatted(tmpl, table, volumeHeader{}, out)
			}
			tw := newTable(c.Out)
			if !quiet {
				fmt.Fprintln(tw, "DRIVER\tVOLUME NAME")
			}
			for _, r := range rows {
				if quiet {
					fmt.Fprintln(tw, r.Name())
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\n", r.Driver(), r.Name())
			}
			return tw.Flush()
		}))
	cmd.Aliases = []string{"list"}
	f := cmd.Flags()
	f.VarP(filter, "filter", "f", "provide filter values ("+strings.Join(engine.VolumeFilterKeys, ", ")+"; e.g. 'dangling=true')")
	f.BoolVarP(&quiet, "quiet", "q", false, "only display volume names")
	f.StringVar(&format, "format", "", "format output using a Go template ('{{.Name}}'; 'table {{.Name}}\\t{{.Mountpoint}}' for a table with its header)")
	return cmd
}

// volumeRow is a volume as docker volume ls --format sees it.
type volumeRow struct {
	v     volume.Volume
	links int // the containers that mount it
}

func (r volumeRow) Name() string       { return r.v.Name }
func (r volumeRow) Driver() string     { return r.v.Driver }
func (r volumeRow) Scope() string      { return r.v.Scope }
func (r volumeRow) Mountpoint() string { return r.v.Mountpoint }
func (r volumeRow) CreatedAt() string  { return r.v.CreatedAt }
func (r volumeRow) Links() string      { return strconv.Itoa(r.links) }
func (r volumeRow) Size() string       { return "N/A" } // docker's, unless asked for (system df -v)
func (r volumeRow) Label(name string) string {
	return r.v.Labels[name]
}
func (r volumeRow) Labels() string { return labelList(r.v.Labels) }

// volumeHeader is the header line of volume ls --format 'table …'.
type volumeHeader struct{}

func (volumeHeader) Name() string          { return "VOLUME NAME" }
func (volumeHeader) Driver() string        { return "DRIVER" }
func (volumeHeader) Scope() string         { return "SCOPE" }
func (volumeHeader) Mountpoint() string    { return "MOUNTPOINT" }
func (volumeHeader) CreatedAt() string     { return "CREATED AT" }
func (volumeHeader) Links() string         { return "LINKS" }
func (volumeHeader) Size() string          { return "SIZE" }
func (volumeHeader) Label(_ string) string { return "LABEL" }
func (volumeHeader) Labels() string        { return "LABELS" }

func (c *CLI) volumeInspectCmd() *cobra.Command {
	var format string
	cmd := c.command("inspect [OPTIONS] VOLUME [VOLUME...]", "Display detailed information on one or more volumes", 1, -1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			var out []any
			var missing []string
			for _, a := range args {
				v, err := e.Volume(a)
				if errors.Is(err, engine.ErrNotFound) {
					missing = append(missing, "Error response from daemon: "+err.Error())
					continue
				} else if err != nil {
					return err
				}
				out = append(out, e.InspectVolume(v))
			}
			if err := c.printInspect(out, format); err != nil {
				return err
			}
			if len(missing) > 0 {
				return &statusError{msg: strings.Join(missing, "\n"), code: 1, bare: true}
			}
			return nil
		}))
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a custom template ('{{.Mountpoint}}')")
	return cmd
}

func (c *CLI) volumeRmCmd() *cobra.Command {
	var force bool
	cmd := c.command("rm [OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes", 1, -1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			return c.each(args, func(a string) (string, error) { return a, e.RemoveVolume(a, force) })
		}))
	cmd.Aliases = []string{"remove"}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not fail on a volume that is not there")
	return cmd
}

func (c *CLI) volumePruneCmd() *cobra.Command {
	var force, all bool
	filter := filterValue{}
	cmd := c.command("prune [OPTIONS]", "Remove unused local volumes", 0, 0,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			match, err := engine.VolumeMatcher(engine.Filter(filter))
			if err != nil {
				return &statusError{msg: "Error response from daemon: " + err.Error(), code: 1, bare: true}
			}
			warning := "WARNING! This will remove anonymous local volumes not used by at least one container."
			if all {
				warning = "WARNING! This will remove all local volumes not used by at least one container."
			}
			if !force && !c.confirm(warning) {
				return nil
			}
			reclaimed, err := c.pruneVolumes(e, all, func(v *engine.Volume) bool { return match(v, false) })
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
			return nil
		}))
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused volumes, not just anonymous ones")
	cmd.Flags().Var(filter, "filter", "provide filter values (label; e.g. 'label=env=test')")
	return cmd
}

// pruneVolumes removes the volumes no container mounts (anonymous ones
// only, without all) and lists them as docker does.
func (c *CLI) pruneVolumes(e *engine.Engine, all bool, match func(*engine.Volume) bool) (uint64, error) {
	removed, reclaimed, err := e.PruneVolumes(all, match)
	if len(removed) > 0 {
		sort.Strings(removed)
		fmt.Fprintln(c.Out, "Deleted Volumes:")
		for _, name := range removed {
			fmt.Fprintln(c.Out, name)
		}
		fmt.Fprintln(c.Out)
	}
	return reclaimed, err
}
