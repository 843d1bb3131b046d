package api

// The container routes, each a thin layer over one engine call, as
// podman's compat handlers are over its engine: create, list, inspect,
// start, attach, wait, logs, stop, restart, kill, pause, unpause, rename,
// remove, prune, resize, top, stats, update, export, changes, archive
// (cp), commit.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cfs/final/engine"
	"cfs/final/runtime"

	"github.com/moby/moby/api/types"
	"github.com/moby/moby/api/types/common"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
)

// POST /containers/create?name=N: the body is docker's Config with
// HostConfig and NetworkingConfig; 201 {Id, Warnings}. A missing image
// is 404, on which the docker CLI pulls it and creates again.
func (s *Server) containerCreate(w http.ResponseWriter, r *http.Request) {
	var req container.CreateRequest
	if err := decode(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	if req.Config == nil {
		writeError(w, http.StatusBadRequest, "config cannot be empty in order to create a container")
		return
	}
	opt := engine.CreateOptions{Name: r.URL.Query().Get("name"), Config: *req.Config}
	if req.HostConfig != nil {
		opt.HostConfig = *req.HostConfig
	}
	warnings := []string{}
	hc := &opt.HostConfig
	if err := engine.CheckConfig(&opt.Config, hc); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c, err := s.e.Create(opt)
	var missing *engine.ImageNotFoundError
	if errors.As(err, &missing) && isBase(opt.Config.Image) {
		// cfs/base is made here, from the stages' root filesystem.
		if _, err = s.e.Images.EnsureBase(); err == nil {
			c, err = s.e.Create(opt)
		}
	}
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, container.CreateResponse{ID: c.ID, Warnings: warnings})
}

// pruneMatcher is a prune's filters; a bad one is the client's error.
func pruneMatcher(f filters) (engine.PruneMatch, error) {
	match, err := engine.PruneMatcher(engine.Filter(f))
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return match, nil
}

// isBase reports whether ref names cfs/base, which no registry has.
func isBase(ref string) bool {
	ref = strings.TrimPrefix(ref, "docker.io/")
	return ref == "cfs/base" || ref == "cfs/base:latest"
}

// GET /containers/json?all=1&limit=N&filters={…}: docker ps.
func (s *Server) containerList(w http.ResponseWriter, r *http.Request) {
	raw, err := parseFilters(r.URL.Query().Get("filters"), engine.FilterKeys...)
	if err != nil {
		fail(w, err)
		return
	}
	f := engine.Filter(raw)
	if err := f.Check(); err != nil {
		fail(w, badRequest("%v", err))
		return
	}
	match, err := s.e.Matcher(f)
	if err != nil {
		fail(w, err) // before= or since= a container that is not there: 404
		return
	}
	all := boolParam(r, "all")
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit > 0 {
		all = true // docker ps -n N and -l look at every container
	}
	list, err := s.e.List()
	if err != nil {
		fail(w, err)
		return
	}
	out := []container.Summary{}
	for _, c := range list {
		if !all && !c.Up() && !f.All() || !match(c) {
			continue
		}
		sum := s.e.Summary(c)
		if boolParam(r, "size") { // docker ps -s
			sum.SizeRw, sum.SizeRootFs = s.e.Size(c)
		}
		out = append(out, sum)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// POST /containers/prune?filters={"until":{"24h":true}}: every container
// not running that the filters let go (until, label, label!).
func (s *Server) containerPrune(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r.URL.Query().Get("filters"), engine.PruneFilterKeys...)
	if err != nil {
		fail(w, err)
		return
	}
	match, err := pruneMatcher(f)
	if err != nil {
		fail(w, err)
		return
	}
	removed, reclaimed, err := s.e.Prune(match)
	if err != nil {
		fail(w, err)
		return
	}
	report := container.PruneReport{ContainersDeleted: []string{}, SpaceReclaimed: reclaimed}
	for _, c := range removed {
		report.ContainersDeleted = append(report.ContainersDeleted, c.ID)
	}
	writeJSON(w, http.StatusOK, report)
}

// GET /containers/{name}/json: docker inspect; Config is always there
// (the CLI reads Config.Tty without looking).
func (s *Server) containerInspect(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.e.Inspect(c))
}

// ---------------------------------------------------------------------------
// start, attach, wait

// attacher is a client attached by /attach, with the streams it asked for.
type attacher struct {
	st  *stream
	opt engine.AttachOptions
}

// POST /containers/{name}/start: 204, or 304 if it runs already.
func (s *Server) containerStart(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	if c.Running() {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if err := s.start(c); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// start starts c with the clients attached to it meanwhile, and follows
// it to its end: the server is then the first to know its exit status,
// which a --rm container takes with it when it is removed. A failed start
// under --rm removes the container, as docker does (the CLI waits for it).
func (s *Server) start(c *engine.Container) error {
	s.mu.Lock()
	atts := s.pending[c.ID]
	delete(s.pending, c.ID)
	s.following[c.ID] = true
	s.mu.Unlock()
	var opt engine.AttachOptions
	for _, a := range atts {
		opt.Stdin = opt.Stdin || a.opt.Stdin
		opt.Stdout = opt.Stdout || a.opt.Stdout
		opt.Stderr = opt.Stderr || a.opt.Stderr
	}
	att, err := s.e.Start(c.ID, engine.StartOptions{Attach: &opt})
	if err != nil {
		for _, a := range atts {
			a.st.close()
		}
		st := engine.ExitStatus{StatusCode: 125, Error: err.Error()}
		var se *engine.StartError
		if errors.As(err, &se) {
			st.StatusCode = se.Code
		}
		n := notice{exited: true, st: st}
		if c.HostConfig.AutoRemove {
			_ = s.e.Remove(c.ID, true, true)
			n.removed = true
		}
		s.notify(c.ID, n)
		s.unfollow(c.ID)
		return err
	}
	go s.follow(c, att, atts, true)
	return nil
}

// follow copies a running container's streams to its attached clients
// until it exits; owner: this server started it, and tells its waiters.
func (s *Server) follow(c *engine.Container, att *engine.Attachment, atts []*attacher, owner bool) {
	var stdin io.Reader
	for _, a := range atts {
		if a.opt.Stdin && stdin == nil {
			stdin = a.st.in // the first with stdin feeds it, as in docker
		}
	}
	detached := false
	out := func(fd byte) io.Writer {
		return writerFunc(func(p []byte) (int, error) {
			gone := true
			for _, a := range atts {
				if fd == 1 && a.opt.Stdout || fd == 2 && a.opt.Stderr {
					a.st.write(fd, p)
				}
				gone = gone && a.st.isBroken()
			}
			if gone && !owner {
				// Every client went away: detach from the monitor
				// too; the container runs on.
				detached = true
				att.Close()
			}
			return len(p), nil
		})
	}
	st, err := att.Copy(stdin, out(1), out(2))
	att.Close()
	if detached {
		for _, a := range atts {
			a.st.close()
		}
		return
	}
	if err != nil {
		// Its monitor was killed: the record, repaired, says how it ended.
		if st, err = s.e.Wait(c.ID); err != nil {
			st = engine.ExitStatus{StatusCode: 137, Error: err.Error()}
		}
	}
	for _, a := range atts {
		a.st.close()
	}
	if owner {
		s.exited(c, st)
	}
}

// exited tells the waiters that c exited (and, with --rm, that it is
// gone). The event stream heard it from the monitor.
func (s *Server) exited(c *engine.Container, st engine.ExitStatus) {
	n := notice{exited: true, st: st}
	if c.HostConfig.AutoRemove {
		n.removed = true
	}
	s.notify(c.ID, n)
	s.unfollow(c.ID)
}

// isFollowing reports whether this server started the container id and
// will tell its waiters how it ended.
func (s *Server) isFollowing(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.following[id]
}

// unfollow ends isFollowing, after the last notice has gone to the
// waiters: one that then finds the flag gone finds the notice queued.
func (s *Server) unfollow(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.following, id)
}

// POST /containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1:
// 101, then the container's streams. A container that does not run yet
// is attached at its start (docker run attaches, then starts).
func (s *Server) containerAttach(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	opt := engine.AttachOptions{Stdin: boolParam(r, "stdin"), Stdout: boolParam(r, "stdout"), Stderr: boolParam(r, "stderr")}
	if !c.Running() {
		st, err := takeOver(w, c.Config.Tty)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.pending[c.ID] = append(s.pending[c.ID], &attacher{st: st, opt: opt})
		// Under the lock: a start that takes it now writes to it only
		// after the 101.
		err = st.upgraded()
		s.mu.Unlock()
		if err == nil {
			s.e.ContainerEvent(c, events.ActionAttach, nil)
		}
		return
	}
	att, err := s.e.Attach(c.ID, opt)
	if err != nil {
		fail(w, err)
		return
	}
	st, err := hijack(w, r, c.Config.Tty)
	if err != nil {
		att.Close()
		return
	}
	s.e.ContainerEvent(c, events.ActionAttach, nil)
	go s.follow(c, att, []*attacher{{st: st, opt: opt}}, false)
}

// POST /containers/{name}/wait?condition=not-running|next-exit|removed:
// the headers go at once (the docker CLI waits for them before it
// starts the container), the status when the condition is met.
func (s *Server) containerWait(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	cond := container.WaitCondition(r.URL.Query().Get("condition"))
	switch cond {
	case "":
		cond = container.WaitConditionNotRunning
	case container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid condition: %q", cond))
		return
	}
	ch := s.subscribe(c.ID)
	defer s.unsubscribe(c.ID, ch)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flush(w)
	st, ok := s.waitFor(r.Context(), c, cond, ch)
	if !ok {
		return // the client went away
	}
	resp := container.WaitResponse{StatusCode: int64(st.StatusCode)}
	if st.Error != "" && st.StatusCode == 125 {
		resp.Error = &container.WaitExitError{Message: st.Error}
	}
	writeJSONBody(w, resp)
}

// waitFor waits for cond. This server hears of the containers it starts
// (notice); one that runs is waited for through its monitor; one that
// another program starts (cfs start) is seen by looking at its record
// each second.
func (s *Server) waitFor(ctx context.Context, c *engine.Container, cond container.WaitCondition, ch chan notice) (engine.ExitStatus, bool) {
	record := engine.ExitStatus{StatusCode: c.State.ExitCode}
	if cond == container.WaitConditionNotRunning && !c.Running() {
		return record, true
	}
	dialed := make(chan engine.ExitStatus, 1)
	watching := false
	watch := func() {
		watching = true
		go func() {
			if st, err := s.waitRunning(ctx, c.ID); err == nil {
				dialed <- st
			}
		}()
	}
	if c.Running() {
		watch()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var st engine.ExitStatus
	exited := false
	gone := func() bool {
		_, err := s.e.Resolve(c.ID)
		return errors.Is(err, engine.ErrNotFound)
	}
	for {
		select {
		case n := <-ch:
			if n.exited && !exited {
				st, exited = n.st, true
			}
			if n.removed && cond == container.WaitConditionRemoved {
				return st, true
			}
		case got := <-dialed:
			if s.isFollowing(c.ID) {
				continue // this server's notice says how it ended
			}
			if !exited {
				st, exited = got, true
			}
		case <-tick.C:
			if !exited && s.isFollowing(c.ID) {
				continue // the notice will come
			}
			if !exited {
				// A notice sent before the flag went is queued.
				select {
				case n := <-ch:
					if n.exited {
						st, exited = n.st, true
					}
				default:
				}
			}
			cur, err := s.e.Get(c.ID)
			switch {
			case errors.Is(err, engine.ErrNotFound):
				if !exited {
					st = record // gone, and no one saw its end
				}
				if cond == container.WaitConditionRemoved || !exited {
					return st, true
				}
			case err != nil:
			case cur.Running() && !watching:
				watch()
			case !cur.Running() && !exited && !cur.State.FinishedAt.Equal(c.State.FinishedAt):
				st, exited = engine.ExitStatus{StatusCode: cur.State.ExitCode}, true // ran and ended meanwhile
			}
		case <-ctx.Done():
			return st, false
		}
		if exited && (cond != container.WaitConditionRemoved || gone()) {
			return st, true
		}
	}
}

// waitRunning waits for a running container's exit through its monitor,
// as an attached client with no streams; the client going away detaches.
func (s *Server) waitRunning(ctx context.Context, id string) (engine.ExitStatus, error) {
	att, err := s.e.Attach(id, engine.AttachOptions{})
	if err != nil {
		// Ended meanwhile: its record, once the monitor has written
		// the status, is what the next tick looks at; a guess now
		// could read the record of a container still being taken down.
		return engine.ExitStatus{}, err
	}
	stop := context.AfterFunc(ctx, func() { att.Close() })
	defer stop()
	st, err := att.Copy(nil, io.Discard, io.Discard)
	att.Close()
	if err != nil && ctx.Err() == nil {
		return s.e.Wait(id) // the monitor was killed: the repaired record
	}
	return st, err
}

func (s *Server) subscribe(id string) chan notice {
	ch := make(chan notice, 4)
	s.mu.Lock()
	s.waiters[id] = append(s.waiters[id], ch)
	s.mu.Unlock()
	return ch
}

func (s *Server) unsubscribe(id string, ch chan notice) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.waiters[id]
	for i, have := range list {
		if have == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.waiters, id)
	} else {
		s.waiters[id] = list
	}
}

func (s *Server) notify(id string, n notice) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.waiters[id] {
		select {
		case ch <- n:
		default:
		}
	}
}

// writeJSONBody writes v after headers already sent.
func writeJSONBody(w http.ResponseWriter, v any) {
	writeJSONTo(w, v)
	flush(w)
}

// ---------------------------------------------------------------------------
// logs

// GET /containers/{name}/logs?stdout=1&stderr=1&tail=N&since=T&until=T&follow=1&timestamps=1:
// the json-file log, in frames without a terminal, raw with one.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	wantOut, wantErr := boolParam(r, "stdout"), boolParam(r, "stderr")
	if !wantOut && !wantErr {
		writeError(w, http.StatusBadRequest, "Bad parameters: you must choose at least one stream")
		return
	}
	tail := -1
	if t := r.URL.Query().Get("tail"); t != "" && t != "all" {
		if tail, err = strconv.Atoi(t); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid value for \"tail\": %q is not a number or \"all\"", t))
			return
		}
	}
	// since and until: Unix times, as the client sends them ("0": none).
	opt := engine.LogsOptions{Follow: boolParam(r, "follow"), Tail: tail}
	for key, t := range map[string]*time.Time{"since": &opt.Since, "until": &opt.Until} {
		if v := r.URL.Query().Get(key); v != "" && v != "0" {
			if *t, err = engine.ParseUnixTime(v); err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid value for %q: %q is not a Unix time", key, v))
				return
			}
		}
	}
	timestamps := boolParam(r, "timestamps")
	media := types.MediaTypeMultiplexedStream
	if c.Config.Tty {
		media = types.MediaTypeRawStream
	}
	w.Header().Set("Content-Type", media)
	w.WriteHeader(http.StatusOK)
	flush(w)
	_ = s.e.Logs(r.Context(), c.ID, opt, func(l engine.LogLine) error {
		fd := byte(1)
		if l.Stream == "stderr" {
			fd = 2
		}
		if fd == 1 && !wantOut || fd == 2 && !wantErr {
			return nil
		}
		text := l.Text
		if timestamps {
			text = l.Time.Format(time.RFC3339Nano) + " " + text
		}
		var err error
		if c.Config.Tty {
			_, err = io.WriteString(w, text)
		} else {
			err = writeFrame(w, fd, []byte(text))
		}
		flush(w)
		return err
	})
}

// ---------------------------------------------------------------------------
// stop, restart, kill, pause, unpause, rm, resize

// stopTimeout is ?t=SECONDS (-1: for ever), else the container's own.
func stopTimeout(r *http.Request) time.Duration {
	if t, err := strconv.Atoi(r.URL.Query().Get("t")); err == nil {
		return time.Duration(t) * time.Second
	}
	return engine.ItsOwnTimeout
}

// stopSignal is stop's and restart's signal=SIG (docker stop -s); none
// (0) is the container's own stop signal.
func stopSignal(r *http.Request) (syscall.Signal, error) {
	name := r.URL.Query().Get("signal")
	if name == "" {
		return 0, nil
	}
	sig, err := runtime.ParseSignal(name)
	if err != nil {
		return 0, badRequest("%v", err)
	}
	return sig, nil
}

// POST /containers/{name}/stop?t=T&signal=SIG: 204, or 304 if it was not
// running.
func (s *Server) containerStop(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	if !c.Running() {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	sig, err := stopSignal(r)
	if err != nil {
		fail(w, err)
		return
	}
	if err := s.e.Stop(c.ID, sig, stopTimeout(r)); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// POST /containers/{name}/restart?t=T&signal=SIG: stop, then start as
// /start does.
func (s *Server) containerRestart(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	sig, err := stopSignal(r)
	if err != nil {
		fail(w, err)
		return
	}
	if err := s.e.Stop(c.ID, sig, stopTimeout(r)); err != nil {
		fail(w, err)
		return
	}
	if c, err = s.e.Get(c.ID); err != nil { // a --rm container is gone now
		fail(w, err)
		return
	}
	if err := s.start(c); err != nil {
		fail(w, err)
		return
	}
	s.e.ContainerEvent(c, events.ActionRestart, nil)
	w.WriteHeader(http.StatusNoContent)
}

// POST /containers/{name}/kill?signal=S (a name, with or without SIG, or
// a number; KILL by default).
func (s *Server) containerKill(w http.ResponseWriter, r *http.Request) {
	sig := syscall.SIGKILL
	if v := r.URL.Query().Get("signal"); v != "" {
		var err error
		if sig, err = runtime.ParseSignal(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid signal: %s", v))
			return
		}
	}
	c, err := s.e.Get(r.PathValue("name"))
	if err == nil {
		err = s.e.Kill(c.ID, sig)
	}
	if err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerPause(w http.ResponseWriter, r *http.Request) {
	s.simple(w, r, s.e.Pause)
}

func (s *Server) containerUnpause(w http.ResponseWriter, r *http.Request) {
	s.simple(w, r, s.e.Unpause)
}

// POST /containers/{name}/update: docker update's limits (-m,
// --memory-swap, --memory-reservation, --cpus, -c, --cpu-period,
// --cpu-quota, --cpuset-cpus, --cpuset-mems, --pids-limit) and
// --restart; the others are refused.
func (s *Server) containerUpdate(w http.ResponseWriter, r *http.Request) {
	var u container.UpdateConfig
	if err := decode(w, r, &u); err != nil {
		fail(w, err)
		return
	}
	others := u.Resources
	others.Memory, others.MemorySwap, others.MemoryReservation, others.NanoCPUs, others.CPUShares, others.PidsLimit = 0, 0, 0, 0, 0, nil
	others.CpusetCpus, others.CpusetMems, others.CPUPeriod, others.CPUQuota = "", "", 0, 0
	if !reflect.DeepEqual(others, container.Resources{}) {
		writeError(w, http.StatusNotImplemented, "cfs updates --memory, --memory-swap, --memory-reservation, --cpus, --cpu-shares, --cpu-period, --cpu-quota, --cpuset-cpus, --cpuset-mems, --pids-limit and --restart only: the other options are not supported by cfs")
		return
	}
	c, err := s.e.Get(r.PathValue("name"))
	if err == nil {
		err = s.e.Update(c.ID, u)
	}
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, container.UpdateResponse{Warnings: []string{}})
}

// POST /containers/{name}/rename?name=NEW: 204.
func (s *Server) containerRename(w http.ResponseWriter, r *http.Request) {
	s.simple(w, r, func(id string) error { return s.e.Rename(id, r.URL.Query().Get("name")) })
}

// simple runs an engine call that takes the container and answers 204.
func (s *Server) simple(w http.ResponseWriter, r *http.Request, call func(string) error) {
	c, err := s.e.Get(r.PathValue("name"))
	if err == nil {
		err = call(c.ID)
	}
	if err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// DELETE /containers/{name}?force=1&v=1: 204; 409 if it runs, without
// force; v: its anonymous volumes too.
func (s *Server) containerRemove(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.Get(r.PathValue("name"))
	if err == nil {
		err = s.e.Remove(c.ID, boolParam(r, "force"), boolParam(r, "v"))
	}
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	for _, a := range s.pending[c.ID] { // attached to a start that will not come
		a.st.close()
	}
	delete(s.pending, c.ID)
	s.mu.Unlock()
	s.notify(c.ID, notice{removed: true, st: engine.ExitStatus{StatusCode: c.State.ExitCode}})
	w.WriteHeader(http.StatusNoContent)
}

// POST /containers/{name}/resize?h=H&w=W: the terminal's size, through
// the monitor, which holds the terminal.
func (s *Server) containerResize(w http.ResponseWriter, r *http.Request) {
	h, errH := strconv.ParseUint(r.URL.Query().Get("h"), 10, 16)
	wd, errW := strconv.ParseUint(r.URL.Query().Get("w"), 10, 16)
	if errH != nil || errW != nil {
		writeError(w, http.StatusBadRequest, "resize: h and w must be numbers")
		return
	}
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	if !c.Running() {
		w.WriteHeader(http.StatusOK) // it ended meanwhile: nothing to resize
		return
	}
	att, err := s.e.Attach(c.ID, engine.AttachOptions{})
	if err == nil {
		err = att.Resize(uint16(h), uint16(wd))
		att.Close()
	}
	if err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// ---------------------------------------------------------------------------
// top, stats, export, changes, commit

// GET /containers/{name}/top?ps_args=-ef: the host's ps, the container's
// processes only.
func (s *Server) containerTop(w http.ResponseWriter, r *http.Request) {
	var psArgs []string
	if a := r.URL.Query().Get("ps_args"); a != "" {
		psArgs = strings.Fields(a)
	}
	titles, procs, err := s.e.Top(r.PathValue("name"), psArgs)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, container.TopResponse{Titles: titles, Processes: procs})
}

// GET /containers/{name}/export: its files, as a tar.
func (s *Server) containerExport(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	_ = s.e.Export(c.ID, w)
}

// GET /containers/{name}/changes: what `docker diff` prints.
func (s *Server) containerChanges(w http.ResponseWriter, r *http.Request) {
	changes, err := s.e.Changes(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	out := make([]container.FilesystemChange, len(changes))
	for i, c := range changes {
		out[i] = container.FilesystemChange{Kind: container.ChangeType(c.Kind), Path: c.Path}
	}
	writeJSON(w, http.StatusOK, out)
}

// HEAD /containers/{name}/archive?path=P: what is at P, in the header
// docker cp asks about first.
func (s *Server) archiveStat(w http.ResponseWriter, r *http.Request) {
	st, err := s.e.StatPath(r.PathValue("name"), r.URL.Query().Get("path"))
	if err != nil {
		fail(w, err)
		return
	}
	setPathStat(w, st)
}

// GET /containers/{name}/archive?path=P: P as a tar (docker cp out).
func (s *Server) archiveGet(w http.ResponseWriter, r *http.Request) {
	wrote := false
	err := s.e.CopyFrom(r.PathValue("name"), r.URL.Query().Get("path"), w, func(st engine.PathStat) {
		setPathStat(w, st)
		w.Header().Set("Content-Type", "application/x-tar")
		wrote = true
	})
	if err != nil && !wrote {
		fail(w, err)
	}
}

// PUT /containers/{name}/archive?path=DIR&copyUIDGID=…: the tar in the
// body extracted into DIR (docker cp in).
func (s *Server) archivePut(w http.ResponseWriter, r *http.Request) {
	if err := s.e.CopyTo(r.PathValue("name"), r.URL.Query().Get("path"), r.Body, boolParam(r, "copyUIDGID")); err != nil {
		fail(w, err)
	}
}

// setPathStat is docker's X-Docker-Container-Path-Stat: the stat as
// JSON, in base64.
func setPathStat(w http.ResponseWriter, st engine.PathStat) {
	data, _ := json.Marshal(st)
	w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(data))
}

// POST /commit?container=C&repo=R&tag=T&comment=M&author=A&changes=…
func (s *Server) commit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("repo")
	if name != "" && q.Get("tag") != "" {
		name += ":" + q.Get("tag")
	}
	pause := true
	if v := q.Get("pause"); v != "" {
		pause = boolParam(r, "pause")
	}
	img, err := s.e.Commit(r.Context(), q.Get("container"), engine.CommitOptions{Name: name, Author: q.Get("author"),
		Message: q.Get("comment"), Changes: q["changes"], Pause: pause})
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, common.IDResponse{ID: img.ID.String()})
}
