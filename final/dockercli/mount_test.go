package dockercli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/api/types/mount"
	"github.com/stretchr/testify/require"
)

// docker's --mount fields, as its CLI reads them.
func TestParseMount(t *testing.T) {
	here, err := filepath.Abs("dir")
	require.NoError(t, err)
	for s, want := range map[string]mount.Mount{
		"type=bind,source=/srv,target=/app,readonly": {Type: mount.TypeBind, Source: "/srv", Target: "/app", ReadOnly: true},
		"type=bind,src=./dir,dst=/app,ro=false":      {Type: mount.TypeBind, Source: here, Target: "/app"},
		"src=data,destination=/var/lib/db":           {Type: mount.TypeVolume, Source: "data", Target: "/var/lib/db"},
		"target=/cache,volume-nocopy":                {Type: mount.TypeVolume, Target: "/cache", VolumeOptions: &mount.VolumeOptions{NoCopy: true}},
		"type=tmpfs,dst=/run/x,tmpfs-size=64m,tmpfs-mode=1770": {Type: mount.TypeTmpfs, Target: "/run/x",
			TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: os.FileMode(0o1770)}},
		`type=bind,"src=/a,b",dst=/c`: {Type: mount.TypeBind, Source: "/a,b", Target: "/c"},
	} {
		got, err := parseMount(s)
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
	}
	for s, msg := range map[string]string{
		"type=bind,src=/a":                 "target is required",
		"type=,dst=/a":                     "type is required",
		"bind,dst=/a":                      "invalid field 'bind' must be a key=value pair",
		"dst=/a,size=1":                    "unexpected key 'size' in 'size=1'",
		"dst=/a,ro=maybe":                  "invalid value for ro: maybe",
		"type=tmpfs,dst=/a,tmpfs-size=big": "invalid value for tmpfs-size: big",
		"type=tmpfs,dst=/a,tmpfs-mode=9":   "invalid value for tmpfs-mode: 9",
		"type=bind,dst=/a,volume-nocopy":   "cannot mix 'volume-*' options with mount type 'bind'",
		"dst=/a,bind-propagation=rshared":  "cannot mix 'bind-*' options with mount type 'volume'",
		"type=volume,dst=/a,tmpfs-size=1m": "cannot mix 'tmpfs-*' options with mount type 'volume'",
	} {
		_, err := parseMount(s)
		require.ErrorContains(t, err, msg, s)
	}
}
