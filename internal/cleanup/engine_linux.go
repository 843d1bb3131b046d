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
// container.

import (
	"encoding/json"
	"os"
	"path/filepath"
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
		AutoRemove bool `json:"AutoRemove"`
	} `json:"hostConfig"`
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
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), "container.json"))
		if err != nil {
			continue
		}
		var r engineRecord
		if json.Unmarshal(data, &r) != nil || (r.State.Status != "running" && r.State.Status != "paused" && r.State.Status != "restarting") {
			continue
		}
		c := h.get(e.Name())
		c.engine = &r
		if r.State.Monitor.PID > 0 {
			c.addOwner(r.State.Monitor)
		}
	}
}

// removeEngine repairs the records of the engine containers that go, and
// removes the work of creates whose maker is gone.
func (h *host) removeEngine() {
	for _, c := range h.sorted() {
		if c.engine == nil || !h.removing[c.ID] {
			continue
		}
		dir := filepath.Join(layout.EngineDir, "containers", c.ID)
		if run := filepath.Join(layout.EngineRunDir, c.ID); exists(run) {
			h.do(Resource{Kind: KindState, Name: run, Container: c.ID}, func() error { return os.RemoveAll(run) })
		}
		if c.engine.HostConfig.AutoRemove {
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
