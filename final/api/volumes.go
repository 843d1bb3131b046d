package api

// The volume routes: docker volume create, ls, inspect, rm and prune,
// on the engine's volumes (engine/volumes.go).

import (
	"net/http"
	"slices"

	"cfs/final/engine"

	"github.com/moby/moby/api/types/volume"
)

// GET /volumes?filters={…}: docker volume ls.
func (s *Server) volumeList(w http.ResponseWriter, r *http.Request) {
	raw, err := parseFilters(r.URL.Query().Get("filters"), engine.VolumeFilterKeys...)
	if err != nil {
		fail(w, err)
		return
	}
	match, err := engine.VolumeMatcher(engine.Filter(raw))
	if err != nil {
		fail(w, badRequest("%v", err))
		return
	}
	list, err := s.e.Volumes()
	if err != nil {
		fail(w, err)
		return
	}
	users, err := s.e.VolumeUsers()
	if err != nil {
		fail(w, err)
		return
	}
	out := volume.ListResponse{Volumes: []volume.Volume{}, Warnings: []string{}}
	for _, v := range list {
		if match(v, len(users[v.Name]) > 0) {
			out.Volumes = append(out.Volumes, s.e.InspectVolume(v))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// POST /volumes/create: 201 and the volume; one that is there already is
// given back, as dockerd does.
func (s *Server) volumeCreate(w http.ResponseWriter, r *http.Request) {
	var req volume.CreateRequest
	if err := decode(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	if req.Driver != "" && req.Driver != "local" {
		fail(w, badRequest("create %s: error looking up volume plugin %s: plugin %q not found (cfs has the local driver only)", req.Name, req.Driver, req.Driver))
		return
	}
	if len(req.DriverOpts) > 0 {
		fail(w, badRequest("cfs's local volumes take no driver options (-o): a volume is a directory on the host"))
		return
	}
	v, err := s.e.CreateVolume(req.Name, req.Labels)
	if err != nil {
		fail(w, badRequest("%v", err))
		return
	}
	writeJSON(w, http.StatusCreated, s.e.InspectVolume(v))
}

// GET /volumes/{name}: docker volume inspect; 404 if it is not there.
func (s *Server) volumeInspect(w http.ResponseWriter, r *http.Request) {
	v, err := s.e.Volume(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.e.InspectVolume(v))
}

// DELETE /volumes/{name}?force=1: 204; 409 if a container mounts it.
func (s *Server) volumeRemove(w http.ResponseWriter, r *http.Request) {
	if err := s.e.RemoveVolume(r.PathValue("name"), boolParam(r, "force")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// POST /volumes/prune?filters={…}: the volumes no container mounts,
// anonymous ones only unless the filter all=true (docker volume prune -a).
func (s *Server) volumePrune(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r.URL.Query().Get("filters"), "all", "label")
	if err != nil {
		fail(w, err)
		return
	}
	all := slices.ContainsFunc(f["all"], func(v string) bool { return v == "true" || v == "1" })
	delete(f, "all")
	match, err := engine.VolumeMatcher(engine.Filter(f))
	if err != nil {
		fail(w, badRequest("%v", err))
		return
	}
	removed, reclaimed, err := s.e.PruneVolumes(all, func(v *engine.Volume) bool { return match(v, false) })
	if err != nil {
		fail(w, err)
		return
	}
	if removed == nil {
		removed = []string{}
	}
	writeJSON(w, http.StatusOK, volume.PruneReport{VolumesDeleted: removed, SpaceReclaimed: reclaimed})
}
