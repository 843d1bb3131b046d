// Package layers is the image store in miniature, for the stages from 06
// on and the engine: directories that hold an image's files, each built
// once and kept, and the per-container directories beside them.
//
//	STATE/layers/sha256-HEX            a layer imported from a tar (Import)
//	STATE/layers/idmapped-HOSTUID/KEY  a copy owned by an ID range (Shifted)
//	STATE/containers/ID                one container's files, with its owner (ContainerDir)
//
// STATE is /var/lib/cfs for root and ~/.cache/cfs for everyone else.
// Building is safe against a run that dies half-way and against runs that
// race (BuildOnce); unpacking a tar refuses every path that would land
// outside the layer (Untar).
package layers

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"cfs/internal/idmap"
	"cfs/internal/layout"
	"cfs/internal/rootfs"

	"golang.org/x/sys/unix"
)

// StateDir is where the caller keeps layers and containers: /var/lib/cfs
// for root, its cache directory for an ordinary user.
func StateDir(privileged bool) (string, error) {
	if privileged {
		return layout.StateDir, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a cache directory for the container's files: %w", err)
	}
	return filepath.Join(cache, "cfs"), nil
}

// BuildOnce makes dir with build, unless it exists: built in a temporary
// directory beside it and renamed into place, so a run that dies half-way
// leaves no half a layer, and two runs racing both end with one good copy.
func BuildOnce(dir string, build func(tmp string) error) error {
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

// Shifted returns a copy of src, a directory that does not change once
// made (the default root filesystem, an imported layer), with every file's
// owner shifted into uids and gids (idmap.Shift), so that root in a
// container of that range owns its files. It is made once per range and
// use and shared by the containers of the range, as docker's
// userns-remap does; a rebuilt src is a new directory with a new time, and
// gets a new copy. Uses keep apart copies that containers write into (a
// root filesystem, use "rootfs") from those an overlay only reads (a
// layer, use ""). Without shift (an ordinary user's copy, owned by the
// user: their root), owners stay as they are.
func Shifted(state, use, src string, uids, gids idmap.Map, shift bool) (string, error) {
	dir := ShiftedDir(state, use, src, uids, gids)
	if shift {
		// The copies hold the image's set-user-ID programs, owned by the
		// container's root: only root and the container's group may pass
		// this directory, so no host user can run them to become that
		// user. (docker keeps /var/lib/docker/100000.100000 as 0710.)
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
	if err := BuildOnce(dir, func(tmp string) error { return Copy(src, tmp, uids, gids, shift) }); err != nil {
		return "", fmt.Errorf("copy %s for IDs from %d: %w", src, uids.HostID, err)
	}
	return dir, nil
}

// ShiftedDir is where Shifted keeps its copy of src: one directory per ID
// range, one copy per source, its time of creation and use.
func ShiftedDir(state, use, src string, uids, gids idmap.Map) string {
	var made int64
	if fi, err := os.Stat(src); err == nil {
		made = fi.ModTime().UnixNano()
	}
	key := fmt.Sprintf("%s %d %v %v", src, made, uids, gids)
	if use != "" {
		key = use + " " + key
	}
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(state, "layers", fmt.Sprintf("idmapped-%d", uids.HostID), hex.EncodeToString(sum[:8]))
}

// Copy copies the tree src to dst, shifting owners into uids and gids when
// shift is set (see Shifted).
func Copy(src, dst string, uids, gids idmap.Map, shift bool) error {
	var shifter func(uid, gid int) (int, int)
	if shift {
		shifter = idmap.Shifter(uids, gids)
	}
	return rootfs.CopyTree(src, dst, shifter)
}

// A Layer is a directory of an image. Fixed layers (a default image's,
// those imported from a tar) never change once made; a directory given
// on the command line may change between runs.
type Layer struct {
	Dir   string
	Fixed bool
}

// FromArgs returns the layers that args name, bottom first: a directory
// as it is, a tar file imported once (Import, with whiteout).
func FromArgs(state string, args []string, whiteout Whiteout) ([]Layer, error) {
	var image []Layer
	for _, arg := range args {
		if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
			dir, err := filepath.Abs(arg)
			if err != nil {
				return nil, err
			}
			image = append(image, Layer{Dir: dir})
			continue
		}
		dir, err := Import(state, arg, whiteout)
		if err != nil {
			return nil, err
		}
		image = append(image, Layer{Dir: dir, Fixed: true})
	}
	return image, nil
}

// ForRange returns the directories of image's layers, bottom first, as
// copies owned by the ID range uids, gids (with shift; see Shifted): a
// fixed layer's made once per range and shared, a directory that may
// change copied for this container, into ctrDir/layers/N.
func ForRange(state, ctrDir string, image []Layer, uids, gids idmap.Map, shift bool) ([]string, error) {
	var dirs []string
	for i, l := range image {
		dir := filepath.Join(ctrDir, "layers", strconv.Itoa(i))
		var err error
		if l.Fixed {
			dir, err = Shifted(state, "", l.Dir, uids, gids, shift)
		} else {
			err = Copy(l.Dir, dir, uids, gids, shift)
		}
		if err != nil {
			return nil, fmt.Errorf("copy layer %s for IDs from %d: %w", l.Dir, uids.HostID, err)
		}
		dirs = append(dirs, dir)
	}
	return dirs, nil
}

// Import returns the layer of the tar file at path, unpacked once into
// STATE/layers/sha256-HEX after its checksum (see Untar for whiteout). The
// unpacked layer keeps the tar's owners and modes, set-user-ID root
// programs too: only root may enter it; containers use a Shifted copy.
func Import(state, path string, whiteout Whiteout) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	dir := filepath.Join(state, "layers", "sha256-"+hex.EncodeToString(h.Sum(nil)))
	err = BuildOnce(dir, func(tmp string) error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		return Untar(f, tmp, whiteout)
	})
	if err != nil {
		return "", fmt.Errorf("import layer %s: %w", path, err)
	}
	return dir, os.Chmod(dir, 0o700)
}

// NewContainer makes the directory of container id's own files (see
// ContainerDir) in the caller's state directory (see StateDir), and
// returns both.
func NewContainer(id string, privileged bool) (state, dir string, err error) {
	if state, err = StateDir(privileged); err != nil {
		return "", "", err
	}
	dir, err = ContainerDir(filepath.Join(state, "containers"), id)
	return state, dir, err
}

// Rootfs returns a root filesystem owned by the ID range uids, gids (with
// shift; see Shifted): a copy of the directory dir, made for this
// container in its directory ctrDir, since dir may change between runs;
// or, when dir is "", the copy of the default root filesystem for the
// range, made once and shared (the default never changes once built).
func Rootfs(dir, state, ctrDir string, uids, gids idmap.Map, shift bool) (string, error) {
	if dir != "" {
		dst := filepath.Join(ctrDir, "rootfs")
		if err := Copy(dir, dst, uids, gids, shift); err != nil {
			return "", fmt.Errorf("copy the root filesystem %s to %s: %w", dir, dst, err)
		}
		return dst, nil
	}
	src, err := rootfs.EnsureFor(shift, os.Stderr)
	if err != nil {
		return "", fmt.Errorf("default root filesystem: %w (or pass --rootfs DIR)", err)
	}
	return Shifted(state, "rootfs", src, uids, gids, shift)
}

// ContainerDir makes base/id, the directory of a container's own files,
// recording the calling process as its owner, after removing those of
// containers whose owner is gone (see Sweep).
func ContainerDir(base, id string) (string, error) {
	Sweep(base)
	dir := filepath.Join(base, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	if err := layout.WriteOwner(filepath.Join(dir, "owner")); err != nil {
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, "owner"), err)
	}
	return dir, nil
}

// KeepMark, a file in a container's directory, keeps the directory from
// Sweep: the container's writable layer, kept for a student to look at.
const KeepMark = "keep"

// Sweep removes the directories in base of containers whose owner died
// without cleaning up (SIGKILL): the owner recorded with its start time,
// so that a reused PID does not keep a dead owner's directory alive.
func Sweep(base string) {
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		p := filepath.Join(base, e.Name())
		if _, err := os.Stat(filepath.Join(p, KeepMark)); err == nil {
			continue
		}
		o, err := layout.ReadOwner(filepath.Join(p, "owner"))
		if err != nil {
			// No owner yet: a run is between making the directory and
			// writing the file, unless the directory is old.
			if fi, err := os.Stat(p); err != nil || time.Since(fi.ModTime()) < time.Minute {
				continue
			}
		} else if o.Alive() {
			continue
		}
		_ = os.RemoveAll(p)
	}
}

// Alive reports whether the owner of container id's directory in base
// runs.
func Alive(base, id string) bool {
	o, err := layout.ReadOwner(filepath.Join(base, id, "owner"))
	return err == nil && o.Alive()
}
