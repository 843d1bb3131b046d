package runtime

// Seccomp: a filter, in classic BPF, that the kernel runs on every system
// call of the process and its children, and that decides: allow, fail with
// an errno, kill (man 2 seccomp). The config lists system calls by name
// with an action and, optionally, conditions on their arguments; docker's
// default profile is such a list. The names become numbers with this
// architecture's table (syscalls_linux_GOARCH.go), and the rules a program
// of golang.org/x/net/bpf's instructions compiled here, in Go alone (runc
// calls libseccomp through cgo), which keeps the binary static for the VM
// lane.

import (
	"fmt"
	"os"
	goruntime "runtime"
	"sync"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// action is what a filter returns for a call: the kernel's SECCOMP_RET_*
// value, with an errno in the low 16 bits for actErrno and actTrace.
type action uint32

const (
	actAllow       action = unix.SECCOMP_RET_ALLOW
	actErrno       action = unix.SECCOMP_RET_ERRNO
	actKillThread  action = unix.SECCOMP_RET_KILL_THREAD
	actKillProcess action = unix.SECCOMP_RET_KILL_PROCESS
	actTrap        action = unix.SECCOMP_RET_TRAP
	actTrace       action = unix.SECCOMP_RET_TRACE
	actLog         action = unix.SECCOMP_RET_LOG
)

// x32Bit marks a call of x86-64's x32 ABI: the same calls as x86-64's,
// numbered from 0x40000000 (__X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// syscallNumbers maps a call's name to its number on this architecture,
// made from syscallNames the first time a filter is compiled.
var syscallNumbers = sync.OnceValue(func() map[string]uint32 {
	m := make(map[string]uint32, len(syscallNames))
	for nr, name := range syscallNames {
		if name != "" {
			m[name] = uint32(nr)
		}
	}
	return m
})

// filter is a compiled seccomp filter: classic BPF, and seccomp(2)'s flags.
type filter struct {
	prog  []bpf.Instruction
	flags uintptr
}

// seccompData's fields, as the kernel lays out struct seccomp_data for the
// filter to load (man 2 seccomp): the call's number, the architecture, and
// six 64-bit arguments, each two 32-bit words, the low one first (x86-64
// and arm64 are little-endian).
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// seccompFilter compiles the config's linux.seccomp into a filter, or
// says what it cannot express. System calls this architecture does not
// have (a profile lists those of several) are left out, as libseccomp
// does; the calls of another architecture (the 32-bit ABI of x86-64) get
// the default action.
//
// The program is a plain list, one block per rule and call, each of which
// loads the call's number again before it compares: so a block whose
// argument checks failed (which leave an argument in the accumulator)
// cannot spoil the next one. docker's profile allows socket(2) in some
// thirty rules of one argument each; a compiler that compared the number
// only once per group, as elastic/go-seccomp-bpf's does, let only the
// first rule work. A block's jumps stay inside it, so none is longer than
// classic BPF's 8-bit offsets.
func seccompFilter(s *specs.LinuxSeccomp) (*filter, error) {
	if auditArch == 0 {
		return nil, fmt.Errorf("seccomp: no system call table for this architecture (%s)", goruntime.GOARCH)
	}
	def, err := seccompAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp defaultAction: %w", err)
	}
	f := &filter{}
	for _, fl := range s.Flags {
		switch fl {
		case "SECCOMP_FILTER_FLAG_LOG":
			f.flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case "SECCOMP_FILTER_FLAG_SPEC_ALLOW":
			f.flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		default:
			return nil, fmt.Errorf("seccomp flag %q is not supported (supported: SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW)", fl)
		}
	}
	if s.ListenerPath != "" {
		return nil, fmt.Errorf("seccomp listenerPath (SCMP_ACT_NOTIFY) is not supported")
	}
	ret := func(a action) bpf.Instruction { return bpf.RetConstant{Val: retValue(a)} }
	p := []bpf.Instruction{
		// Another architecture's calls: the default action.
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: auditArch, SkipTrue: 1},
		ret(def),
	}
	if auditArch == unix.AUDIT_ARCH_X86_64 {
		// x86-64's x32 ABI, the same calls under other numbers: refused,
		// as libseccomp does, so that a rule cannot be gone around.
		p = append(p,
			bpf.LoadAbsolute{Off: offNr, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32Bit, SkipFalse: 1},
			bpf.RetConstant{Val: uint32(actErrno) | uint32(unix.ENOSYS)})
	}
	numbers := syscallNumbers()
	for i, rule := range s.Syscalls {
		act, err := seccompAction(rule.Action, rule.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("seccomp syscalls[%d]: %w", i, err)
		}
		for _, a := range rule.Args {
			if err := checkArg(a); err != nil {
				return nil, fmt.Errorf("seccomp syscalls[%d] %v: %w", i, rule.Names, err)
			}
		}
		var nrs []uint32
		for _, name := range rule.Names {
			if nr, ok := numbers[name]; ok {
				nrs = append(nrs, nr)
			}
		}
		if len(rule.Args) == 0 {
			// Many calls, one action: a run of compares, up to 200 at a time.
			for len(nrs) > 0 {
				n := min(len(nrs), 200)
				p = append(p, bpf.LoadAbsolute{Off: offNr, Size: 4})
				for j, nr := range nrs[:n] {
					p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipTrue: uint8(n - j)})
				}
				p = append(p, bpf.Jump{Skip: 1}, ret(act))
				nrs = nrs[n:]
			}
			continue
		}
		for _, nr := range nrs {
			p = append(p, argBlock(nr, rule.Args, ret(act))...)
		}
	}
	f.prog = append(p, ret(def))
	if len(f.prog) > 4096 { // BPF_MAXINSNS
		return nil, fmt.Errorf("seccomp: the profile compiles to %d instructions; the kernel takes 4096", len(f.prog))
	}
	if _, err := bpf.Assemble(f.prog); err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	return f, nil
}

// argBlock is one call with conditions on its arguments: every condition
// must hold (libseccomp's rule), each on 64 bits compared as two 32-bit
// words. A failed check jumps past the block.
func argBlock(nr uint32, args []specs.LinuxSeccompArg, ret bpf.Instruction) []bpf.Instruction {
	// Each check is built with its jumps to "fail" written as a marker,
	// then resolved once the block's length is known.
	const fail = 0xff
	b := []bpf.Instruction{bpf.LoadAbsolute{Off: offNr, Size: 4}, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: nr, SkipTrue: fail}}
	for _, a := range args {
		hiOff, loOff := uint32(offArgs+8*a.Index+4), uint32(offArgs+8*a.Index)
		hi, lo := uint32(a.Value>>32), uint32(a.Value)
		ld := func(off uint32) bpf.Instruction { return bpf.LoadAbsolute{Off: off, Size: 4} }
		switch a.Op {
		case specs.OpEqualTo:
			b = append(b, ld(hiOff), bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: hi, SkipTrue: fail},
				ld(loOff), bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: lo, SkipTrue: fail})
		case specs.OpNotEqual:
			// hi != vhi, or else lo != vlo.
			b = append(b, ld(hiOff), bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: hi, SkipTrue: 2},
				ld(loOff), bpf.JumpIf{Cond: bpf.JumpEqual, Val: lo, SkipTrue: fail})
		case specs.OpMaskedEqual:
			// (arg & value) == valueTwo, word by word.
			mhi, mlo := hi, lo
			vhi, vlo := uint32(a.ValueTwo>>32), uint32(a.ValueTwo)
			b = append(b, ld(hiOff), bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mhi}, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: vhi, SkipTrue: fail},
				ld(loOff), bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mlo}, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: vlo, SkipTrue: fail})
		default:
			// <, <=, >, >=: decided by the high words unless they are
			// equal, then by the low ones (unsigned, as libseccomp).
			strict := map[specs.LinuxSeccompOperator]bpf.JumpTest{specs.OpLessThan: bpf.JumpLessThan, specs.OpLessEqual: bpf.JumpLessThan,
				specs.OpGreaterThan: bpf.JumpGreaterThan, specs.OpGreaterEqual: bpf.JumpGreaterThan}[a.Op]
			low := map[specs.LinuxSeccompOperator]bpf.JumpTest{specs.OpLessThan: bpf.JumpLessThan, specs.OpLessEqual: bpf.JumpLessOrEqual,
				specs.OpGreaterThan: bpf.JumpGreaterThan, specs.OpGreaterEqual: bpf.JumpGreaterOrEqual}[a.Op]
			b = append(b, ld(hiOff),
				bpf.JumpIf{Cond: strict, Val: hi, SkipTrue: 3},              // holds: past the low compare
				bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: hi, SkipTrue: fail}, // fails
				ld(loOff), bpf.JumpIf{Cond: low, Val: lo, SkipFalse: fail})
		}
	}
	b = append(b, ret)
	// Resolve the markers: from instruction i, "fail" is the first
	// instruction after the block.
	for i, in := range b {
		j, ok := in.(bpf.JumpIf)
		if !ok {
			continue
		}
		past := uint8(len(b) - i - 1)
		if j.SkipTrue == fail {
			j.SkipTrue = past
		}
		if j.SkipFalse == fail {
			j.SkipFalse = past
		}
		b[i] = j
	}
	return b
}

// checkArg refuses what no kernel can compare.
func checkArg(a specs.LinuxSeccompArg) error {
	if a.Index > 5 {
		return fmt.Errorf("argument index %d: a system call has six arguments, 0 to 5", a.Index)
	}
	switch a.Op {
	case specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual:
		return nil
	}
	return fmt.Errorf("unknown argument operator %q", a.Op)
}

// retValue is what the filter returns for an action: an errno action
// without an errno returns EPERM, as libseccomp's.
func retValue(a action) uint32 {
	if a&0xffff0000 == actErrno && a&0xffff == 0 {
		return uint32(a) | uint32(unix.EPERM)
	}
	return uint32(a)
}

// load installs the filter on the calling thread: seccomp(2) with
// SECCOMP_SET_MODE_FILTER (no TSYNC: the other threads of this Go program
// end at execve anyway).
func (f *filter) load() error {
	raw, err := bpf.Assemble(f.prog)
	if err != nil {
		return err
	}
	prog := unix.SockFprog{Len: uint16(len(raw)), Filter: (*unix.SockFilter)(unsafe.Pointer(&raw[0]))}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, f.flags, uintptr(unsafe.Pointer(&prog))); errno != 0 {
		return os.NewSyscallError("seccomp SECCOMP_SET_MODE_FILTER", errno)
	}
	return nil
}

// seccompAction maps libseccomp's action names onto the kernel's return
// values; an errno rides in the low 16 bits (EPERM when none is given).
func seccompAction(a specs.LinuxSeccompAction, errno *uint) (action, error) {
	switch a {
	case specs.ActAllow:
		return actAllow, nil
	case specs.ActKill, specs.ActKillThread:
		return actKillThread, nil
	case specs.ActKillProcess:
		return actKillProcess, nil
	case specs.ActTrap:
		return actTrap, nil
	case specs.ActLog:
		return actLog, nil
	case specs.ActErrno, specs.ActTrace:
		base := actErrno
		if a == specs.ActTrace {
			base = actTrace
		}
		if errno == nil || (a == specs.ActErrno && *errno == uint(unix.EPERM)) {
			return base, nil // the library adds EPERM to a bare errno action
		}
		if *errno > 0xffff {
			return 0, fmt.Errorf("errnoRet %d does not fit in 16 bits", *errno)
		}
		return base | action(*errno), nil
	case specs.ActNotify:
		return 0, fmt.Errorf("action %s needs a listener, which is not supported", a)
	}
	return 0, fmt.Errorf("unknown action %q", a)
}

// SeccompActions and SeccompOperators list what `features` reports.
func SeccompActions() []string {
	return []string{"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}
}

func SeccompOperators() []string {
	return []string{"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}
}
