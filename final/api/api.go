// Package api is cfs's Docker Engine API: the HTTP server that `cfs serve`
// runs on a unix socket, so that the docker command line (the client
// alone, no Docker daemon), docker's SDKs and `curl --unix-socket` drive
// cfs. It is the seed's client–daemon split made real: the client sends
// JSON over HTTP; this package answers it with the same engine calls the
// command line makes (part 3), so that a container `docker run` made is
// one `cfs ps` shows, and the other way round.
//
// Role: a face of the engine, beside final/dockercli: HTTP → final/engine
// (containers) and final/image (images). It keeps no state of its own
// but what lives only while a request does (an exec's process, a client
// waiting for a start); containers are the engine's records on disk and
// are watched by their monitors, so the server can be killed and started
// again without harm to them. No stage teaches it: it is the part where
// the stages' primitives become a service other programs use
// (docs/12-api.md).
//
// The shapes are moby's own (github.com/moby/moby/api/types); the
// routes and their semantics follow moby's api/server/router/container,
// the contract the docker CLI relies on (docs/12-api.md lists it).
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"cfs/final/engine"
	"cfs/final/image"

	"github.com/moby/moby/api/types/common"
)

// APIVersion is the version of the Docker Engine API the server speaks,
// MinAPIVersion the oldest it answers, and Version cfs's (the engine's).
const (
	APIVersion    = engine.APIVersion
	MinAPIVersion = engine.MinAPIVersion
	Version       = engine.Version
)

// Server answers the Docker Engine API with an engine.
type Server struct {
	e   *engine.Engine
	mux *http.ServeMux
	// Log, when set, gets a line per request (cfs serve --debug).
	Log io.Writer

	mu sync.Mutex
	// pending are clients attached to a container that is not running
	// yet (docker run attaches before it starts); the start takes them.
	pending map[string][]*attacher
	// waiters hear of a container's exit and removal from this server.
	waiters map[string][]chan notice
	// following are the containers this server started and follows to
	// their end: their exit status comes as a notice, which nothing else
	// may guess (a --rm container takes its status with it).
	following map[string]bool
	// execs are the processes exec'd through the API, by exec ID.
	execs map[string]*execJob
}

// notice is what a waiter hears: the container exited, or is gone.
type notice struct {
	exited, removed bool
	st              engine.ExitStatus
}

// New returns the server for engine e.
func New(e *engine.Engine) *Server {
	s := &Server{e: e, mux: http.NewServeMux(), pending: map[string][]*attacher{},
		waiters: map[string][]chan notice{}, following: map[string]bool{}, execs: map[string]*execJob{}}
	s.routes()
	return s
}

// routes maps each route onto its handler: the few the docker CLI uses,
// in moby's paths; the rest answer "not supported by cfs".
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /_ping", s.ping)
	m.HandleFunc("HEAD /_ping", s.ping)
	m.HandleFunc("GET /version", s.version)
	m.HandleFunc("GET /info", s.info)
	m.HandleFunc("GET /events", s.eventsStream)

	m.HandleFunc("POST /containers/create", s.containerCreate)
	m.HandleFunc("GET /containers/json", s.containerList)
	m.HandleFunc("POST /containers/prune", s.containerPrune)
	m.HandleFunc("GET /containers/{name}/json", s.containerInspect)
	m.HandleFunc("POST /containers/{name}/start", s.containerStart)
	m.HandleFunc("POST /containers/{name}/attach", s.containerAttach)
	m.HandleFunc("POST /containers/{name}/wait", s.containerWait)
	m.HandleFunc("GET /containers/{name}/logs", s.containerLogs)
	m.HandleFunc("POST /containers/{name}/stop", s.containerStop)
	m.HandleFunc("POST /containers/{name}/restart", s.containerRestart)
	m.HandleFunc("POST /containers/{name}/kill", s.containerKill)
	m.HandleFunc("POST /containers/{name}/pause", s.containerPause)
	m.HandleFunc("POST /containers/{name}/unpause", s.containerUnpause)
	m.HandleFunc("POST /containers/{name}/rename", s.containerRename)
	m.HandleFunc("POST /containers/{name}/update", s.containerUpdate)
	m.HandleFunc("DELETE /containers/{name}", s.containerRemove)
	m.HandleFunc("POST /containers/{name}/resize", s.containerResize)
	m.HandleFunc("GET /containers/{name}/top", s.containerTop)
	m.HandleFunc("GET /containers/{name}/stats", s.containerStats)
	m.HandleFunc("GET /containers/{name}/export", s.containerExport)
	m.HandleFunc("GET /containers/{name}/changes", s.containerChanges)
	m.HandleFunc("HEAD /containers/{name}/archive", s.archiveStat)
	m.HandleFunc("GET /containers/{name}/archive", s.archiveGet)
	m.HandleFunc("PUT /containers/{name}/archive", s.archivePut)
	m.HandleFunc("POST /commit", s.commit)

	m.HandleFunc("POST /containers/{name}/exec", s.execCreate)
	m.HandleFunc("POST /exec/{id}/start", s.execStart)
	m.HandleFunc("POST /exec/{id}/resize", s.execResize)
	m.HandleFunc("GET /exec/{id}/json", s.execInspect)

	m.HandleFunc("GET /images/json", s.imageList)
	m.HandleFunc("POST /images/create", s.imagePull)
	m.HandleFunc("GET /images/get", s.imageSave)
	m.HandleFunc("POST /images/load", s.imageLoad)
	m.HandleFunc("POST /images/prune", s.imagePrune)
	// Image names have slashes: /images/docker.io/library/busybox:latest/json.
	m.HandleFunc("/images/", s.imageRoutes)

	// Networks cfs does not make: a listing says what there is; an
	// inspect of another is "not found", so that `docker inspect NAME`
	// moves on, as against Docker.
	m.HandleFunc("GET /networks", s.networkList)
	m.HandleFunc("GET /networks/{name}", s.networkInspect)
	m.HandleFunc("POST /networks/prune", s.networkPrune)
	m.HandleFunc("POST /build/prune", s.buildPrune)

	m.HandleFunc("GET /volumes", s.volumeList)
	m.HandleFunc("POST /volumes/create", s.volumeCreate)
	m.HandleFunc("POST /volumes/prune", s.volumePrune)
	m.HandleFunc("GET /volumes/{name}", s.volumeInspect)
	m.HandleFunc("DELETE /volumes/{name}", s.volumeRemove)
	m.HandleFunc("GET /plugins/{name}/json", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("plugin %s not found (cfs has no plugins)", r.PathValue("name")))
	})
	m.HandleFunc("/", s.notSupported)
}

// versionRE is the version prefix of every path but /_ping: /v1.47/….
var versionRE = regexp.MustCompile(`^/v[0-9]+(\.[0-9]+)?/`)

// ServeHTTP strips the version prefix, sets the headers moby sets on
// every response, and routes the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if loc := versionRE.FindStringIndex(r.URL.Path); loc != nil {
		r.URL.Path = r.URL.Path[loc[1]-1:]
		r.URL.RawPath = ""
	}
	h := w.Header()
	h.Set("Api-Version", APIVersion)
	h.Set("Server", "cfs/"+Version+" (linux)")
	h.Set("Ostype", "linux")
	if s.Log != nil {
		// --debug: each request as it comes, as the client sent it.
		fmt.Fprintf(s.Log, "%s %s %s\n", time.Now().Format("15:04:05.000"), r.Method, r.RequestURI)
	}
	s.mux.ServeHTTP(w, r)
}

// notSupported answers a route cfs does not have, in docker's error form,
// so that the client prints a clear message and exits, never hangs.
func (s *Server) notSupported(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotImplemented, fmt.Sprintf("%s %s is not supported by cfs (cfs serves containers, exec, images and volumes; see docs/12-api.md)", r.Method, r.URL.Path))
}

// ---------------------------------------------------------------------------
// Answers and errors

// maxBody bounds a JSON request body: a create is a few kilobytes; a
// client that sends more is refused, not buffered.
const maxBody = 1 << 20

// decode reads a JSON body into v; an empty body leaves v as it is.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	err := json.NewDecoder(body).Decode(v)
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooLarge):
		return &httpError{code: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body larger than %d bytes", maxBody)}
	}
	return &httpError{code: http.StatusBadRequest, msg: "invalid JSON: " + err.Error()}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError is docker's error form: {"message": "…"}, as JSON, which
// the CLI prints as "Error response from daemon: …".
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, common.ErrorResponse{Message: msg})
}

// httpError is an error with its status.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, a...)}
}

// statusOf maps the engine's errors to docker's statuses: the client
// decides on them (404 makes `docker run` pull; rm -f shrugs at it).
func statusOf(err error) int {
	var he *httpError
	var ce *engine.ConflictError
	var ie *image.ConflictError
	var missing *engine.ImageNotFoundError
	var se *engine.StartError
	var nf engine.NetworkNotFoundError
	switch {
	case errors.As(err, &he):
		return he.code
	case errors.Is(err, engine.ErrNotFound), errors.Is(err, image.ErrNotFound), errors.As(err, &missing),
		errors.As(err, &nf):
		return http.StatusNotFound
	case errors.As(err, &ce), errors.As(err, &ie):
		return http.StatusConflict
	case errors.As(err, &se) && se.Code != 125:
		return http.StatusBadRequest // the command is missing or cannot run
	}
	return http.StatusInternalServerError
}

func fail(w http.ResponseWriter, err error) { writeError(w, statusOf(err), err.Error()) }

// flush sends what was written so far: the headers of a response whose
// body comes later (a wait, a log followed).
func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// boolParam reads docker's booleans: 1, true, True; absent is false.
func boolParam(r *http.Request, name string) bool {
	switch strings.ToLower(r.URL.Query().Get(name)) {
	case "1", "true", "yes":
		return true
	}
	return false
}
