package cleanup

import (
	"os"
	"testing"
	"time"

	"cfs/internal/stagetest"
)

// The privileged tests leave containers behind on purpose and clean them
// up with Run; the leak check then makes sure nothing of theirs is left.
// Rootfs: the stages they start run on the default root filesystem, a
// cache that must exist before the leak check's first look.
func TestMain(m *testing.M) {
	if os.Getenv(sleepEnv) == "1" {
		for { // a stand-in for a stage or a cfs-init: wait to be killed
			time.Sleep(time.Hour)
		}
	}
	code := stagetest.Main(m, stagetest.Options{Rootfs: true})
	removeStageBinaries()
	os.Exit(code)
}

// sleepEnv, set to 1, turns the test binary into a process that only waits
// to be killed.
const sleepEnv = "CFS_CLEANUP_TEST_SLEEP"
