package api

// The system routes: _ping (the first request of every docker command,
// and the version negotiation), version, info, events; and the networks
// cfs has, for `docker network ls`.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cfs/final/engine"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
)

// GET|HEAD /_ping: "OK", and in the headers the API version the client
// then uses (a missing Api-Version would make it fall back to 1.24).
func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Docker-Experimental", "false")
	h.Set("Builder-Version", "")
	h.Set("Swarm", "inactive")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
}

// GET /version: docker version's "Server:" part.
func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, engine.ServerVersion())
}

// GET /info: docker info's "Server:" part, with the server's warning.
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	in, err := s.e.Info()
	if err != nil {
		fail(w, err)
		return
	}
	in.Warnings = append(in.Warnings, "cfs serve: the API is root on this host; keep its socket to root and the docker group")
	writeJSON(w, http.StatusOK, in)
}

// GET /networks?filters={…}: docker network ls, the engine's three networks.
func (s *Server) networkList(w http.ResponseWriter, r *http.Request) {
	raw, err := parseFilters(r.URL.Query().Get("filters"), engine.NetworkFilterKeys...)
	if err != nil {
		fail(w, err)
		return
	}
	match, err := engine.NetworkMatcher(engine.Filter(raw))
	if err != nil {
		fail(w, badRequest("%v", err))
		return
	}
	list, err := s.e.Networks()
	if err != nil {
		fail(w, err)
		return
	}
	out := []network.Summary{}
	for _, n := range list {
		if match(n) {
			out = append(out, network.Summary{Network: n.Network})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// POST /networks/prune: docker system prune asks it; cfs's three
// networks are docker's built-in ones, which are never pruned.
func (s *Server) networkPrune(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, network.PruneReport{NetworksDeleted: []string{}})
}

// POST /build/prune: docker system prune asks it too; cfs builds
// nothing, so it has no build cache.
func (s *Server) buildPrune(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, build.CachePruneReport{CachesDeleted: []string{}})
}

// GET /networks/{name}: docker network inspect, with the containers on it.
func (s *Server) networkInspect(w http.ResponseWriter, r *http.Request) {
	n, err := s.e.Network(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

// ---------------------------------------------------------------------------
// Events

// GET /events?since=T&until=T&filters={…}: the engine's journal of
// events (final/engine/events_linux.go), what `cfs` commands did as
// well as what was done through this server, as a stream of JSON
// objects, until the client leaves or until is reached.
func (s *Server) eventsStream(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r.URL.Query().Get("filters"), engine.EventFilterKeys...)
	if err != nil {
		fail(w, err)
		return
	}
	match, err := engine.EventMatcher(engine.Filter(f))
	if err != nil {
		fail(w, badRequest("%v", err))
		return
	}
	opt := engine.EventsOptions{Since: eventTime(r.URL.Query().Get("since")), Until: eventTime(r.URL.Query().Get("until"))}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flush(w)
	enc := json.NewEncoder(w)
	_ = s.e.Events(r.Context(), opt, func(m events.Message) error {
		if !match(m) {
			return nil
		}
		if err := enc.Encode(m); err != nil {
			return err
		}
		flush(w)
		return nil
	})
}

// eventTime reads docker's since/until: Unix seconds, with a fraction.
func eventTime(v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	sec, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, int64(sec*1e9))
}

// ---------------------------------------------------------------------------
// Filters

// filters is docker's filters parameter: {"name":{"web":true}}, or the
// older {"name":["web"]}.
type filters map[string][]string

func parseFilters(raw string, allowed ...string) (filters, error) {
	f := filters{}
	if raw == "" {
		return f, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, badRequest("invalid filters: %v", err)
	}
	for k, v := range m {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return nil, badRequest("invalid filter '%s' (cfs knows %s)", k, strings.Join(allowed, ", "))
		}
		var set map[string]bool
		var list []string
		if json.Unmarshal(v, &set) == nil {
			for val := range set {
				f[k] = append(f[k], val)
			}
		} else if json.Unmarshal(v, &list) == nil {
			f[k] = list
		} else {
			return nil, badRequest("invalid filter '%s'", k)
		}
	}
	return f, nil
}

// writeJSONTo encodes v after the headers.
func writeJSONTo(w http.ResponseWriter, v any) { _ = json.NewEncoder(w).Encode(v) }
