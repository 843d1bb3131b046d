package stagetest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
)

// GoTool is the go command that built the running test, for tests that
// build stages. `go test` puts its GOROOT/bin first on the test's PATH, but
// `go test -exec sudo` runs the test under sudo, which resets PATH to its
// secure_path: then the toolchain is found where the test binary was built
// from.
func GoTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // the toolchain that built this test
	if _, err := exec.LookPath(p); err != nil {
		return "", fmt.Errorf("no go on PATH, nor in GOROOT %s: run go test -exec sudo", runtime.GOROOT())
	}
	return p, nil
}
