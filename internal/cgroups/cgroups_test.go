package cgroups

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "10b": 10, "4k": 4096, "64m": 64 << 20, "1g": 1 << 30, "1.5G": 3 << 29, " 8M ": 8 << 20} {
		got, err := ParseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "12zz", "m", "-1m", "0", "abc", "1kk", "nan", "inf", "NaNm"} {
		_, err := ParseSize(bad)
		require.Error(t, err, bad)
	}
}

func TestCPUQuota(t *testing.T) {
	require.Equal(t, int64(50000), CPUQuota(0.5))
	require.Equal(t, int64(150000), CPUQuota(1.5))
	require.Equal(t, int64(1000), CPUQuota(0.01))
}

func TestV1Mounts(t *testing.T) {
	mi := filepath.Join(t.TempDir(), "mountinfo")
	require.NoError(t, os.WriteFile(mi, []byte(`30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`), 0o644))
	m, err := V1Mounts(mi)
	require.NoError(t, err)
	require.Equal(t, "/sys/fs/cgroup/cpu,cpuacct", m["cpu"])
	require.Equal(t, "/sys/fs/cgroup/cpu,cpuacct", m["cpuacct"])
	require.Equal(t, "/sys/fs/cgroup/memory", m["memory"])
	require.Equal(t, "/sys/fs/cgroup/pids", m["pids"])
	require.NotContains(t, m, "unified")
}

func TestVersion(t *testing.T) {
	_, err := Version("/proc")
	require.ErrorContains(t, err, "neither cgroup2 nor a tmpfs")
}

func TestControllers(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644))
	require.NoError(t, Controllers(dir, "cpu", "memory", "pids"))
	require.ErrorContains(t, Controllers(dir, "hugetlb"), "the hugetlb controller is not available")
}

func TestLimits(t *testing.T) {
	_, err := ParseLimits("", math.NaN(), 0, true, false)
	require.Error(t, err)
	_, err = ParseLimits("", math.Inf(1), 0, true, false)
	require.Error(t, err)
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var f Flags
	f.Register(fs)
	require.NoError(t, fs.Parse([]string{"--memory", "64m", "--pids", "50"}))
	l, err := f.Limits()
	require.NoError(t, err)
	require.Equal(t, Limits{MemoryBytes: 64 << 20, Pids: 50}, l)
	require.NoError(t, fs.Parse([]string{"--pids", "5"}))
	_, err = f.Limits()
	require.ErrorContains(t, err, "must be at least 10")
}
