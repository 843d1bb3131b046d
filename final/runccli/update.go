package runccli

// update's flags, runc's: each sets one field of linux.resources, on top
// of --resources.

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type updateFlags struct {
	memory, memoryReservation, memorySwap, cpusetCpus, cpusetMems *string
	cpuShares, cpuPeriod                                          *uint64
	cpuQuota, pidsLimit                                           *int64
	blkioWeight                                                   *uint
}

func addUpdateFlags(fs *flag.FlagSet) updateFlags {
	return updateFlags{
		memory:            fs.String("memory", "", "memory limit, `SIZE` with k, m or g (-1: none)"),
		memoryReservation: fs.String("memory-reservation", "", "memory soft limit, `SIZE`"),
		memorySwap:        fs.String("memory-swap", "", "memory plus swap limit, `SIZE` (-1: no swap limit)"),
		cpusetCpus:        fs.String("cpuset-cpus", "", "`CPUS` to run on (e.g. 0-1)"),
		cpusetMems:        fs.String("cpuset-mems", "", "memory `NODES` to use"),
		cpuShares:         fs.Uint64("cpu-shares", 0, "relative CPU weight, `N` (1024: normal)"),
		cpuPeriod:         fs.Uint64("cpu-period", 0, "CFS period, `µs`"),
		cpuQuota:          fs.Int64("cpu-quota", 0, "CPU time per period, `µs` (-1: none)"),
		pidsLimit:         fs.Int64("pids-limit", 0, "at most `N` processes (-1: none)"),
		blkioWeight:       fs.Uint("blkio-weight", 0, "block IO weight, `N` from 10 to 1000"),
	}
}

// apply writes the flags that were given into r.
func (u updateFlags) apply(fs *flag.FlagSet, r *specs.LinuxResources) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	for _, x := range []struct {
		name string
		v    *string
		dst  func() **int64
	}{
		{"memory", u.memory, func() **int64 { return &mem().Limit }},
		{"memory-reservation", u.memoryReservation, func() **int64 { return &mem().Reservation }},
		{"memory-swap", u.memorySwap, func() **int64 { return &mem().Swap }},
	} {
		if !set[x.name] {
			continue
		}
		n, err := ParseSize(*x.v)
		if err != nil {
			return usagef("update: --%s: %v", x.name, err)
		}
		*x.dst() = &n
	}
	if set["cpu-shares"] {
		cpu().Shares = u.cpuShares
	}
	if set["cpu-period"] {
		cpu().Period = u.cpuPeriod
	}
	if set["cpu-quota"] {
		cpu().Quota = u.cpuQuota
	}
	if set["cpuset-cpus"] {
		cpu().Cpus = *u.cpusetCpus
	}
	if set["cpuset-mems"] {
		cpu().Mems = *u.cpusetMems
	}
	if set["pids-limit"] {
		r.Pids = &specs.LinuxPids{Limit: *u.pidsLimit}
	}
	if set["blkio-weight"] {
		if *u.blkioWeight < 10 || *u.blkioWeight > 1000 {
			return usagef("update: --blkio-weight %d: want 10 to 1000", *u.blkioWeight)
		}
		w := uint16(*u.blkioWeight)
		r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	return nil
}

// ParseSize reads a size as docker and runc do: a number with an optional
// b, k, m or g (powers of 1024, "kb" and "MiB" alike), or -1 for none.
func ParseSize(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "ib"), "b")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (use a number with k, m or g, e.g. 256m)", s)
	}
	return int64(n * float64(mult)), nil
}
