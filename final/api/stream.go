package api

// The hijacked stream: how attach and exec carry a process's stdio over
// HTTP. The server answers 101 and the HTTP connection becomes a plain
// byte stream both ways. Input goes up raw; output comes down raw with a
// terminal (a terminal merges stdout and stderr), and without one in
// frames, each with an 8-byte header that says which stream it is:
//
//	+--------+--------+--------+--------+--------+--------+--------+--------+
//	| stream |   0    |   0    |   0    |      size, big-endian uint32      |
//	+--------+--------+--------+--------+--------+--------+--------+--------+
//	  1 = stdout, 2 = stderr             followed by size bytes of output

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"cfs/final/engine"

	"github.com/moby/moby/api/types"
)

// stream is one hijacked connection.
type stream struct {
	conn net.Conn
	in   *bufio.Reader // input, with what the HTTP server had buffered
	out  *bufio.Writer // for the 101 only; output goes to conn
	tty  bool          // raw output, not framed

	mu     sync.Mutex
	broken bool // a write failed: the client went away
}

// hijack answers 101 and takes the connection over from the HTTP server.
func hijack(w http.ResponseWriter, r *http.Request, tty bool) (*stream, error) {
	st, err := takeOver(w, tty)
	if err != nil {
		return nil, err
	}
	return st, st.upgraded()
}

// takeOver takes the connection from the HTTP server, before the answer:
// a client attached before a start must be known before it hears 101,
// after which it sends the start.
func takeOver(w http.ResponseWriter, tty bool) (*stream, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, fmt.Errorf("the connection cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	// The server's deadlines (the header timeout) no longer apply: the
	// stream lasts as long as the process.
	_ = conn.SetDeadline(time.Time{})
	return &stream{conn: conn, in: rw.Reader, out: rw.Writer, tty: tty}, nil
}

// upgraded answers 101: from here on the connection is the stream.
func (s *stream) upgraded() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	media := types.MediaTypeRawStream
	if !s.tty {
		media = types.MediaTypeMultiplexedStream
	}
	fmt.Fprintf(s.out, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: %s\r\n\r\n", media, APIVersion)
	if err := s.out.Flush(); err != nil {
		s.conn.Close()
		s.broken = true
		return err
	}
	return nil
}

// write sends output of one stream (1 stdout, 2 stderr): raw with a
// terminal, else in a frame. A client that went away is not an error for
// the container: its output still goes to the log.
func (s *stream) write(fd byte, p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	var err error
	if s.tty {
		_, err = s.conn.Write(p)
	} else {
		err = writeFrame(s.conn, fd, p)
	}
	if err != nil {
		s.broken = true
	}
}

// isBroken reports whether a write failed: the client is gone.
func (s *stream) isBroken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken
}

// writer is one of the stream's outputs as an io.Writer.
func (s *stream) writer(fd byte) io.Writer {
	return writerFunc(func(p []byte) (int, error) { s.write(fd, p); return len(p), nil })
}

// close ends the stream: the client sees EOF.
func (s *stream) close() { s.conn.Close() }

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// writeFrame writes p as one frame of stream fd: the engine's, which
// the monitor's attach socket speaks too.
func writeFrame(w io.Writer, fd byte, p []byte) error { return engine.WriteFrame(w, fd, p) }
