package dockercli

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

func TestParseDetachKeys(t *testing.T) {
	for s, want := range map[string][]byte{
		"":               {0x10, 0x11}, // docker's ctrl-p,ctrl-q
		"ctrl-a,d":       {0x01, 'd'},
		"ctrl-@,ctrl-_":  {0x00, 0x1f},
		"ctrl-\\,ctrl-]": {0x1c, 0x1d},
		"x":              {'x'},
	} {
		got, err := parseDetachKeys(s)
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
	}
	for _, s := range []string{"ctrl-1", "ctrl-", "ctrl-A", "ab", "a,,b", "ctrl-p,"} {
		_, err := parseDetachKeys(s)
		require.Error(t, err, s)
		require.Contains(t, err.Error(), "invalid --detach-keys")
	}
}

// The detach keys never reach the container; what only begins like them
// does, whole; nothing after them is read.
func TestDetachReader(t *testing.T) {
	for _, tc := range []struct {
		in, out  string
		detached bool
	}{
		{"ab\x10\x11cd", "ab", true},
		{"a\x10b\x10\x11", "a\x10b", true},
		{"\x10\x10\x11", "\x10", true},
		{"\x10x", "\x10x", false},
		{"plain", "plain", false},
	} {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tc.in)
			if oneByte {
				r = iotest.OneByteReader(r) // a terminal's keys, one read each
			}
			calls := 0
			d := &detachReader{r: r, keys: []byte{0x10, 0x11}, detach: func() { calls++ }}
			got, err := io.ReadAll(d)
			require.Equal(t, tc.out, string(got), "%q", tc.in)
			if tc.detached {
				require.ErrorIs(t, err, errDetached, "%q", tc.in)
				_, err = d.Read(make([]byte, 8))
				require.ErrorIs(t, err, errDetached, "%q", tc.in)
				require.Equal(t, 1, calls, "%q: detach once", tc.in)
			} else {
				require.NoError(t, err, "%q", tc.in)
				require.Zero(t, calls, "%q", tc.in)
			}
		}
	}
}
