package doctor

import (
	"os"
	"testing"

	"cfs/internal/stagetest"
)

// The privileged tests mount overlays and create a network namespace; the
// leak check makes sure none of it outlives them.
func TestMain(m *testing.M) {
	os.Exit(stagetest.Main(m, stagetest.Options{}))
}
