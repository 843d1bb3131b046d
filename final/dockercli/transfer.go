package dockercli

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"cfs/final/image"
	"cfs/final/registry"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

func (c *CLI) pullCmd() *cobra.Command {
	var quiet bool
	var platform string
	var opt image.PullOptions
	cmd := c.command("pull [OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", 1, 1,
		c.withStore(func(cmd *cobra.Command, s *image.Store, args []string) error {
			arg := args[0]
			var res *image.PullResult
			ref, err := c.transfer(s, quiet, arg,
				func(ref name.Reference) string {
					return fmt.Sprintf("%s: Pulling from %s", ref.Identifier(), ref.Context().RepositoryStr())
				},
				func(progress image.Progress) (err error) {
					opt.Progress = progress
					res, err = s.Pull(cmd.Context(), arg, opt)
					return err
				})
			if err != nil {
				return err
			}
			if !quiet {
				fmt.Fprintf(c.Out, "Digest: %s\n", res.Digest)
				status := "Downloaded newer image"
				if res.UpToDate {
					status = "Image is up to date"
				}
				fmt.Fprintf(c.Out, "Status: %s for %s\n", status, registry.Familiar(ref))
			}
			fmt.Fprintln(c.Out, res.Name)
			c.imageEvents(s, events.ActionPull, res.Name)
			return nil
		}))
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	f.StringVar(&platform, "platform", "", "set platform if server is multi-platform capable (OS/ARCH[/VARIANT]; default: this machine's)")
	f.BoolP("all-tags", "a", false, "")
	_ = f.MarkHidden("all-tags")
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if all, _ := f.GetBool("all-tags"); all {
			return &statusError{msg: "--all-tags: not supported by cfs; pull each tag", code: 125}
		}
		var err error
		if platform != "" {
			opt.Platform, err = image.ParsePlatform(platform)
		}
		return err
	}
	return cmd
}

// hasTagOrDigest reports whether a reference names its tag or digest.
func hasTagOrDigest(arg string) bool {
	last := arg[strings.LastIndex(arg, "/")+1:]
	return strings.Contains(last, ":") || strings.Contains(arg, "@")
}

func (c *CLI) pushCmd() *cobra.Command {
	var quiet bool
	cmd := c.command("push [OPTIONS] NAME[:TAG]", "Upload an image to a registry", 1, 1,
		c.withStore(func(cmd *cobra.Command, s *image.Store, args []string) error {
			var res *image.PushResult
			_, err := c.transfer(s, quiet, args[0],
				func(ref name.Reference) string {
					return fmt.Sprintf("The push refers to repository [%s]", registry.Repository(ref.Context()))
				},
				func(progress image.Progress) (err error) {
					res, err = s.Push(cmd.Context(), args[0], progress)
					return err
				})
			if err == nil {
				c.imageEvents(s, events.ActionPush, res.Name)
			}
			switch {
			case err != nil:
				return err
			case quiet:
				fmt.Fprintln(c.Out, res.Name)
			default:
				fmt.Fprintf(c.Out, "%s: digest: %s size: %d\n", res.Tag, res.Digest, res.Size)
			}
			return nil
		}))
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	return cmd
}

// transfer runs a pull or a push of the image arg names: docker's first
// lines unless quiet (heading makes the second, from the reference), then
// a line or a bar per layer while run works.
func (c *CLI) transfer(s *image.Store, quiet bool, arg string, heading func(name.Reference) string, run func(image.Progress) error) (name.Reference, error) {
	ref, err := s.Registry.Parse(arg)
	if err != nil {
		return nil, err
	}
	if !quiet {
		if !hasTagOrDigest(arg) {
			fmt.Fprintln(c.Out, "Using default tag: latest")
		}
		fmt.Fprintln(c.Out, heading(ref))
	}
	d := newDisplay(c.Out, quiet)
	err = run(d.event)
	d.wait(err != nil)
	return ref, err
}

// display shows the progress of a pull, push or load: a bar per layer on
// a terminal, as docker draws them, and otherwise a line per layer when
// it is done.
type display struct {
	out    io.Writer
	quiet  bool
	mu     sync.Mutex
	p      *mpb.Progress // nil: not a terminal
	bars   map[string]*mpb.Bar
	status map[string]string
	order  []string
}

// finalStatus are the events that end a layer's line.
var finalStatus = map[string]bool{"Pull complete": true, "Already exists": true, "Pushed": true, "Layer already exists": true, "Loading layer": false}

func newDisplay(out io.Writer, quiet bool) *display {
	d := &display{out: out, quiet: quiet, bars: map[string]*mpb.Bar{}, status: map[string]string{}}
	if isTerminal(out) && !quiet {
		d.p = mpb.New(mpb.WithOutput(out), mpb.WithWidth(40))
	}
	return d
}

func (d *display) event(e image.Event) {
	if d.quiet || e.ID == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p == nil {
		// One line per layer when it is done, in the image's order (a
		// layer that finishes early waits for those below it), so that
		// the output is the same from run to run.
		if _, ok := d.status[e.ID]; !ok {
			d.order = append(d.order, e.ID)
		}
		d.status[e.ID] = e.Status
		for len(d.order) > 0 && finalStatus[d.status[d.order[0]]] {
			fmt.Fprintf(d.out, "%s: %s\n", d.order[0], d.status[d.order[0]])
			d.order = d.order[1:]
		}
		return
	}
	d.status[e.ID] = e.Status
	bar := d.bars[e.ID]
	if bar == nil {
		id := e.ID
		bar = d.p.AddBar(0,
			mpb.PrependDecorators(
				decor.Name(id+": "),
				decor.Any(func(decor.Statistics) string { d.mu.Lock(); defer d.mu.Unlock(); return d.status[id] }, decor.WCSyncSpaceR),
			),
			mpb.AppendDecorators(
				decor.OnComplete(decor.Counters(decor.SizeB1000(0), "% .1f / % .1f"), ""),
				decor.OnComplete(decor.AverageSpeed(decor.SizeB1000(0), "  % .1f"), ""),
			),
			mpb.BarFillerClearOnComplete(),
		)
		d.bars[id] = bar
		d.order = append(d.order, id)
	}
	switch {
	case finalStatus[e.Status]:
		bar.SetTotal(-1, true)
	case e.Total > 0:
		bar.SetTotal(e.Total, false)
		bar.SetCurrent(e.Current)
	}
}

// wait lets the bars finish; after an error, they stop where they are.
func (d *display) wait(failed bool) {
	if d.p == nil {
		return
	}
	d.mu.Lock()
	for _, b := range d.bars {
		if failed || !b.Completed() {
			b.Abort(false)
		}
	}
	d.mu.Unlock()
	d.p.Wait()
}
