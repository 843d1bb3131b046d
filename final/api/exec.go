package api

// Exec: docker exec in three requests. POST /containers/{name}/exec
// keeps what to run and answers an ID; POST /exec/{id}/start runs it on
// a hijacked stream (or detached); GET /exec/{id}/json says how it ended,
// which becomes the CLI's exit status.

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"cfs/final/engine"
	"cfs/final/runtime"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"
)

// execJob is one exec: what to run, then its process and its end.
type execJob struct {
	id  string
	ctr *engine.Container
	req container.ExecCreateRequest

	mu       sync.Mutex
	started  bool
	running  bool
	pid      int
	exitCode *int
	master   *os.File // its terminal, with Tty
	size     *[2]uint // a resize that came before the terminal did
}

// keepExec is how long an exec is remembered after its end, for the
// inspect that follows it.
const keepExec = 5 * time.Minute

// POST /containers/{name}/exec: 201 {Id}.
func (s *Server) execCreate(w http.ResponseWriter, r *http.Request) {
	var req container.ExecCreateRequest
	if err := decode(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	switch {
	case len(req.Cmd) == 0:
		writeError(w, http.StatusBadRequest, "No exec command specified")
		return
	case !c.Running():
		writeError(w, http.StatusConflict, fmt.Sprintf("container %s is not running", c.ID))
		return
	case c.State.Status == engine.Paused:
		writeError(w, http.StatusConflict, fmt.Sprintf("container %s is paused, unpause the container before exec", c.ID))
		return
	}
	for _, kv := range req.Env {
		if kv == "" || kv[0] == '=' {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid environment variable: %q", kv))
			return
		}
	}
	job := &execJob{id: engine.NewID(), ctr: c, req: req}
	s.mu.Lock()
	s.execs[job.id] = job
	s.mu.Unlock()
	s.e.ContainerEvent(c, events.ActionExecCreate, map[string]string{"execID": job.id})
	writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: job.id})
}

func (s *Server) exec(id string) (*execJob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if job, ok := s.execs[id]; ok {
		return job, nil
	}
	return nil, &httpError{code: http.StatusNotFound, msg: "No such exec instance: " + id}
}

// POST /exec/{id}/start: the body says Detach and Tty. Attached, the
// answer is 101 and the process's stdio; a process that cannot start
// says why on the stream and ends 126 or 127, as docker's does.
func (s *Server) execStart(w http.ResponseWriter, r *http.Request) {
	var req container.ExecStartRequest
	if err := decode(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	job, err := s.exec(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	job.mu.Lock()
	if job.started {
		job.mu.Unlock()
		writeError(w, http.StatusConflict, fmt.Sprintf("exec %s has already been started", job.id))
		return
	}
	job.started = true
	job.mu.Unlock()
	tty := job.req.Tty
	opt := engine.ExecOptions{Cmd: job.req.Cmd, Env: job.req.Env, WorkingDir: job.req.WorkingDir, User: job.req.User, Tty: tty && !req.Detach}
	s.e.ContainerEvent(job.ctr, events.ActionExecStart, map[string]string{"execID": job.id})

	if req.Detach {
		proc, err := s.e.Exec(job.ctr.ID, opt)
		if err != nil {
			s.execEnded(job, exitOf(err))
			fail(w, err)
			return
		}
		job.begin(proc.Pid, nil)
		go func() { code, _ := proc.Wait(); s.execEnded(job, code) }()
		w.WriteHeader(http.StatusOK)
		return
	}

	st, err := hijack(w, r, tty)
	if err != nil {
		s.execEnded(job, 125)
		return
	}
	if tty {
		s.execTerminal(job, st, opt, req.ConsoleSize)
	} else {
		s.execPipes(job, st, opt)
	}
}

// exitOf is the status of an exec that could not start.
func exitOf(err error) int {
	var se *engine.StartError
	if errors.As(err, &se) {
		return se.Code
	}
	return 126
}

func (job *execJob) begin(pid int, master *os.File) {
	job.mu.Lock()
	job.running, job.pid, job.master = true, pid, master
	if master != nil && job.size != nil {
		// An older client (API < 1.42, Debian's docker 20.10) sends no
		// ConsoleSize: its first resize can come before the terminal.
		_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(job.size[0]), Col: uint16(job.size[1])})
	}
	job.mu.Unlock()
}

// execEnded records the exit status, then forgets the exec a while later.
func (s *Server) execEnded(job *execJob, code int) {
	job.mu.Lock()
	job.running, job.exitCode = false, &code
	job.mu.Unlock()
	s.e.ContainerEvent(job.ctr, events.ActionExecDie, map[string]string{"execID": job.id, "exitCode": strconv.Itoa(code)})
	time.AfterFunc(keepExec, func() {
		s.mu.Lock()
		delete(s.execs, job.id)
		s.mu.Unlock()
	})
}

// execPipes runs the process with pipes for its stdio, copied to and
// from the stream in frames. The status is recorded before the stream
// closes: the CLI asks for it as soon as the stream ends.
func (s *Server) execPipes(job *execJob, st *stream, opt engine.ExecOptions) {
	defer st.close()
	var outs []*os.File // the read ends
	var theirs []*os.File
	defer func() {
		for _, f := range theirs {
			f.Close()
		}
	}()
	pipe := func(want bool, fd byte) (*os.File, error) {
		if !want {
			return nil, nil
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		theirs = append(theirs, w)
		outs = append(outs, r)
		return w, nil
	}
	var err error
	if opt.Stdout, err = pipe(job.req.AttachStdout, 1); err == nil {
		opt.Stderr, err = pipe(job.req.AttachStderr, 2)
	}
	var stdinW *os.File
	if err == nil && job.req.AttachStdin {
		var r *os.File
		if r, stdinW, err = os.Pipe(); err == nil {
			opt.Stdin = r
			theirs = append(theirs, r)
		}
	}
	if err != nil {
		st.write(2, []byte(err.Error()+"\n"))
		s.execEnded(job, 126)
		return
	}
	proc, err := s.e.Exec(job.ctr.ID, opt)
	for _, f := range theirs {
		f.Close() // the process has its own copies
	}
	theirs = nil
	if err != nil {
		for _, f := range outs {
			f.Close()
		}
		if stdinW != nil {
			stdinW.Close()
		}
		st.write(2, []byte(err.Error()+"\n"))
		s.execEnded(job, exitOf(err))
		return
	}
	job.begin(proc.Pid, nil)
	if stdinW != nil {
		go func() { _, _ = io.Copy(stdinW, st.in); stdinW.Close() }()
	}
	var copying sync.WaitGroup
	fds := []byte{}
	if job.req.AttachStdout {
		fds = append(fds, 1)
	}
	if job.req.AttachStderr {
		fds = append(fds, 2)
	}
	for i, f := range outs {
		copying.Add(1)
		go func(f *os.File, fd byte) {
			defer copying.Done()
			_, _ = io.Copy(st.writer(fd), f)
			f.Close()
		}(f, fds[i])
	}
	code, _ := proc.Wait()
	// The output ends when the last holder of the pipes closes them; a
	// process left in the background may hold them: wait a little only.
	waitTimeout(&copying, 2*time.Second)
	s.execEnded(job, code)
}

// execTerminal runs the process on a terminal whose master the runtime
// sends back; the stream is raw both ways.
func (s *Server) execTerminal(job *execJob, st *stream, opt engine.ExecOptions, size *[2]uint) {
	defer st.close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		st.write(1, []byte(err.Error()+"\r\n"))
		s.execEnded(job, 126)
		return
	}
	opt.ConsoleConn = os.NewFile(uintptr(fds[0]), "console")
	console := os.NewFile(uintptr(fds[1]), "console")
	defer console.Close()
	proc, err := s.e.Exec(job.ctr.ID, opt)
	opt.ConsoleConn.Close()
	if err != nil {
		st.write(1, []byte(err.Error()+"\r\n"))
		s.execEnded(job, exitOf(err))
		return
	}
	master, err := runtime.RecvConsole(console)
	if err != nil {
		_, _ = proc.Wait()
		s.execEnded(job, 126)
		return
	}
	defer master.Close()
	if size == nil {
		size = job.req.ConsoleSize
	}
	if size != nil && size[0] > 0 && size[1] > 0 {
		_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(size[0]), Col: uint16(size[1])})
	}
	job.begin(proc.Pid, master)
	if job.req.AttachStdin {
		go func() { _, _ = io.Copy(master, st.in) }()
	}
	_, _ = io.Copy(st.writer(1), master) // ends with EIO once the process closes its side
	code, _ := proc.Wait()
	s.execEnded(job, code)
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// POST /exec/{id}/resize?h=H&w=W: the exec's terminal's size.
func (s *Server) execResize(w http.ResponseWriter, r *http.Request) {
	job, err := s.exec(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	h, errH := strconv.ParseUint(r.URL.Query().Get("h"), 10, 16)
	wd, errW := strconv.ParseUint(r.URL.Query().Get("w"), 10, 16)
	if errH != nil || errW != nil {
		writeError(w, http.StatusBadRequest, "resize: h and w must be numbers")
		return
	}
	job.mu.Lock()
	defer job.mu.Unlock()
	if job.master != nil && job.running {
		_ = unix.IoctlSetWinsize(int(job.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(h), Col: uint16(wd)})
	} else if !job.running && job.exitCode == nil {
		job.size = &[2]uint{uint(h), uint(wd)}
	}
	w.WriteHeader(http.StatusOK)
}

// GET /exec/{id}/json: Running, Pid, ExitCode (null while it runs).
func (s *Server) execInspect(w http.ResponseWriter, r *http.Request) {
	job, err := s.exec(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	job.mu.Lock()
	defer job.mu.Unlock()
	args := []string{}
	if len(job.req.Cmd) > 1 {
		args = job.req.Cmd[1:]
	}
	writeJSON(w, http.StatusOK, container.ExecInspectResponse{
		ID: job.id, Running: job.running, ExitCode: job.exitCode, Pid: job.pid, ContainerID: job.ctr.ID,
		OpenStdin: job.req.AttachStdin, OpenStdout: job.req.AttachStdout, OpenStderr: job.req.AttachStderr,
		ProcessConfig: &container.ExecProcessConfig{Tty: job.req.Tty, Entrypoint: job.req.Cmd[0], Arguments: args, User: job.req.User},
	})
}
