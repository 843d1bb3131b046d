// Package enginetest is the TestMain of the packages whose tests drive
// the engine as a user does (final/engine with docker's command line,
// final/api with the docker CLI): the test binary is started again as a
// container's init, as its monitor and as `cfs`, and the tests use an
// image store of their own.
package enginetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cfs/final/dockercli"
	"cfs/final/engine"
	"cfs/final/image"
	"cfs/final/runtime"
	"cfs/internal/layout"
	"cfs/internal/stagetest"
)

// Base opens the tests' image store in dir and makes cfs/base in it,
// from the default root filesystem.
func Base(dir string) (*image.Store, error) {
	s, err := image.Open(dir)
	if err != nil {
		return nil, err
	}
	_, err = s.EnsureBase()
	return s, err
}

// Main runs m, or what this binary was started again as: a container's
// init or monitor, or, as stagetest's stage, cfs (stage runs it; nil:
// docker's command line). Before the tests, *store is set to a temporary
// image store that the commands the tests run use too
// (dockercli.StoreEnv); it is removed after. As root it refuses a host
// with cfs containers, whose engine state the tests would share. It
// returns the exit status.
func Main(m *testing.M, store *string, stage func(args []string) int) int {
	switch {
	case runtime.IsInit():
		return runtime.Init()
	case engine.IsMonitor():
		return engine.MonitorMain()
	case stagetest.IsStage():
		if stage != nil {
			return stage(os.Args[1:])
		}
		return dockercli.Run("cfs", os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	}
	if os.Geteuid() == 0 {
		// The tests share the engine's state with the host's cfs: they
		// count, prune and remove containers, which would count, prune
		// and remove a user's too.
		entries, _ := os.ReadDir(filepath.Join(layout.EngineDir, "containers"))
		var ids []string
		for _, en := range entries {
			if layout.IsEngineID(en.Name()) {
				ids = append(ids, en.Name()[:12])
			}
		}
		if len(ids) > 0 {
			fmt.Fprintf(os.Stderr, "enginetest: this host has cfs containers (%s): the engine's tests count and remove containers, so they run only where there are none; remove them first (sudo ./cfs rm -f $(sudo ./cfs ps -aq)), or run the tests on another machine\n", strings.Join(ids, " "))
			return 1
		}
	}
	dir, err := os.MkdirTemp("", "cfs-engine-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	*store = filepath.Join(dir, "images")
	os.Setenv(dockercli.StoreEnv, *store)
	return stagetest.Main(m, stagetest.Options{Rootfs: true, NetNS: true})
}
