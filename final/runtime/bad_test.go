package runtime_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cfs/final/cgroups"
	"cfs/internal/stagetest"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
)

// A bundle the runtime cannot run gets a clear error, exit status 1, and
// leaves nothing: no process, cgroup, mount or state.
func TestBadBundles(t *testing.T) {
	r := newRT(t)
	// A cgroup that exists already: someone else's.
	taken := "/cfs-test-taken-" + strings.TrimPrefix(r.id(), "cfs-")
	m, err := cgroups.New(taken)
	require.NoError(t, err)
	require.NoError(t, m.Create())
	t.Cleanup(func() { _ = m.Destroy() })

	for _, tc := range []struct {
		name string
		edit func(*specs.Spec, string)
		want string
	}{
		{"missing root", func(s *specs.Spec, _ string) { s.Root.Path = "nowhere" }, `root.path "nowhere": `},
		{"ociVersion", func(s *specs.Spec, _ string) { s.Version = "2.0.0" }, `unsupported ociVersion "2.0.0"`},
		{"namespace type", func(s *specs.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "frob"})
		}, `unknown namespace type "frob"`},
		{"relative destination", func(s *specs.Spec, _ string) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "tmp", Type: "tmpfs", Source: "tmpfs"})
		}, `destination "tmp" must be an absolute path`},
		{"failing hook", func(s *specs.Spec, _ string) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo no way; exit 3"}}}}
		}, `createRuntime hook 0 (/bin/sh) failed: exit status 3: no way`},
		{"failing container hook", func(s *specs.Spec, _ string) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/false"}}}
		}, `createContainer hook 0 (/bin/false) failed`},
		{"cgroup of someone else", func(s *specs.Spec, _ string) { s.Linux.CgroupsPath = taken }, `already exists: another container or program uses it`},
		{"unknown capability", func(s *specs.Spec, _ string) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_FROB")
		}, `unknown capability "CAP_FROB"`},
		{"bad mount", func(s *specs.Spec, _ string) {
			// A mount point no root filesystem has: a used machine's
			// shared root may hold a file /x (chapter 03's touch /x).
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/cfs-bad-mount", Type: "nosuchfs", Source: "x"})
		}, `mount x on /cfs-bad-mount (type nosuchfs`},
		{"no program", func(s *specs.Spec, _ string) { s.Process.Args = []string{"/no/such/program"} }, `exec "/no/such/program": executable file not found`},
		{"apparmor", func(s *specs.Spec, _ string) { s.Process.ApparmorProfile = "docker-default" }, `AppArmor is not supported`},
		{"sysctl of the host", func(s *specs.Spec, _ string) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} }, `vm.swappiness is not namespaced`},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			before := stagetest.Snapshot()
			b := bundle(t, []string{"true"}, nil)
			var s specs.Spec
			data, _ := os.ReadFile(filepath.Join(b, "config.json"))
			require.NoError(t, json.Unmarshal(data, &s))
			tc.edit(&s, b)
			writeSpec(t, b, &s)
			id := r.id()
			logFile := filepath.Join(t.TempDir(), "log.json")
			res := r.run("--log", logFile, "--log-format", "json", "create", "--bundle", b, id)
			require.Equal(t, 1, res.code)
			require.Contains(t, res.stderr, tc.want)
			require.NoDirExists(t, filepath.Join(r.root, id), "no state")
			for _, d := range cgroupDirs(t, id) {
				require.NoDirExists(t, d, "no cgroup")
			}
			require.Empty(t, stagetest.Snapshot().NewSince(before), "nothing left on the host")
			// The log's last line is the error, as containerd's shim reads it.
			line := lastLine(t, logFile)
			var l struct{ Level, Msg, Time string }
			require.NoError(t, json.Unmarshal([]byte(line), &l), line)
			require.Equal(t, "error", l.Level)
			require.Contains(t, l.Msg, tc.want)
			_, err := time.Parse(time.RFC3339, l.Time)
			require.NoError(t, err)
		})
	}
}

func lastLine(t *testing.T, path string) string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	last := ""
	s := bufio.NewScanner(f)
	for s.Scan() {
		last = s.Text()
	}
	return last
}

// Hooks run at their points of the lifecycle, each with the state on its
// stdin: the runtime's on the host, the container's inside.
func TestHooks(t *testing.T) {
	r := newRT(t)
	_, root := setup(t)
	dir := t.TempDir()
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + filepath.Join(dir, name)}}
	}
	b := bundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{hook("prestart")},
			CreateRuntime:   []specs.Hook{hook("createRuntime")},
			CreateContainer: []specs.Hook{hook("createContainer")},
			// Inside the container, after pivot_root: its own /tmp.
			StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > /tmp/startContainer"}}},
			Poststart:      []specs.Hook{hook("poststart")},
			Poststop:       []specs.Hook{hook("poststop")},
		}
		s.Root.Readonly = false
	})
	id := r.id()
	res := r.run("run", "--bundle", b, id)
	require.Equal(t, 0, res.code, res.stderr)
	files := map[string]string{"prestart": "creating", "createRuntime": "creating", "createContainer": "created",
		"poststart": "running", "poststop": "stopped"}
	for name, status := range files {
		var st specs.State
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err, name)
		require.NoError(t, json.Unmarshal(data, &st), name)
		require.Equal(t, id, st.ID, name)
		require.Equal(t, b, st.Bundle, name)
		require.Equal(t, status, string(st.Status), name)
		require.NotZero(t, st.Pid, name)
	}
	data, err := os.ReadFile(filepath.Join(root, "tmp/startContainer"))
	require.NoError(t, err)
	os.Remove(filepath.Join(root, "tmp/startContainer"))
	require.Contains(t, string(data), `"status":"running"`)
}
