package cgroups

// Device rules: which device nodes a container may open (r, w) or create
// (m). On v1 the devices controller takes them as text, one rule per
// write; on v2 there is no such file, and an eBPF program attached to the
// cgroup decides each open (devices_linux.go). Both get the same list.

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DeviceRule is one rule: allow or deny access (a subset of "rwm") to
// devices of a type ('a' all, 'c' character, 'b' block) and numbers (-1:
// any).
type DeviceRule struct {
	Allow        bool
	Type         byte
	Major, Minor int64
	Access       string
}

// DefaultAllowed are the devices every container may use whatever its
// config says, as runc allows them: creating any node (mknod is harmless
// without access to it), the nodes of the default /dev, and terminals.
var DefaultAllowed = []DeviceRule{
	{true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"},
	{true, 'c', 1, 3, "rwm"}, {true, 'c', 1, 5, "rwm"}, {true, 'c', 1, 7, "rwm"}, // null zero full
	{true, 'c', 1, 8, "rwm"}, {true, 'c', 1, 9, "rwm"}, // random urandom
	{true, 'c', 5, 0, "rwm"}, {true, 'c', 5, 1, "rwm"}, {true, 'c', 5, 2, "rwm"}, // tty console ptmx
	{true, 'c', 136, -1, "rwm"}, // /dev/pts/N
}

// DeviceRules turns the config's linux.resources.devices into rules,
// checking each.
func DeviceRules(in []specs.LinuxDeviceCgroup) ([]DeviceRule, error) {
	var out []DeviceRule
	for i, d := range in {
		r := DeviceRule{Allow: d.Allow, Type: 'a', Major: -1, Minor: -1, Access: d.Access}
		switch d.Type {
		case "", "a":
		case "c", "b":
			r.Type = d.Type[0]
		default:
			return nil, fmt.Errorf("linux.resources.devices[%d]: type %q is not a, c or b", i, d.Type)
		}
		if d.Major != nil {
			r.Major = *d.Major
		}
		if d.Minor != nil {
			r.Minor = *d.Minor
		}
		if r.Access == "" {
			r.Access = "rwm"
		}
		for _, c := range r.Access {
			if c != 'r' && c != 'w' && c != 'm' {
				return nil, fmt.Errorf("linux.resources.devices[%d]: access %q: want letters of rwm", i, d.Access)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// V1 is the rule as devices.allow and devices.deny take it: "c 1:3 rwm".
func (r DeviceRule) V1() string {
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return fmt.Sprint(n)
	}
	if r.Type == 'a' {
		return "a"
	}
	return fmt.Sprintf("%c %s:%s %s", r.Type, num(r.Major), num(r.Minor), r.Access)
}

// Allows evaluates the rules as the kernel's v1 controller would for one
// access ('r', 'w' or 'm') to a device: the last rule that matches wins,
// and with none, access is allowed (a new cgroup allows everything until
// told otherwise). The eBPF program of v2 computes the same; tests compare
// the two.
func Allows(rules []DeviceRule, typ byte, major, minor int64, access byte) bool {
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		if r.Type != 'a' && r.Type != typ {
			continue
		}
		if (r.Major >= 0 && r.Major != major) || (r.Minor >= 0 && r.Minor != minor) {
			continue
		}
		has := false
		for j := 0; j < len(r.Access); j++ {
			has = has || r.Access[j] == access
		}
		if !has {
			continue
		}
		return r.Allow
	}
	return true
}
