package runtime_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
)

// runc, Debian's, as a peer: the same bundle run by runc and by cfs-runc
// shows the same thing from inside (hostname, user, capabilities,
// no_new_privs, seccomp, /dev, the mount points, masked paths), and
// exits with the same status.
func TestSameAsRunc(t *testing.T) {
	r := newRT(t)
	runc, err := exec.LookPath("runc")
	if err != nil {
		if os.Getenv("CFS_REQUIRE_PRIVILEGED") == "1" {
			t.Fatal("runc is not installed (apt-get install runc; .ci/run does)")
		}
		t.Skip("runc is not installed (apt-get install runc)")
	}
	probe := `hostname; id
grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status
ls -A /dev | sort | tr '\n' ' '; echo
awk '{print $5}' /proc/self/mountinfo | grep -v '^/sys/fs/cgroup/' | sort | tr '\n' ' '; echo
cat /proc/timer_list | wc -c
ulimit -n
exit 3`
	b := bundle(t, []string{"sh", "-c", probe}, func(s *specs.Spec) { s.Hostname = "peer" })
	run := func(bin string, root string) (string, int) {
		id := r.id()
		cmd := exec.Command(bin, "--root", root, "run", "--bundle", b, id)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	theirs, theirCode := run(runc, filepath.Join(t.TempDir(), "runc"))
	ours, ourCode := run(r.bin, filepath.Join(t.TempDir(), "cfs"))
	require.Equal(t, 3, theirCode, theirs)
	require.Equal(t, theirCode, ourCode, ours)
	require.Equal(t, strings.Split(theirs, "\n"), strings.Split(ours, "\n"), "runc:\n%s\ncfs-runc:\n%s", theirs, ours)
}
