package engine

// Top: a container's processes as the host's ps(1) shows them, docker
// top's way: run ps on the host, keep the lines whose PID is one of the
// container's (its cgroup's, through the runtime).

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Top returns ps's column titles and the container's rows; psArgs are
// ps's options (none: -ef).
func (e *Engine) Top(arg string, psArgs []string) (titles []string, rows [][]string, err error) {
	_, pids, err := e.Pids(arg)
	if err != nil {
		return nil, nil, err
	}
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return nil, nil, fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	titles = strings.Fields(lines[0])
	col := -1
	for i, h := range titles {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return nil, nil, fmt.Errorf("ps %s: no PID column", strings.Join(psArgs, " "))
	}
	in := map[string]bool{}
	for _, p := range pids {
		in[strconv.Itoa(p)] = true
	}
	rows = [][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) > col && in[f[col]] {
			if n := len(titles); len(f) > n { // the last column (CMD) has spaces
				f = append(f[:n-1], strings.Join(f[n-1:], " "))
			}
			rows = append(rows, f)
		}
	}
	return titles, rows, nil
}
