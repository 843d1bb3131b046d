package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"cfs/internal/hint"
	"cfs/internal/trace"

	"golang.org/x/sys/unix"
)

// BadInput reports a command line the stage refused and returns the exit
// status for it: 0 for -h or --help (Parse printed the usage), else 2,
// after the error and where to read the usage.
func BadInput(stage string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n(see: %s --help)\n", stage, err, stage)
	return 2
}

// Exit returns a stage's exit status for how its run ended: status when
// err is nil; 128+N when signal N ended the set-up, or a --step pause
// (*trace.Interrupted, reported on tr once the clean-up is done); and
// otherwise 125, as docker does when it fails itself, after the error and
// its hint (internal/hint) on stderr.
func Exit(stage string, tr *trace.Tracer, status int, err error) int {
	var stop *trace.Interrupted
	switch {
	case err == nil:
		return status
	case errors.As(err, &stop):
		tr.Interrupted(stop)
		return 128 + int(stop.Signal)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", stage, err)
	hint.Print(os.Stderr, stage, err)
	return 125
}

// CleanupFailed reports a step of a stage's clean-up that failed, when err
// is not nil. The clean-up goes on: it runs however the container ends,
// and must not stop half-way.
func CleanupFailed(stage string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: clean up: %v\n", stage, err)
	}
}

// KeepGoingOnSIGPIPE catches SIGPIPE, so that a reader of the stage's
// output that goes away (`2>&1 | head`) does not end the stage in the
// middle of its set-up: a write to the closed pipe fails instead, and the
// run goes on to its clean-up.
func KeepGoingOnSIGPIPE() {
	signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE)
}
