//go:build !linux

package doctor

import (
	"os"
	"os/exec"
)

// System is the host doctor runs on. Away from Linux there is nothing to
// try, so every check reads files only, and most say what is missing.
func System() *Host {
	return &Host{
		Root: "/", Proc: "/proc", Sys: "/sys", Etc: "/etc", Run: "/run",
		StateDir: DefaultStateDir,
		Euid:     os.Geteuid(),
		Getenv:   os.Getenv,
		LookPath: exec.LookPath,
	}
}
