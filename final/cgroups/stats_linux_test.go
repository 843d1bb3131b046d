package cgroups

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeFiles writes a cgroup's files into dir, as the kernel would show
// them, so that Stats can be read without root (as opencontainers/cgroups'
// fs/util_test.go does).
func fakeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
}

// named is a value at a path of JSON names ("memory.usage.limit"); nil:
// left out.
type named struct {
	path string
	want any
}

// requireNames checks Stats in JSON, with the names runc's types.Stats
// gives `events` (and go-runc decodes).
func requireNames(t *testing.T, s *Stats, want []named) {
	t.Helper()
	data, err := json.Marshal(s)
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(data, &v))
	for _, w := range want {
		var at any = v
		for _, name := range strings.Split(w.path, ".") {
			m, _ := at.(map[string]any)
			at = m[name]
		}
		require.Equal(t, w.want, at, w.path)
	}
}

func TestStatsV1(t *testing.T) {
	root := t.TempDir()
	dirs := map[string]string{}
	for _, c := range []string{"cpu", "cpuacct", "memory", "pids"} {
		dirs[c] = filepath.Join(root, c, "cfs-runtime", "x")
	}
	fakeFiles(t, dirs["cpuacct"], map[string]string{
		"cpuacct.usage": "300\n", "cpuacct.usage_percpu": "100 200 \n", "cpuacct.stat": "user 2\nsystem 1\n",
	})
	fakeFiles(t, dirs["cpu"], map[string]string{"cpu.stat": "nr_periods 5\nnr_throttled 1\nthrottled_time 7\n"})
	fakeFiles(t, dirs["memory"], map[string]string{
		"memory.usage_in_bytes": "4096\n", "memory.max_usage_in_bytes": "8192\n",
		"memory.limit_in_bytes": "33554432\n", "memory.failcnt": "0\n",
		"memory.memsw.usage_in_bytes": "5000\n", "memory.memsw.max_usage_in_bytes": "9000\n",
		"memory.memsw.limit_in_bytes": "33554432\n", "memory.memsw.failcnt": "2\n",
		"memory.stat": "cache 1024\nrss 3072\n",
	})
	fakeFiles(t, dirs["pids"], map[string]string{"pids.current": "3\n", "pids.max": "max\n"})
	s, err := (&v1{state: State{Version: 1, Dirs: dirs}}).Stats()
	require.NoError(t, err)
	requireNames(t, s, []named{
		{"cpu.usage.total", 300.0},
		{"cpu.usage.percpu", []any{100.0, 200.0}},
		{"cpu.usage.user", 2e7},
		{"cpu.usage.kernel", 1e7},
		{"cpu.throttling.throttledPeriods", 1.0},
		{"memory.cache", 1024.0},
		{"memory.usage.usage", 4096.0},
		{"memory.usage.max", 8192.0},
		{"memory.usage.limit", 33554432.0},
		{"memory.usage.failcnt", 0.0}, // runc prints it, 0 too
		{"memory.swap.usage", 5000.0},
		{"memory.swap.failcnt", 2.0},
		{"memory.raw.rss", 3072.0},
		{"pids.current", 3.0},
		{"pids.limit", nil}, // max: no limit, left out as runc does
	})
}

func TestStatsV2(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfs-runtime", "x")
	fakeFiles(t, dir, map[string]string{
		"cpu.stat":       "usage_usec 3\nuser_usec 2\nsystem_usec 1\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
		"memory.current": "4096\n", "memory.peak": "8192\n", "memory.max": "max\n",
		"memory.events":       "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
		"memory.swap.current": "100\n", "memory.swap.max": "0\n",
		"memory.stat":  "anon 3072\nfile 1024\n",
		"pids.current": "2\n", "pids.max": "40\n",
	})
	s, err := (&v2{state: State{Version: 2, Dirs: map[string]string{"": dir}}}).Stats()
	require.NoError(t, err)
	requireNames(t, s, []named{
		{"cpu.usage.total", 3000.0},
		{"cpu.usage.user", 2000.0},
		{"cpu.usage.kernel", 1000.0},
		{"cpu.usage.percpu", nil},
		{"memory.cache", 1024.0},
		{"memory.usage.usage", 4096.0},
		{"memory.usage.max", 8192.0},
		{"memory.usage.limit", float64(math.MaxUint64)}, // max: as runc reports it
		{"memory.usage.failcnt", 4.0},
		{"memory.swap.usage", 4196.0}, // swap and memory, as v1 counts
		{"memory.swap.limit", float64(math.MaxUint64)},
		{"pids.current", 2.0},
		{"pids.limit", 40.0},
	})
	require.EqualValues(t, uint64(math.MaxUint64), s.Memory.Usage.Limit)
}
