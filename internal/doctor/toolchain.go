package doctor

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// What a first run needs of Go: modules without a network (vendor/), and
// the student's Go settings, which `go run -exec sudo` keeps and sudo alone
// drops.

// defaultGoproxy is GOPROXY when nothing sets it.
const defaultGoproxy = "https://proxy.golang.org,direct"

// checkGoproxy compares the GOPROXY of the user who ran sudo with root's.
// `go run -exec sudo` builds as the user, with theirs; the old spelling,
// sudo env "PATH=$PATH" go run, runs go as root, which sudo gave root's
// environment and root's go env file: a classroom proxy (or goproxy.cn)
// set for the user is lost there, and a download fails.
func checkGoproxy(h *Host) Result {
	r := Result{Name: "goproxy"}
	uid := h.Getenv("SUDO_UID")
	if h.Euid != 0 || uid == "" || uid == "0" {
		r.Status = OK
		r.Detail = "not run through sudo by another user: nothing to compare (go run -exec sudo builds with your GOPROXY)"
		return r
	}
	home := h.homeOf(uid)
	userEnv := map[string]string{}
	if h.UserEnv != nil {
		userEnv = h.UserEnv()
	}
	mine, mineFrom := goSetting("GOPROXY", func(k string) string { return userEnv[k] }, filepath.Join(h.Root, home, ".config/go/env"))
	roots, rootsFrom := goSetting("GOPROXY", h.Getenv, filepath.Join(h.Root, "root/.config/go/env"))
	if mine == roots {
		r.Status = OK
		r.Detail = fmt.Sprintf("GOPROXY is %s for you and for root", mine)
		return r
	}
	r.Status = Warn
	r.Detail = fmt.Sprintf("your GOPROXY is %s (%s), root's %s (%s): go run as root, as sudo env \"PATH=$PATH\" go run does it, would fetch modules through root's",
		mine, mineFrom, roots, rootsFrom)
	r.Fix = fmt.Sprintf("use go run -exec sudo ./stageNN-name, which builds as you with your GOPROXY (vendor/ has the modules anyway); with the old form, pass it along: sudo env \"PATH=$PATH\" GOPROXY=%s go run …", mine)
	return r
}

// goSetting returns a Go setting as go would see it: from the environment,
// else from the go env file (what go env -w writes), else the default; and
// where it came from.
func goSetting(key string, getenv func(string) string, envFile string) (value, from string) {
	if v := getenv(key); v != "" {
		return v, "environment"
	}
	if f, err := os.Open(envFile); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && k == key && v != "" {
				return v, envFile
			}
		}
	}
	return defaultGoproxy, "default"
}

// homeOf returns the home directory of uid from the host's /etc/passwd.
func (h *Host) homeOf(uid string) string {
	f, err := os.Open(h.etc("passwd"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 6 && fields[2] == uid {
			return fields[5]
		}
	}
	return ""
}

// checkVendor looks for the modules a build needs: vendor/ in the
// checkout (committed, so a clone builds with no network), else a module
// proxy to download them from.
func checkVendor(h *Host) Result {
	r := Result{Name: "vendor"}
	if h.ModuleDir == "" {
		r.Status = OK
		r.Detail = "not run from the repository: no modules to look for"
		return r
	}
	if exists(filepath.Join(h.ModuleDir, "vendor", "modules.txt")) {
		r.Status = OK
		r.Detail = "vendor/ holds every module: a build needs no network"
		return r
	}
	proxy, _ := goSetting("GOPROXY", h.Getenv, "")
	target := proxyAddr(proxy)
	r.NeededBy = from(Stages[0])
	if target == "" {
		r.Status = Fail
		r.Detail = fmt.Sprintf("no vendor/ in %s, and GOPROXY=%s names no proxy to download the modules from", h.ModuleDir, proxy)
		r.Fix = "git checkout -- vendor (the repository has it), or set GOPROXY (e.g. https://goproxy.cn)"
		return r
	}
	if h.Dial == nil {
		r.Status = Warn
		r.Detail = fmt.Sprintf("no vendor/ in %s: the first build downloads the modules from %s (not tried)", h.ModuleDir, target)
		r.Fix = "git checkout -- vendor (the repository has it)"
		return r
	}
	if err := h.Dial(target); err != nil {
		r.Status = Fail
		r.Detail = fmt.Sprintf("no vendor/ in %s, and no network: the first build cannot download the modules from %s: %v", h.ModuleDir, target, err)
		r.Fix = "git checkout -- vendor (the repository has it); or connect, or set GOPROXY to a proxy you reach (in mainland China: https://goproxy.cn)"
		return r
	}
	r.Status = Warn
	r.NeededBy = nil
	r.Detail = fmt.Sprintf("no vendor/ in %s: the first build downloads the modules from %s, which answers", h.ModuleDir, target)
	r.Fix = "git checkout -- vendor (the repository has it), so that a build needs no network"
	return r
}

// proxyAddr is the host:port of the first proxy in a GOPROXY list, or ""
// when it names none ("direct", "off").
func proxyAddr(goproxy string) string {
	first, _, _ := strings.Cut(goproxy, ",")
	first, _, _ = strings.Cut(first, "|")
	u, err := url.Parse(first)
	if err != nil || u.Host == "" {
		return ""
	}
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "http" {
		return u.Host + ":80"
	}
	return u.Host + ":443"
}
