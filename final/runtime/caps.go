package runtime

// Capabilities by name. Root's power is split into some forty bits; a
// process holds five sets of them (man 7 capabilities): bounding (the most
// it can ever get), permitted, effective (what the kernel checks),
// inheritable and ambient (what survives execve for a program that is not
// root). The config names each set; stage 06 showed that root inside a
// user namespace holds them all, but only over that namespace's objects.

import (
	"fmt"
	"strings"
)

// capNames are the capabilities in the order of their numbers
// (linux/capability.h).
var capNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
	"SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
	"NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
	"SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
	"AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// CapNames lists every capability this runtime knows, as the config
// spells them ("CAP_CHOWN"), for `features`.
func CapNames() []string {
	out := make([]string, len(capNames))
	for i, n := range capNames {
		out[i] = "CAP_" + n
	}
	return out
}

// capMask turns a list of names into a bit mask. A capability newer than
// the kernel (above lastCap) is skipped, as runc does, so one config works
// on older kernels.
func capMask(names []string, lastCap int) (uint64, error) {
	var m uint64
	for _, n := range names {
		i := capNumber(n)
		if i < 0 {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		if i <= lastCap {
			m |= 1 << uint(i)
		}
	}
	return m, nil
}

func capNumber(name string) int {
	n := strings.TrimPrefix(strings.ToUpper(name), "CAP_")
	for i, c := range capNames {
		if c == n {
			return i
		}
	}
	return -1
}
