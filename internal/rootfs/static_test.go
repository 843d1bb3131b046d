package rootfs_test

import (
	"os"
	"path/filepath"
	"testing"

	"cfs/internal/rootfs"
	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

// (An external test package: it builds with stagetest.GoCommand, and
// stagetest imports rootfs.)

func TestDepsOfAStaticBinary(t *testing.T) {
	// A Go program built without cgo is static.
	dir := stagetest.InvokerTempDir(t)
	src := filepath.Join(dir, "main.go")
	require.NoError(t, os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644))
	bin := filepath.Join(dir, "static")
	cmd := stagetest.GoCommand(t, "build", "-o", bin, src)
	cmd.Env = append(cmd.Env, "CGO_ENABLED=0", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	deps, err := rootfs.Deps(bin)
	require.NoError(t, err)
	require.Empty(t, deps)
}
