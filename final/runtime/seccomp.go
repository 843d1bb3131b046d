package runtime

// Seccomp: a filter, in classic BPF, that the kernel runs on every system
// call of the process and its children, and that decides: allow, fail with
// an errno, kill (man 2 seccomp). The config lists system calls by name
// with an action and, optionally, conditions on their arguments; docker's
// default profile is such a list. Turning names into numbers and
// conditions into jumps is what github.com/elastic/go-seccomp-bpf does, in
// Go alone (runc calls libseccomp through cgo), which keeps the binary
// static for the VM lane.

import (
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// seccompFilter turns the config's linux.seccomp into a filter for the
// library, or says what it cannot express. System calls this architecture
// does not have (a profile lists those of several) are left out, as
// libseccomp does; the calls of another architecture (the 32-bit ABI of
// x86-64) get the default action.
func seccompFilter(s *specs.LinuxSeccomp) (*seccomp.Filter, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	def, err := seccompAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp defaultAction: %w", err)
	}
	switch def {
	case seccomp.ActionErrno, seccomp.ActionAllow, seccomp.ActionKillThread, seccomp.ActionKillProcess,
		seccomp.ActionTrap, seccomp.ActionLog, seccomp.ActionTrace:
	default:
		return nil, fmt.Errorf("seccomp defaultAction %s with defaultErrnoRet %d: only EPERM is supported as the default errno", s.DefaultAction, *s.DefaultErrnoRet)
	}
	f := &seccomp.Filter{Policy: seccomp.Policy{DefaultAction: def}}
	for _, fl := range s.Flags {
		switch fl {
		case "SECCOMP_FILTER_FLAG_LOG":
			f.Flag |= seccomp.FilterFlagLog
		case "SECCOMP_FILTER_FLAG_SPEC_ALLOW":
			f.Flag |= seccomp.FilterFlag(unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW)
		default:
			return nil, fmt.Errorf("seccomp flag %q is not supported (supported: SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW)", fl)
		}
	}
	if s.ListenerPath != "" {
		return nil, fmt.Errorf("seccomp listenerPath (SCMP_ACT_NOTIFY) is not supported")
	}
	for i, rule := range s.Syscalls {
		action, err := seccompAction(rule.Action, rule.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("seccomp syscalls[%d]: %w", i, err)
		}
		g := seccomp.SyscallGroup{Action: action}
		var conds seccomp.ArgumentConditions
		for _, a := range rule.Args {
			c, err := seccompCondition(a)
			if err != nil {
				return nil, fmt.Errorf("seccomp syscalls[%d] %v: %w", i, rule.Names, err)
			}
			conds = append(conds, c)
		}
		for _, name := range rule.Names {
			if _, ok := info.SyscallNames[name]; !ok {
				continue
			}
			if len(conds) == 0 {
				g.Names = append(g.Names, name)
			} else {
				g.NamesWithCondtions = append(g.NamesWithCondtions, seccomp.NameWithConditions{Name: name, Conditions: conds})
			}
		}
		f.Policy.Syscalls = append(f.Policy.Syscalls, g)
	}
	if len(f.Policy.Syscalls) == 0 {
		f.Policy.Syscalls = []seccomp.SyscallGroup{{Action: seccomp.ActionAllow}} // the library wants one group
	}
	if _, err := f.Policy.Assemble(); err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	return f, nil
}

// seccompAction maps libseccomp's action names onto the kernel's return
// values; an errno rides in the low 16 bits (EPERM when none is given).
func seccompAction(a specs.LinuxSeccompAction, errno *uint) (seccomp.Action, error) {
	switch a {
	case specs.ActAllow:
		return seccomp.ActionAllow, nil
	case specs.ActKill, specs.ActKillThread:
		return seccomp.ActionKillThread, nil
	case specs.ActKillProcess:
		return seccomp.ActionKillProcess, nil
	case specs.ActTrap:
		return seccomp.ActionTrap, nil
	case specs.ActLog:
		return seccomp.ActionLog, nil
	case specs.ActErrno, specs.ActTrace:
		base := seccomp.ActionErrno
		if a == specs.ActTrace {
			base = seccomp.ActionTrace
		}
		if errno == nil || (a == specs.ActErrno && *errno == uint(unix.EPERM)) {
			return base, nil // the library adds EPERM to a bare errno action
		}
		if *errno > 0xffff {
			return 0, fmt.Errorf("errnoRet %d does not fit in 16 bits", *errno)
		}
		return base | seccomp.Action(*errno), nil
	case specs.ActNotify:
		return 0, fmt.Errorf("action %s needs a listener, which is not supported", a)
	}
	return 0, fmt.Errorf("unknown action %q", a)
}

// seccompCondition maps one argument condition. SCMP_CMP_MASKED_EQ,
// (arg & value) == valueTwo, is expressible when valueTwo is 0 (no bit of
// value set: docker's profile uses it for clone's flags) or a single bit
// equal to value.
func seccompCondition(a specs.LinuxSeccompArg) (seccomp.Condition, error) {
	c := seccomp.Condition{Argument: uint32(a.Index), Value: a.Value}
	if a.Index > 5 {
		return c, fmt.Errorf("argument index %d: a system call has six arguments, 0 to 5", a.Index)
	}
	switch a.Op {
	case specs.OpEqualTo:
		c.Operation = seccomp.Equal
	case specs.OpNotEqual:
		c.Operation = seccomp.NotEqual
	case specs.OpLessThan:
		c.Operation = seccomp.LessThan
	case specs.OpLessEqual:
		c.Operation = seccomp.LessOrEqual
	case specs.OpGreaterThan:
		c.Operation = seccomp.GreaterThan
	case specs.OpGreaterEqual:
		c.Operation = seccomp.GreaterOrEqual
	case specs.OpMaskedEqual:
		switch {
		case a.ValueTwo == 0:
			c.Operation = seccomp.BitsNotSet
		case a.ValueTwo == a.Value && a.Value&(a.Value-1) == 0:
			c.Operation = seccomp.BitsSet
		default:
			return c, fmt.Errorf("SCMP_CMP_MASKED_EQ with value %#x and valueTwo %#x: only valueTwo 0, or a single bit equal to value, is supported", a.Value, a.ValueTwo)
		}
	default:
		return c, fmt.Errorf("unknown argument operator %q", a.Op)
	}
	return c, nil
}

// SeccompActions and SeccompOperators list what `features` reports.
func SeccompActions() []string {
	return []string{"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}
}

func SeccompOperators() []string {
	return []string{"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}
}
