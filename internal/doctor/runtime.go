package doctor

// The OCI runtime's containers (`cfs runtime`, final/runtime): what is
// under /run/cfs/runtime, and which of them no longer run but were never
// deleted.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"cfs/internal/layout"
)

func checkRuntime(h *Host) Result {
	r := Result{Name: "runtime", Status: OK}
	dir := filepath.Join(h.Run, strings.TrimPrefix(layout.RuntimeRoot, "/run/"))
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		r.Detail = "no containers of `cfs runtime` in " + layout.RuntimeRoot
		return r
	}
	var running, stale []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		var st struct {
			Init layout.Owner `json:"init"`
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), "state.json"))
		if err != nil || json.Unmarshal(data, &st) != nil {
			stale = append(stale, e.Name()+" (no state)")
			continue
		}
		if h.alive(st.Init) {
			running = append(running, fmt.Sprintf("%s (PID %d)", e.Name(), st.Init.PID))
		} else {
			stale = append(stale, e.Name())
		}
	}
	sort.Strings(running)
	sort.Strings(stale)
	var parts []string
	if len(running) > 0 {
		parts = append(parts, fmt.Sprintf("%d running: %s", len(running), strings.Join(running, ", ")))
	}
	if len(stale) > 0 {
		parts = append(parts, fmt.Sprintf("%d stopped but not deleted: %s", len(stale), strings.Join(stale, ", ")))
		r.Status = Warn
		r.Fix = "sudo ./cfs runtime delete ID for each, or " + strings.Replace(Command, "doctor", "cleanup", 1)
	}
	if len(parts) == 0 {
		r.Detail = "no containers of `cfs runtime` in " + layout.RuntimeRoot
		return r
	}
	r.Detail = "containers of `cfs runtime` in " + layout.RuntimeRoot + ": " + strings.Join(parts, "; ")
	return r
}

// alive reports whether the process o names runs, from the host's /proc:
// same start time, and not a zombie.
func (h *Host) alive(o layout.Owner) bool {
	data, err := os.ReadFile(h.proc(fmt.Sprint(o.PID), "stat"))
	if err != nil || o.PID <= 0 {
		return false
	}
	st, err := layout.ParseProcStat(data)
	return err == nil && st.Start == o.Start && st.State != 'Z' && st.State != 'X'
}

// checkEngine looks at the engine's containers (`cfs run`, final/engine):
// how many run, and whether any whose record says it runs has lost its
// monitor (killed): the next cfs command, or cleanup, repairs it.
func checkEngine(h *Host) Result {
	r := Result{Name: "engine", Status: OK}
	dir := filepath.Join(h.StateDir, strings.TrimPrefix(layout.EngineDir, layout.StateDir+"/"), "containers")
	entries, _ := os.ReadDir(dir)
	var running, stopped int
	var stale []string
	for _, e := range entries {
		if !layout.IsEngineID(e.Name()) {
			continue
		}
		var rec struct {
			Name  string `json:"name"`
			State struct {
				Status  string       `json:"status"`
				Monitor layout.Owner `json:"monitor"`
			} `json:"state"`
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), "container.json"))
		if err != nil || json.Unmarshal(data, &rec) != nil {
			continue
		}
		switch {
		case rec.State.Status != "running" && rec.State.Status != "paused":
			stopped++
		case h.alive(rec.State.Monitor):
			running++
		default:
			stale = append(stale, fmt.Sprintf("%s (%s, monitor PID %d gone)", e.Name()[:12], rec.Name, rec.State.Monitor.PID))
		}
	}
	r.Detail = fmt.Sprintf("containers of `cfs run` in %s: %d running, %d stopped", layout.EngineDir, running, stopped)
	if len(stale) > 0 {
		sort.Strings(stale)
		r.Status = Warn
		r.Detail += fmt.Sprintf("; %d whose monitor was killed: %s", len(stale), strings.Join(stale, ", "))
		r.Fix = "sudo ./cfs ps -a repairs their records (exited, 137), or " + strings.Replace(Command, "doctor", "cleanup", 1)
	}
	return r
}
