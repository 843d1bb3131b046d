package dockercli

// Detaching from a container's terminal, as docker does: in `run -it`,
// `start -ai` and `attach`, the keys Ctrl-P Ctrl-Q (or --detach-keys)
// leave the container running and end the command with status 0. The keys
// never reach the container; a Ctrl-P that another key follows reaches it
// with that key, as in docker. `attach` types into the terminal again.

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// defaultDetachKeys is docker's sequence.
const defaultDetachKeys = "ctrl-p,ctrl-q"

// detachKeysUsage is the flag's help, as docker's.
const detachKeysUsage = "override the key sequence for detaching a container"

// parseDetachKeys reads docker's format: keys separated by commas, each a
// single character or ctrl- and one of a-z @ [ \ ] ^ _ (the control
// characters a terminal sends for them). "" is the default.
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		s = defaultDetachKeys
	}
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			keys = append(keys, k[0])
		case len(k) == len("ctrl-x") && strings.HasPrefix(k, "ctrl-"):
			c := k[len("ctrl-")]
			switch {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case strings.IndexByte(`@[\]^_`, c) >= 0:
				keys = append(keys, c-'@') // ctrl-@ is 0, ctrl-_ 31
			default:
				return nil, badDetachKeys(s, k)
			}
		default:
			return nil, badDetachKeys(s, k)
		}
	}
	return keys, nil
}

func badDetachKeys(s, k string) error {
	return &statusError{code: 125, msg: fmt.Sprintf("invalid --detach-keys %q: %q is neither one character nor ctrl- and one of a-z @ [ \\ ] ^ _ (docker's default: %s)", s, k, defaultDetachKeys)}
}

// errDetached ends the input when the detach keys were read.
var errDetached = errors.New("read escape sequence")

// detachReader passes on what r reads, but for the detach keys: the bytes
// that may begin them are held until the next one says; once all of them
// have come, it reads no more, calls detach and returns errDetached.
type detachReader struct {
	r      io.Reader
	keys   []byte
	detach func()
	held   int    // how many of keys the input ends with
	out    []byte // read, to pass on
	done   bool   // the keys came: errDetached once out is passed on
}

func (d *detachReader) Read(p []byte) (int, error) {
	for len(d.out) == 0 && !d.done {
		buf := make([]byte, len(p))
		n, err := d.r.Read(buf)
		for _, b := range buf[:n] {
			if d.done {
				break // what follows the keys is not the container's
			}
			if b != d.keys[d.held] {
				// Not the keys after all: what was held goes on.
				d.out = append(d.out, d.keys[:d.held]...)
				d.held = 0
			}
			if b == d.keys[d.held] {
				d.held++
				d.done = d.held == len(d.keys)
				continue
			}
			d.out = append(d.out, b)
		}
		if err != nil && len(d.out) == 0 {
			return 0, err
		}
	}
	if len(d.out) == 0 {
		if d.detach != nil {
			d.detach()
			d.detach = nil
		}
		return 0, errDetached
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}
