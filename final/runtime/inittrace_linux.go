package runtime

// The init's narration. With a tracer (the engine's `cfs --trace`), the
// runtime hands the init the trace's output as one more descriptor
// (initConfig.TraceFd), and the init narrates its own steps inside the
// container on the side "init", in the stages' format (docs/trace.md):
// what the stages' child narrates (the hostname, the mounts, pivot_root,
// the devices, the cgroup namespace) and what a runtime adds (the user,
// the capabilities, seccomp), up to the execve of the user's program.

import (
	"os"
	"strconv"
	"strings"

	"cfs/internal/trace"

	"golang.org/x/sys/unix"
)

// itr narrates the init's steps; nil, and silent, unless the runtime
// traces. Set once, at the start of an init process (Init).
var (
	itr     *trace.Tracer
	itrFile *os.File
)

// openInitTrace makes itr write to the descriptor fd (0: no trace),
// closed at execve like the init's other descriptors.
func openInitTrace(fd int) {
	if fd <= 0 {
		return
	}
	unix.CloseOnExec(fd)
	itrFile = os.NewFile(uintptr(fd), "trace")
	itr = trace.NewTo("init", itrFile)
}

// closeInitTrace ends the narration of an init that stays (--init): the
// caller of a traced `run -d` reads its stderr to the end, which must not
// wait for the container's end.
func closeInitTrace() {
	if itrFile != nil {
		itrFile.Close()
		itr, itrFile = nil, nil
	}
}

// step narrates call (≈ shell, with any detail lines) on the init's
// trace, then makes it: one request, written once. Its error is fn's, for
// the caller to wrap.
func step(call, shell string, fn func() error, detail ...string) error {
	_ = itr.Step(call, shell, detail...) // no --step in a container: it never waits
	return fn()
}

// mount is mount(2), narrated as kernel.Mount narrates the stages'. A
// mount made through /proc/self/fd/N (a mount point opened first, so that
// a symbolic link cannot redirect it) is narrated with the path it leads
// to, shown.
func mount(source, target, shown, fstype string, flags uintptr, data string) error {
	call, shell := trace.Mount(source, shown, fstype, flags, data)
	return step(call, shell, func() error { return unix.Mount(source, target, fstype, flags, data) })
}

// nsenterFlag is nsenter(1)'s option for a namespace type of the config.
func nsenterFlag(typ string) string {
	if typ == "network" {
		return "net"
	}
	return typ
}

// capList names the capabilities of mask as capsh(1) spells them
// ("cap_chown,cap_kill"), for the trace.
func capList(mask uint64, last int) string {
	var names []string
	for i := 0; i <= last; i++ {
		if mask&(1<<uint(i)) != 0 {
			names = append(names, "cap_"+capNames[i])
		}
	}
	return strings.ToLower(strings.Join(names, ","))
}

// joinInts writes IDs as setpriv(1) takes them: "1,2,3".
func joinInts(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, ",")
}
