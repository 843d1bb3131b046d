package api

// The system routes: _ping (the first request of every docker command,
// and the version negotiation), version, info, events; and the networks
// cfs has, for `docker network ls`.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
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

// eventLog keeps the last events (for --since) and the clients that
// follow them.
type eventLog struct {
	mu      sync.Mutex
	last    []events.Message
	clients map[chan events.Message]bool
}

const keepEvents = 1024

func newEventLog() *eventLog { return &eventLog{clients: map[chan events.Message]bool{}} }

func (l *eventLog) add(m events.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = append(l.last, m)
	if len(l.last) > keepEvents {
		l.last = l.last[len(l.last)-keepEvents:]
	}
	for ch := range l.clients {
		select {
		case ch <- m:
		default: // a client that does not read loses events, not the server
		}
	}
}

// event records a container's lifecycle event.
func (s *Server) event(c *engine.Container, action events.Action) { s.eventAttrs(c, action, nil) }

func (s *Server) eventAttrs(c *engine.Container, action events.Action, attrs map[string]string) {
	a := map[string]string{"name": c.Name, "image": c.Image}
	for k, v := range c.Config.Labels {
		a[k] = v
	}
	for k, v := range attrs {
		a[k] = v
	}
	now := time.Now()
	s.events.add(events.Message{Type: events.ContainerEventType, Action: action, Actor: events.Actor{ID: c.ID, Attributes: a},
		Scope: "local", Time: now.Unix(), TimeNano: now.UnixNano()})
}

func (s *Server) imageEvent(name string, action events.Action) {
	now := time.Now()
	s.events.add(events.Message{Type: events.ImageEventType, Action: action, Actor: events.Actor{ID: name, Attributes: map[string]string{"name": name}},
		Scope: "local", Time: now.Unix(), TimeNano: now.UnixNano()})
}

// GET /events?since=T&until=T&filters={…}: what happened through this
// server (not what `cfs` commands did by themselves), as a stream of
// JSON objects, until the client leaves or until is reached.
func (s *Server) eventsStream(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r.URL.Query().Get("filters"), "type", "container", "event", "image", "label")
	if err != nil {
		fail(w, err)
		return
	}
	since, until := eventTime(r.URL.Query().Get("since")), eventTime(r.URL.Query().Get("until"))
	match := func(m events.Message) bool {
		if !since.IsZero() && time.Unix(0, m.TimeNano).Before(since) || !until.IsZero() && time.Unix(0, m.TimeNano).After(until) {
			return false
		}
		return f.match("type", func(v string) bool { return v == string(m.Type) }) &&
			f.match("event", func(v string) bool { return v == string(m.Action) }) &&
			f.match("container", func(v string) bool {
				return m.Type == events.ContainerEventType && (strings.HasPrefix(m.Actor.ID, v) || m.Actor.Attributes["name"] == v)
			}) &&
			f.match("image", func(v string) bool { return m.Actor.Attributes["image"] == v || m.Actor.ID == v }) &&
			f.match("label", func(v string) bool { return engine.HasLabel(m.Actor.Attributes, v) })
	}
	ch := make(chan events.Message, 64)
	l := s.events
	l.mu.Lock()
	past := append([]events.Message(nil), l.last...)
	l.clients[ch] = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.clients, ch)
		l.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flush(w)
	enc := json.NewEncoder(w)
	if !since.IsZero() {
		for _, m := range past {
			if match(m) {
				_ = enc.Encode(m)
			}
		}
		flush(w)
	}
	var end <-chan time.Time
	if !until.IsZero() {
		end = time.After(time.Until(until))
	}
	for {
		select {
		case m := <-ch:
			if match(m) {
				if enc.Encode(m) != nil {
					return
				}
				flush(w)
			}
		case <-end:
			return
		case <-r.Context().Done():
			return
		}
	}
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

// match: no values for key, or one of them matches.
func (f filters) match(key string, ok func(string) bool) bool {
	if len(f[key]) == 0 {
		return true
	}
	for _, v := range f[key] {
		if ok(v) {
			return true
		}
	}
	return false
}

// writeJSONTo encodes v after the headers.
func writeJSONTo(w http.ResponseWriter, v any) { _ = json.NewEncoder(w).Encode(v) }
