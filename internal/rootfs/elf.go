package rootfs

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Deps returns the absolute host paths of the ELF interpreter and every
// shared library that the binary at path loads, directly or through other
// libraries. It reads PT_INTERP and DT_NEEDED the way the dynamic loader
// does, instead of parsing ldd's output (ldd runs the binary's loader, and
// its output format differs between libcs). A static binary has none.
func Deps(path string) ([]string, error) {
	r := resolver{dirs: librarySearchDirs("/etc/ld.so.conf"), seen: map[string]bool{}}
	if err := r.walk(path, true); err != nil {
		return nil, err
	}
	return r.out, nil
}

type resolver struct {
	dirs []string
	seen map[string]bool
	out  []string
}

func (r *resolver) walk(path string, top bool) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("read ELF %s: %w", path, err)
	}
	defer f.Close()

	if top {
		for _, p := range f.Progs {
			if p.Type != elf.PT_INTERP {
				continue
			}
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return fmt.Errorf("read interpreter of %s: %w", path, err)
			}
			interp := strings.TrimRight(string(b), "\x00")
			if !r.seen[interp] {
				r.seen[interp] = true
				r.out = append(r.out, interp)
			}
		}
	}

	needed, err := f.DynString(elf.DT_NEEDED)
	if err != nil {
		return nil // no dynamic section: a static binary
	}
	var own []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		if v, err := f.DynString(tag); err == nil {
			for _, s := range v {
				for _, d := range strings.Split(s, ":") {
					own = append(own, strings.ReplaceAll(d, "$ORIGIN", filepath.Dir(path)))
				}
			}
		}
	}
	for _, lib := range needed {
		p, err := r.find(lib, own, f)
		if err != nil {
			return fmt.Errorf("%s needs %s: %w", path, lib, err)
		}
		if r.seen[p] {
			continue
		}
		r.seen[p] = true
		r.out = append(r.out, p)
		if err := r.walk(p, false); err != nil {
			return err
		}
	}
	return nil
}

// find looks a library up in the binary's own run path, then in the
// loader's configured and default directories, and accepts only a file of
// the same ELF class and machine (a 32-bit libc must not satisfy a 64-bit
// binary).
func (r *resolver) find(lib string, own []string, want *elf.File) (string, error) {
	if strings.Contains(lib, "/") {
		return lib, nil
	}
	for _, d := range append(own, r.dirs...) {
		p := filepath.Join(d, lib)
		g, err := elf.Open(p)
		if err != nil {
			continue
		}
		ok := g.Class == want.Class && g.Machine == want.Machine
		g.Close()
		if ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %v", r.dirs)
}

// librarySearchDirs reads ld.so.conf (and the files it includes), then adds
// the loader's built-in default directories.
func librarySearchDirs(conf string) []string {
	var dirs []string
	var read func(string)
	read = func(file string) {
		f, err := os.Open(file)
		if err != nil {
			return
		}
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			line := strings.TrimSpace(s.Text())
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = strings.TrimSpace(line[:i])
			}
			switch {
			case line == "":
			case strings.HasPrefix(line, "include "):
				pattern := strings.TrimSpace(strings.TrimPrefix(line, "include "))
				if !filepath.IsAbs(pattern) {
					pattern = filepath.Join(filepath.Dir(file), pattern)
				}
				matches, _ := filepath.Glob(pattern)
				for _, m := range matches {
					read(m)
				}
			default:
				dirs = append(dirs, line)
			}
		}
	}
	read(conf)
	return append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib",
		"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
		"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu")
}
