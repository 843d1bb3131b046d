package dockercli

// docker cp: files between a container and the host, either way, with
// docker's rules for where they land. The engine reads and writes inside
// the container (final/engine's copy, chrooted into its root); this side
// reads and writes the host's files and decides the names.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"cfs/final/engine"
	"cfs/final/image"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

func (c *CLI) cpCmd() *cobra.Command {
	var keepOwners, follow, quiet bool
	cmd := c.command("cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\t"+c.Prog+" cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		"Copy files/folders between a container and the local filesystem", 2, 2,
		c.withEngine(1, func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			srcCtr, src := splitCpArg(args[0])
			dstCtr, dst := splitCpArg(args[1])
			cp := copier{e: e, keepOwners: keepOwners, follow: follow}
			var err error
			switch {
			case src == "":
				return errors.New("source can not be empty")
			case dst == "":
				return errors.New("destination can not be empty")
			case srcCtr != "" && dstCtr != "":
				return errors.New("copying between containers is not supported: copy to the host, then to the other container")
			case srcCtr != "":
				err = cp.out(srcCtr, src, dst, c.Out)
			case dstCtr != "":
				err = cp.in(src, dstCtr, dst, c.In)
				dst = dstCtr + ":" + dst
			default:
				return errors.New("must specify at least one container source: CONTAINER:PATH as the source or the destination")
			}
			if err == nil && !quiet && dst != "-" && isTerminal(c.Err) {
				fmt.Fprintf(c.Err, "Successfully copied %s to %s\n", units.HumanSize(float64(cp.copied)), dst)
			}
			return err
		}))
	f := cmd.Flags()
	f.BoolVarP(&keepOwners, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	f.BoolVarP(&follow, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	f.BoolVarP(&quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// splitCpArg splits CONTAINER:PATH; an absolute path, or one starting
// with ".", is the host's even with a ":" in it (docker's rule).
func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) {
		return "", arg
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(ctr, ".") {
		return "", arg
	}
	return ctr, p
}

// copier is one docker cp.
type copier struct {
	e                  *engine.Engine
	keepOwners, follow bool
	copied             int64 // bytes of tar, for "Successfully copied"
}

// out copies src of the container to dst on the host ("-": a tar on w).
func (cp *copier) out(ctr, src, dst string, w io.Writer) error {
	st, err := cp.e.StatPath(ctr, src)
	if err != nil {
		return err
	}
	top := tarName(st.Name) // the name the copy takes, as asked for
	if cp.follow && st.Mode&fs.ModeSymlink != 0 {
		src = st.LinkTarget
		if st, err = cp.e.StatPath(ctr, src); err != nil {
			return err
		}
	}
	if dst == "-" {
		return cp.e.CopyFrom(ctr, src, w, nil)
	}
	if dst, err = hostPath(dst); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Dir(strings.TrimSuffix(dst, "/"))); err != nil {
		return fmt.Errorf("invalid output path: directory %q does not exist", filepath.Dir(dst))
	}
	exists, isDir, err := hostTarget(dst)
	if err != nil {
		return err
	}
	dir, name, err := landing(st.Mode.IsDir(), dst, exists, isDir)
	if err != nil {
		return err
	}
	if name == "" {
		name = top
	}
	opt := image.ExtractOptions{Rename: rebase(tarName(st.Name), name)}
	if !cp.keepOwners {
		opt.Owner = &[2]int{os.Getuid(), os.Getgid()} // the files are the user's
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := cp.e.CopyFrom(ctr, src, countWriter{pw, &cp.copied}, nil)
		pw.CloseWithError(err)
		done <- err
	}()
	err = image.Extract(pr, dir, opt)
	pr.CloseWithError(errStopped) // the writer stops too, if this stopped first
	if cerr := <-done; cerr != nil && !errors.Is(cerr, errStopped) {
		return cerr // the container's side failed: its error says why
	}
	return err
}

var errStopped = errors.New("the copy stopped")

// in copies src of the host ("-": a tar read from r) to dst in the
// container.
func (cp *copier) in(src, ctr, dst string, r io.Reader) error {
	st, err := cp.e.StatPath(ctr, dst)
	var missing *engine.PathNotFoundError
	if err == nil && st.Mode&fs.ModeSymlink != 0 {
		dst = st.LinkTarget
		st, err = cp.e.StatPath(ctr, dst)
	}
	exists := err == nil
	if err != nil && !errors.As(err, &missing) {
		return err // the container, not the path, is missing
	}
	if exists && !st.Mode.IsDir() && !st.Mode.IsRegular() {
		return fmt.Errorf("destination \"%s:%s\" must be a directory or a regular file", ctr, dst)
	}
	if src == "-" {
		if !exists || !st.Mode.IsDir() {
			return fmt.Errorf("destination \"%s:%s\" must be a directory: a tar on stdin is extracted into it", ctr, dst)
		}
		return cp.e.CopyTo(ctr, dst, countReader{r, &cp.copied}, cp.keepOwners)
	}
	if src, err = hostPath(src); err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if err == nil && cp.follow && fi.Mode()&fs.ModeSymlink != 0 {
		var target string
		if target, err = filepath.EvalSymlinks(src); err == nil {
			fi, err = os.Lstat(target)
			src = keepTrailing(src, target)
		}
	}
	if err != nil {
		return err
	}
	top := tarName(filepath.Base(src))
	dir, name, err := landing(fi.IsDir(), dst, exists, exists && st.Mode.IsDir())
	if err != nil {
		return err
	}
	if name == "" {
		name = top
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(image.TarPath(pw, src, name)) }()
	err = cp.e.CopyTo(ctr, dir, countReader{pr, &cp.copied}, cp.keepOwners)
	pr.CloseWithError(errStopped)
	return err
}

// landing is docker's rule for where a copy lands (moby's
// PrepareArchiveCopy): the directory the tar is extracted into and the
// name its top entry takes there ("": its own).
func landing(srcIsDir bool, dst string, exists, isDir bool) (dir, name string, err error) {
	parent, base := filepath.Dir(strings.TrimSuffix(dst, "/")), filepath.Base(dst)
	switch {
	case exists && isDir:
		return dst, "", nil // into it
	case exists && srcIsDir:
		return "", "", fmt.Errorf("cannot copy a directory onto the file %s: name a directory or a new path", dst)
	case !exists && !srcIsDir && (strings.HasSuffix(dst, "/") || strings.HasSuffix(dst, "/.")):
		return "", "", fmt.Errorf("no such directory %s: make it first, or leave out the trailing / to copy to a file of that name", dst)
	}
	return parent, base, nil // a file replaced, or a new file or directory of that name
}

// tarName is the name a tar's top entry has: "." for DIR/..
func tarName(name string) string {
	if name == "/" {
		return "."
	}
	return name
}

// rebase renames a tar's entries from under old to under new (moby's
// RebaseArchiveEntries); old "." is a directory's contents.
func rebase(old, new string) func(string) string {
	return func(name string) string {
		name = path.Clean(name)
		switch {
		case old == new:
			return name
		case old == ".":
			return path.Join(new, name)
		case name == old:
			return new
		}
		if rest, ok := strings.CutPrefix(name, old+"/"); ok {
			return new + "/" + rest
		}
		return name
	}
}

// hostPath makes p absolute, keeping a trailing "/" or "/.".
func hostPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return keepTrailing(p, abs), nil
}

func keepTrailing(orig, p string) string {
	switch {
	case p == "/":
	case orig == "." || strings.HasSuffix(orig, "/."):
		return p + "/."
	case strings.HasSuffix(orig, "/"):
		return p + "/"
	}
	return p
}

// hostTarget says whether dst exists and is a directory (a symlink
// followed), refusing what cannot be written to (a device, a fifo).
func hostTarget(dst string) (exists, isDir bool, err error) {
	fi, err := os.Stat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return false, false, fmt.Errorf("invalid output path: %q must be a directory or a regular file", dst)
	}
	return true, fi.IsDir(), nil
}

// countReader and countWriter count the bytes that go through them.
type countReader struct {
	io.Reader
	n *int64
}

func (c countReader) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	*c.n += int64(n)
	return n, err
}

type countWriter struct {
	io.Writer
	n *int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.Writer.Write(p)
	*c.n += int64(n)
	return n, err
}
