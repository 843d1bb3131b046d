package docs

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// goTool is the go command that built this test. `go test` puts its
// GOROOT/bin first on the test's PATH, but `go test -exec sudo` runs the
// test under sudo, which resets PATH to its secure_path: then the toolchain
// is found where the test binary was built from.
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // the toolchain that built this test
	_, err := exec.LookPath(p)
	require.NoError(t, err, "no go on PATH, nor in GOROOT %s: run go test -exec sudo ./docs", runtime.GOROOT())
	return p
}
