package main

// Images as stacks of read-only layers, and a writable layer per container
// on top, joined by overlayfs. Read beside the kernel's
// Documentation/filesystems/overlayfs.rst.
//
//	merged/   what the container sees as /   (the overlay mount)
//	upper/    this container's writes         (its own, removed with it)
//	lower/    layer N … layer 1 … layer 0     (the image, shared, never written)
//
// Building each layer once, unpacking a layer tar without writing outside
// it, and the copies owned by a container's ID range are the image store's
// work, in internal/layers.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"cfs/internal/kernel"
	"cfs/internal/layers"
	"cfs/internal/rootfs"

	"golang.org/x/sys/unix"
)

// imageLayers returns the image's layers, bottom first: the --layer
// arguments (a directory as it is, a tar file imported once into a
// directory named by its checksum, its whiteouts written by whiteout
// below: internal/layers), or --rootfs as one layer, or the default image.
func imageLayers(cfg config, state string) ([]layers.Layer, error) {
	switch {
	case cfg.Rootfs != "":
		return []layers.Layer{{Dir: cfg.Rootfs}}, nil
	case len(cfg.LayerArgs) == 0:
		return defaultImage(state, cfg.Unprivileged)
	}
	return layers.FromArgs(state, cfg.LayerArgs, whiteout)
}

// defaultImage is the image a container runs when no --layer or --rootfs
// is given: the default root filesystem as its base layer, and a small
// layer on top that shows what layers do. It adds /etc/motd, replaces
// /etc/os-release (the base's copy is shadowed, not changed) and deletes
// /home (a whiteout hides the base's directory).
func defaultImage(state string, unprivileged bool) ([]layers.Layer, error) {
	base, err := rootfs.EnsureFor(!unprivileged, os.Stderr)
	if err != nil {
		return nil, err
	}
	top := filepath.Join(state, "images", "default", "layer1")
	err = layers.BuildOnce(top, func(dir string) error {
		if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
			return err
		}
		files := map[string]string{
			"etc/motd":       "Welcome to the cfs default image: two layers and a writable one on top.\n",
			"etc/os-release": "NAME=\"cfs default image\"\nID=cfs\nVERSION=\"layer 1 of 2\"\n",
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				return err
			}
		}
		// A whiteout: a character device 0/0 named like the deleted file.
		return unix.Mknod(filepath.Join(dir, "home"), unix.S_IFCHR, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("build the default image's top layer in %s: %w", top, err)
	}
	return []layers.Layer{{Dir: base, Fixed: true}, {Dir: top, Fixed: true}}, nil
}

// whiteout writes a deletion of a layer tar in overlayfs's form. A tar can
// only add files, so it records deletions with whiteout files: ".wh.NAME"
// means "NAME of a lower layer is deleted here" and ".wh..wh..opq" in a
// directory means "hide everything the lower layers have in it" (the OCI
// image spec's layer.md). overlayfs has its own marks for the same two:
//
//	.wh.NAME            →  NAME as a character device 0/0
//	DIR/.wh..wh..opq    →  DIR with the xattr trusted.overlay.opaque="y"
//	                       (and user.overlay.opaque, read in a user namespace)
func whiteout(parent, name string) error {
	switch {
	case name == ".wh..wh..opq":
		// In every xattr namespace that can hold it here (trusted.* needs
		// host root); one is enough.
		var errs []error
		for _, xattr := range rootfs.OpaqueXattrs {
			errs = append(errs, unix.Lsetxattr(parent, xattr, []byte("y"), 0))
		}
		if errs[0] == nil || errs[1] == nil {
			return nil
		}
		return errs[0]
	case strings.HasPrefix(name, ".wh..wh."):
		return nil // other aufs bookkeeping files: nothing to do on overlay
	}
	target := filepath.Join(parent, strings.TrimPrefix(name, layers.WhiteoutPrefix))
	_ = os.RemoveAll(target) // a name of this same tar, deleted again
	return unix.Mknod(target, unix.S_IFCHR, 0)
}

// overlay is what the child needs to mount the container's root: the
// image's layers, bottom first, and the writable layer's directories.
type overlay struct {
	Lower        []string
	Upper, Work  string
	UpperOnTmpfs bool
}

// overlayFor prepares the container's root in its directory ctrDir: the
// image's layers, each as a copy owned by the container's ID range (a
// fixed layer's made once per range and shared, internal/layers; a
// directory that may change copied for this container), and its writable
// layer. Without the copies, root in the container would see the image's
// files as owned by "nobody" and could change none of them (overlay copies
// a file up with its owner). (An idmapped mount does the same without
// copying, on Linux 5.19 or later for overlay's layers.)
func overlayFor(cfg config, state, ctrDir string, image []layers.Layer) (ov overlay, err error) {
	if ov.Lower, err = layers.ForRange(state, ctrDir, image, cfg.UIDs, cfg.GIDs, !cfg.Unprivileged); err != nil {
		return ov, err
	}
	// The writable layer: upper and work directories, owned by the
	// container's root. overlayfs cannot put an upper directory on another
	// overlay (as when the host itself runs in a container); there the
	// child puts them on a tmpfs instead, which it mounts itself.
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(ctrDir), &st); err != nil {
		return ov, err
	}
	if st.Type == unix.OVERLAYFS_SUPER_MAGIC {
		fmt.Fprintf(os.Stderr, "%s: %s is on overlayfs, which cannot hold a writable layer: using a tmpfs inside the container\n", stage, filepath.Dir(ctrDir))
		ov.UpperOnTmpfs = true
	}
	ov.Upper, ov.Work = filepath.Join(ctrDir, "upper"), filepath.Join(ctrDir, "work")
	for _, p := range []string{ov.Upper, ov.Work, filepath.Join(ctrDir, "merged")} {
		if err := os.Mkdir(p, 0o755); err != nil {
			return ov, fmt.Errorf("create the writable layer in %s: %w", ctrDir, err)
		}
		if err := os.Chown(p, cfg.UIDs.HostID, cfg.GIDs.HostID); err != nil {
			return ov, fmt.Errorf("create the writable layer in %s: %w", ctrDir, err)
		}
	}
	return ov, nil
}

// mount mounts the overlay at merged. Same as
// `mount -t overlay overlay -o lowerdir=TOP:…:BOTTOM,upperdir=U,workdir=W,userxattr MERGED`.
// Reads see the topmost layer that has a name; writes go to the upper
// directory, copying a lower file up first; deleting a lower file leaves a
// whiteout in the upper directory. In a user namespace (Linux 5.11 and
// later) overlay keeps its marks in user.overlay.* xattrs, which the
// userxattr option asks for.
func (o overlay) mount(merged string) error {
	upper, work := o.Upper, o.Work
	if o.UpperOnTmpfs {
		// upper and work must be on one filesystem; put both on a fresh
		// tmpfs mounted over the (empty) upper directory.
		if err := kernel.Mount(tr, "tmpfs", upper, "tmpfs", 0, "mode=755"); err != nil {
			return err
		}
		upper, work = filepath.Join(upper, "upper"), filepath.Join(upper, "work")
		for _, d := range []string{upper, work} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return err
			}
		}
	}
	top := make([]string, len(o.Lower))
	for i, l := range o.Lower {
		top[len(o.Lower)-1-i] = l // overlay lists the top layer first
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,userxattr", strings.Join(top, ":"), upper, work)
	return kernel.Mount(tr, "overlay", merged, "overlay", 0, opts)
}
