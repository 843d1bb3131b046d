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
	_, err = DeviceRules([]specs.LinuxDeviceCgroup{{Type: "x"}})
	require.Error(t, err)
}

// The eBPF program decides as the v1 rules do, for every kind of device
// and access, run by a small interpreter of the instructions it uses; and
// it ends where an always-matching rule ends it (the kernel refuses
// unreachable instructions).
func TestDeviceProgram(t *testing.T) {
	one, three, five := int64(1), int64(3), int64(5)
	for _, in := range [][]specs.LinuxDeviceCgroup{
		{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: &one, Minor: &three, Access: "rw"}},
		{{Allow: true, Type: "b", Major: &five, Access: "r"}, {Allow: false, Type: "c", Major: &one, Access: "w"}},
		nil,
	} {
		rules, err := DeviceRules(in)
		require.NoError(t, err)
		rules = append(rules, DefaultAllowed...)
		prog := DeviceProgram(rules)
		require.Equal(t, uint8(opExit), prog[len(prog)-1].Code)
		for _, typ := range []byte{'c', 'b'} {
			for _, major := range []int64{1, 5, 136} {
				for _, minor := range []int64{3, 9, 11} {
					for _, acc := range []byte{'r', 'w', 'm'} {
						want := Allows(rules, typ, major, minor, acc)
						require.Equal(t, want, runDeviceProgram(t, prog, typ, major, minor, acc),
							"rules %v: %c %d:%d %c", in, typ, major, minor, acc)
					}
				}
			}
		}
	}
}

// runDeviceProgram interprets prog for one access, as the kernel runs it.
func runDeviceProgram(t *testing.T, prog []insn, typ byte, major, minor int64, acc byte) bool {
	var reg [11]uint64
	ctx := [3]uint32{map[byte]uint32{'c': devChar, 'b': devBlock}[typ] | map[byte]uint32{'m': accMknod, 'r': accRead, 'w': accWrite}[acc]<<16, uint32(major), uint32(minor)}
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		dst, src := in.Regs&0xf, in.Regs>>4
		switch in.Code {
		case opLoadW:
			require.Equal(t, uint8(regCtx), src)
			reg[dst] = uint64(ctx[in.Off/4])
		case opAnd32:
			reg[dst] = uint64(uint32(reg[dst]) & uint32(in.Imm))
		case opRsh32:
			reg[dst] = uint64(uint32(reg[dst]) >> uint32(in.Imm))
		case opMovK:
			reg[dst] = uint64(int64(in.Imm))
		case opMovX:
			reg[dst] = reg[src]
		case opJneK:
			if reg[dst] != uint64(int64(in.Imm)) {
				pc += int(in.Off)
			}
		case opJeqK:
			if reg[dst] == uint64(int64(in.Imm)) {
				pc += int(in.Off)
			}
		case opExit:
			return reg[0] == 1
		default:
			t.Fatalf("opcode %#x", in.Code)
		}
	}
	t.Fatal("the program ran off its end")
	return false
}

func TestStateOwned(t *testing.T) {
	s := State{Dirs: map[string]string{"memory": "/m/x", "pids": "/p/x"}, Created: []string{"/m/x", "/p", "/p/x"}}
	require.True(t, s.Owned())
	s.Created = []string{"/m/x"}
	require.False(t, s.Owned())
}
