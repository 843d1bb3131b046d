package runtime

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// signals are the names kill(1) knows, without "SIG".
var signals = map[string]syscall.Signal{
	"ABRT": 6, "ALRM": 14, "BUS": 7, "CHLD": 17, "CLD": 17, "CONT": 18, "FPE": 8,
	"HUP": 1, "ILL": 4, "INT": 2, "IO": 29, "IOT": 6, "KILL": 9, "PIPE": 13,
	"POLL": 29, "PROF": 27, "PWR": 30, "QUIT": 3, "SEGV": 11, "STKFLT": 16,
	"STOP": 19, "SYS": 31, "TERM": 15, "TRAP": 5, "TSTP": 20, "TTIN": 21,
	"TTOU": 22, "URG": 23, "USR1": 10, "USR2": 12, "VTALRM": 26, "WINCH": 28,
	"XCPU": 24, "XFSZ": 25,
}

// ParseSignal reads a signal as runc's kill takes it: a number ("9", as
// containerd's shim sends), or a name with or without "SIG" in any case
// ("KILL", "SIGTERM", "term", as runtime-tools sends), or a real-time
// signal "RTMIN+3".
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %d: not between 1 and 64", n)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := signals[name]; ok {
		return sig, nil
	}
	const rtmin, rtmax = 34, 64
	if rest, ok := strings.CutPrefix(name, "RTMIN"); ok {
		n := 0
		if rest != "" {
			var err error
			if n, err = strconv.Atoi(strings.TrimPrefix(rest, "+")); err != nil || rest[0] != '+' {
				return 0, fmt.Errorf("unknown signal %q", s)
			}
		}
		if rtmin+n <= rtmax {
			return syscall.Signal(rtmin + n), nil
		}
	}
	if rest, ok := strings.CutPrefix(name, "RTMAX"); ok {
		n := 0
		if rest != "" {
			var err error
			if n, err = strconv.Atoi(strings.TrimPrefix(rest, "-")); err != nil || rest[0] != '-' {
				return 0, fmt.Errorf("unknown signal %q", s)
			}
		}
		if rtmax-n >= rtmin {
			return syscall.Signal(rtmax - n), nil
		}
	}
	return 0, fmt.Errorf("unknown signal %q (use a number, or a name such as TERM, SIGKILL or USR1)", s)
}
