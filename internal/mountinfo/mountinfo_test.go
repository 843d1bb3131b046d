package mountinfo

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	ms := Parse("22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n" +
		"36 22 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n" +
		"40 22 0:5 /x /my\\040dir rw - tmpfs tmpfs rw\n" +
		"41 22 0:6 / / rw - overlay overlay rw,lowerdir=/a\n" +
		"garbage\n")
	require.Len(t, ms, 4)
	require.True(t, ms[0].Shared())
	require.False(t, ms[1].Shared())
	require.Equal(t, Mount{ID: 36, Parent: 22, MajorMinor: "0:31", Root: "/", Point: "/sys/fs/cgroup/cpu,cpuacct",
		Options: "rw,nosuid", Optional: []string{}, FSType: "cgroup", Source: "cgroup", SuperOpts: "rw,cpu,cpuacct"}, ms[1])
	require.Equal(t, "/my dir", ms[2].Point)
	top, ok := At(ms, "/")
	require.True(t, ok)
	require.Equal(t, "overlay", top.FSType, "the last mount at a point hides the ones below")
	_, ok = At(ms, "/nowhere")
	require.False(t, ok)
}
