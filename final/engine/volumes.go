package engine

// Volumes: docker's named volumes. A volume is a directory the engine
// keeps, /var/lib/cfs/engine/volumes/NAME/_data, outside every container's
// layers, so that it outlives them; a container gets it as it gets a host
// directory with -v, by a bind mount (stage 03's `mount --bind`). The
// first container to mount an empty volume fills it with what its image
// has there, owners and modes kept (docker's copy-up), so that
// `-v pgdata:/var/lib/postgresql/data` starts with the image's directory.
// `-v /path` and an image's VOLUME give a container a volume of its own
// with a random name (anonymous, by docker's label), which `rm -v` and
// `--rm` remove with it.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"cfs/final/runtime"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/volume"
	"golang.org/x/sys/unix"
)

// Volume is the engine's record of a volume (volumes/NAME/volume.json).
type Volume struct {
	Name      string            `json:"name"`
	CreatedAt time.Time         `json:"createdAt"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// AnonymousLabel marks a volume made for one container, as docker marks
// it: `volume prune` without -a removes only these.
const AnonymousLabel = "com.docker.volume.anonymous"

// Anonymous reports whether v was made for one container.
func (v *Volume) Anonymous() bool { _, ok := v.Labels[AnonymousLabel]; return ok }

// volumeName is docker's rule for a local volume's name.
var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// VolumeNotFoundError is dockerd's 404 for a volume.
type VolumeNotFoundError struct{ Name string }

func (e *VolumeNotFoundError) Error() string   { return fmt.Sprintf("get %s: no such volume", e.Name) }
func (e *VolumeNotFoundError) Is(t error) bool { return t == ErrNotFound }

// Mountpoint is where volume name's files are on the host.
func (e *Engine) Mountpoint(name string) string { return e.path("volumes", name, "_data") }

// CreateVolume makes volume name (a random one if empty); a volume that
// is there already is given back, as docker does.
func (e *Engine) CreateVolume(name string, labels map[string]string) (*Volume, error) {
	if err := checkVolumeName(name); err != nil {
		return nil, err
	}
	unlock, err := e.lockEngine()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return e.createVolume(name, labels)
}

// createVolume is CreateVolume under the engine's lock. The record is
// written last: a directory without one is a making that was cut short,
// which a later create completes.
func (e *Engine) createVolume(name string, labels map[string]string) (*Volume, error) {
	if name == "" {
		name = NewID()
	}
	if err := checkVolumeName(name); err != nil {
		return nil, err
	}
	if v, err := e.Volume(name); err == nil {
		return v, nil
	}
	if err := os.MkdirAll(e.Mountpoint(name), 0o755); err != nil {
		return nil, err
	}
	v := &Volume{Name: name, CreatedAt: time.Now().UTC(), Labels: labels}
	if err := writeJSON(e.path("volumes", name, "volume.json"), v); err != nil {
		return nil, err
	}
	e.volumeEvent(name, events.ActionCreate)
	return v, nil
}

// checkVolumeName is dockerd's check of a local volume's name ("" is one
// to be made up).
func checkVolumeName(name string) error {
	if name != "" && !volumeName.MatchString(name) {
		return fmt.Errorf("create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", name, name)
	}
	return nil
}

func (e *Engine) volumeEvent(name string, action events.Action) {
	e.Emit(events.Message{Type: events.VolumeEventType, Action: action, Actor: events.Actor{ID: name, Attributes: map[string]string{"driver": "local"}}})
}

// Volume reads volume name's record.
func (e *Engine) Volume(name string) (*Volume, error) {
	if !volumeName.MatchString(name) {
		return nil, &VolumeNotFoundError{Name: name}
	}
	data, err := os.ReadFile(e.path("volumes", name, "volume.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &VolumeNotFoundError{Name: name}
	}
	if err != nil {
		return nil, err
	}
	v := &Volume{}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("volume %s: damaged record: %w", name, err)
	}
	return v, nil
}

// Volumes lists the volumes, by name.
func (e *Engine) Volumes() ([]*Volume, error) {
	entries, err := os.ReadDir(e.path("volumes"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Volume
	for _, en := range entries {
		if v, err := e.Volume(en.Name()); err == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// VolumeUsers are the IDs of the containers that mount each volume. The
// records are read as they are, without a container's lock: the engine's
// lock, which RemoveVolume holds, comes after a container's, never before.
func (e *Engine) VolumeUsers() (map[string][]string, error) {
	entries, err := os.ReadDir(e.path("containers"))
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, en := range entries {
		c, err := e.load(en.Name())
		if err != nil {
			continue // removed meanwhile
		}
		for _, b := range e.mounts(c) {
			if b.Volume != "" && !slices.Contains(users[b.Volume], c.ID) {
				users[b.Volume] = append(users[b.Volume], c.ID)
			}
		}
	}
	return users, nil
}

// RemoveVolume removes volume name and its files, unless a container
// mounts it; force: a volume that is not there is no error.
func (e *Engine) RemoveVolume(name string, force bool) error {
	missing := func(err error) error {
		if force && errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	if _, err := e.Volume(name); err != nil {
		return missing(err) // (before the lock, which only root may take)
	}
	unlock, err := e.lockEngine() // under which containers are made, with their volumes
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := e.Volume(name); err != nil {
		return missing(err)
	}
	users, err := e.VolumeUsers()
	if err != nil {
		return err
	}
	if ids := users[name]; len(ids) > 0 {
		return &ConflictError{Msg: fmt.Sprintf("remove %s: volume is in use - %v", name, ids)}
	}
	if err := os.RemoveAll(e.path("volumes", name)); err != nil {
		return err
	}
	e.volumeEvent(name, events.ActionDestroy)
	return nil
}

// removeAnonymousVolumes removes the volumes made for c alone (rm -v,
// --rm); one another container mounts stays.
func (e *Engine) removeAnonymousVolumes(c *Container) error {
	var errs []error
	for _, name := range c.Volumes {
		if err := e.RemoveVolume(name, true); err != nil && !errors.As(err, new(*ConflictError)) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// VolumeSize is the bytes of volume name's files.
func (e *Engine) VolumeSize(name string) int64 { return int64(treeSize(e.Mountpoint(name))) }

// PruneVolumes removes the volumes no container mounts that match:
// without all, only anonymous ones, as docker's `volume prune`.
func (e *Engine) PruneVolumes(all bool, match func(*Volume) bool) (removed []string, space uint64, err error) {
	list, err := e.Volumes()
	if err != nil {
		return nil, 0, err
	}
	for _, v := range list {
		if !all && !v.Anonymous() || match != nil && !match(v) {
			continue
		}
		size := treeSize(e.Mountpoint(v.Name))
		if err := e.RemoveVolume(v.Name, true); err != nil {
			if errors.As(err, new(*ConflictError)) {
				continue // in use
			}
			return removed, space, err
		}
		removed = append(removed, v.Name)
		space += size
	}
	return removed, space, nil
}

// InspectVolume is docker volume inspect's view of v.
func (e *Engine) InspectVolume(v *Volume) volume.Volume {
	return volume.Volume{Name: v.Name, Driver: "local", Mountpoint: e.Mountpoint(v.Name), Scope: "local",
		CreatedAt: v.CreatedAt.Format(time.RFC3339), Labels: v.Labels, Options: map[string]string{}}
}

// mounts are c's -v mounts, its volumes' sources where their files are,
// then its anonymous volumes (by their place in the container).
func (e *Engine) mounts(c *Container) []Bind {
	var out []Bind
	for _, s := range c.HostConfig.Binds {
		if b, err := ParseBind(s); err == nil {
			if b.Volume != "" {
				b.Source = e.Mountpoint(b.Volume)
			}
			out = append(out, b)
		}
	}
	dsts := make([]string, 0, len(c.Volumes))
	for dst := range c.Volumes {
		dsts = append(dsts, dst)
	}
	sort.Strings(dsts)
	for _, dst := range dsts {
		out = append(out, Bind{Source: e.Mountpoint(c.Volumes[dst]), Destination: dst, Volume: c.Volumes[dst]})
	}
	return out
}

// volumesFrom adds to hc, as -v, the volumes and binds of the containers
// --volumes-from CONTAINER[:ro|rw] names, as docker does at create: each
// as it is mounted there, or all read-only (ro) or writable (rw). A place
// the new container mounts itself keeps its own. Called under the
// engine's lock, before the container's record is in place: a volume rm
// waits for the lock, then finds the new container among its users.
func (e *Engine) volumesFrom(hc *container.HostConfig) error {
	own := map[string]bool{}
	for _, s := range hc.Binds {
		if b, err := ParseBind(s); err == nil {
			own[filepath.Clean(b.Destination)] = true
		}
	}
	for dst := range hc.Tmpfs {
		own[filepath.Clean(dst)] = true
	}
	for _, from := range hc.VolumesFrom {
		arg, mode, _ := strings.Cut(from, ":")
		src, err := e.Get(arg)
		if err != nil {
			return err
		}
		for _, b := range e.mounts(src) {
			if own[filepath.Clean(b.Destination)] {
				continue
			}
			own[filepath.Clean(b.Destination)] = true
			spec := b.Source + ":" + b.Destination
			if b.Volume != "" {
				spec = b.Volume + ":" + b.Destination
			}
			if mode == "ro" || b.ReadOnly && mode != "rw" {
				spec += ":ro"
			}
			hc.Binds = append(hc.Binds, spec)
		}
	}
	return nil
}

// makeVolumes makes, under the engine's lock, the volumes c's -v names
// and one for each of its anonymous places (-v /path, the image's
// VOLUME) that no -v covers, recorded in c.Volumes. undo removes the
// anonymous ones again, if c is not made after all.
func (e *Engine) makeVolumes(c *Container) (undo func(), err error) {
	covered := map[string]bool{}
	for _, s := range c.HostConfig.Binds {
		b, err := ParseBind(s)
		if err != nil {
			return func() {}, err
		}
		covered[filepath.Clean(b.Destination)] = true
		if b.Volume != "" {
			if _, err := e.createVolume(b.Volume, nil); err != nil {
				return func() {}, err
			}
		}
	}
	var made []string
	undo = func() {
		for _, name := range made {
			_ = os.RemoveAll(e.path("volumes", name))
		}
	}
	for dst := range c.Config.Volumes {
		if covered[filepath.Clean(dst)] || !filepath.IsAbs(dst) || filepath.Clean(dst) == "/" {
			continue // (an image's VOLUME that is no place for one is let be)
		}
		v, err := e.createVolume("", map[string]string{AnonymousLabel: ""})
		if err != nil {
			undo()
			return func() {}, err
		}
		made = append(made, v.Name)
		if c.Volumes == nil {
			c.Volumes = map[string]string{}
		}
		c.Volumes[filepath.Clean(dst)] = v.Name
	}
	return undo, nil
}

// volumeMounts are c's volumes, which the monitor fills (fillVolume)
// before the container runs, but for those -v names nocopy.
func (e *Engine) volumeMounts(c *Container) []Bind {
	return slices.DeleteFunc(e.mounts(c), func(b Bind) bool { return b.Volume == "" || b.NoCopy })
}

// fillVolume fills volume b, if it is empty, with what the container's
// root has at its place, under the volume's lock (flock on its
// directory): two containers that start at once with one new volume
// copy it once. A mark (volumes/NAME/copying) is there while it copies:
// a start killed half-way leaves it, and the next start finds the
// volume half full, empties it and copies again.
func fillVolume(rootfs string, b Bind) error {
	dir := filepath.Dir(b.Source)
	unlock, err := lockDir(dir, unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	mark := filepath.Join(dir, "copying")
	entries, err := os.ReadDir(b.Source)
	if err != nil {
		return err
	}
	if _, err := os.Stat(mark); err == nil {
		for _, en := range entries {
			if err := os.RemoveAll(filepath.Join(b.Source, en.Name())); err != nil {
				return err
			}
		}
	} else if len(entries) > 0 {
		return nil
	}
	if err := os.WriteFile(mark, nil, 0o600); err != nil {
		return err
	}
	if err := copyUp(rootfs, b); err != nil {
		return err // (the mark stays: the next start copies again)
	}
	return os.Remove(mark)
}

// copyUp copies what the container's root has at b's place into the
// empty volume at b.Source: the directory's owner and mode, and what is
// in it, files, directories and symbolic links (not followed), with
// their owners and modes. The place is resolved inside the root, so a
// symbolic link in the image never leads the copy out of it.
func copyUp(rootfs string, b Bind) error {
	src, err := runtime.SecureJoin(rootfs, b.Destination)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(src); err != nil || !fi.IsDir() {
		return nil // nothing there: the volume stays empty
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		dst := filepath.Join(b.Source, rel)
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		mode := os.FileMode(st.Mode & 0o7777)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if rel != "." {
				if err := os.Mkdir(dst, 0o700); err != nil {
					return err
				}
			}
		case unix.S_IFREG:
			if err := copyFile(path, dst); err != nil {
				return err
			}
		case unix.S_IFLNK:
			target, err := os.Readlink(path)
			if err == nil {
				err = os.Symlink(target, dst)
			}
			if err != nil {
				return err
			}
			return os.Lchown(dst, int(st.Uid), int(st.Gid))
		default:
			return nil // a device, a pipe, a socket: not copied
		}
		if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		return os.Chmod(dst, mode) // after chown, which clears set-user-ID
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// VolumeFilterKeys are docker volume ls --filter's keys.
var VolumeFilterKeys = []string{"dangling", "name", "label", "driver"}

// VolumeMatcher is docker's volume filter: name matches a part, dangling
// (true or false) whether no container mounts it, each label must be
// there (KEY or KEY=VALUE), driver is local.
func VolumeMatcher(f Filter) (func(v *Volume, inUse bool) bool, error) {
	for key, values := range f {
		if !slices.Contains(VolumeFilterKeys, key) {
			return nil, fmt.Errorf("invalid filter '%s' (cfs knows %s)", key, strings.Join(VolumeFilterKeys, ", "))
		}
		for _, v := range values {
			if key == "dangling" && !slices.Contains([]string{"true", "false", "1", "0"}, v) {
				return nil, fmt.Errorf("invalid filter 'dangling=%s'", v)
			}
		}
	}
	return func(v *Volume, inUse bool) bool {
		is := func(key string, ok func(s string) bool) bool {
			return len(f[key]) == 0 || slices.ContainsFunc(f[key], ok)
		}
		for _, l := range f["label"] {
			if !HasLabel(v.Labels, l) {
				return false
			}
		}
		return is("name", func(s string) bool { return strings.Contains(v.Name, s) }) &&
			is("driver", func(s string) bool { return s == "local" }) &&
			is("dangling", func(s string) bool { return (s == "true" || s == "1") == !inUse })
	}, nil
}
