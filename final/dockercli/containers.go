package dockercli

// The container commands (part 3), each a thin layer over final/engine
// that prints what docker prints and exits as docker does: 125 when cfs
// itself fails or the input is bad, 126 when the command cannot be run,
// 127 when it is not found, and otherwise the container's own status.
// Here: what they share (the engine, the exit statuses, one operation on
// each container named) and the short ones: logs, stop, restart, kill,
// rm, pause, unpause, wait, inspect, port, top, stats, export, commit.
// run, create and start are in run.go, ps in ps.go, exec in exec.go.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"cfs/final/engine"
	"cfs/final/runtime"
	"cfs/internal/trace"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"
)

// containerCommands are the container commands' names, for Handles.
var containerCommands = []string{"run", "create", "start", "attach", "ps", "logs", "exec", "stop", "kill", "rm", "inspect",
	"wait", "top", "stats", "pause", "unpause", "port", "rename", "export", "diff", "cp", "commit", "update", "restart", "container", "network", "volume"}

// systemCommands are the commands about the engine itself.
var systemCommands = []string{"info", "version", "events", "system"}

// engine opens the engine on the image store.
func (c *CLI) engine() (*engine.Engine, error) {
	s, err := c.store()
	if err != nil {
		return nil, err
	}
	e, err := engine.Open(s)
	if err != nil {
		return nil, err
	}
	if c.trace {
		e.Trace = trace.NewTo("parent", c.Err)
	}
	return e, nil
}

// engineError turns the engine's errors into docker's exit statuses.
func engineError(err error, code int) error {
	var se *statusError
	if err == nil || errors.As(err, &se) {
		return err
	}
	var start *engine.StartError
	if errors.As(err, &start) {
		return &statusError{msg: start.Msg, code: start.Code}
	}
	return &statusError{msg: err.Error(), code: code}
}

// daemonError is an error of the engine as docker's CLI prints one of
// dockerd's: "Error response from daemon: …", status 1.
func daemonError(msg string) error {
	return &statusError{msg: "Error response from daemon: " + msg, code: 1, bare: true}
}

// withEngine is a command's work with the engine open; an engine that
// will not open fails the command with code (docker's 125 for run,
// create and exec, whose own failures are 125, 126 and 127; 1 otherwise).
func (c *CLI) withEngine(code int, fn func(cmd *cobra.Command, e *engine.Engine, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, err := c.engine()
		if err != nil {
			return engineError(err, code)
		}
		return fn(cmd, e, args)
	}
}

// perContainer is a command on one or more containers (stop, kill, rm,
// pause, wait, …): it opens the engine and runs op for each argument in
// turn, as docker does; see each for what it prints.
func (c *CLI) perContainer(use, short string, op func(e *engine.Engine, arg string) (string, error)) *cobra.Command {
	return c.command(use, short, 1, -1,
		c.withEngine(1, func(_ *cobra.Command, e *engine.Engine, args []string) error {
			return c.each(args, func(a string) (string, error) { return op(e, a) })
		}))
}

// each runs fn for every argument and prints, as docker does, what fn
// returns on stdout (the argument as given; wait's exit status) and
// each failure on stderr as "Error response from daemon: …"; the
// command fails with 1 if one did.
func (c *CLI) each(args []string, fn func(arg string) (string, error)) error {
	failed := false
	for _, a := range args {
		out, err := fn(a)
		if err != nil {
			fmt.Fprintf(c.Err, "Error response from daemon: %v\n", err)
			var nf notFailure
			failed = failed || !errors.As(err, &nf)
			continue
		}
		fmt.Fprintln(c.Out, out)
	}
	if failed {
		return &statusError{code: 1}
	}
	return nil
}

// notFailure is an error each prints but that does not fail the command:
// rm -f of a container that is not there.
type notFailure struct{ error }

func (e notFailure) Unwrap() error { return e.error }

// ---------------------------------------------------------------------------
// logs

func (c *CLI) logsCmd() *cobra.Command {
	var follow, timestamps bool
	var tail, since, until string
	opt := engine.LogsOptions{Tail: -1} // --tail all
	cmd := c.command("logs [OPTIONS] CONTAINER", "Fetch the logs of a container", 1, 1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			opt.Follow = follow
			return e.Logs(cmd.Context(), args[0], opt, func(l engine.LogLine) error {
				w := c.Out
				if l.Stream == "stderr" {
					w = c.Err
				}
				if timestamps {
					// docker's RFC3339NanoFixed: always nine digits, so that
					// the lines' text starts in one column.
					fmt.Fprint(w, l.Time.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")+" ")
				}
				_, err := io.WriteString(w, l.Text)
				return err
			})
		}))
	cmd.PreRunE = func(*cobra.Command, []string) error {
		var err error
		if tail != "all" {
			if opt.Tail, err = strconv.Atoi(tail); err != nil {
				return &statusError{msg: fmt.Sprintf("invalid value for \"tail\": %q is not a number or \"all\"", tail), code: 1}
			}
		}
		opt.Since, opt.Until, err = timeRange(since, until)
		return err
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "follow log output")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	f.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end of the logs")
	f.StringVar(&since, "since", "", "show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	f.StringVar(&until, "until", "", "show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	return cmd
}

// timeRange reads --since and --until (logs, events) from one now.
func timeRange(since, until string) (from, to time.Time, err error) {
	now := time.Now()
	if from, err = logTime("since", since, now); err != nil {
		return from, to, err
	}
	to, err = logTime("until", until, now)
	return from, to, err
}

// logTime reads docker logs's --since and --until: a duration back from
// now ("42m"), a Unix time ("1700000000.5"), or an RFC 3339 time, its
// zone left out for local time, or a date alone. "" is no bound.
func logTime(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := engine.ParseTime(v, now)
	if err != nil {
		return time.Time{}, &statusError{msg: fmt.Sprintf("invalid value for %q: %v", flag, err), code: 1}
	}
	return t, nil
}

// ---------------------------------------------------------------------------
// stop, kill, rm, restart, pause, unpause, wait

func (c *CLI) stopCmd() *cobra.Command {
	var timeout int
	var sig string
	var s syscall.Signal
	var cmd *cobra.Command
	cmd = c.perContainer("stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers",
		func(e *engine.Engine, a string) (string, error) {
			return a, e.Stop(a, s, stopTimeout(cmd, timeout))
		})
	cmd.PreRunE = signalFlag(&sig, &s)
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "seconds to wait before killing the container (default: its --stop-timeout, else 10; -1: for ever)")
	cmd.Flags().IntVar(&timeout, "time", 0, "")
	_ = cmd.Flags().MarkHidden("time")
	cmd.Flags().StringVarP(&sig, "signal", "s", "", "signal to send to the container (default: its stop signal, SIGTERM unless its image says)")
	return cmd
}

// stopTimeout is stop's and restart's -t, or if it is not given the
// container's own.
func stopTimeout(cmd *cobra.Command, seconds int) time.Duration {
	if cmd.Flags().Changed("timeout") || cmd.Flags().Changed("time") {
		return time.Duration(seconds) * time.Second
	}
	return engine.ItsOwnTimeout
}

func (c *CLI) restartCmd() *cobra.Command {
	var timeout int
	var sig string
	var s syscall.Signal
	var cmd *cobra.Command
	cmd = c.perContainer("restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers",
		func(e *engine.Engine, a string) (string, error) {
			if err := e.Stop(a, s, stopTimeout(cmd, timeout)); err != nil {
				return a, err
			}
			_, err := e.Start(a, engine.StartOptions{})
			return a, err
		})
	cmd.PreRunE = signalFlag(&sig, &s)
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "seconds to wait before killing the container (default: its --stop-timeout, else 10; -1: for ever)")
	cmd.Flags().StringVarP(&sig, "signal", "s", "", "signal to send to the container (default: its stop signal, SIGTERM unless its image says)")
	return cmd
}

// signalFlag parses kill's, stop's and restart's --signal, so that a bad
// one fails the command before any container is touched; none (0) is
// the container's own stop signal.
func signalFlag(name *string, sig *syscall.Signal) func(*cobra.Command, []string) error {
	return func(*cobra.Command, []string) error {
		if *name == "" {
			return nil
		}
		var err error
		if *sig, err = runtime.ParseSignal(*name); err != nil {
			return &statusError{msg: fmt.Sprintf("invalid signal: %s", *name), code: 1}
		}
		return nil
	}
}

func (c *CLI) killCmd() *cobra.Command {
	var sig string
	s := syscall.SIGKILL // -s "" too, as dockerd takes no signal
	cmd := c.perContainer("kill [OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers",
		func(e *engine.Engine, a string) (string, error) { return a, e.Kill(a, s) })
	cmd.PreRunE = signalFlag(&sig, &s)
	cmd.Flags().StringVarP(&sig, "signal", "s", "KILL", "signal to send to the container")
	return cmd
}

func (c *CLI) rmCmd() *cobra.Command {
	var force, volumes bool
	cmd := c.perContainer("rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers",
		func(e *engine.Engine, a string) (string, error) {
			err := e.Remove(a, force, volumes)
			if force && errors.Is(err, engine.ErrNotFound) {
				// docker's CLI says so on stderr and exits 0.
				return "", notFailure{err}
			}
			return a, err
		})
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "remove anonymous volumes associated with the container")
	return cmd
}

// pruneCmd is docker container prune: every container not running goes,
// after a question that -f skips.
func (c *CLI) pruneCmd() *cobra.Command {
	var force bool
	var match engine.PruneMatch
	cmd := c.command("prune [OPTIONS]", "Remove all stopped containers", 0, 0,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			if !force && !c.confirm("WARNING! This will remove all stopped containers.") {
				return nil // docker's "cancelled": nothing removed, status 0
			}
			reclaimed, err := c.pruneContainers(e, match)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
			return nil
		}))
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	pruneFilterFlag(cmd, &match)
	return cmd
}

// pruneFilterFlag gives a prune docker's --filter, read into match before
// the command runs; a bad one is the daemon's error.
func pruneFilterFlag(cmd *cobra.Command, match *engine.PruneMatch) {
	filter := filterValue{}
	cmd.Flags().Var(filter, "filter", "provide filter values ("+strings.Join(engine.PruneFilterKeys, ", ")+"; e.g. 'until=24h', 'label=env=test')")
	cmd.PreRunE = func(*cobra.Command, []string) (err error) {
		if *match, err = engine.PruneMatcher(engine.Filter(filter)); err != nil {
			return &statusError{msg: "Error response from daemon: " + err.Error(), code: 1, bare: true}
		}
		return nil
	}
}

// confirm asks docker's question after a warning: only y or Y is yes.
func (c *CLI) confirm(warning string) bool {
	fmt.Fprint(c.Out, warning+"\nAre you sure you want to continue? [y/N] ")
	answer, _ := bufio.NewReader(c.In).ReadString('\n')
	return strings.EqualFold(strings.TrimSpace(answer), "y")
}

// pruneContainers removes the containers that are not running (and that
// match lets go) and lists them as docker does.
func (c *CLI) pruneContainers(e *engine.Engine, match engine.PruneMatch) (uint64, error) {
	removed, reclaimed, err := e.Prune(match)
	if len(removed) > 0 {
		fmt.Fprintln(c.Out, "Deleted Containers:")
		for _, ctr := range removed {
			fmt.Fprintln(c.Out, ctr.ID)
		}
		fmt.Fprintln(c.Out)
	}
	return reclaimed, err
}

func (c *CLI) pauseCmd(name string) *cobra.Command {
	short := map[string]string{"pause": "Pause all processes within one or more containers", "unpause": "Unpause all processes within one or more containers"}[name]
	return c.perContainer(name+" CONTAINER [CONTAINER...]", short, func(e *engine.Engine, a string) (string, error) {
		if name == "pause" {
			return a, e.Pause(a)
		}
		return a, e.Unpause(a)
	})
}

func (c *CLI) renameCmd() *cobra.Command {
	return c.command("rename CONTAINER NEW_NAME", "Rename a container", 2, 2,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			if strings.TrimSpace(args[0]) == "" || strings.TrimSpace(args[1]) == "" {
				return &statusError{msg: "Error: neither old nor new names may be empty", code: 1, bare: true}
			}
			return e.Rename(args[0], args[1])
		}))
}

// updateCmd is docker update: new limits for containers, running or not.
func (c *CLI) updateCmd() *cobra.Command {
	var lim limitFlags
	var restart string
	cmd := c.command("update [OPTIONS] CONTAINER [CONTAINER...]", "Update configuration of one or more containers", 1, -1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			var u container.UpdateConfig
			var err error
			if u.Resources, err = lim.resources(cmd.Flags()); err == nil && restart != "" {
				u.RestartPolicy, err = parseRestart(restart)
			}
			if err != nil {
				return &statusError{msg: fmt.Sprintf("%v\nSee '%s --help'.", err, c.path(cmd)), code: 125}
			}
			// (--trace and the other global flags are not limits)
			if !slices.ContainsFunc(append(lim.names, "restart"), cmd.Flags().Changed) {
				var names []string
				for _, n := range lim.names {
					names = append(names, "--"+n)
				}
				return fmt.Errorf("you must provide one or more flags when using this command: %s or --restart", strings.Join(names, ", "))
			}
			return c.each(args, func(a string) (string, error) { return a, e.Update(a, u) })
		}))
	lim.register(cmd.Flags())
	cmd.Flags().StringVar(&restart, "restart", "", "restart policy to apply when a container exits")
	return cmd
}

func (c *CLI) waitCmd() *cobra.Command {
	return c.perContainer("wait CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes",
		func(e *engine.Engine, a string) (string, error) {
			st, err := e.Wait(a)
			if err != nil {
				return "", err
			}
			return strconv.Itoa(st.StatusCode), nil
		})
}

// ---------------------------------------------------------------------------
// inspect, port, top, stats

// inspectAnyCmd is docker inspect: a container, or else an image.
func (c *CLI) inspectAnyCmd() *cobra.Command {
	var format, typ string
	cmd := c.command("inspect [OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on containers, images or networks", 1, -1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			// docker's types; cfs has objects of the first three only.
			if !slices.Contains([]string{"", "container", "image", "network", "config", "node", "plugin", "secret", "service", "task", "volume"}, typ) {
				return &statusError{msg: fmt.Sprintf("%q is not a valid value for --type", typ), code: 1, bare: true}
			}
			var out []any
			var missing []string
			for _, a := range args {
				if typ == "" || typ == "container" {
					if ctr, err := e.Get(a); err == nil {
						out = append(out, withLegacyNetwork(e.Inspect(ctr)))
						continue
					} else if !errors.Is(err, engine.ErrNotFound) {
						return err
					}
				}
				if typ == "" || typ == "image" {
					if img, err := e.Images.Get(a); err == nil {
						out = append(out, img.Inspect())
						continue
					}
				}
				if typ == "" || typ == "network" {
					if n, err := e.Network(a); err == nil {
						out = append(out, n)
						continue
					}
				}
				missing = append(missing, a)
			}
			if err := c.printInspect(out, format); err != nil {
				return err
			}
			if len(missing) > 0 {
				what := "object"
				if typ != "" {
					what = typ
				}
				return &statusError{msg: "Error: No such " + what + ": " + strings.Join(missing, ", "), code: 1, bare: true}
			}
			return nil
		}))
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a custom template ('{{.State.Status}}', '{{json .Config}}')")
	cmd.Flags().StringVar(&typ, "type", "", "only inspect objects of the given type (container, image or network)")
	return cmd
}

// inspectedContainer is docker inspect's container as Debian's dockerd
// (20.10) shows it, with NetworkSettings' fields of before API 1.44.
type inspectedContainer struct {
	container.InspectResponse
	NetworkSettings *legacyNetworkSettings // shadows the embedded one
}

// legacyNetworkSettings has, beside the networks, the bridge network's
// address at the top, which tutorials read with
// `docker inspect -f '{{.NetworkSettings.IPAddress}}' CONTAINER`.
type legacyNetworkSettings struct {
	Bridge                 string
	SandboxID              string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	Ports                  network.PortMap
	SandboxKey             string
	SecondaryIPAddresses   []string
	SecondaryIPv6Addresses []string
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
	Networks               map[string]*network.EndpointSettings
}

// withLegacyNetwork adds the bridge network's fields at the top of
// NetworkSettings, as dockerd 20.10 does (empty on none and host).
func withLegacyNetwork(r container.InspectResponse) inspectedContainer {
	ns := r.NetworkSettings
	if ns == nil {
		ns = &container.NetworkSettings{}
	}
	l := &legacyNetworkSettings{SandboxID: ns.SandboxID, SandboxKey: ns.SandboxKey, Ports: ns.Ports, Networks: ns.Networks}
	addr := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	if ep := ns.Networks["bridge"]; ep != nil {
		l.EndpointID, l.Gateway, l.IPAddress, l.IPPrefixLen = ep.EndpointID, addr(ep.Gateway), addr(ep.IPAddress), ep.IPPrefixLen
		l.IPv6Gateway, l.GlobalIPv6Address, l.GlobalIPv6PrefixLen = addr(ep.IPv6Gateway), addr(ep.GlobalIPv6Address), ep.GlobalIPv6PrefixLen
		if len(ep.MacAddress) > 0 {
			l.MacAddress = net.HardwareAddr(ep.MacAddress).String()
		}
	}
	return inspectedContainer{InspectResponse: r, NetworkSettings: l}
}

// printInspect prints docker inspect's JSON array, or each object
// through a Go template that sees the JSON's names.
func (c *CLI) printInspect(out []any, format string) error {
	if format == "" {
		if out == nil {
			out = []any{}
		}
		b, err := json.MarshalIndent(out, "", "    ")
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
	for _, v := range out {
		raw, _ := json.Marshal(v)
		var m any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber() // 134217728, not 1.34217728e+08, as docker prints it
		_ = dec.Decode(&m)
		var b bytes.Buffer
		if err := tmpl.Execute(&b, m); err != nil {
			return &statusError{msg: err.Error(), code: 1}
		}
		fmt.Fprintln(c.Out, b.String())
	}
	return nil
}

func (c *CLI) portCmd() *cobra.Command {
	return c.command("port CONTAINER [PRIVATE_PORT[/PROTO]]", "List port mappings or a specific mapping for the container", 1, 2,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			ctr, err := e.Get(args[0])
			if err != nil {
				return err
			}
			lines := ctr.PortLines()
			if len(args) == 2 {
				want := args[1]
				if !strings.Contains(want, "/") {
					want += "/tcp"
				}
				found := false
				for _, l := range lines {
					if p, hostAddr, _ := strings.Cut(l, " -> "); p == want {
						fmt.Fprintln(c.Out, hostAddr)
						found = true
					}
				}
				if !found {
					return &statusError{msg: fmt.Sprintf("Error: No public port '%s' published for %s", want, args[0]), code: 1, bare: true}
				}
				return nil
			}
			for _, l := range lines {
				fmt.Fprintln(c.Out, l)
			}
			return nil
		}))
}

func (c *CLI) topCmd() *cobra.Command {
	cmd := c.command("top CONTAINER [ps OPTIONS]", "Display the running processes of a container", 1, -1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			titles, rows, err := e.Top(args[0], args[1:])
			if err != nil {
				return err
			}
			// docker top's own table: columns at least 20 wide.
			tw := tabwriter.NewWriter(c.Out, 20, 1, 3, ' ', 0)
			fmt.Fprintln(tw, strings.Join(titles, "\t"))
			for _, f := range rows {
				fmt.Fprintln(tw, strings.Join(f, "\t"))
			}
			return tw.Flush()
		}))
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func (c *CLI) statsCmd() *cobra.Command {
	var noStream, all bool
	var format string
	cmd := c.command("stats [OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage statistics", 0, -1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			if format == "" || format == "table" {
				format = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}" // docker's
			}
			tmpl, table, err := parseFormat(format)
			if err != nil {
				return err
			}
			var ctrs []*engine.Container
			if len(args) == 0 {
				list, err := e.List()
				if err != nil {
					return err
				}
				for _, ctr := range list {
					if all || ctr.Running() {
						ctrs = append(ctrs, ctr)
					}
				}
			}
			for _, a := range args {
				ctr, err := e.Get(a)
				if err != nil {
					return err
				}
				ctrs = append(ctrs, ctr)
			}
			sample := func() map[string]*engine.Stats {
				cur := map[string]*engine.Stats{}
				for _, ctr := range ctrs {
					if s, err := e.Stats(ctr); err == nil {
						cur[ctr.ID] = s
					}
				}
				return cur
			}
			prev := sample()
			// CPU % needs two samples: the time used between them.
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-cmd.Context().Done():
					return nil
				case <-tick.C:
				}
				cur := sample()
				if !noStream {
					fmt.Fprint(c.Out, "\033[2J\033[H")
				}
				var rows []any
				for _, ctr := range ctrs {
					rows = append(rows, statsRow{ctr, cur[ctr.ID], prev[ctr.ID]})
				}
				if err := c.printFormatted(tmpl, table, statsHeader{}, rows); err != nil {
					return err
				}
				prev = cur
				if noStream {
					return nil
				}
			}
		}))
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "disable streaming stats and only pull the first result")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	cmd.Flags().StringVar(&format, "format", "", "format output using a Go template ('{{.Name}} {{.MemUsage}}'; 'table {{.Name}}\\t{{.CPUPerc}}' for a table with its header)")
	return cmd
}

// statsRow is a container's line of docker stats: from two samples of
// its cgroup, or docker's zeros for one that does not run (s nil).
type statsRow struct {
	ctr     *engine.Container
	s, prev *engine.Stats
}

func (r statsRow) ID() string        { return r.ctr.ShortID() }
func (r statsRow) Container() string { return r.ctr.ShortID() }
func (r statsRow) Name() string      { return r.ctr.Name }

func (r statsRow) CPUPerc() string {
	if r.s == nil {
		return "0.00%"
	}
	return fmt.Sprintf("%.2f%%", engine.CPUPercent(r.prev, r.s))
}

func (r statsRow) MemUsage() string {
	if r.s == nil {
		return "0B / 0B"
	}
	return units.BytesSize(float64(r.s.MemUsage)) + " / " + units.BytesSize(float64(r.s.MemLimit))
}

func (r statsRow) MemPerc() string {
	if r.s == nil || r.s.MemLimit == 0 {
		return "0.00%"
	}
	return fmt.Sprintf("%.2f%%", float64(r.s.MemUsage)/float64(r.s.MemLimit)*100)
}

func (r statsRow) NetIO() string {
	if r.s == nil {
		return "0B / 0B"
	}
	return humanSize(int64(r.s.NetRx)) + " / " + humanSize(int64(r.s.NetTx))
}

func (r statsRow) BlockIO() string {
	if r.s == nil {
		return "0B / 0B"
	}
	return humanSize(int64(r.s.BlkRd)) + " / " + humanSize(int64(r.s.BlkWrt))
}

func (r statsRow) PIDs() string {
	if r.s == nil {
		return "0"
	}
	return strconv.FormatUint(uint64(r.s.Pids), 10)
}

// statsHeader is the header line of docker stats' table.
type statsHeader struct{}

func (statsHeader) ID() string        { return "CONTAINER ID" }
func (statsHeader) Container() string { return "CONTAINER" }
func (statsHeader) Name() string      { return "NAME" }
func (statsHeader) CPUPerc() string   { return "CPU %" }
func (statsHeader) MemUsage() string  { return "MEM USAGE / LIMIT" }
func (statsHeader) MemPerc() string   { return "MEM %" }
func (statsHeader) NetIO() string     { return "NET I/O" }
func (statsHeader) BlockIO() string   { return "BLOCK I/O" }
func (statsHeader) PIDs() string      { return "PIDS" }

// ---------------------------------------------------------------------------
// export, diff, commit

func (c *CLI) exportCmd() *cobra.Command {
	var output string
	cmd := c.command("export [OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive", 1, 1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			return c.writeArchive(output, func(w io.Writer) error { return e.Export(args[0], w) })
		}))
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}

func (c *CLI) diffCmd() *cobra.Command {
	return c.command("diff CONTAINER", "Inspect changes to files or directories on a container's filesystem", 1, 1,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			changes, err := e.Changes(args[0])
			if err != nil {
				return err
			}
			for _, ch := range changes {
				fmt.Fprintf(c.Out, "%s %s\n", ch.Kind, ch.Path)
			}
			return nil
		}))
}

func (c *CLI) commitCmd() *cobra.Command {
	var author, message string
	var changes []string
	var pause bool
	cmd := c.command("commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes", 1, 2,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			img, err := e.Commit(cmd.Context(), args[0], engine.CommitOptions{Name: name, Author: author, Message: message, Changes: changes, Pause: pause})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, img.ID.String())
			return nil
		}))
	f := cmd.Flags()
	f.StringVarP(&author, "author", "a", "", "author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
	f.StringVarP(&message, "message", "m", "", "commit message")
	f.StringArrayVarP(&changes, "change", "c", nil, "apply Dockerfile instruction to the created image")
	f.BoolVarP(&pause, "pause", "p", true, "pause container during commit")
	return cmd
}
