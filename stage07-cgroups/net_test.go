package main

import (
	"testing"

	"cfs/internal/stagetest"
)

// The network tests are the same for every stage from 05 on, so they live
// once, in internal/stagetest/nettest.go; they run against this stage.
func TestNetwork(t *testing.T) { stagetest.Network(t) }
