package runccli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/stretchr/testify/require"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main("cfs-runc", args, os.Stdin, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{nil, 2, "", "Usage: cfs-runc [GLOBAL FLAGS] COMMAND"},
		{[]string{"--help"}, 0, "  create    create a container", ""},
		{[]string{"help"}, 0, "--systemd-cgroup", ""},
		{[]string{"frob"}, 2, "", `cfs-runc: unknown command "frob"` + "\n(see: cfs-runc --help)"},
		{[]string{"--frob", "state", "x"}, 2, "", "flag provided but not defined: -frob"},
		{[]string{"--log-format", "xml", "state", "x"}, 2, "", `--log-format "xml": want text or json`},
		{[]string{"state"}, 2, "", "state: missing the container ID"},
		{[]string{"state", "a", "b"}, 2, "", `state: unexpected argument "b"`},
		{[]string{"kill", "x", "FROB"}, 2, "", `unknown signal "FROB"`},
		{[]string{"create", "--help"}, 0, "Usage: cfs-runc create [--bundle DIR]", ""},
		{[]string{"create", "--help"}, 0, "--pid-file FILE", ""},
		{[]string{"update", "--memory", "lots", "x"}, 2, "", `"lots" is not a size`},
	} {
		code, out, errOut := runCLI(t, tc.args...)
		require.Equal(t, tc.code, code, "%v: %s%s", tc.args, out, errOut)
		require.Contains(t, out, tc.out, tc.args)
		require.Contains(t, errOut, tc.err, tc.args)
	}
}

// --version is runc's three lines, which dockerd parses.
func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "--version")
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	require.Regexp(t, `^cfs-runc version \d+\.\d+\.\d+$`, lines[0])
	require.Regexp(t, `^commit: \S+$`, lines[1])
	require.Regexp(t, `^spec: 1\.2\.\d+$`, lines[2])
}

func TestFeatures(t *testing.T) {
	code, out, _ := runCLI(t, "features")
	require.Equal(t, 0, code)
	var f features.Features
	require.NoError(t, json.Unmarshal([]byte(out), &f))
	require.Equal(t, "1.0.0", f.OCIVersionMin)
	require.Contains(t, f.Hooks, "createRuntime")
	require.Contains(t, f.Linux.Namespaces, "cgroup")
	require.Contains(t, f.Linux.Capabilities, "CAP_SYS_ADMIN")
	require.True(t, *f.Linux.Seccomp.Enabled)
	require.Contains(t, f.MountOptions, "rbind")
}

// spec writes runc's default config.json, and never over an existing one.
func TestSpec(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runCLI(t, "spec", "--bundle", dir)
	require.Equal(t, 0, code, errOut)
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.Contains(t, string(data), `"ociVersion": "1.2.1"`)
	code, _, errOut = runCLI(t, "spec", "--bundle", dir)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "exists: remove it first")
	code, _, _ = runCLI(t, "spec", "--rootless", "-b", t.TempDir())
	require.Equal(t, 0, code)
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"64m": 64 << 20, "64MB": 64 << 20, "1g": 1 << 30, "512k": 512 << 10,
		"100": 100, "1.5m": 3 << 19, "-1": -1, "2GiB": 2 << 30} {
		got, err := ParseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "m", "lots", "-5m"} {
		_, err := ParseSize(bad)
		require.Error(t, err, bad)
	}
}

// The log: one JSON object a line, RFC 3339 time, as containerd's shim
// parses it; logrus's text otherwise.
func TestLog(t *testing.T) {
	var b bytes.Buffer
	l := &logger{w: &b, json: true, now: func() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) }}
	l.Errorf("container %s: %s", "x", `a "quoted" thing`)
	l.Debugf("not shown without --debug")
	require.Equal(t, `{"level":"error","msg":"container x: a \"quoted\" thing","time":"2024-01-02T03:04:05Z"}`+"\n", b.String())
	b.Reset()
	l.json = false
	l.Errorf("oops")
	require.Equal(t, `time="2024-01-02T03:04:05Z" level=error msg="oops"`+"\n", b.String())
}
