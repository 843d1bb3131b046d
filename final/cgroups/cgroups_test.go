package cgroups

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
)

func TestPath(t *testing.T) {
	for _, tc := range []struct {
		in      string
		systemd bool
		want    string
	}{
		{"", false, "/cfs-runtime/abc"},
		{"/default/abc", false, "/default/abc"},
		{"default/abc", false, "/default/abc"},
		{"/a/../b", false, "/b"},
		{"system.slice:docker:abc", true, "/system.slice/docker-abc.scope"},
		{"user-1000.slice:cri:x", true, "/user.slice/user-1000.slice/cri-x.scope"},
		{":cfs:abc", true, "/system.slice/cfs-abc.scope"},
		{"", true, "/system.slice/cfs-abc.scope"},
		{"machine.slice::web.slice", true, "/machine.slice/web.slice"},
	} {
		got, err := Path(tc.in, "abc", tc.systemd)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, tc := range []struct {
		in      string
		systemd bool
		want    string
	}{
		{"/", false, "the root cgroup"},
		{"system.slice:docker:abc", false, "pass --systemd-cgroup"},
		{"/just/a/path", true, "slice:prefix:name"},
		{"bad:docker:abc", true, "not a systemd slice name"},
		{"a--b.slice:x:y", true, "not a systemd slice name"},
	} {
		_, err := Path(tc.in, "abc", tc.systemd)
		require.ErrorContains(t, err, tc.want, tc.in)
	}
}

func TestConversions(t *testing.T) {
	require.Equal(t, uint64(1), SharesToWeight(2))
	require.Equal(t, uint64(39), SharesToWeight(1024))
	require.Equal(t, uint64(10000), SharesToWeight(262144))
	require.Equal(t, uint64(1), BlkioWeightToIOWeight(10))
	require.Equal(t, uint64(10000), BlkioWeightToIOWeight(1000))
	q, p := int64(50000), uint64(200000)
	require.Equal(t, "50000 200000", CPUMax(&q, &p))
	require.Equal(t, "max 100000", CPUMax(nil, nil))
	neg := int64(-1)
	require.Equal(t, "max 100000", CPUMax(&neg, nil))
	v, err := SwapMax(100, 300)
	require.NoError(t, err)
	require.Equal(t, "200", v)
	_, err = SwapMax(300, 100)
	require.Error(t, err)
	v, _ = SwapMax(100, -1)
	require.Equal(t, "max", v)
}

// Device rules: the last match wins, as on v1.
func TestDeviceRules(t *testing.T) {
	one, three, eleven := int64(1), int64(3), int64(11)
	rules, err := DeviceRules([]specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: &one, Minor: &three, Access: "rw"},
	})
	require.NoError(t, err)
	rules = append(rules, DefaultAllowed...)
	require.Equal(t, "a", rules[0].V1())
	require.Equal(t, "c 1:3 rw", rules[1].V1())
	require.Equal(t, "c *:* m", rules[2].V1())
	require.True(t, Allows(rules, 'c', 1, 3, 'r'))
	require.True(t, Allows(rules, 'c', 1, 11, 'm'), "mknod of anything is allowed")
	require.False(t, Allows(rules, 'c', 1, eleven, 'r'), "/dev/kmsg is denied")
	require.False(t, Allows(rules, 'b', 8, 0, 'r'), "disks are denied")
	require.True(t, Allows(rules, 'c', 136, 4, 'w'), "terminals are allowed")
	_, err = DeviceRules([]specs.LinuxDeviceCgroup{{Type: "x"}})
	require.Error(t, err)
	// One block of instructions per rule, each ending in exit.
	prog := DeviceProgram(rules)
	exits := 0
	for _, in := range prog {
		if in.Code == opExit {
			exits++
		}
	}
	require.Equal(t, len(rules)+1, exits)
	require.Len(t, prog, 6+len(rules)*2+2+countTests(rules))
}

// countTests is how many comparison instructions the rules need.
func countTests(rules []DeviceRule) int {
	n := 0
	for _, r := range rules {
		if r.Type != 'a' {
			n++
		}
		if r.Major >= 0 {
			n++
		}
		if r.Minor >= 0 {
			n++
		}
		if len(r.Access) < 3 {
			n += 3
		}
	}
	return n
}

func TestStateOwned(t *testing.T) {
	s := State{Dirs: map[string]string{"memory": "/m/x", "pids": "/p/x"}, Created: []string{"/m/x", "/p", "/p/x"}}
	require.True(t, s.Owned())
	s.Created = []string{"/m/x"}
	require.False(t, s.Owned())
}
