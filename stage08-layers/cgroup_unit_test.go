package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "10b": 10, "4k": 4096, "64m": 64 << 20, "1g": 1 << 30, "1.5G": 3 << 29, " 8M ": 8 << 20} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "12zz", "m", "-1m", "0", "abc", "1kk", "nan", "inf", "NaNm"} {
		_, err := parseSize(bad)
		require.Error(t, err, bad)
	}
}

func TestCPUQuota(t *testing.T) {
	require.Equal(t, int64(50000), cpuQuota(0.5))
	require.Equal(t, int64(150000), cpuQuota(1.5))
	require.Equal(t, int64(1000), cpuQuota(0.01))
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
	m, err := v1Mounts(mi)
	require.NoError(t, err)
	require.Equal(t, "/sys/fs/cgroup/cpu,cpuacct", m["cpu"])
	require.Equal(t, "/sys/fs/cgroup/cpu,cpuacct", m["cpuacct"])
	require.Equal(t, "/sys/fs/cgroup/memory", m["memory"])
	require.Equal(t, "/sys/fs/cgroup/pids", m["pids"])
	require.NotContains(t, m, "unified")
}

func TestCgroupVersion(t *testing.T) {
	_, err := cgroupVersion("/proc")
	require.ErrorContains(t, err, "neither cgroup2 nor a tmpfs")
}

func TestParseLimitsRefusesNaN(t *testing.T) {
	_, err := parseLimits("", math.NaN(), 0, true, false)
	require.Error(t, err)
	_, err = parseLimits("", math.Inf(1), 0, true, false)
	require.Error(t, err)
}
