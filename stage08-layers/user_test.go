package main

import (
	"testing"

	"cfs/internal/stagetest"
)

// The user-namespace tests are the same for every stage from 06 on, so
// they live once, in internal/stagetest/usertest.go; they run against this
// stage.
func TestUsers(t *testing.T) { stagetest.Users(t) }
