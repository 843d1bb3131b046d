package image

import (
	"encoding/json"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// applyChanges applies Dockerfile instructions to a config, as docker
// import -c and docker commit -c do: CMD, ENTRYPOINT (JSON or shell form),
// ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME and STOPSIGNAL.
func applyChanges(c *v1.Config, changes []string) error {
	for _, ch := range changes {
		instr, arg, _ := strings.Cut(strings.TrimSpace(ch), " ")
		arg = strings.TrimSpace(arg)
		switch strings.ToUpper(instr) {
		case "CMD":
			c.Cmd = execForm(arg)
		case "ENTRYPOINT":
			c.Entrypoint = execForm(arg)
		case "ENV":
			for _, kv := range keyValues(arg) {
				c.Env = setEnv(c.Env, kv)
			}
		case "WORKDIR":
			c.WorkingDir = arg
		case "USER":
			c.User = arg
		case "STOPSIGNAL":
			c.StopSignal = arg
		case "LABEL":
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			for _, kv := range keyValues(arg) {
				k, v, _ := strings.Cut(kv, "=")
				c.Labels[k] = v
			}
		case "EXPOSE":
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range strings.Fields(arg) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				c.ExposedPorts[p] = struct{}{}
			}
		case "VOLUME":
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			// ["/a", "/b"], or the places separated by spaces: no shell.
			var list []string
			if !strings.HasPrefix(arg, "[") || json.Unmarshal([]byte(arg), &list) != nil {
				list = strings.Fields(arg)
			}
			for _, v := range list {
				c.Volumes[v] = struct{}{}
			}
		default:
			return fmt.Errorf("--change %q: cfs applies CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME and STOPSIGNAL", ch)
		}
		if arg == "" {
			return fmt.Errorf("--change %q: %s needs an argument", ch, strings.ToUpper(instr))
		}
	}
	return nil
}

// execForm reads ["a", "b"] as a list, and anything else as a shell
// command (["/bin/sh", "-c", "…"]), as a Dockerfile does.
func execForm(arg string) []string {
	var list []string
	if strings.HasPrefix(arg, "[") && json.Unmarshal([]byte(arg), &list) == nil {
		return list
	}
	return []string{"/bin/sh", "-c", arg}
}

// keyValues reads "K=V K2=V2" (or the old "K V" form) as K=V pairs.
func keyValues(arg string) []string {
	if !strings.Contains(strings.Fields(arg + " x")[0], "=") {
		k, v, _ := strings.Cut(arg, " ")
		return []string{k + "=" + strings.TrimSpace(v)}
	}
	var out []string
	for _, f := range strings.Fields(arg) {
		k, v, _ := strings.Cut(f, "=")
		out = append(out, k+"="+strings.Trim(v, `"`))
	}
	return out
}

func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}
