package cleanup

// Containers of the engine (final/engine, `cfs run`): a record each in
// /var/lib/cfs/engine/containers/ID/container.json (ID: 64 hex digits).
// A running one has a monitor, a cfs-monitor process recorded in its
// state, which owns it: its runtime container (the init), its address
// lease and veth, and its overlay, which the monitor mounts in a mount
// namespace of its own (so nothing of it is in the host's mount table).
// A container whose monitor is gone while its record says it runs is
// stale: what is left of it goes, as for a stage's, and its record is
// repaired (exited, killed) or, with --rm, removed. Stopped containers
// are the user's, as docker keeps them: cleanup leaves them, `cfs rm`
// removes them. A create killed half-way leaves engine/tmp/ID, whose
// flock died with its maker, and maybe engine/names/NAME pointing at no
// container. The anonymous volumes (engine/volumes/NAME) of a --rm
// container removed here, or of a killed create, go with it, as the
// engine's --rm takes them; a volume directory without its record
// (volume.json, written last) is a making that was cut short. Every
// other volume is the user's data, which docker keeps too.

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"cfs/internal/layout"

	"golang.org/x/sys/unix"
)

// engineRecord is what cleanup reads of an engine container's record.
type engineRecord struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State struct {
		Status  string `json:"status"`
		Monitor owner  `json:"monitor"`
	} `json:"state"`
	HostConfig struct {
		AutoRemove bool     `json:"AutoRemove"`
		Binds      []string `json:"Binds"`
	} `json:"hostConfig"`
	Volumes map[string]string `json:"volumes"` // place → anonymous volume
}

// readEngineRecord reads the record in dir (containers/ID or tmp/ID).
func readEngineRecord(dir string) (*engineRecord, error) {
	data, err := os.ReadFile(filepath.Join(dir, "container.json"))
	if err != nil {
		return nil, err
	}
	var r engineRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// scanEngine adds the engine's running containers, with their monitors
// as owners, and those restarting, with the monitors that wait.
func (h *host) scanEngine() {
	dir := filepath.Join(layout.EngineDir, "containers")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !layout.IsEngineID(e.Name()) {
			continue
		}
		r, err := readEngineRecord(filepath.Join(dir, e.Name()))
		if err != nil || (r.State.Status != "running" && r.State.Status != "paused" && r.State.Status != "restarting") {
			continue
		}
		c := h.get(e.Name())
		c.engine = r
		if r.State.Monitor.PID > 0 {
			c.addOwner(r.State.Monitor)
		}
	}
}

// removeEngine repairs the records of the engine containers that go, and
// removes the work of creates whose maker is gone.
func (h *host) removeEngine() {
	gone := map[string][]string{} // the containers removed: their anonymous volumes
	for _, c := range h.sorted() {
		if c.engine == nil || !h.removing[c.ID] {
			continue
		}
		dir := filepath.Join(layout.EngineDir, "containers", c.ID)
		if run := filepath.Join(layout.EngineRunDir, c.ID); exists(run) {
			h.do(Resource{Kind: KindState, Name: run, Container: c.ID}, func() error { return os.RemoveAll(run) })
		}
		if c.engine.HostConfig.AutoRemove {
			gone[c.ID] = slices.Collect(maps.Values(c.engine.Volumes))
			h.do(Resource{Kind: KindState, Name: dir, Container: c.ID, Why: "run with --rm"}, func() error {
				link := filepath.Join(layout.EngineDir, "names", c.engine.Name)
				if t, err := os.Readlink(link); err == nil && t == c.ID {
					_ = os.Remove(link)
				}
				_ = os.Remove(filepath.Join(layout.ImagesDir, "holds", c.ID))
				return removeTree(dir)
			})
			continue
		}
		h.do(Resource{Kind: KindState, Name: filepath.Join(dir, "container.json"), Container: c.ID, Why: "its state: now exited, killed"}, func() error {
			return markExited(filepath.Join(dir, "container.json"))
		})
	}
	// A create's work, locked (flock) by its maker while it works: one
	// whose lock can be taken was left by a create that was killed.
	tmp := filepath.Join(layout.EngineDir, "tmp")
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		p := filepath.Join(tmp, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			f.Close()
			continue // its create runs
		}
		if r, err := readEngineRecord(p); err == nil {
			gone[e.Name()] = slices.Collect(maps.Values(r.Volumes))
		}
		h.do(Resource{Kind: KindState, Name: p, Why: "a create killed half-way"}, func() error {
			_ = os.Remove(filepath.Join(layout.ImagesDir, "holds", e.Name()))
			return removeTree(p)
		})
		f.Close()
	}
	// A name whose container is neither made (containers/ID) nor being
	// made (tmp/ID): left by a create killed between giving the name and
	// renaming its work into place. tmp/ID is looked at first: a create
	// renames it to containers/ID, so one of the two is always there
	// while the create lives.
	names := filepath.Join(layout.EngineDir, "names")
	entries, _ = os.ReadDir(names)
	for _, e := range entries {
		link := filepath.Join(names, e.Name())
		id, err := os.Readlink(link)
		if err != nil || !layout.IsEngineID(id) || exists(filepath.Join(tmp, id)) ||
			exists(filepath.Join(layout.EngineDir, "containers", id)) {
			continue
		}
		h.do(Resource{Kind: KindState, Name: link, Why: "the name of a container never made"}, func() error {
			return os.Remove(link)
		})
	}
	h.removeVolumes(gone)
}

// removeVolumes removes the anonymous volumes of the containers that went
// (gone: ID → volumes) that no other container mounts, and the volume
// directories without a record. It holds the engine's lock, under which
// the engine makes containers and volumes and checks who mounts one, so
// that no volume being made or mounted is taken.
func (h *host) removeVolumes(gone map[string][]string) {
	dir := filepath.Join(layout.EngineDir, "volumes")
	lock, err := os.Open(filepath.Join(layout.EngineDir, "engine.lock"))
	if err != nil {
		return // no engine has run here
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		h.fail(Resource{Kind: KindState, Name: dir}, err)
		return
	}
	entries, _ := os.ReadDir(dir)
	var used map[string]bool
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		why := ""
		switch {
		case !e.IsDir():
			continue
		case !exists(filepath.Join(p, "volume.json")):
			why = "a volume whose making was cut short"
		case anonymousOf(gone, e.Name()):
			if used == nil {
				used = volumesInUse(gone)
			}
			if used[e.Name()] {
				continue
			}
			why = "the anonymous volume of a container removed"
		default:
			continue
		}
		h.do(Resource{Kind: KindState, Name: p, Why: why}, func() error { return removeTree(p) })
	}
}

func anonymousOf(gone map[string][]string, name string) bool {
	for _, names := range gone {
		if slices.Contains(names, name) {
			return true
		}
	}
	return false
}

// volumesInUse are the volumes the engine's containers mount, but for
// those that went: their anonymous volumes and the names their -v give.
func volumesInUse(gone map[string][]string) map[string]bool {
	used := map[string]bool{}
	dir := filepath.Join(layout.EngineDir, "containers")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if _, ok := gone[e.Name()]; ok {
			continue // (still there under --dry-run)
		}
		r, err := readEngineRecord(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		for _, name := range r.Volumes {
			used[name] = true
		}
		for _, b := range r.HostConfig.Binds {
			if src, _, _ := strings.Cut(b, ":"); src != "" && !filepath.IsAbs(src) {
				used[src] = true // NAME:/place
			}
		}
	}
	return used
}

// markExited rewrites an engine record's state as the engine would: the
// container exited, killed with its monitor. The rest stays as it is.
func markExited(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	var st map[string]any
	_ = json.Unmarshal(doc["state"], &st)
	if st == nil {
		st = map[string]any{}
	}
	st["status"], st["exitCode"], st["pid"] = "exited", 137, 0
	st["error"] = "its monitor was killed; the container was killed with it (cfs cleanup)"
	st["finishedAt"] = time.Now().UTC()
	st["monitor"] = owner{}
	doc["state"], _ = json.Marshal(st)
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
