package main

import (
	"testing"

	"cfs/internal/stagetest"
)

// The cgroup tests are the same for every stage from 07 on, so they live
// once, in internal/stagetest/cgrouptest.go; they run against this stage.
func TestCgroups(t *testing.T) { stagetest.Cgroups(t) }
