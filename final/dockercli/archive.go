package dockercli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"cfs/final/image"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (c *CLI) saveCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  c.args(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := c.store()
			if err != nil {
				return err
			}
			if output == "" {
				if f, ok := c.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
				return s.Save(c.Out, args)
			}
			// The archive appears whole or not at all: written beside its
			// place, then renamed.
			tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".*")
			if err != nil {
				return fmt.Errorf("failed to save image: %w", err)
			}
			defer os.Remove(tmp.Name())
			if err := s.Save(tmp, args); err != nil {
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
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}

func (c *CLI) loadCmd() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a tar archive (docker save, OCI) or STDIN, or an OCI layout directory",
		Args:  c.args(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := c.store()
			if err != nil {
				return err
			}
			var in io.Reader = c.In
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			} else if f, ok := c.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
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
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from a tar archive file (or an OCI layout directory), instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the load output")
	return cmd
}

func (c *CLI) importCmd() *cobra.Command {
	var opt image.ImportOptions
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  c.args(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := c.store()
			if err != nil {
				return err
			}
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
			fmt.Fprintln(c.Out, img.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opt.Message, "message", "m", "", "set commit message for imported image")
	f.StringArrayVarP(&opt.Changes, "change", "c", nil, "apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME)")
	return cmd
}
