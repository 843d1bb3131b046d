//go:build !linux

package doctor

// System is the host doctor runs on. Away from Linux there is nothing to
// try, so every check reads files only, and most say what is missing.
func System() *Host { return filesOnly() }
