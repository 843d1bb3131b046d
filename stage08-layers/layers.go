package main

// Images as stacks of read-only layers, and a writable layer per container
// on top, joined by overlayfs. Read beside the kernel's
// Documentation/filesystems/overlayfs.rst.
//
//	merged/   what the container sees as /   (the overlay mount)
//	upper/    this container's writes         (its own, removed with it)
//	lower/    layer N … layer 1 … layer 0     (the image, shared, never written)

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"cfs/internal/rootfs"
	"cfs/internal/trace"

	"golang.org/x/sys/unix"
)

// defaultImage is the image a container runs when no --layer or --rootfs
// is given: the default root filesystem as its base layer, and a small
// layer on top that shows what layers do. It adds /etc/motd, replaces
// /etc/os-release (the base's copy is shadowed, not changed) and deletes
// /home (a whiteout hides the base's directory).
func defaultImage(state string, unprivileged bool) ([]string, error) {
	base, err := defaultRootfs(unprivileged)
	if err != nil {
		return nil, err
	}
	top := filepath.Join(state, "images", "default", "layer1")
	err = buildOnce(top, func(dir string) error {
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
	return []string{base, top}, nil
}

// A layer is a directory of an image. Fixed layers (the default image's,
// those imported from a tar) never change once made; a directory given
// with --layer or --rootfs may change between runs.
type layer struct {
	Dir   string
	Fixed bool
}

// imageLayers returns the image's layers, bottom first: the --layer
// arguments, or --rootfs as one layer, or the default image.
func imageLayers(cfg config, state string) ([]layer, error) {
	switch {
	case cfg.Rootfs != "":
		return []layer{{Dir: cfg.Rootfs}}, nil
	case len(cfg.LayerArgs) == 0:
		dirs, err := defaultImage(state, cfg.Unprivileged)
		if err != nil {
			return nil, err
		}
		return []layer{{Dir: dirs[0], Fixed: true}, {Dir: dirs[1], Fixed: true}}, nil
	}
	var layers []layer
	for _, arg := range cfg.LayerArgs {
		l, err := layerDir(state, arg)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	return layers, nil
}

// layerDir returns the layer of a --layer argument: a directory as it is,
// or a tar file imported once into a directory named by its checksum.
func layerDir(state, arg string) (layer, error) {
	fi, err := os.Stat(arg)
	if err != nil {
		return layer{}, err
	}
	if fi.IsDir() {
		dir, err := filepath.Abs(arg)
		return layer{Dir: dir}, err
	}
	f, err := os.Open(arg)
	if err != nil {
		return layer{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return layer{}, fmt.Errorf("read %s: %w", arg, err)
	}
	dir := filepath.Join(state, "layers", "sha256-"+hex.EncodeToString(h.Sum(nil)))
	err = buildOnce(dir, func(tmp string) error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		return importLayer(f, tmp)
	})
	if err != nil {
		return layer{}, fmt.Errorf("import layer %s: %w", arg, err)
	}
	// The import keeps the tar's owners and modes, set-user-ID root
	// programs too: only root may enter it. Containers use its copy for
	// their ID range (idmappedLayer).
	if err := os.Chmod(dir, 0o700); err != nil {
		return layer{}, err
	}
	return layer{Dir: dir, Fixed: true}, nil
}

// idmappedLayer returns a copy of l whose owners are shifted into the
// container's ID range. Without it, root in the container would see the
// image's files as owned by "nobody" and could change none of them
// (overlay copies a file up with its owner). A fixed layer's copy is made
// once per range and shared, as docker's userns-remap does; a directory
// that may change is copied into the container's own directory, ctrDir,
// and goes with it. (An idmapped mount does the same without copying, on
// Linux 5.19 or later for overlay's layers.)
func idmappedLayer(state, ctrDir string, n int, l layer, uids, gids idMap, unprivileged bool) (string, error) {
	dir := filepath.Join(ctrDir, "layers", fmt.Sprint(n))
	if l.Fixed {
		dir = idmappedCache(state, l.Dir, uids, gids)
	}
	var shift func(uid, gid int) (int, int)
	if !unprivileged { // an unprivileged copy is owned by the user: their root
		shift = func(uid, gid int) (int, int) { return shiftID(uid, uids), shiftID(gid, gids) }
	}
	if l.Fixed && !unprivileged {
		// The shared copies hold the image's set-user-ID programs, owned
		// by the container's root: only root and the container's group
		// may pass this directory, so no host user can run them to become
		// that user. (docker keeps /var/lib/docker/100000.100000 as 0710.)
		parent := filepath.Dir(dir)
		if err := os.MkdirAll(filepath.Dir(parent), 0o755); err != nil {
			return "", err
		}
		if err := os.Mkdir(parent, 0o710); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
		if err := os.Chown(parent, 0, gids.HostID); err != nil {
			return "", err
		}
		if err := os.Chmod(parent, 0o710); err != nil {
			return "", err
		}
	}
	err := buildOnce(dir, func(tmp string) error {
		return rootfs.CopyTree(l.Dir, tmp, shift)
	})
	if err != nil {
		return "", fmt.Errorf("copy layer %s for IDs from %d: %w", l.Dir, uids.HostID, err)
	}
	return dir, nil
}

// idmappedCache is where the shared copy of a fixed layer for an ID range
// lives: one directory per ID range, one copy per layer and its time of
// creation (a rebuilt default rootfs is a new directory, with a new time).
func idmappedCache(state, layer string, uids, gids idMap) string {
	var made int64
	if fi, err := os.Stat(layer); err == nil {
		made = fi.ModTime().UnixNano()
	}
	key := sha256.Sum256([]byte(fmt.Sprintf("%s %d %v %v", layer, made, uids, gids)))
	return filepath.Join(state, "layers", fmt.Sprintf("idmapped-%d", uids.HostID), hex.EncodeToString(key[:8]))
}

// buildOnce makes dir with build, unless it exists: built in a temporary
// directory beside it and renamed into place, so a run that dies half-way
// leaves no half layer, and two runs racing both end with one good copy.
func buildOnce(dir string, build func(tmp string) error) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := build(tmp); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return err
	}
	return nil
}

// writableLayer makes the container's upper and work directories, owned
// by its root, under ctrDir. overlayfs cannot put an upper directory on
// another overlay (as when the host itself runs in a container); there the
// child puts them on a tmpfs instead, which it mounts itself.
func writableLayer(ctrDir string, uids, gids idMap) (onTmpfs bool, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(ctrDir), &st); err != nil {
		return false, err
	}
	if st.Type == unix.OVERLAYFS_SUPER_MAGIC {
		fmt.Fprintf(os.Stderr, "%s: %s is on overlayfs, which cannot hold a writable layer: using a tmpfs inside the container\n", stage, filepath.Dir(ctrDir))
		onTmpfs = true
	}
	for _, name := range []string{"upper", "work", "merged"} {
		p := filepath.Join(ctrDir, name)
		if err := os.Mkdir(p, 0o755); err != nil {
			return false, err
		}
		if err := os.Chown(p, uids.HostID, gids.HostID); err != nil {
			return false, err
		}
	}
	return onTmpfs, nil
}

// overlay is what the child needs to mount the container's root: the
// image's layers, bottom first, and the writable layer's directories.
type overlay struct {
	Lower        []string
	Upper, Work  string
	UpperOnTmpfs bool
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
		tr.Step(trace.Mount("tmpfs", upper, "tmpfs", 0, "mode=755"))
		if err := unix.Mount("tmpfs", upper, "tmpfs", 0, "mode=755"); err != nil {
			return fmt.Errorf("mount a tmpfs for the writable layer on %s: %w", upper, err)
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
	tr.Step(trace.Mount("overlay", merged, "overlay", 0, opts))
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay on %s (%s): %w", merged, opts, err)
	}
	return nil
}
