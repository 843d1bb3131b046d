package runtime

// Checking a bundle's config.json before anything is created: a config
// this runtime cannot honour is refused with what is wrong and where, and
// leaves nothing behind. The fields it cannot honour (AppArmor, SELinux,
// Intel RDT, idmapped mounts…) are refused rather than ignored: a
// container that silently runs with less isolation than asked for is
// worse than one that does not start. docs/09-runtime.md lists them.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rlimits maps the config's names to the kernel's numbers (man 2 getrlimit).
var rlimits = map[string]int{
	"RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
	"RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
	"RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
	"RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}

// namespaceTypes are the kinds a container may have: new, or joined by
// path.
var namespaceTypes = []specs.LinuxNamespaceType{
	specs.PIDNamespace, specs.NetworkNamespace, specs.MountNamespace, specs.IPCNamespace,
	specs.UTSNamespace, specs.UserNamespace, specs.CgroupNamespace,
}

var validID = regexp.MustCompile(`^[\w+.-]+$`)

// CheckID refuses a container ID runc would refuse: it names a directory
// under the state root, so no slashes, and not "." or "..".
func CheckID(id string) error {
	if id == "" {
		return errors.New("container ID must not be empty")
	}
	if !validID.MatchString(id) || id == "." || id == ".." || len(id) > 1024 {
		return fmt.Errorf("invalid container ID %q: use letters, digits, '_', '+', '-' and '.'", id)
	}
	return nil
}

// CheckVersion accepts the ociVersion of runtime-spec 1.0 to 1.2.
func CheckVersion(v string) error {
	core, _, _ := strings.Cut(v, "-") // 1.0.2-dev
	f := strings.Split(core, ".")
	if len(f) == 3 {
		major, err1 := strconv.Atoi(f[0])
		minor, err2 := strconv.Atoi(f[1])
		_, err3 := strconv.Atoi(f[2])
		if err1 == nil && err2 == nil && err3 == nil && major == specs.VersionMajor && minor <= specs.VersionMinor {
			return nil
		}
	}
	return fmt.Errorf("unsupported ociVersion %q: this runtime implements runtime-spec 1.0 to %d.%d", v, specs.VersionMajor, specs.VersionMinor)
}

// Validate checks a config for bundle; errors name the field, as
// "config.json: linux.namespaces[2]: ...".
func Validate(s *specs.Spec, bundle string) error {
	if err := validate(s, bundle); err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	return nil
}

func validate(s *specs.Spec, bundle string) error {
	if err := CheckVersion(s.Version); err != nil {
		return err
	}
	if s.Solaris != nil || s.Windows != nil || s.VM != nil || s.ZOS != nil {
		return errors.New("only Linux containers are supported (the config has solaris, windows, vm or zos)")
	}
	if s.Root == nil || s.Root.Path == "" {
		return errors.New("root.path is missing: it names the root filesystem, relative to the bundle")
	}
	root := s.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(bundle, root)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return fmt.Errorf("root.path %q: %s is not a directory (the bundle needs its root filesystem there)", s.Root.Path, root)
	}
	if err := validateProcess(s.Process); err != nil {
		return err
	}
	if s.Linux == nil {
		return errors.New("linux is missing: a Linux container needs its namespaces listed there")
	}
	l := s.Linux
	ns := map[specs.LinuxNamespaceType]specs.LinuxNamespace{}
	for i, n := range l.Namespaces {
		known := false
		for _, t := range namespaceTypes {
			known = known || n.Type == t
		}
		switch {
		case n.Type == specs.TimeNamespace:
			return fmt.Errorf("linux.namespaces[%d]: time namespaces are not supported", i)
		case !known:
			return fmt.Errorf("linux.namespaces[%d]: unknown namespace type %q (want pid, network, mount, ipc, uts, user or cgroup)", i, n.Type)
		}
		if _, dup := ns[n.Type]; dup {
			return fmt.Errorf("linux.namespaces[%d]: %s is listed twice", i, n.Type)
		}
		if n.Path != "" {
			if !filepath.IsAbs(n.Path) {
				return fmt.Errorf("linux.namespaces[%d]: path %q must be absolute", i, n.Path)
			}
			if n.Type == specs.UserNamespace {
				return fmt.Errorf("linux.namespaces[%d]: joining a user namespace by path is not supported: setns(2) CLONE_NEWUSER needs a single-threaded caller, and a Go program has many threads", i)
			}
			if _, err := os.Stat(n.Path); err != nil {
				return fmt.Errorf("linux.namespaces[%d]: %s namespace %s: %w", i, n.Type, n.Path, err)
			}
		}
		ns[n.Type] = n
	}
	if _, ok := ns[specs.MountNamespace]; !ok {
		return errors.New("linux.namespaces: a mount namespace is required: the container's root is set up in one")
	}
	if n, ok := ns[specs.MountNamespace]; ok && n.Path != "" {
		return errors.New("linux.namespaces: joining a mount namespace by path is not supported for a new container (its root is set up in a new one)")
	}
	if _, ok := ns[specs.UTSNamespace]; !ok && (s.Hostname != "" || s.Domainname != "") {
		return errors.New("hostname and domainname need a new uts namespace in linux.namespaces: otherwise they would rename the host")
	}
	_, userns := ns[specs.UserNamespace]
	if userns != (len(l.UIDMappings) > 0) || userns != (len(l.GIDMappings) > 0) {
		return errors.New("linux.uidMappings and gidMappings go with a user namespace, and a user namespace needs both")
	}
	for i, m := range s.Mounts {
		if err := validateMount(m); err != nil {
			return fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
	}
	if s.Hooks != nil {
		for kind, hooks := range map[string][]specs.Hook{
			"prestart": s.Hooks.Prestart, "createRuntime": s.Hooks.CreateRuntime, "createContainer": s.Hooks.CreateContainer,
			"startContainer": s.Hooks.StartContainer, "poststart": s.Hooks.Poststart, "poststop": s.Hooks.Poststop,
		} {
			for i, h := range hooks {
				if !filepath.IsAbs(h.Path) {
					return fmt.Errorf("hooks.%s[%d]: path %q must be absolute", kind, i, h.Path)
				}
			}
		}
	}
	for i, d := range l.Devices {
		if !strings.HasPrefix(filepath.Clean(d.Path), "/dev/") {
			return fmt.Errorf("linux.devices[%d]: path %q must be under /dev", i, d.Path)
		}
		switch d.Type {
		case "c", "u", "b", "p":
		default:
			return fmt.Errorf("linux.devices[%d]: type %q is not c, u, b or p", i, d.Type)
		}
	}
	if err := validateResources(l.Resources); err != nil {
		return err
	}
	if _, ok := rootPropagation(l.RootfsPropagation); !ok {
		return fmt.Errorf("linux.rootfsPropagation %q: want private, rprivate, shared, rshared, slave, rslave, unbindable or runbindable", l.RootfsPropagation)
	}
	for key := range l.Sysctl {
		if err := checkSysctl(key, ns); err != nil {
			return fmt.Errorf("linux.sysctl: %w", err)
		}
	}
	if l.Seccomp != nil {
		if _, err := seccompFilter(l.Seccomp); err != nil {
			return fmt.Errorf("linux.%w", err)
		}
	}
	for _, p := range append(append([]string(nil), l.MaskedPaths...), l.ReadonlyPaths...) {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("linux.maskedPaths/readonlyPaths: %q must be absolute", p)
		}
	}
	switch {
	case l.MountLabel != "":
		return errors.New("linux.mountLabel (SELinux) is not supported")
	case l.IntelRdt != nil:
		return errors.New("linux.intelRdt is not supported")
	case l.Personality != nil:
		return errors.New("linux.personality is not supported")
	case len(l.TimeOffsets) > 0:
		return errors.New("linux.timeOffsets (time namespaces) are not supported")
	}
	return nil
}

func validateProcess(p *specs.Process) error {
	if p == nil {
		return errors.New("process is missing: it says what to run")
	}
	switch {
	case len(p.Args) == 0:
		return errors.New("process.args must name the program to run")
	case !filepath.IsAbs(p.Cwd):
		return fmt.Errorf("process.cwd %q must be an absolute path", p.Cwd)
	case p.User.Username != "":
		return errors.New("process.user.username is for Windows; give uid and gid")
	case p.CommandLine != "":
		return errors.New("process.commandLine is for Windows; give args")
	case p.ApparmorProfile != "":
		return fmt.Errorf("process.apparmorProfile %q: AppArmor is not supported", p.ApparmorProfile)
	case p.SelinuxLabel != "":
		return fmt.Errorf("process.selinuxLabel %q: SELinux is not supported", p.SelinuxLabel)
	case p.Scheduler != nil:
		return errors.New("process.scheduler is not supported")
	case p.IOPriority != nil:
		return errors.New("process.ioPriority is not supported")
	case p.ExecCPUAffinity != nil:
		return errors.New("process.execCPUAffinity is not supported")
	}
	for _, e := range p.Env {
		if !strings.Contains(e, "=") {
			return fmt.Errorf("process.env %q: want NAME=VALUE", e)
		}
	}
	if c := p.Capabilities; c != nil {
		for set, names := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted, "inheritable": c.Inheritable, "ambient": c.Ambient} {
			if _, err := capMask(names, len(capNames)); err != nil {
				return fmt.Errorf("process.capabilities.%s: %w", set, err)
			}
		}
	}
	for _, r := range p.Rlimits {
		if _, ok := rlimits[r.Type]; !ok {
			return fmt.Errorf("process.rlimits: unknown type %q (want RLIMIT_NOFILE, RLIMIT_NPROC, …)", r.Type)
		}
		if r.Soft > r.Hard {
			return fmt.Errorf("process.rlimits %s: soft %d is above hard %d", r.Type, r.Soft, r.Hard)
		}
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return fmt.Errorf("process.oomScoreAdj %d: want -1000 to 1000", *p.OOMScoreAdj)
	}
	return nil
}

func validateMount(m specs.Mount) error {
	if !filepath.IsAbs(m.Destination) {
		return fmt.Errorf("destination %q must be an absolute path (runtime-spec 1.2)", m.Destination)
	}
	if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
		return errors.New("idmapped mounts (uidMappings, gidMappings) are not supported")
	}
	for _, o := range m.Options {
		switch {
		case o == "idmap", o == "ridmap":
			return fmt.Errorf("option %q (idmapped mounts) is not supported", o)
		case strings.HasPrefix(o, "tmpcopyup"):
			return fmt.Errorf("option %q is not supported", o)
		}
	}
	o := parseMountOptions(m.Type, m.Options)
	if o.Bind && m.Source == "" {
		return errors.New("a bind mount needs a source")
	}
	return nil
}

func validateResources(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	switch {
	case len(r.HugepageLimits) > 0:
		return errors.New("linux.resources.hugepageLimits are not supported")
	case r.Network != nil:
		return errors.New("linux.resources.network (net_cls, net_prio) is not supported")
	case len(r.Rdma) > 0:
		return errors.New("linux.resources.rdma is not supported")
	}
	if m := r.Memory; m != nil && m.KernelTCP != nil {
		return errors.New("linux.resources.memory.kernelTCP is not supported")
	}
	if c := r.CPU; c != nil {
		switch {
		case c.RealtimePeriod != nil || c.RealtimeRuntime != nil:
			return errors.New("linux.resources.cpu realtimePeriod and realtimeRuntime are not supported")
		case c.Burst != nil, c.Idle != nil:
			return errors.New("linux.resources.cpu burst and idle are not supported")
		}
	}
	if b := r.BlockIO; b != nil {
		if b.LeafWeight != nil || len(b.WeightDevice) > 0 || len(b.ThrottleReadBpsDevice) > 0 || len(b.ThrottleWriteBpsDevice) > 0 ||
			len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0 {
			return errors.New("linux.resources.blockIO: only weight is supported")
		}
	}
	for i, d := range r.Devices {
		switch d.Type {
		case "", "a", "c", "b":
		default:
			return fmt.Errorf("linux.resources.devices[%d]: type %q is not a, c or b", i, d.Type)
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return fmt.Errorf("linux.resources.devices[%d]: access %q: want letters of rwm", i, d.Access)
		}
	}
	return nil
}

// checkSysctl allows only the sysctls that belong to a namespace the
// container has: setting another would change the host.
func checkSysctl(key string, ns map[specs.LinuxNamespaceType]specs.LinuxNamespace) error {
	need, err := SysctlNamespace(key)
	if err != nil {
		return err
	}
	if n, ok := ns[need]; !ok || n.Path != "" && need != specs.NetworkNamespace {
		return fmt.Errorf("%s needs a new %s namespace", key, need)
	}
	return nil
}

// SysctlNamespace is the namespace sysctl key belongs to; one that
// belongs to none is the host's, and an error.
func SysctlNamespace(key string) (specs.LinuxNamespaceType, error) {
	switch {
	case strings.HasPrefix(key, "net."):
		return specs.NetworkNamespace, nil
	case strings.HasPrefix(key, "fs.mqueue."), key == "kernel.msgmax", key == "kernel.msgmnb", key == "kernel.msgmni",
		key == "kernel.sem", key == "kernel.shmall", key == "kernel.shmmax", key == "kernel.shmmni", key == "kernel.shm_rmid_forced":
		return specs.IPCNamespace, nil
	case key == "kernel.hostname", key == "kernel.domainname":
		return specs.UTSNamespace, nil
	}
	return "", fmt.Errorf("%s is not namespaced: setting it in a container would change the host", key)
}
