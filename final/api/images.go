package api

// The image routes, over the image store (final/image): list, pull,
// inspect, history, tag, remove, save, load.

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"

	"cfs/final/engine"
	"cfs/final/image"

	"github.com/moby/moby/api/types/events"
	mobyimage "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
)

// GET /images/json: docker images.
func (s *Server) imageList(w http.ResponseWriter, r *http.Request) {
	st := s.e.Images
	if st.IsNew() {
		// A new store starts with the base image, as the command line's.
		if _, err := st.EnsureBase(); err != nil {
			fail(w, err)
			return
		}
	}
	f, err := parseFilters(r.URL.Query().Get("filters"), engine.ImageFilterKeys...)
	if err != nil {
		fail(w, err)
		return
	}
	match, err := engine.ImageMatcher(engine.Filter(f), st.Get)
	if errors.Is(err, image.ErrNotFound) {
		fail(w, err) // before or since an image that is not here: 404
		return
	}
	if err != nil {
		fail(w, badRequest("%v", err))
		return
	}
	imgs, err := st.List()
	if err != nil {
		fail(w, err)
		return
	}
	out := []mobyimage.Summary{}
	for _, img := range imgs {
		// docker images REPO[:TAG] sends it as a reference filter, a glob.
		tags, ok := match(img)
		if !ok {
			continue
		}
		out = append(out, mobyimage.Summary{
			ID: img.ID.String(), RepoTags: nonNil(tags), RepoDigests: nonNil(img.RepoDigests),
			Created: img.Created().Unix(), Size: img.Size, SharedSize: -1, Containers: -1, Labels: img.Config.Config.Labels,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// progress writes a stream of docker's JSON messages (pull, load): the
// CLI draws them as progress bars, and fails on one with an error.
type progress struct {
	mu  sync.Mutex
	w   http.ResponseWriter
	enc *json.Encoder
}

func newProgress(w http.ResponseWriter) *progress {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flush(w)
	return &progress{w: w, enc: json.NewEncoder(w)}
}

func (p *progress) send(m jsonstream.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.enc.Encode(m)
	flush(p.w)
}

// event is the store's progress of one layer, as docker's message.
func (p *progress) event(ev image.Event) {
	m := jsonstream.Message{ID: ev.ID, Status: ev.Status}
	if ev.Total > 0 {
		m.Progress = &jsonstream.Progress{Current: ev.Current, Total: ev.Total}
	}
	p.send(m)
}

func (p *progress) fail(err error) {
	p.send(jsonstream.Message{Error: &jsonstream.Error{Message: err.Error()}})
}

// POST /images/create?fromImage=docker.io/library/busybox&tag=latest:
// docker pull, its progress streamed.
func (s *Server) imagePull(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("fromSrc") != "" {
		writeError(w, http.StatusNotImplemented, "docker import is not supported by cfs serve (use `cfs import`)")
		return
	}
	ref := q.Get("fromImage")
	if ref == "" {
		writeError(w, http.StatusBadRequest, "fromImage is required")
		return
	}
	if tag := q.Get("tag"); tag != "" {
		if strings.HasPrefix(tag, "sha256:") {
			ref += "@" + tag
		} else {
			ref += ":" + tag
		}
	}
	p := newProgress(w)
	res, err := s.e.Images.Pull(r.Context(), ref, image.PullOptions{Progress: p.event})
	if err != nil {
		p.fail(err)
		return
	}
	if res.Digest.Hex != "" {
		p.send(jsonstream.Message{Status: "Digest: " + res.Digest.String()})
	}
	if res.UpToDate {
		p.send(jsonstream.Message{Status: "Status: Image is up to date for " + res.Name})
	} else {
		p.send(jsonstream.Message{Status: "Status: Downloaded newer image for " + res.Name})
	}
	s.e.ImageEvent(res.Name, events.ActionPull)
}

// imageRoutes answers /images/NAME/json|history|tag|get and DELETE
// /images/NAME: a name has slashes, so the verb is the last element.
func (s *Server) imageRoutes(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/images/")
	if r.Method == http.MethodDelete {
		s.imageRemove(w, r, rest)
		return
	}
	i := strings.LastIndex(rest, "/")
	if i <= 0 {
		s.notSupported(w, r)
		return
	}
	name, verb := rest[:i], rest[i+1:]
	switch {
	case r.Method == http.MethodGet && verb == "json":
		img, err := s.e.Images.Get(name)
		if err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, img.Inspect())
	case r.Method == http.MethodGet && verb == "history":
		img, err := s.e.Images.Get(name)
		if err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, img.History())
	case r.Method == http.MethodPost && verb == "tag":
		dst := r.URL.Query().Get("repo")
		if t := r.URL.Query().Get("tag"); t != "" {
			dst += ":" + t
		}
		if err := s.e.Images.Tag(name, dst); err != nil {
			fail(w, err)
			return
		}
		s.e.ImageEvent(dst, events.ActionTag)
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodGet && verb == "get":
		s.save(w, []string{name})
	default:
		s.notSupported(w, r)
	}
}

// DELETE /images/NAME?force=1: docker rmi.
func (s *Server) imageRemove(w http.ResponseWriter, r *http.Request, name string) {
	rm, err := s.e.Images.Remove(name, boolParam(r, "force"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.deleted(rm))
}

// deleted is what rmi or prune removed, as the API lists it, each with
// its event.
func (s *Server) deleted(rm *image.Removed) []mobyimage.DeleteResponse {
	out := []mobyimage.DeleteResponse{}
	for _, u := range rm.Untagged {
		out = append(out, mobyimage.DeleteResponse{Untagged: u})
		s.e.ImageEvent(u, events.ActionUnTag)
	}
	for _, d := range rm.Deleted {
		out = append(out, mobyimage.DeleteResponse{Deleted: d})
		s.e.ImageEvent(d, events.ActionDelete)
	}
	return out
}

// POST /images/prune?filters={"dangling":{"false":true}}: docker image
// prune; dangling=false is its -a (every image no container uses), and
// until and label (label!) filter, as for containers.
func (s *Server) imagePrune(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r.URL.Query().Get("filters"), append([]string{"dangling"}, engine.PruneFilterKeys...)...)
	if err != nil {
		fail(w, err)
		return
	}
	all := false
	for _, v := range f["dangling"] {
		switch v {
		case "true", "1":
		case "false", "0":
			all = true
		default:
			fail(w, badRequest("invalid filter 'dangling=%s': true or false", v))
			return
		}
	}
	delete(f, "dangling") // read above: the rest filter as a container prune's
	match, err := pruneMatcher(f)
	if err != nil {
		fail(w, err)
		return
	}
	rm, reclaimed, err := s.e.Images.Prune(all, match.Image)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, mobyimage.PruneReport{ImagesDeleted: s.deleted(rm), SpaceReclaimed: reclaimed})
}

// GET /images/get?names=A&names=B: docker save, a tar.
func (s *Server) imageSave(w http.ResponseWriter, r *http.Request) {
	s.save(w, r.URL.Query()["names"])
}

func (s *Server) save(w http.ResponseWriter, names []string) {
	if len(names) == 0 {
		writeError(w, http.StatusBadRequest, "no image named to save")
		return
	}
	// Every name is looked up first: a missing one is a 404, not a
	// tar cut short.
	for _, n := range names {
		if _, err := s.e.Images.Get(n); err != nil {
			fail(w, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	_ = s.e.Images.Save(w, names)
}

// POST /images/load: docker load; the body is the tar, streamed to the
// store (never held in memory).
func (s *Server) imageLoad(w http.ResponseWriter, r *http.Request) {
	// The progress goes out while the body comes in: HTTP/1's server
	// would otherwise stop reading the body at the first answer.
	if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
		fail(w, err)
		return
	}
	p := newProgress(w)
	loaded, err := s.e.Images.Load(r.Context(), r.Body, p.event)
	if err != nil {
		p.fail(err)
		return
	}
	for _, l := range loaded {
		if len(l.Names) == 0 {
			p.send(jsonstream.Message{Stream: "Loaded image ID: " + l.Image.ID.String() + "\n"})
		}
		for _, n := range l.Names {
			p.send(jsonstream.Message{Stream: "Loaded image: " + n + "\n"})
			s.e.ImageEvent(n, events.ActionLoad)
		}
	}
}
