package runccli

// The runtime's log (--log, --log-format). containerd's shim passes
// --log BUNDLE/log.json --log-format json and, when a command fails,
// shows the last line whose level is "error" instead of the exit status:
// so every line is one JSON object with level, msg and an RFC 3339 time.

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

type logger struct {
	w      io.Writer // nil: no --log
	json   bool
	debug  bool
	now    func() time.Time
	closer io.Closer
}

func (l *logger) log(level, msg string) {
	if l.w == nil || (level == "debug" && !l.debug) {
		return
	}
	t := l.now().UTC().Format(time.RFC3339Nano)
	if l.json {
		data, _ := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, t})
		fmt.Fprintf(l.w, "%s\n", data)
		return
	}
	// logrus's text format, as runc writes it.
	fmt.Fprintf(l.w, "time=%q level=%s msg=%s\n", t, level, strconv.Quote(msg))
}

func (l *logger) Debugf(format string, a ...any) { l.log("debug", fmt.Sprintf(format, a...)) }
func (l *logger) Errorf(format string, a ...any) { l.log("error", fmt.Sprintf(format, a...)) }
func (l *logger) Warnf(format string, a ...any)  { l.log("warning", fmt.Sprintf(format, a...)) }
