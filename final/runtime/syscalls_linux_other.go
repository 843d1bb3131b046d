//go:build linux && !amd64 && !arm64

package runtime

// No system call table for this architecture: a config with
// linux.seccomp is refused (seccompFilter says so).
const auditArch = 0

var syscallNames = [...]string{}
