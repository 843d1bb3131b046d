// Command vmimage fills the staging directory of the cgroup v2 test VM's
// initramfs (see scripts/vmtest) with the two things a shell script does
// badly: kernel modules with the modules they depend on, in an order that
// insmod can load them, and host programs with the shared libraries they
// load.
//
//	go run ./scripts/vmimage -root DIR -kmod KDIR/lib/modules/VERSION \
//	    -modules "overlay veth" -autoload kernel/net/netfilter \
//	    -packages "coreutils util-linux" -tools "ip nft unshare"
//
// Modules are copied to DIR/lib/modules/VERSION/… (decompressed, so that
// insmod and depmod need no decompressor) and listed, dependencies first, one
// path a line, in DIR/etc/cfs-vmtest/modules. A module's dependencies are
// the "depends=" and "softdep=pre:" entries of its .modinfo section, which
// is what depmod(8) reads to write modules.dep. The modules under the
// -autoload paths are copied with their dependencies but not listed: the
// image's depmod makes them loadable on demand, as on a Debian host.
//
// The VM's programs are the host's own (Debian's): every program of the
// -packages (the files that dpkg -L lists in a bin or sbin directory), and
// each of the -tools, looked up on the host's PATH. Each is copied, with
// its ELF interpreter and libraries (rootfs.Deps), to /usr/bin or
// /usr/sbin in the image; the libraries keep their host paths. There is no
// busybox: the VM's userland is what a Debian host has.
package main

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"cfs/internal/rootfs"
)

func main() {
	root := flag.String("root", "", "staging directory of the initramfs (required)")
	kmod := flag.String("kmod", "", "the kernel's module directory, …/lib/modules/VERSION")
	modules := flag.String("modules", "", "modules to load at boot, separated by spaces or commas")
	autoload := flag.String("autoload", "", "more modules for the kernel to load on demand: paths under -kmod, directories or .ko files")
	tools := flag.String("tools", "", "host programs to copy, separated by spaces or commas")
	packages := flag.String("packages", "", "Debian packages whose programs to copy, separated by spaces or commas")
	flag.Parse()
	if *root == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	progs, err := packagePrograms(fields(*packages))
	if err == nil {
		err = run(*root, *kmod, fields(*modules), fields(*autoload), append(progs, fields(*tools)...))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmimage: %v\n", err)
		os.Exit(1)
	}
}

func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}

func run(root, kmod string, modules, autoload, tools []string) error {
	if len(modules)+len(autoload) > 0 {
		if kmod == "" {
			return errors.New("-modules and -autoload need -kmod")
		}
		if err := installModules(root, kmod, modules, autoload); err != nil {
			return err
		}
	}
	for _, t := range tools {
		if err := installTool(root, t); err != nil {
			return err
		}
	}
	if len(tools) > 0 {
		// glibc loads the user database code at run time (dlopen), so no
		// DT_NEEDED names it; whoami and id need it to print "root".
		for _, d := range []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64"} {
			p := filepath.Join(d, "libnss_files.so.2")
			if _, err := os.Stat(p); err == nil {
				return rootfs.CopyFile(p, filepath.Join(root, p))
			}
		}
	}
	return nil
}

// module is one .ko file in the kernel's tree.
type module struct {
	path    string   // absolute path on the host
	rel     string   // path under lib/modules/VERSION, without a compression suffix
	deps    []string // names of the modules to load first; "?" marks a soft one
	aliases []string // other names it answers to (patterns, as in modules.alias)
	read    bool     // deps and aliases are filled in
}

// installModules copies the named modules and their dependencies into the
// image and writes their load order; it copies the modules under the
// autoload paths too, with their dependencies, for modprobe(8) to find when
// the kernel asks for one (a netlink family, a file system type). A soft dependency ("softdep=pre:") may
// name an alias (libcrc32c wants "crc32c"); like modprobe(8), every module
// that answers to it is loaded, and a soft one that fails to load (a CPU
// without the instructions crc32c-intel needs) is listed with a leading
// "?" so that /init only warns.
func installModules(root, kmod string, want, autoload []string) error {
	all, err := scanModules(kmod)
	if err != nil {
		return err
	}
	var order []string
	soft := map[string]bool{}
	state := map[string]int{} // 0 new, 1 being visited, 2 done
	var visit func(name, from string) error
	visit = func(name, from string) error {
		m, ok := all[name]
		if !ok {
			if from != "" {
				return fmt.Errorf("module %s (needed by %s) is not in %s", name, from, kmod)
			}
			return fmt.Errorf("module %s is not in %s (built in? then leave it out of the list)", name, kmod)
		}
		switch state[name] {
		case 1:
			return fmt.Errorf("modules depend on each other in a loop through %s", name)
		case 2:
			return nil
		}
		state[name] = 1
		if err := readModinfo(m); err != nil {
			return err
		}
		for _, d := range m.deps {
			names := []string{d}
			if strings.HasPrefix(d, "?") {
				if names, err = resolveSoft(all, strings.TrimPrefix(d, "?")); err != nil {
					return err
				}
				for _, n := range names {
					if state[n] == 0 {
						soft[n] = true
					}
				}
			}
			for _, n := range names {
				if err := visit(n, name); err != nil {
					return err
				}
			}
		}
		state[name] = 2
		order = append(order, name)
		return nil
	}
	for _, w := range want {
		delete(soft, modName(w))
		if err := visit(modName(w), ""); err != nil {
			return err
		}
	}
	preload := len(order)
	var more []string
	for name, m := range all {
		for _, a := range autoload {
			a = strings.TrimSuffix(a, "/")
			if m.rel == a || strings.HasPrefix(m.rel, a+"/") {
				more = append(more, name)
				break
			}
		}
	}
	sort.Strings(more)
	for _, name := range more {
		if err := visit(name, ""); err != nil {
			return err
		}
	}
	version := filepath.Base(kmod)
	var list bytes.Buffer
	for i, name := range order {
		m := all[name]
		rel := filepath.Join("lib/modules", version, m.rel)
		if err := decompressTo(m.path, filepath.Join(root, rel)); err != nil {
			return err
		}
		if i >= preload {
			continue
		}
		mark := ""
		if soft[name] {
			mark = "?"
		}
		fmt.Fprintf(&list, "%s/%s\n", mark, rel)
	}
	dst := filepath.Join(root, "etc/cfs-vmtest/modules")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, list.Bytes(), 0o644)
}

// resolveSoft returns the modules a soft dependency names: the module of
// that name, else every module with a matching alias, else none (the code
// is built into the kernel, or optional).
func resolveSoft(all map[string]*module, name string) ([]string, error) {
	if _, ok := all[name]; ok {
		return []string{name}, nil
	}
	var out []string
	for n, m := range all {
		if err := readModinfo(m); err != nil {
			return nil, err
		}
		for _, a := range m.aliases {
			if ok, _ := filepath.Match(a, name); ok || a == name {
				out = append(out, n)
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// modName is a module's name as the kernel spells it: dashes in file
// names are underscores in module names.
func modName(s string) string {
	s = filepath.Base(s)
	for _, suf := range []string{".xz", ".zst", ".gz"} {
		s = strings.TrimSuffix(s, suf)
	}
	return strings.ReplaceAll(strings.TrimSuffix(s, ".ko"), "-", "_")
}

func scanModules(kmod string) (map[string]*module, error) {
	all := map[string]*module{}
	err := filepath.WalkDir(kmod, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := d.Name()
		if d.IsDir() || !strings.Contains(base, ".ko") {
			return nil
		}
		rel, _ := filepath.Rel(kmod, p)
		for _, suf := range []string{".xz", ".zst", ".gz"} {
			rel = strings.TrimSuffix(rel, suf)
		}
		if !strings.HasSuffix(rel, ".ko") {
			return nil
		}
		all[modName(base)] = &module{path: p, rel: rel}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", kmod, err)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no kernel modules in %s", kmod)
	}
	return all, nil
}

// readModinfo fills m.deps from the module's .modinfo section: a list of
// NUL-terminated key=value strings (see modinfo(8)). Soft dependencies are
// marked with a leading "?".
func readModinfo(m *module) error {
	if m.read {
		return nil
	}
	m.read = true
	data, err := readModule(m.path)
	if err != nil {
		return err
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("read ELF %s: %w", m.path, err)
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return fmt.Errorf("%s has no .modinfo section", m.path)
	}
	info, err := sec.Data()
	if err != nil {
		return fmt.Errorf("read .modinfo of %s: %w", m.path, err)
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		key, val, _ := strings.Cut(string(kv), "=")
		switch key {
		case "alias":
			m.aliases = append(m.aliases, val)
		case "depends":
			for _, d := range strings.Split(val, ",") {
				if d != "" {
					m.deps = append(m.deps, modName(d))
				}
			}
		case "softdep":
			// "pre: a b post: c": only "pre" modules must come first.
			pre := false
			for _, w := range strings.Fields(val) {
				switch w {
				case "pre:":
					pre = true
				case "post:":
					pre = false
				default:
					if pre {
						m.deps = append(m.deps, "?"+modName(w))
					}
				}
			}
		}
	}
	return nil
}

// readModule returns a module's content, decompressed.
func readModule(path string) ([]byte, error) {
	switch {
	case strings.HasSuffix(path, ".gz"):
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("gunzip %s: %w", path, err)
		}
		return io.ReadAll(z)
	case strings.HasSuffix(path, ".xz"):
		return command(path, "xz-utils", "xz", "-dc", path)
	case strings.HasSuffix(path, ".zst"):
		return command(path, "zstd", "zstd", "-dcq", path)
	}
	return os.ReadFile(path)
}

func command(path, pkg, name string, args ...string) ([]byte, error) {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return nil, fmt.Errorf("decompress %s with %s (apt-get install %s): %w", path, name, pkg, err)
	}
	return out, nil
}

func decompressTo(src, dst string) error {
	data, err := readModule(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// packagePrograms lists the programs of Debian packages installed on the
// host: their files in a bin or sbin directory, by absolute path.
func packagePrograms(pkgs []string) ([]string, error) {
	var out []string
	for _, pkg := range pkgs {
		list, err := exec.Command("dpkg-query", "-L", pkg).Output()
		if err != nil {
			return nil, fmt.Errorf("dpkg-query -L %s (is it installed? apt-get install %s): %w", pkg, pkg, err)
		}
		for _, p := range strings.Split(string(list), "\n") {
			switch filepath.Dir(p) {
			case "/bin", "/sbin", "/usr/bin", "/usr/sbin":
			default:
				continue
			}
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// installTool copies a host program (a name on PATH, or an absolute path)
// and what it loads into the image. The program goes to /usr/bin or
// /usr/sbin whichever directory the host has it in; the loader and
// libraries keep their host paths.
func installTool(root, name string) error {
	p := name
	if !filepath.IsAbs(p) {
		var err error
		if p, err = exec.LookPath(name); err != nil {
			return fmt.Errorf("%s is not installed on this host: %w", name, err)
		}
		if p, err = filepath.Abs(p); err != nil {
			return err
		}
	}
	dir := "usr/bin"
	if strings.HasSuffix(filepath.Dir(p), "sbin") {
		dir = "usr/sbin"
	}
	dst := filepath.Join(dir, filepath.Base(p))
	// Replace, never write through, whatever is there (a link).
	if err := os.Remove(filepath.Join(root, dst)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if !isELF(p) {
		// A script (bashbug, zgrep): its interpreter is a program too.
		return rootfs.CopyFile(p, filepath.Join(root, dst))
	}
	if err := rootfs.InstallBinary(root, p, dst); err != nil {
		return fmt.Errorf("copy %s into the image: %w", p, err)
	}
	return nil
}

// isELF reports whether the file at p starts with ELF's magic number.
func isELF(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	_, err = io.ReadFull(f, magic)
	return err == nil && string(magic) == elf.ELFMAG
}
