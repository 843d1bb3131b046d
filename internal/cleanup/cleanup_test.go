package cleanup

// Unit tests: the name matching and the decisions, without root.

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsID(t *testing.T) {
	for s, want := range map[string]bool{
		"0123456789ab":  true,
		"deadbeef0000":  true,
		"0123456789a":   false, // 11
		"0123456789abc": false, // 13
		"0123456789AB":  false, // upper case: cli.NewID writes lower
		"0123456789ag":  false,
		"keepme-0001x":  false,
		"":              false,
	} {
		require.Equal(t, want, IsID(s), s)
	}
}

func TestIsVethName(t *testing.T) {
	for name, want := range map[string]string{
		"cfs0123abcd":  "0123abcd",
		"cfs0":         "", // the bridge
		"cfs0123abc":   "", // 7 digits
		"cfs0123abcde": "", // 9
		"cfs0123ABCD":  "",
		"cfsxyzxyzxy":  "",
		"veth0123abcd": "",
		"keepme0":      "",
		"eth0":         "",
	} {
		got, ok := IsVethName(name)
		require.Equal(t, want != "", ok, name)
		require.Equal(t, want, got, name)
	}
}

func TestNetnsNames(t *testing.T) {
	for name, want := range map[string]int{
		"cfs-test-1234-1-host": 1234,
		"cfs-test-99-12-wan":   99,
		"cfs-test-99-12-a-b":   99,
		"cfs-test-x-1-host":    0,
		"cfs-test-12-1-":       0,
		"cfs-test-12-host":     0,
		"cfs-demo":             0,
		"test-12-1-host":       0,
	} {
		pid, ok := TestNetnsPID(name)
		require.Equal(t, want != 0, ok, name)
		require.Equal(t, want, pid, name)
	}
	require.True(t, IsProjectNetns("cfs-demo"))
	require.True(t, IsProjectNetns("cfs-test-1-1-host"))
	require.False(t, IsProjectNetns("keepme"))
	require.False(t, IsProjectNetns("mycfs"))
}

func TestLedgerName(t *testing.T) {
	for name, want := range map[string]string{
		"net-4026531840.json":     "4026531840",
		"net-.json":               "",
		"net-12a.json":            "",
		"net-4026531840.json.tmp": "",
		"net.lock":                "",
		"0123456789ab":            "",
	} {
		got, ok := ledgerIno(name)
		require.Equal(t, want != "", ok, name)
		require.Equal(t, want, got, name)
	}
}

func TestUnder(t *testing.T) {
	require.True(t, Under("/var/lib/cfs/containers/x/merged", "/var/lib/cfs"))
	require.True(t, Under("/run/cfs/0123456789ab/hosts", "/run/cfs/"))
	require.False(t, Under("/var/lib/cfs", "/var/lib/cfs"), "a disk mounted on the state directory itself is the student's")
	require.False(t, Under("/var/lib/cfs/", "/var/lib/cfs"))
	require.False(t, Under("/var/lib/cfsx/y", "/var/lib/cfs"))
	require.False(t, Under("/run/cfsdata", "/run/cfs"))
}

func TestContainerOfPath(t *testing.T) {
	for p, want := range map[string]string{
		"/var/lib/cfs/containers/0123456789ab":              "0123456789ab",
		"/var/lib/cfs/containers/0123456789ab/merged/proc":  "0123456789ab",
		"/run/cfs/0123456789ab/hosts":                       "0123456789ab",
		"/run/cfs/net-4026531840.json":                      "",
		"/var/lib/cfs/containers/notanid":                   "",
		"/var/lib/cfs/layers/idmapped-0123456789ab":         "",
		"/var/lib/cfs/rootfs/0123456789ab":                  "",
		"/home/me/.cache/cfs/containers/0123456789ab/upper": "",
	} {
		require.Equal(t, want, ContainerOfPath(p), p)
	}
}

func TestContainerOfCgroup(t *testing.T) {
	v1 := "9:name=systemd:/user.slice\n4:memory:/cfs/0123456789ab\n1:cpu:/cfs/0123456789ab\n0::/\n"
	require.Equal(t, "0123456789ab", ContainerOfCgroup(v1))
	require.Equal(t, "0123456789ab", ContainerOfCgroup("0::/cfs/0123456789ab\n"))
	require.Equal(t, "0123456789ab", ContainerOfCgroup("0::/cfs/0123456789ab/sub\n"))
	require.Equal(t, "", ContainerOfCgroup("0::/user.slice/user-1000.slice/session-1.scope\n"))
	require.Equal(t, "", ContainerOfCgroup("0::/notcfs/0123456789ab\n"))
	require.Equal(t, "", ContainerOfCgroup("0::/cfs\n"))
	require.Equal(t, "", ContainerOfCgroup("0::/cfs/notanid\n"))
}

func TestParseMountinfo(t *testing.T) {
	data := `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
100 22 0:50 / /var/lib/cfs/containers/0123456789ab/merged rw,relatime - overlay overlay rw,lowerdir=/a:/b
101 100 0:51 / /run/cfs/with\040space rw - tmpfs tmpfs rw
102 22 0:30 /cfs /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
not a mount line
`
	ms := ParseMountinfo(data)
	require.Len(t, ms, 4)
	require.Equal(t, Mount{ID: 100, Parent: 22, MajorMinor: "0:50", Root: "/", Point: "/var/lib/cfs/containers/0123456789ab/merged", Options: "rw,relatime", Optional: []string{}, FSType: "overlay", Source: "overlay", SuperOpts: "rw,lowerdir=/a:/b"}, ms[1])
	require.Equal(t, "/run/cfs/with space", ms[2].Point)
	require.Equal(t, "/cfs", ms[3].Root)
	require.Equal(t, []string{"/sys/fs/cgroup/memory"}, cgroupRoots(ms))
	// The same hierarchy mounted twice is looked at once.
	twice := ParseMountinfo("30 22 0:29 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n31 22 0:29 / /mnt/cg rw - cgroup2 cgroup2 rw\n32 22 0:29 /sub /mnt/sub rw - cgroup2 cgroup2 rw\n")
	require.Equal(t, []string{"/sys/fs/cgroup", "/mnt/sub"}, cgroupRoots(twice))
}

func TestDeepestFirst(t *testing.T) {
	ms := []Mount{
		{ID: 1, Point: "/var/lib/cfs/containers/a/merged"},
		{ID: 2, Point: "/var/lib/cfs/containers/a/merged/proc"},
		{ID: 3, Point: "/run/cfs/x"},
		{ID: 4, Point: "/var/lib/cfs/containers/a/merged"}, // on top of 1
		{ID: 5, Point: "/var/lib/cfs/containers/a/merged/dev/pts"},
	}
	DeepestFirst(ms)
	var order []int
	for _, m := range ms {
		order = append(order, m.ID)
	}
	require.Equal(t, []int{5, 2, 4, 1, 3}, order)
}

func TestStatus(t *testing.T) {
	live := owner{PID: 10, Start: 100}
	dead := owner{PID: 11, Start: 200}
	reused := owner{PID: 10, Start: 99} // PID 10 is another process now
	alive := func(o owner) bool { return o == live }
	for _, tc := range []struct {
		name    string
		c       container
		running bool
		why     string
	}{
		{"owner runs", container{owners: []owner{dead, live}}, true, "its stage, PID 10, runs"},
		{"owner gone", container{owners: []owner{dead}}, false, "its stage, PID 11, is gone"},
		{"PID reused", container{owners: []owner{reused}}, false, "its stage, PID 10, is gone"},
		{"owners decide over a cfs-init's parent", container{owners: []owner{dead}, inits: []initProc{{PID: 20, PPID: 30}}}, false, "is gone"},
		{"no owner, cfs-init with its stage", container{inits: []initProc{{PID: 20, PPID: 30}}}, true, "its cfs-init, PID 20, has its stage, PID 30"},
		{"no owner, orphaned cfs-init", container{inits: []initProc{{PID: 20, PPID: 1}}}, false, "its cfs-init, PID 20, lost its stage"},
		{"adopted by systemd --user", container{inits: []initProc{{PID: 20, PPID: 900, ParentComm: "systemd"}}}, false, "lost its stage"},
		{"being made", container{young: true}, true, "no owner recorded yet"},
		{"nothing recorded", container{}, false, "no stage recorded as its owner"},
	} {
		running, why := tc.c.status(alive)
		require.Equal(t, tc.running, running, tc.name)
		require.Contains(t, why, tc.why, tc.name)
	}
}

func TestAddOwnerOnce(t *testing.T) {
	var c container
	c.addOwner(owner{PID: 1, Start: 2})
	c.addOwner(owner{PID: 1, Start: 2})
	c.addOwner(owner{PID: 1, Start: 3})
	require.Len(t, c.owners, 2)
}

func TestSummary(t *testing.T) {
	r := func(kind string) Resource { return Resource{Kind: kind, Name: "x"} }
	for _, tc := range []struct {
		rep  Report
		want string
	}{
		{Report{}, "Nothing to clean up: the host holds nothing of cfs's."},
		{Report{DryRun: true, Removed: []Resource{r(KindLink), r(KindNft)}}, "Would remove 2 resources."},
		{Report{Removed: []Resource{r(KindLink)}, Kept: []Resource{r(KindContainer)}}, "Removed 1 resource; 1 running container left alone (--all removes it too)."},
		{Report{Kept: []Resource{r(KindContainer), r(KindProcess), r(KindState)}}, "No leftovers; 2 running containers left alone (--all removes them too); 1 other resource kept (see \"kept\" above)."},
		{Report{Failed: []Failure{{r(KindMount), errors.New("busy")}}}, "Removed 0 resources; 1 could not be removed (see FAILED above)."},
	} {
		require.Equal(t, tc.want, tc.rep.Summary())
	}
}

func TestResourceString(t *testing.T) {
	require.Equal(t, "link cfs0 (bridge)", Resource{Kind: KindLink, Name: "cfs0", Why: "bridge"}.String())
	require.Equal(t, "nft table ip cfs", Resource{Kind: KindNft, Name: "table ip cfs"}.String())
}
