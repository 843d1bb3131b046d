package dockercli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"cfs/final/image"

	"github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (c *CLI) saveCmd() *cobra.Command {
	var output string
	cmd := c.command("save [OPTIONS] IMAGE [IMAGE...]", "Save one or more images to a tar archive (streamed to STDOUT by default)", 1, -1,
		c.withStore(func(cmd *cobra.Command, s *image.Store, args []string) error {
			return c.writeArchive(output, func(w io.Writer) error { return s.Save(w, args) })
		}))
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}

// writeArchive has write make a tar archive (save, export) on stdout, or
// in the file output. The file appears whole or not at all: it is written
// beside its place, then renamed. Like docker, it will not write an
// archive to a terminal.
func (c *CLI) writeArchive(output string, write func(io.Writer) error) error {
	if output == "" {
		if isTerminal(c.Out) {
			return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
		return write(c.Out)
	}
	tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".*")
	if err != nil {
		return fmt.Errorf("failed to save: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), output)
}

// isTerminal reports whether the stream v is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (c *CLI) loadCmd() *cobra.Command {
	var input string
	var quiet bool
	cmd := c.command("load [OPTIONS]", "Load images from a tar archive (docker save, OCI) or STDIN, or an OCI layout directory", 0, 0,
		c.withStore(func(cmd *cobra.Command, s *image.Store, args []string) error {
			var in io.Reader = c.In
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			} else if isTerminal(c.In) {
				return errors.New("requested load from stdin, but stdin is empty: use -i FILE, or redirect")
			}
			d := newDisplay(c.Out, quiet)
			loaded, err := s.Load(cmd.Context(), in, nil)
			d.wait(err != nil)
			if err != nil {
				return err
			}
			for _, l := range loaded {
				if len(l.Names) == 0 {
					fmt.Fprintf(c.Out, "Loaded image ID: %s\n", l.Image.ID)
				}
				for _, n := range l.Names {
					fmt.Fprintf(c.Out, "Loaded image: %s\n", n)
				}
				c.imageEvents(s, events.ActionLoad, l.Names...)
			}
			return nil
		}))
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from a tar archive file (or an OCI layout directory), instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the load output")
	return cmd
}

func (c *CLI) importCmd() *cobra.Command {
	var opt image.ImportOptions
	cmd := c.command("import [OPTIONS] file|- [REPOSITORY[:TAG]]", "Import the contents from a tarball to create a filesystem image", 1, 2,
		c.withStore(func(cmd *cobra.Command, s *image.Store, args []string) error {
			var in io.Reader = c.In
			opt.Source = args[0]
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			if len(args) == 2 {
				opt.Name = args[1]
			}
			img, err := s.Import(cmd.Context(), in, opt)
			if err != nil {
				return err
			}
			c.imageEvents(s, events.ActionImport, img.ID.String())
			fmt.Fprintln(c.Out, img.ID)
			return nil
		}))
	f := cmd.Flags()
	f.StringVarP(&opt.Message, "message", "m", "", "set commit message for imported image")
	f.StringArrayVarP(&opt.Changes, "change", "c", nil, "apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME)")
	return cmd
}
