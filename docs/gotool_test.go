package docs

import (
	"testing"

	"cfs/internal/stagetest"

	"github.com/stretchr/testify/require"
)

// goTool is the go command that built this test (see stagetest.GoTool).
func goTool(t *testing.T) string {
	t.Helper()
	p, err := stagetest.GoTool()
	require.NoError(t, err)
	return p
}
