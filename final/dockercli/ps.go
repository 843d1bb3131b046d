package dockercli

// ps: the containers in docker's table, or in a --format template.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"cfs/final/engine"

	"github.com/spf13/cobra"
)

func (c *CLI) psCmd() *cobra.Command {
	var all, quiet, noTrunc, latest, size bool
	var format string
	last := -1
	filter := filterValue{}
	cmd := c.command("ps [OPTIONS]", "List containers", 0, 0,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			f := engine.Filter(filter)
			match, err := e.Matcher(f)
			if err != nil {
				return &statusError{msg: "Error response from daemon: " + err.Error(), code: 1, bare: true}
			}
			list, err := e.List() // newest first
			if err != nil {
				return err
			}
			if latest {
				last = 1
			}
			// -n N, -l and a filter on the status look at every
			// container, as docker's do; -n N keeps the N last created.
			all = all || last >= 0 || f.All()
			list = slices.DeleteFunc(list, func(ctr *engine.Container) bool { return !all && !ctr.Up() || !match(ctr) })
			if last >= 0 {
				list = list[:min(last, len(list))]
			}
			tw := newTable(c.Out)
			var tmpl *template.Template
			if !quiet {
				var table bool
				if tmpl, table, err = parseFormat(format); err != nil {
					return err
				}
				if tmpl != nil && table {
					if err := formatLine(tw, tmpl, psHeader{}); err != nil {
						return err
					}
				} else if tmpl != nil {
					tw = nil
				}
			}
			if !quiet && tmpl == nil {
				fmt.Fprint(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
				if size {
					fmt.Fprint(tw, "\tSIZE")
				}
				fmt.Fprintln(tw)
			}
			for _, ctr := range list {
				if tmpl != nil {
					w := io.Writer(c.Out)
					if tw != nil {
						w = tw
					}
					if err := formatLine(w, tmpl, psRow{ctr, noTrunc, e}); err != nil {
						return err
					}
					continue
				}
				id := ctr.ShortID()
				if noTrunc {
					id = ctr.ID
				}
				if quiet {
					fmt.Fprintln(c.Out, id)
					continue
				}
				command := strconv.Quote(engine.Command(ctr))
				if !noTrunc {
					command = strconv.Quote(ellipsis(engine.Command(ctr), 20))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s", id, ctr.Image, command, ago(ctr.Created),
					ctr.StatusText(), strings.Join(psPorts(ctr), ", "), ctr.Name)
				if size {
					fmt.Fprint(tw, "\t"+psRow{ctr, noTrunc, e}.Size())
				}
				fmt.Fprintln(tw)
			}
			if tw == nil {
				return nil
			}
			return tw.Flush()
		}))
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	f.VarP(filter, "filter", "f", "filter output based on conditions provided ("+strings.Join(engine.FilterKeys, ", ")+")")
	f.BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.BoolVarP(&size, "size", "s", false, "display total file sizes")
	f.StringVar(&format, "format", "", "format output using a Go template ('{{.Names}}'; 'table {{.ID}}\\t{{.Status}}' for a table with its header)")
	f.IntVarP(&last, "last", "n", -1, "show n last created containers (includes all states)")
	f.BoolVarP(&latest, "latest", "l", false, "show the latest created container (includes all states)")
	return cmd
}

// filterValue is --filter KEY=VALUE, repeatable, into an engine.Filter;
// the keys and values are the engine's to check, as docker's daemon does.
type filterValue map[string][]string

func (f filterValue) String() string { return "" }
func (f filterValue) Type() string   { return "KEY=VALUE" }
func (f filterValue) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return errors.New("bad format of filter (expected name=value)")
	}
	k = strings.ToLower(strings.TrimSpace(k))
	f[k] = append(f[k], v)
	return nil
}

// parseFormat is a list's --format: "" or "table" for the default table
// (nil), a Go template, or "table " and one for a table with a header;
// \t and \n as typed in single quotes, as docker's.
func parseFormat(format string) (tmpl *template.Template, table bool, err error) {
	if format == "" || format == "table" {
		return nil, false, nil
	}
	text, table := strings.CutPrefix(format, "table ")
	text = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(strings.TrimSpace(text))
	tmpl, err = parseTemplate(text)
	return tmpl, table, err
}

// parseTemplate is a --format template, with the functions of docker's
// templates that people use most.
func parseTemplate(text string) (*template.Template, error) {
	funcs := template.FuncMap{"json": func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
		"join": strings.Join, "upper": strings.ToUpper, "lower": strings.ToLower}
	tmpl, err := template.New("format").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, &statusError{msg: fmt.Sprintf("template parsing error: %v", err), code: 1}
	}
	return tmpl, nil
}

// printFormatted writes a list's rows through its --format template,
// after a header row of the columns' titles for "table …".
func (c *CLI) printFormatted(tmpl *template.Template, table bool, header any, rows []any) error {
	tw := newTable(c.Out)
	w := io.Writer(c.Out)
	if table {
		w = tw
		if err := formatLine(tw, tmpl, header); err != nil {
			return err
		}
	}
	for _, r := range rows {
		if err := formatLine(w, tmpl, r); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// formatLine writes one line of a list's --format.
func formatLine(w io.Writer, tmpl *template.Template, v any) error {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, v); err != nil {
		return &statusError{msg: err.Error(), code: 1} // "template: format:1:2: executing …"
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// psRow is a container as docker ps --format sees it: docker's names
// for its fields, each a string as the table shows it.
type psRow struct {
	c       *engine.Container
	noTrunc bool
	e       *engine.Engine // for Size, read only when asked for
}

func (r psRow) ID() string {
	if r.noTrunc {
		return r.c.ID
	}
	return r.c.ShortID()
}

func (r psRow) Image() string { return r.c.Image }

func (r psRow) Command() string {
	if r.noTrunc {
		return strconv.Quote(engine.Command(r.c))
	}
	return strconv.Quote(ellipsis(engine.Command(r.c), 20))
}

func (r psRow) CreatedAt() string  { return r.c.Created.Format("2006-01-02 15:04:05 -0700 MST") }
func (r psRow) RunningFor() string { return ago(r.c.Created) }
func (r psRow) Ports() string      { return strings.Join(psPorts(r.c), ", ") }
func (r psRow) State() string      { return r.c.State.Status }
func (r psRow) Status() string     { return r.c.StatusText() }
func (r psRow) Names() string      { return r.c.Name }
func (r psRow) Networks() string   { return string(r.c.HostConfig.NetworkMode) }

func (r psRow) Labels() string { return labelList(r.c.Config.Labels) }

// labelList is docker's {{.Labels}}: KEY=VALUE, sorted, comma-separated.
func labelList(labels map[string]string) string {
	var kv []string
	for k, v := range labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func (r psRow) Label(name string) string { return r.c.Config.Labels[name] }

// Size is docker's SIZE: the writable layer, and the whole root
// ("0B (virtual 29.5MB)").
func (r psRow) Size() string {
	rw, rootfs := r.e.Size(r.c)
	return fmt.Sprintf("%s (virtual %s)", humanSize(rw), humanSize(rootfs))
}

// psHeader is the header line of ps --format 'table …': each field's
// column title, docker's.
type psHeader struct{}

func (psHeader) ID() string            { return "CONTAINER ID" }
func (psHeader) Image() string         { return "IMAGE" }
func (psHeader) Command() string       { return "COMMAND" }
func (psHeader) CreatedAt() string     { return "CREATED AT" }
func (psHeader) RunningFor() string    { return "CREATED" }
func (psHeader) Ports() string         { return "PORTS" }
func (psHeader) State() string         { return "STATE" }
func (psHeader) Status() string        { return "STATUS" }
func (psHeader) Names() string         { return "NAMES" }
func (psHeader) Networks() string      { return "NETWORKS" }
func (psHeader) Labels() string        { return "LABELS" }
func (psHeader) Label(_ string) string { return "LABEL" }
func (psHeader) Size() string          { return "SIZE" }

// psPorts is docker ps's PORTS: "0.0.0.0:8080->80/tcp".
func psPorts(ctr *engine.Container) []string {
	var out []string
	if ctr.Network != nil && ctr.Running() {
		for _, p := range ctr.Network.Ports {
			out = append(out, fmt.Sprintf("0.0.0.0:%d->%d/%s", p.Host, p.Ctr, p.Proto))
		}
	}
	sort.Strings(out)
	return out
}
