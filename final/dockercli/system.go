package dockercli

// The system commands: info and version, which say what the engine is
// and runs on, events, what it did, and system df and system prune, the
// disk it takes.

import (
	"encoding/json"
	"fmt"
	"maps"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"cfs/final/engine"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"
	"github.com/spf13/cobra"
)

// infoCmd is docker info: the engine's counts and what it uses on this
// host, in docker's layout, or through --format.
func (c *CLI) infoCmd() *cobra.Command {
	var format string
	cmd := c.command("info [OPTIONS]", "Display system-wide information", 0, 0,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			in, err := e.Info()
			if err != nil {
				return err
			}
			if format != "" {
				return c.printFormat(format, struct{ system.Info }{in})
			}
			w := &strings.Builder{}
			line := func(indent int, key string, v any) { fmt.Fprintf(w, "%s%s: %v\n", strings.Repeat(" ", indent), key, v) }
			fmt.Fprintf(w, "Client:\n Version:    %s\n Context:    none: each cfs command runs the engine itself, with no daemon\n Debug Mode: %v\n", engine.Version, c.trace)
			fmt.Fprintln(w, "\nServer:")
			line(1, "Containers", in.Containers)
			line(2, "Running", in.ContainersRunning)
			line(2, "Paused", in.ContainersPaused)
			line(2, "Stopped", in.ContainersStopped)
			line(1, "Images", in.Images)
			line(1, "Server Version", in.ServerVersion)
			line(1, "Storage Driver", in.Driver)
			line(1, "Logging Driver", in.LoggingDriver)
			line(1, "Cgroup Driver", in.CgroupDriver)
			line(1, "Cgroup Version", in.CgroupVersion)
			line(1, "Swarm", in.Swarm.LocalNodeState)
			line(1, "Runtimes", "cfs")
			line(1, "Default Runtime", in.DefaultRuntime)
			line(1, "Kernel Version", in.KernelVersion)
			line(1, "Operating System", in.OperatingSystem)
			line(1, "OSType", in.OSType)
			line(1, "Architecture", in.Architecture)
			line(1, "CPUs", in.NCPU)
			line(1, "Total Memory", units.BytesSize(float64(in.MemTotal)))
			line(1, "Name", in.Name)
			line(1, "ID", in.ID)
			line(1, "Docker Root Dir", in.DockerRootDir)
			line(1, "Debug Mode", c.trace)
			line(1, "Experimental", false)
			line(1, "Live Restore Enabled", false)
			_, err = fmt.Fprint(c.Out, w.String())
			return err
		}))
	cmd.Flags().StringVarP(&format, "format", "f", "", "format the output using a Go template ('{{.CgroupVersion}}'), or json")
	return cmd
}

// clientVersion is docker version's "Client:" part. cfs's command line
// and engine are one program, so the two parts tell of the same build.
type clientVersion struct {
	Platform   struct{ Name string }
	Version    string
	APIVersion string `json:"ApiVersion"`
	GoVersion  string
	GitCommit  string
	Os, Arch   string
}

// versionCmd is docker version. It needs no root: it opens nothing.
func (c *CLI) versionCmd() *cobra.Command {
	var format string
	cmd := c.command("version [OPTIONS]", "Show the cfs version information", 0, 0,
		func(cmd *cobra.Command, args []string) error {
			server := engine.ServerVersion()
			client := clientVersion{Version: engine.Version, APIVersion: engine.APIVersion, GoVersion: goruntime.Version(),
				GitCommit: "cfs", Os: "linux", Arch: goruntime.GOARCH}
			client.Platform.Name = server.Platform.Name
			if format != "" {
				return c.printFormat(format, struct {
					Client clientVersion
					Server system.VersionResponse
				}{client, server})
			}
			fmt.Fprintf(c.Out, `Client: %s
 Version:           %s
 API version:       %s
 Go version:        %s
 Git commit:        %s
 OS/Arch:           %s/%s

Server: %s
 Engine:
  Version:          %s
  API version:      %s (minimum version %s; served by cfs serve)
  Go version:       %s
  Git commit:       %s
  OS/Arch:          %s/%s
  Experimental:     false
  Kernel version:   %s
`, client.Platform.Name, client.Version, client.APIVersion, client.GoVersion, client.GitCommit, client.Os, client.Arch,
				server.Platform.Name, server.Version, server.APIVersion, server.MinAPIVersion, server.GoVersion, server.GitCommit,
				server.Os, server.Arch, server.KernelVersion)
			return nil
		})
	cmd.Flags().StringVarP(&format, "format", "f", "", "format the output using a Go template ('{{.Server.Version}}'), or json")
	return cmd
}

// printFormat is info's and version's --format: json, or a template.
func (c *CLI) printFormat(format string, v any) error {
	if format == "json" {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.Out, string(b))
		return nil
	}
	tmpl, err := parseTemplate(format)
	if err != nil {
		return err
	}
	return formatLine(c.Out, tmpl, v)
}

// eventsCmd is docker events: what the engine's journal says happened
// (final/engine/events_linux.go), from --since, then as it happens, until
// --until or Ctrl-C.
func (c *CLI) eventsCmd() *cobra.Command {
	var since, until, format string
	filter := filterValue{}
	opt := engine.EventsOptions{}
	cmd := c.command("events [OPTIONS]", "Get real time events from the engine", 0, 0,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			match, err := engine.EventMatcher(engine.Filter(filter))
			if err != nil {
				return &statusError{msg: "Error response from daemon: " + err.Error(), code: 1, bare: true}
			}
			show := c.printEvent
			if format != "" {
				show = func(m events.Message) error { return c.printFormat(format, m) }
				if format != "json" {
					tmpl, err := parseTemplate(format)
					if err != nil {
						return err
					}
					show = func(m events.Message) error { return formatLine(c.Out, tmpl, m) }
				}
			}
			return e.Events(cmd.Context(), opt, func(m events.Message) error {
				if !match(m) {
					return nil
				}
				return show(m)
			})
		}))
	cmd.PreRunE = func(*cobra.Command, []string) (err error) {
		opt.Since, opt.Until, err = timeRange(since, until)
		return err
	}
	f := cmd.Flags()
	f.VarP(filter, "filter", "f", "filter output based on conditions provided ("+strings.Join(engine.EventFilterKeys, ", ")+"; e.g. 'container=web')")
	f.StringVar(&format, "format", "", "format the output using a Go template ('{{.Action}}'), or json")
	f.StringVar(&since, "since", "", "show all events created since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\")")
	f.StringVar(&until, "until", "", "stream events until this timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\")")
	return cmd
}

// printEvent writes an event as docker events does: the time, the
// type, the action, the actor and its attributes, sorted.
func (c *CLI) printEvent(m events.Message) error {
	line := fmt.Sprintf("%s %s %s %s", time.Unix(0, m.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00"), m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		keys := slices.Sorted(maps.Keys(m.Actor.Attributes))
		attrs := make([]string, len(keys))
		for i, k := range keys {
			attrs[i] = k + "=" + m.Actor.Attributes[k]
		}
		line += " (" + strings.Join(attrs, ", ") + ")"
	}
	_, err := fmt.Fprintln(c.Out, line)
	return err
}

// dfCmd is docker system df: the disk the images and containers take.
func (c *CLI) dfCmd() *cobra.Command {
	return c.command("df", "Show docker disk usage", 0, 0,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			du, err := e.DiskUsage()
			if err != nil {
				return err
			}
			// docker's RECLAIMABLE: the bytes, and their share of SIZE.
			share := func(part, total int64) string {
				if total == 0 {
					return units.HumanSize(float64(part))
				}
				return fmt.Sprintf("%s (%d%%)", units.HumanSize(float64(part)), part*100/total)
			}
			tw := newTable(c.Out)
			fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
			fmt.Fprintf(tw, "Images\t%d\t%d\t%s\t%s\n", du.Images, du.ActiveImages, units.HumanSize(float64(du.LayersSize)), share(du.ImagesReclaimable, du.LayersSize))
			fmt.Fprintf(tw, "Containers\t%d\t%d\t%s\t%s\n", du.Containers, du.ActiveContainers, units.HumanSize(float64(du.ContainersSize)), share(du.ContainersReclaimable, du.ContainersSize))
			fmt.Fprintf(tw, "Local Volumes\t%d\t%d\t%s\t%s\n", du.Volumes, du.ActiveVolumes, units.HumanSize(float64(du.VolumesSize)), share(du.VolumesReclaimable, du.VolumesSize))
			fmt.Fprintln(tw, "Build Cache\t0\t0\t0B\t0B")
			return tw.Flush()
		}))
}

// systemPruneCmd is docker system prune: the stopped containers, with
// --volumes the anonymous volumes no container mounts, then the images no
// container holds any more (with -a) or the dangling ones. cfs has no
// networks or build cache of its own to prune.
func (c *CLI) systemPruneCmd() *cobra.Command {
	var force, all, volumes bool
	var match engine.PruneMatch
	cmd := c.command("prune [OPTIONS]", "Remove unused data", 0, 0,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			images := "all dangling images"
			if all {
				images = "all images without at least one container associated to them"
			}
			warning := "WARNING! This will remove:\n  - all stopped containers\n"
			if volumes {
				warning += "  - all anonymous volumes not used by at least one container\n"
			}
			if !force && !c.confirm(warning+"  - "+images+"\n") {
				return nil
			}
			fromContainers, err := c.pruneContainers(e, match)
			if err != nil {
				return err
			}
			var fromVolumes uint64
			if volumes {
				if fromVolumes, err = c.pruneVolumes(e, false, nil); err != nil {
					return err
				}
			}
			fromImages, err := c.pruneImages(e.Images, all, match)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, "Total reclaimed space:", units.HumanSize(float64(fromContainers+fromVolumes+fromImages)))
			return nil
		}))
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	cmd.Flags().BoolVar(&volumes, "volumes", false, "prune anonymous volumes")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	pruneFilterFlag(cmd, &match)
	return cmd
}
