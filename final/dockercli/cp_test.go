package dockercli

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// docker cp's rules for its arguments and for where a copy lands.
func TestCopyRules(t *testing.T) {
	for arg, want := range map[string][2]string{
		"web:/etc/hosts": {"web", "/etc/hosts"},
		"web:etc":        {"web", "etc"},
		"/tmp/a:b":       {"", "/tmp/a:b"}, // absolute: the host's
		"./a:b":          {"", "./a:b"},    // starts with ".": the host's
		"file":           {"", "file"},
		"-":              {"", "-"},
	} {
		ctr, p := splitCpArg(arg)
		require.Equal(t, want, [2]string{ctr, p}, arg)
	}

	for _, c := range []struct {
		srcIsDir, exists, isDir bool
		dst, dir, name, err     string
	}{
		{false, true, true, "/d", "/d", "", ""},     // into a directory, its own name
		{true, true, true, "/d", "/d", "", ""},      // a directory into one
		{false, true, false, "/d/f", "/d", "f", ""}, // a file replaced
		{true, true, false, "/d/f", "", "", "cannot copy a directory onto the file /d/f"},
		{true, false, false, "/d/new", "/d", "new", ""},                       // a directory of a new name
		{false, false, false, "/d/new", "/d", "new", ""},                      // a file of a new name
		{false, false, false, "/d/new/", "", "", "no such directory /d/new/"}, // "/": must be a directory
	} {
		dir, name, err := landing(c.srcIsDir, c.dst, c.exists, c.isDir)
		if c.err != "" {
			require.ErrorContains(t, err, c.err, c.dst)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, [2]string{c.dir, c.name}, [2]string{dir, name}, c)
	}

	for _, c := range []struct{ old, new, in, want string }{
		{"dir", "new", "dir/", "new"},
		{"dir", "new", "dir/sub/f", "new/sub/f"},
		{"dir", "new", "dirty", "dirty"}, // a name that only starts the same
		{".", "new", "./", "new"},        // DIR/.: what is in it, under the new name
		{".", "new", "./f", "new/f"},
		{"f", "f", "f", "f"},
	} {
		require.Equal(t, c.want, rebase(c.old, c.new)(c.in), c)
	}

	for _, c := range [][3]string{{"d/.", "/x/d", "/x/d/."}, {"d/", "/x/d", "/x/d/"}, {"d", "/x/d", "/x/d"}, {".", "/x", "/x/."}, {"/", "/", "/"}} {
		require.Equal(t, c[2], keepTrailing(c[0], c[1]), c[0])
	}
}
