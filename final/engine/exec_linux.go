package engine

// Exec: another process in a running container, with the runtime's Exec
// (setns into each of the init's namespaces, stage 01's exercise, and the
// container's cgroup). The caller is the process's parent: docker exec
// waits for it; exec -d leaves it to the container.

import (
	"fmt"
	"os"
	"path/filepath"

	"cfs/final/runtime"
)

// ExecOptions are docker exec's.
type ExecOptions struct {
	Cmd        []string
	Env        []string // -e, over the container's
	WorkingDir string   // -w; "" is the container's
	User       string   // -u; "" is the container's
	Tty        bool     // -t: a terminal, sent on ConsoleConn
	// The process's stdio, without a terminal; nil is /dev/null.
	Stdin, Stdout, Stderr *os.File
	ConsoleConn           *os.File
}

// Exec starts opt.Cmd in the running container arg names.
func (e *Engine) Exec(arg string, opt ExecOptions) (*runtime.Process, error) {
	c, err := e.Get(arg)
	if err != nil {
		return nil, err
	}
	if !c.Running() {
		return nil, &ConflictError{Msg: fmt.Sprintf("container %s is not running", c.ID)}
	}
	if c.State.Status == Paused {
		return nil, &ConflictError{Msg: fmt.Sprintf("container %s is paused, unpause the container before exec", c.ID)}
	}
	if len(opt.Cmd) == 0 {
		return nil, fmt.Errorf("no command specified")
	}
	rc, err := e.runtime().Get(c.ID)
	if err != nil {
		return nil, err
	}
	base := rc.Config().Process
	p := *base
	p.Args = opt.Cmd
	p.Terminal = opt.Tty
	p.ConsoleSize = nil
	env := append([]string(nil), base.Env...)
	for _, kv := range opt.Env {
		env = setEnv(env, kv)
	}
	if opt.Tty && !hasEnv(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	p.Env = env
	if opt.WorkingDir != "" {
		p.Cwd = opt.WorkingDir
	}
	if opt.User != "" {
		img, err := e.Images.Get(c.ImageID)
		if err != nil {
			return nil, err
		}
		layers := append([]string{filepath.Join(e.Dir(c.ID), "upper")}, img.LowerDirs()...)
		u, err := resolveUser(opt.User, layers)
		if err != nil {
			return nil, err
		}
		p.User = u
		// HOME is the exec'd user's, unless the container or -e sets one.
		if !hasEnv(c.Config.Env, "HOME") && !hasEnv(opt.Env, "HOME") {
			p.Env = setEnv(p.Env, withHome(nil, u.UID, layers)...)
		}
	}
	eo := runtime.ExecOptions{Stdin: opt.Stdin, Stdout: opt.Stdout, Stderr: opt.Stderr, ConsoleConn: opt.ConsoleConn}
	if !opt.Tty {
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		defer null.Close()
		for _, f := range []**os.File{&eo.Stdin, &eo.Stdout, &eo.Stderr} {
			if *f == nil {
				*f = null
			}
		}
	}
	proc, err := rc.Exec(&p, eo)
	if err != nil {
		return nil, startError(err.Error())
	}
	return proc, nil
}
