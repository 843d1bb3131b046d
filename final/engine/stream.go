package engine

// The monitor's two outputs of a container's stdio: the log, in docker's
// json-file format, and the attach socket's stream to attached clients,
// in docker's multiplexed framing.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Streams of a frame. 0-2 are docker's (stdin, stdout, stderr); the
// others are cfs's own, on the attach socket only.
const (
	streamStdin  = 0
	streamStdout = 1
	streamStderr = 2
	streamReady  = 252 // monitor → client, first: attached, misses nothing from here
	streamHello  = 253 // client → monitor, first: JSON AttachOptions
	streamResize = 254 // client → monitor: "HEIGHT WIDTH"
	streamExit   = 255 // monitor → client, last: JSON ExitStatus
)

// A frame is docker's header (the stream, three zero bytes, the size as
// four big-endian bytes) and the payload: what `docker attach` and the
// API's hijacked streams carry when there is no terminal.
func writeFrame(w io.Writer, stream byte, p []byte) error { return WriteFrame(w, stream, p) }

// WriteFrame writes p as one frame of stream (1 stdout, 2 stderr), as
// the API's streams and logs carry output without a terminal.
func WriteFrame(w io.Writer, stream byte, p []byte) error {
	var hdr [8]byte
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
	_, err := w.Write(append(hdr[:], p...))
	return err
}

// maxFrame bounds a frame read from a socket.
const maxFrame = 1 << 20

func readFrame(r io.Reader) (stream byte, p []byte, err error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes: too large", n)
	}
	p = make([]byte, n)
	_, err = io.ReadFull(r, p)
	return hdr[0], p, err
}

// AttachOptions say which streams a client attaches to.
type AttachOptions struct {
	Stdin, Stdout, Stderr bool
}

// ExitStatus is the last frame: the container's exit.
type ExitStatus struct {
	StatusCode int
	Error      string `json:",omitempty"`
}

// ---------------------------------------------------------------------------
// The json-file log

// logEntry is one line of docker's json-file log.
type logEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// logWriter writes a stream's output as log entries, one per line, as
// docker's json-file driver does; what is left without a newline when the
// stream ends is an entry of its own.
type logWriter struct {
	f      *os.File
	stream string
	buf    []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if err := w.entry(w.buf[:i+1]); err != nil {
			return len(p), err
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) >= 16*1024 { // docker's limit for a partial line
		err := w.entry(w.buf)
		w.buf = w.buf[:0]
		return len(p), err
	}
	return len(p), nil
}

func (w *logWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.entry(w.buf)
	w.buf = nil
	return err
}

func (w *logWriter) entry(line []byte) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(logEntry{Log: string(line), Stream: w.stream, Time: time.Now().UTC()}); err != nil {
		return err
	}
	_, err := w.f.Write(b.Bytes()) // O_APPEND: one write, one whole line
	return err
}

// LogLine is one entry read back from the log.
type LogLine struct {
	Stream string
	Time   time.Time
	Text   string
}

// readLog reads the log's entries from r; a torn last line (a monitor
// killed while writing) is skipped.
func readLog(r io.Reader, each func(LogLine) error) error {
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var e logEntry
			if json.Unmarshal(line, &e) == nil {
				if err := each(LogLine{Stream: e.Stream, Time: e.Time, Text: e.Log}); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// tailStart returns the offset of the last n lines of the file (all with
// n < 0), reading it backwards.
func tailStart(f *os.File, n int) (int64, error) {
	if n < 0 {
		return 0, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	pos, count := size, 0
	buf := make([]byte, 32*1024)
	for pos > 0 {
		chunk := int64(len(buf))
		if pos < chunk {
			chunk = pos
		}
		pos -= chunk
		if _, err := f.ReadAt(buf[:chunk], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := chunk - 1; i >= 0; i-- {
			if buf[i] != '\n' || pos+i == size-1 {
				continue
			}
			count++
			if count == n {
				return pos + i + 1, nil
			}
		}
	}
	if n == 0 {
		return size, nil
	}
	return 0, nil
}

func streamName(s byte) string {
	if s == streamStderr {
		return "stderr"
	}
	return "stdout"
}

func parseSize(s string) (h, w uint16, ok bool) {
	var a, b uint16
	if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d %d", &a, &b); err != nil {
		return 0, 0, false
	}
	return a, b, true
}
