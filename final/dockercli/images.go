package dockercli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"cfs/final/engine"
	"cfs/final/image"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/events"
	mobyimage "github.com/moby/moby/api/types/image"
	"github.com/spf13/cobra"
)

// newTable is docker's table writer: columns at least 10 wide, 3 spaces
// apart (docker/cli's formatter).
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 10, 1, 3, ' ', 0) }

// humanSize is docker's size: 3 significant digits, powers of 1000
// ("4.26MB").
func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// ago is docker's age of a time: "2 weeks ago", "N/A" for none.
func ago(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "N/A"
	}
	return units.HumanDuration(time.Now().UTC().Sub(t)) + " ago"
}

func (c *CLI) imagesCmd() *cobra.Command {
	var quiet, noTrunc, digests bool
	var format string
	filter := filterValue{}
	cmd := c.command("images [OPTIONS] [REPOSITORY[:TAG]]", "List images", 0, 1,
		c.withStore(func(cmd *cobra.Command, s *image.Store, args []string) error {
			if c.Root == "" && os.Getenv(StoreEnv) == "" && s.IsNew() {
				// The engine's new store starts with the base image, so
				// that there is one to run without any registry.
				if _, err := s.EnsureBase(); err != nil {
					return err
				}
			}
			f := engine.Filter(filter)
			if len(args) == 1 {
				f["reference"] = append(f["reference"], args[0]) // as docker's CLI sends it
			}
			match, err := engine.ImageMatcher(f, s.Get)
			if err != nil {
				return &statusError{msg: "Error response from daemon: " + err.Error(), code: 1, bare: true}
			}
			imgs, err := s.List()
			if err != nil {
				return err
			}
			var rows []imageRow
			for _, img := range imgs {
				if tags, ok := match(img); ok {
					rows = append(rows, rowsOf(img, tags)...)
				}
			}
			return c.printImages(rows, format, quiet, noTrunc, digests)
		}))
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.BoolVar(&digests, "digests", false, "show digests")
	f.VarP(filter, "filter", "f", "filter output based on conditions provided ("+strings.Join(engine.ImageFilterKeys, ", ")+")")
	f.StringVar(&format, "format", "", "format output using a Go template ('{{.Repository}}:{{.Tag}}'; 'table {{.ID}}\\t{{.Size}}' for a table with its header)")
	f.BoolP("all", "a", false, "show all images (cfs keeps no intermediate images: the same list)")
	return cmd
}

// imageRow is one row of `images`: an image under one of its names, as
// docker images --format sees it.
type imageRow struct {
	repo, tag, digest string
	img               *image.Image
	noTrunc           bool
}

func (r imageRow) ID() string {
	if r.noTrunc {
		return r.img.ID.String()
	}
	return r.img.ShortID()
}

func (r imageRow) Repository() string   { return r.repo }
func (r imageRow) Tag() string          { return r.tag }
func (r imageRow) Digest() string       { return r.digest }
func (r imageRow) CreatedSince() string { return ago(r.img.Created()) }
func (r imageRow) CreatedAt() string    { return r.img.Created().Format("2006-01-02 15:04:05 -0700 MST") }
func (r imageRow) Size() string         { return humanSize(r.img.Size) }

// imageHeader is the header line of images --format 'table …'.
type imageHeader struct{}

func (imageHeader) ID() string           { return "IMAGE ID" }
func (imageHeader) Repository() string   { return "REPOSITORY" }
func (imageHeader) Tag() string          { return "TAG" }
func (imageHeader) Digest() string       { return "DIGEST" }
func (imageHeader) CreatedSince() string { return "CREATED" }
func (imageHeader) CreatedAt() string    { return "CREATED AT" }
func (imageHeader) Size() string         { return "SIZE" }

// rowsOf is an image's rows: one per name (tags, the names to show), or
// per repository digest, or one <none>.
func rowsOf(img *image.Image, tags []string) []imageRow {
	var rows []imageRow
	digestOf := func(repo string) string {
		for _, d := range img.RepoDigests {
			if r, dg, ok := strings.Cut(d, "@"); ok && r == repo {
				return dg
			}
		}
		return "<none>"
	}
	for _, t := range tags {
		i := strings.LastIndex(t, ":")
		rows = append(rows, imageRow{repo: t[:i], tag: t[i+1:], digest: digestOf(t[:i]), img: img})
	}
	if len(rows) == 0 {
		for _, d := range img.RepoDigests {
			r, dg, _ := strings.Cut(d, "@")
			rows = append(rows, imageRow{repo: r, tag: "<none>", digest: dg, img: img})
		}
	}
	if len(rows) == 0 {
		rows = append(rows, imageRow{repo: "<none>", tag: "<none>", digest: "<none>", img: img})
	}
	return rows
}

func (c *CLI) printImages(rows []imageRow, format string, quiet, noTrunc, digests bool) error {
	for i := range rows {
		rows[i].noTrunc = noTrunc
	}
	if quiet {
		for _, r := range rows {
			fmt.Fprintln(c.Out, r.ID())
		}
		return nil
	}
	tmpl, table, err := parseFormat(format)
	if err != nil {
		return err
	}
	if tmpl != nil {
		formatted := make([]any, len(rows))
		for i, r := range rows {
			formatted[i] = r
		}
		return c.printFormatted(tmpl, table, imageHeader{}, formatted)
	}
	tw := newTable(c.Out)
	if digests {
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tCREATED\tSIZE")
	} else {
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	}
	for _, r := range rows {
		if digests {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.repo, r.tag, r.digest, r.ID(), r.CreatedSince(), r.Size())
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.repo, r.tag, r.ID(), r.CreatedSince(), r.Size())
		}
	}
	return tw.Flush()
}

func (c *CLI) inspectCmd() *cobra.Command {
	var format string
	cmd := c.command("inspect [OPTIONS] IMAGE [IMAGE...]", "Display detailed information on one or more images", 1, -1,
		c.withStore(func(cmd *cobra.Command, s *image.Store, args []string) error {
			var out []any
			var missing []string
			for _, a := range args {
				img, err := s.Get(a)
				if errors.Is(err, image.ErrNotFound) {
					missing = append(missing, a)
					continue
				}
				if err != nil {
					return err
				}
				out = append(out, img.Inspect())
			}
			if err := c.printInspect(out, format); err != nil {
				return err
			}
			if len(missing) > 0 {
				return &statusError{msg: "Error: No such image: " + strings.Join(missing, ", ") + " (see `cfs images`)", code: 1}
			}
			return nil
		}))
	cmd.Flags().StringVarP(&format, "format", "f", "", "format the output using the given Go template (e.g. '{{.Id}}', '{{json .Config}}')")
	return cmd
}

func (c *CLI) historyCmd() *cobra.Command {
	var quiet, noTrunc bool
	var format string
	human := true
	cmd := c.command("history [OPTIONS] IMAGE", "Show the history of an image", 1, 1,
		c.withStore(func(cmd *cobra.Command, s *image.Store, args []string) error {
			img, err := s.Get(args[0])
			if err != nil {
				return err
			}
			var rows []any
			for _, r := range img.History() {
				rows = append(rows, historyRow{r, noTrunc, human})
			}
			if quiet {
				format = "{{.ID}}"
			} else if format == "" || format == "table" {
				format = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}" // docker's
			}
			tmpl, table, err := parseFormat(format)
			if err != nil {
				return err
			}
			return c.printFormatted(tmpl, table, historyHeader{}, rows)
		}))
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.BoolVarP(&human, "human", "H", true, "print sizes and dates in human readable format")
	f.StringVar(&format, "format", "", "format output using a Go template ('{{.ID}} {{.CreatedBy}}'; 'table {{.ID}}\\t{{.Size}}' for a table with its header)")
	return cmd
}

// historyRow is a layer of an image's history, as docker history shows
// it and --format sees it.
type historyRow struct {
	r              mobyimage.HistoryResponseItem
	noTrunc, human bool
}

func (h historyRow) ID() string {
	if !h.noTrunc && strings.HasPrefix(h.r.ID, "sha256:") {
		return strings.TrimPrefix(h.r.ID, "sha256:")[:12]
	}
	return h.r.ID
}

func (h historyRow) CreatedAt() string { return time.Unix(h.r.Created, 0).Format(time.RFC3339) }

func (h historyRow) CreatedSince() string {
	if !h.human {
		return h.CreatedAt()
	}
	return ago(time.Unix(h.r.Created, 0))
}

func (h historyRow) CreatedBy() string {
	by := strings.ReplaceAll(h.r.CreatedBy, "\t", " ")
	if !h.noTrunc {
		by = ellipsis(by, 45)
	}
	return by
}

func (h historyRow) Size() string {
	if !h.human {
		return fmt.Sprint(h.r.Size)
	}
	return humanSize(h.r.Size)
}

func (h historyRow) Comment() string { return h.r.Comment }

// historyHeader is the header line of docker history's table.
type historyHeader struct{}

func (historyHeader) ID() string           { return "IMAGE" }
func (historyHeader) CreatedAt() string    { return "CREATED AT" }
func (historyHeader) CreatedSince() string { return "CREATED" }
func (historyHeader) CreatedBy() string    { return "CREATED BY" }
func (historyHeader) Size() string         { return "SIZE" }
func (historyHeader) Comment() string      { return "COMMENT" }

// ellipsis cuts s to n characters, the last one "…" (docker's).
func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// imagePruneCmd is docker image prune: the dangling images (<none>), or
// with -a every image that no container uses.
func (c *CLI) imagePruneCmd() *cobra.Command {
	var force, all bool
	var match engine.PruneMatch
	cmd := c.command("prune [OPTIONS]", "Remove unused images", 0, 0,
		c.withStore(func(cmd *cobra.Command, s *image.Store, args []string) error {
			warning := "WARNING! This will remove all dangling images."
			if all {
				warning = "WARNING! This will remove all images without at least one container associated to them."
			}
			if !force && !c.confirm(warning) {
				return nil
			}
			reclaimed, err := c.pruneImages(s, all, match)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
			return nil
		}))
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	pruneFilterFlag(cmd, &match)
	return cmd
}

// pruneImages removes the images prune may and lists them as docker does.
func (c *CLI) pruneImages(s *image.Store, all bool, match engine.PruneMatch) (uint64, error) {
	rm, reclaimed, err := s.Prune(all, match.Image)
	c.removedEvents(s, rm)
	if rm != nil && len(rm.Untagged)+len(rm.Deleted) > 0 {
		fmt.Fprintln(c.Out, "Deleted Images:")
		for _, u := range rm.Untagged {
			fmt.Fprintln(c.Out, "untagged:", u)
		}
		for _, d := range rm.Deleted {
			fmt.Fprintln(c.Out, "deleted:", d)
		}
		fmt.Fprintln(c.Out)
	}
	return reclaimed, err
}

func (c *CLI) tagCmd() *cobra.Command {
	return c.command("tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", 2, 2,
		c.withStore(func(cmd *cobra.Command, s *image.Store, args []string) error {
			if err := s.Tag(args[0], args[1]); err != nil {
				return err
			}
			c.imageEvents(s, events.ActionTag, args[1])
			return nil
		}))
}

// imageEvents adds what an image command did to the engine's events (cfs
// events), as dockerd does for docker's. Without the engine (no root)
// they are left out.
func (c *CLI) imageEvents(s *image.Store, action events.Action, names ...string) {
	e, err := engine.Open(s)
	if err != nil {
		return
	}
	for _, n := range names {
		e.ImageEvent(n, action)
	}
}

// removedEvents are the events of what rmi or prune removed.
func (c *CLI) removedEvents(s *image.Store, rm *image.Removed) {
	if rm != nil {
		c.imageEvents(s, events.ActionUnTag, rm.Untagged...)
		c.imageEvents(s, events.ActionDelete, rm.Deleted...)
	}
}

func (c *CLI) rmiCmd() *cobra.Command {
	var force bool
	cmd := c.command("rmi [OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", 1, -1,
		c.withStore(func(cmd *cobra.Command, s *image.Store, args []string) error {
			var failed []string
			for _, a := range args {
				rm, err := s.Remove(a, force)
				if err != nil {
					failed = append(failed, err.Error())
					continue
				}
				c.removedEvents(s, rm)
				for _, u := range rm.Untagged {
					fmt.Fprintf(c.Out, "Untagged: %s\n", u)
				}
				for _, d := range rm.Deleted {
					fmt.Fprintf(c.Out, "Deleted: %s\n", d)
				}
			}
			if len(failed) > 0 {
				return errors.New(strings.Join(failed, "\n"))
			}
			return nil
		}))
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force removal of the image (untag it even while a container uses it)")
	cmd.Flags().Bool("no-prune", false, "do not delete untagged parents (cfs keeps none: no effect)")
	return cmd
}
