package runtime

// Hooks: programs the config names, run at points of the lifecycle with
// the container's state as JSON on their stdin (runtime-spec's config.md,
// "POSIX-platform Hooks"). This is how containerd's CNI plugins, NVIDIA's
// GPU hook or a test's probe get the PID of a container to act on it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runHooks runs each hook in order, and stops at the first that fails.
func runHooks(kind string, hooks []specs.Hook, st specs.State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		ctx := context.Background()
		if h.Timeout != nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
			defer cancel()
		}
		args := h.Args
		if len(args) == 0 {
			args = []string{h.Path}
		}
		cmd := exec.CommandContext(ctx, h.Path)
		cmd.Args, cmd.Env = args, h.Env
		cmd.Stdin = bytes.NewReader(data)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("timed out after %ds", *h.Timeout)
			}
			return fmt.Errorf("%s hook %d (%s) failed: %w: %s", kind, i, h.Path, err, bytes.TrimSpace(out.Bytes()))
		}
	}
	return nil
}

// hooksOf returns the config's hooks; none when it has no hooks section.
func hooksOf(s *specs.Spec) specs.Hooks {
	if s.Hooks == nil {
		return specs.Hooks{}
	}
	return *s.Hooks
}
