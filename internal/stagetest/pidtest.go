package stagetest

// The tests of the PID namespace, the lesson of stage 02, written once:
// each stage from 02 on runs them from its main_test.go as top-level tests
// of the same names (TestOrphanedZombieIsReaped calls OrphanedZombieIsReaped),
// against its own binary.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Inside, the stage's init is PID 1 and the command is its child. Outside,
// the same processes have ordinary host PIDs, and the kernel lists both
// numbers of each in NSpid. (The command is not PID 2: the Go runtime's
// threads of PID 1 took the numbers in between.)
func PIDOneInsideOrdinaryPIDOutside(t *testing.T) {
	RequireRoot(t)
	p := Start(t, "sh", "-c", "echo $PPID; echo $$; echo ready; read _")
	require.Equal(t, "1", p.NextLine(t), "the command's parent is not PID 1")
	commandInside := p.NextLine(t)
	p.WaitLine(t, "ready")
	pid := p.ContainerPID(t)
	require.NotEqual(t, 1, pid)
	require.Equal(t, []string{strconv.Itoa(pid), "1"}, NSpid(t, pid))
	require.NotEqual(t, NS(t, "self", "pid"), NS(t, pid, "pid"))

	kids := Children(pid)
	require.Len(t, kids, 1)
	require.Equal(t, []string{strconv.Itoa(kids[0]), commandInside}, NSpid(t, kids[0]))

	_, _ = p.Stdin.Write([]byte("\n"))
	require.Equal(t, 0, p.Wait(t).Code)
}

// A process whose parent exits is handed to PID 1; when it exits in turn,
// only PID 1 can collect it. The orphan here writes its PID and exits at
// once, after its parent has gone.
func OrphanedZombieIsReaped(t *testing.T) {
	RequireRoot(t)
	p := Start(t, "sh", "-c", `sh -c 'sh -c "echo orphan \$\$" &'; echo ready; read _`)
	// The orphan may print before or after "ready". Wait for both: until the
	// orphan has run there is no zombie to look for, and the check below
	// would pass for any init (on a slow VM the orphan had not yet run).
	orphan := ""
	for ready := false; !ready || orphan == ""; {
		line := p.NextLine(t)
		ready = ready || line == "ready"
		if n, ok := strings.CutPrefix(line, "orphan "); ok {
			orphan = n
		}
	}
	pid := p.ContainerPID(t)

	// The orphan exits asynchronously, so wait until its PID is gone from
	// the namespace: not running, and not a zombie either. A non-reaping
	// init keeps the zombie forever and fails here.
	require.Eventually(t, func() bool { return !inContainer(pid, orphan) },
		10*time.Second, 10*time.Millisecond, "the orphan %s is still there (zombies under PID 1: %v)", orphan, zombieChildren(pid))

	_, _ = p.Stdin.Write([]byte("\n"))
	r := p.Wait(t)
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "orphan ", "the orphan never ran")
}

// NSpid returns a process's PIDs from the host's namespace inwards.
func NSpid(t *testing.T, pid int) []string {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^NSpid:\s+(.*)$`).FindStringSubmatch(string(status))
	require.NotNil(t, m, "no NSpid in /proc/%d/status", pid)
	return strings.Fields(m[1])
}

// inContainer reports whether a process of the container whose init has
// host PID init has PID inner in the container's numbering, zombies
// included. /proc/PID/status lists a process's PIDs from the host's
// namespace inwards (NSpid) and lasts until the process is reaped.
func inContainer(init int, inner string) bool {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", init))
	if err != nil {
		return false
	}
	files, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		m := regexp.MustCompile(`(?m)^NSpid:\s+(.*)$`).FindStringSubmatch(string(data))
		if m == nil {
			continue
		}
		ids := strings.Fields(m[1])
		if len(ids) < 2 || ids[len(ids)-1] != inner {
			continue
		}
		// A zombie has no namespaces to read; its parent, the init, does.
		if own, err := os.Readlink(filepath.Join(filepath.Dir(f), "ns/pid")); err == nil && own != ns {
			continue
		}
		return true
	}
	return false
}

// zombieChildren lists host PIDs whose parent is ppid and whose state is Z.
func zombieChildren(ppid int) []string {
	var z []string
	files, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(data)
		if strings.Contains(s, fmt.Sprintf("\nPPid:\t%d\n", ppid)) && strings.Contains(s, "\nState:\tZ") {
			z = append(z, f)
		}
	}
	return z
}
