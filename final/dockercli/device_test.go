package dockercli

import (
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/require"
)

// docker's --device forms: HOST, HOST:PERMS, HOST:CTR, HOST:CTR:PERMS.
func TestParseDevice(t *testing.T) {
	for s, want := range map[string]container.DeviceMapping{
		"/dev/fuse":                 {PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"},
		"/dev/fuse:r":               {PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "r"},
		"/dev/sda:/dev/xvdc":        {PathOnHost: "/dev/sda", PathInContainer: "/dev/xvdc", CgroupPermissions: "rwm"},
		"/dev/sda:/dev/xvdc:mr":     {PathOnHost: "/dev/sda", PathInContainer: "/dev/xvdc", CgroupPermissions: "mr"},
		"/dev/snd:/dev/sound:rw":    {PathOnHost: "/dev/snd", PathInContainer: "/dev/sound", CgroupPermissions: "rw"},
		"/dev/disk/by-id/x:/dev/dk": {PathOnHost: "/dev/disk/by-id/x", PathInContainer: "/dev/dk", CgroupPermissions: "rwm"},
	} {
		got, err := parseDevice(s)
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
	}
	for s, msg := range map[string]string{
		"":                  "bad format for path: ",
		":/dev/x":           "bad format for path: :/dev/x",
		"/a:/b:r:w":         "bad format for path: /a:/b:r:w",
		"/dev/x:/dev/y:rr":  "bad mode specified: rr",
		"/dev/x:/dev/y:rwx": "bad mode specified: rwx",
		"/dev/x:dev/y":      "dev/y is not an absolute path",
		"dev/x":             "dev/x is not an absolute path",
		"/dev/x:/dev/y:":    "bad mode specified: ",
	} {
		_, err := parseDevice(s)
		require.EqualError(t, err, msg, s)
	}
}
