package cgroups

// The v2 device filter. cgroup v2 has no devices.allow file: instead an
// eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE, attached to the cgroup,
// runs on every open and mknod of a device node by a process in it and
// returns 1 (allow) or 0 (deny, EPERM). This is what systemd and runc
// attach; the kernel's Documentation/admin-guide/cgroup-v2.rst ("Device
// controller") describes it. The program here is assembled by hand, a
// dozen instructions per rule, so that it can be read beside the rules;
// github.com/cilium/ebpf would do the same with much more code.

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// insn is one eBPF instruction (struct bpf_insn in linux/bpf.h): an
// opcode, two registers in one byte, a jump offset and an immediate.
type insn struct {
	Code uint8
	Regs uint8 // dst in the low 4 bits, src in the high 4
	Off  int16
	Imm  int32
}

// The opcodes the filter needs (linux/bpf_common.h and linux/bpf.h).
const (
	opLoadW   = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W   // dst = *(u32 *)(src + off)
	opAnd32   = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K   // dst &= imm (32 bits)
	opRsh32   = unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K   // dst >>= imm
	opMovK    = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K // dst = imm
	opMovX    = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_X // dst = src
	opJneK    = unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K   // if dst != imm: pc += off
	opJeqK    = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K   // if dst == imm: pc += off
	opExit    = unix.BPF_JMP | unix.BPF_EXIT               // return r0
	devBlock  = 1                                          // BPF_DEVCG_DEV_BLOCK
	devChar   = 2                                          // BPF_DEVCG_DEV_CHAR
	accMknod  = 1                                          // BPF_DEVCG_ACC_MKNOD
	accRead   = 2                                          // BPF_DEVCG_ACC_READ
	accWrite  = 4                                          // BPF_DEVCG_ACC_WRITE
	regR0     = 0
	regCtx    = 1 // r1: struct bpf_cgroup_dev_ctx *
	regType   = 2
	regAccess = 3
	regMajor  = 4
	regMinor  = 5
	regTmp    = 6
)

func ins(code uint8, dst, src uint8, off int16, imm int32) insn {
	return insn{Code: code, Regs: dst | src<<4, Off: off, Imm: imm}
}

// DeviceProgram assembles the filter for rules. The kernel hands the
// program a struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32
// minor; }, the type in access_type's low 16 bits and the access asked
// for in its high 16. The rules are tried from the last to the first and
// the first that matches decides, which is "the last matching rule wins"
// of v1 (Allows); an allow rule matches when it grants all the access
// asked for, a deny rule when it denies any of it. With no match, the
// device is allowed, as v1 starts.
func DeviceProgram(rules []DeviceRule) []insn {
	p := []insn{
		ins(opLoadW, regType, regCtx, 0, 0), // r2 = ctx->access_type
		ins(opAnd32, regType, 0, 0, 0xffff), // r2 &= 0xffff: the type
		ins(opLoadW, regAccess, regCtx, 0, 0),
		ins(opRsh32, regAccess, 0, 0, 16),    // r3 = access_type >> 16: the access
		ins(opLoadW, regMajor, regCtx, 4, 0), // r4 = ctx->major
		ins(opLoadW, regMinor, regCtx, 8, 0), // r5 = ctx->minor
	}
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		var block []insn
		// Each test jumps to the end of the block (the next rule) when the
		// rule does not match: the offsets are patched below.
		if r.Type != 'a' {
			t := int32(devChar)
			if r.Type == 'b' {
				t = devBlock
			}
			block = append(block, ins(opJneK, regType, 0, -1, t))
		}
		if r.Major >= 0 {
			block = append(block, ins(opJneK, regMajor, 0, -1, int32(r.Major)))
		}
		if r.Minor >= 0 {
			block = append(block, ins(opJneK, regMinor, 0, -1, int32(r.Minor)))
		}
		mask := int32(0)
		for _, c := range r.Access {
			mask |= map[rune]int32{'m': accMknod, 'r': accRead, 'w': accWrite}[c]
		}
		if mask != accMknod|accRead|accWrite {
			block = append(block, ins(opMovX, regTmp, regAccess, 0, 0))
			if r.Allow { // match when access & ^mask == 0
				block = append(block, ins(opAnd32, regTmp, 0, 0, ^mask), ins(opJneK, regTmp, 0, -1, 0))
			} else { // match when access & mask != 0
				block = append(block, ins(opAnd32, regTmp, 0, 0, mask), ins(opJeqK, regTmp, 0, -1, 0))
			}
		}
		verdict := int32(0)
		if r.Allow {
			verdict = 1
		}
		block = append(block, ins(opMovK, regR0, 0, 0, verdict), ins(opExit, 0, 0, 0, 0))
		for j := range block {
			if block[j].Off == -1 {
				block[j].Off = int16(len(block) - j - 1)
			}
		}
		p = append(p, block...)
		if len(block) == 2 {
			// A rule for every device and access ("a *:* rwm") always
			// matches: what would follow it could never run, and the
			// kernel's verifier refuses unreachable instructions.
			return p
		}
	}
	return append(p, ins(opMovK, regR0, 0, 0, 1), ins(opExit, 0, 0, 0, 0))
}

// progLoadAttr is the part of union bpf_attr that BPF_PROG_LOAD reads.
type progLoadAttr struct {
	ProgType           uint32
	InsnCnt            uint32
	Insns              uint64
	License            uint64
	LogLevel           uint32
	LogSize            uint32
	LogBuf             uint64
	KernVersion        uint32
	ProgFlags          uint32
	ProgName           [16]byte
	ProgIfindex        uint32
	ExpectedAttachType uint32
}

// progAttachAttr is the part of union bpf_attr that BPF_PROG_ATTACH reads.
type progAttachAttr struct {
	TargetFd     uint32
	AttachBpfFd  uint32
	AttachType   uint32
	AttachFlags  uint32
	ReplaceBpfFd uint32
}

// attachDeviceFilter loads the program for rules and attaches it to the
// cgroup directory dir, replacing the one attached before, if any (an
// attachment without BPF_F_ALLOW_MULTI holds one program). The cgroup keeps
// the program alive; its file descriptor can go.
func attachDeviceFilter(dir string, rules []DeviceRule) error {
	prog := DeviceProgram(rules)
	license := []byte("GPL\x00")
	load := func(logBuf []byte) (int, error) {
		attr := progLoadAttr{
			ProgType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
			InsnCnt:  uint32(len(prog)),
			Insns:    uint64(uintptr(unsafe.Pointer(&prog[0]))),
			License:  uint64(uintptr(unsafe.Pointer(&license[0]))),
		}
		copy(attr.ProgName[:], "cfs_devices")
		if logBuf != nil {
			attr.LogLevel, attr.LogSize, attr.LogBuf = 1, uint32(len(logBuf)), uint64(uintptr(unsafe.Pointer(&logBuf[0])))
		}
		// The verifier gives up with EAGAIN when a signal is pending (Go's
		// runtime preempts with SIGURG): try again, as libbpf does.
		for try := 0; ; try++ {
			fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
			if (errno == unix.EAGAIN || errno == unix.EINTR) && try < 20 {
				continue
			}
			if errno != 0 {
				return -1, errno
			}
			return int(fd), nil
		}
	}
	fd, err := load(nil)
	if err != nil {
		// Again with the verifier's log, to say why.
		logBuf := make([]byte, 1<<16)
		if _, err2 := load(logBuf); err2 != nil {
			return fmt.Errorf("load the device filter (bpf BPF_PROG_LOAD): %w: %s", err, cString(logBuf))
		}
		return fmt.Errorf("load the device filter (bpf BPF_PROG_LOAD): %w", err)
	}
	defer unix.Close(fd)
	cg, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer cg.Close()
	attr := progAttachAttr{TargetFd: uint32(cg.Fd()), AttachBpfFd: uint32(fd), AttachType: unix.BPF_CGROUP_DEVICE}
	if _, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr)); errno != 0 {
		err := error(errno)
		if errors.Is(errno, unix.EPERM) {
			err = fmt.Errorf("%w (is another program's filter attached with BPF_F_ALLOW_MULTI?)", errno)
		}
		return fmt.Errorf("attach the device filter to %s (bpf BPF_PROG_ATTACH): %w", dir, err)
	}
	return nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
