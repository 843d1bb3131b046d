package image

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"

	"cfs/final/image/imagetest"
	"cfs/final/registry"

	"github.com/stretchr/testify/require"
)

// Docker Hub's images through mirrors, as a classroom without Docker
// Hub has them: the first mirror that answers serves the whole image;
// one that is down is skipped. (The tests' transport refuses any address
// but loopback, so Docker Hub itself is never reached.)
func TestPullThroughAMirror(t *testing.T) {
	mirror := imagetest.NewRegistry(t)
	mirror.Push(t, "library/busybox:latest", imagetest.TestImage(t, "linux/"+runtime.GOARCH))
	s := newStore(t)
	var trace bytes.Buffer
	s.Registry = &registry.Client{
		Config:    registry.Config{Mirrors: []string{"http://127.0.0.1:1", "http://" + mirror.Host}},
		Transport: loopbackOnly{},
		Trace:     registry.NewTracer(&trace),
	}
	res, err := s.Pull(context.Background(), "busybox", PullOptions{})
	require.NoError(t, err)
	require.Equal(t, "docker.io/library/busybox:latest", res.Name, "the image keeps Docker Hub's name")
	require.Equal(t, mirror.Host, res.Source)
	require.Equal(t, []string{"busybox:latest"}, res.Image.RepoTags)
	require.Contains(t, trace.String(), "[cfs registry] → the mirror 127.0.0.1:1 failed (pull 127.0.0.1:1/library/busybox:latest: cannot reach the registry 127.0.0.1:1")
	require.Contains(t, trace.String(), "[cfs registry] GET http://"+mirror.Host+"/v2/library/busybox/blobs/sha256:")
	require.NotContains(t, trace.String(), "docker.io/v2", "Docker Hub was not asked")

	// Every mirror down: Docker Hub is the last source (here refused).
	s.Registry = &registry.Client{Config: registry.Config{Mirrors: []string{"http://127.0.0.1:1"}}, Transport: loopbackOnly{}}
	_, err = s.Pull(context.Background(), "alpine", PullOptions{})
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "alpine"), err.Error())
}
