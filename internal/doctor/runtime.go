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
