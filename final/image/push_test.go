package image

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"cfs/final/image/imagetest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/stretchr/testify/require"
)

func TestPushThenPull(t *testing.T) {
	s, img, _ := pulled(t)
	reg := imagetest.NewRegistry(t)
	require.NoError(t, s.Tag(img.ID.String(), reg.Ref("pushed/layers:v2")))
	// Progress is called from the layers' goroutines at once.
	var events []string
	var mu sync.Mutex
	res, err := s.Push(context.Background(), reg.Ref("pushed/layers:v2"), func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Status == "Pushed" || e.Status == "Layer already exists" {
			events = append(events, e.ID+": "+e.Status)
		}
	})
	require.NoError(t, err)
	require.Equal(t, img.Manifest.Digest, res.Digest, "the registry has the same manifest, byte for byte")
	require.Len(t, events, 3)

	s2 := newStore(t)
	got, err := s2.Pull(context.Background(), reg.Ref("pushed/layers:v2"), PullOptions{})
	require.NoError(t, err)
	require.Equal(t, img.ID, got.Image.ID)

	// Pushed again: every layer is there already.
	events = nil
	_, err = s.Push(context.Background(), reg.Ref("pushed/layers:v2"), func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Status == "Pushed" || e.Status == "Layer already exists" {
			events = append(events, e.Status)
		}
	})
	require.NoError(t, err)
	require.Equal(t, []string{"Layer already exists", "Layer already exists", "Layer already exists"}, events)

	_, err = s.Push(context.Background(), reg.Ref("not/here:v1"), nil)
	require.ErrorContains(t, err, "An image does not exist locally with the tag: "+reg.Ref("not/here:v1"))
}

// Debian's docker-registry, the reference registry server, as the peer:
// cfs pushes, skopeo inspects what arrived; skopeo copies an image in,
// cfs pulls it.
func TestDockerRegistryAndSkopeo(t *testing.T) {
	imagetest.NeedTool(t, "skopeo", "skopeo")
	host := imagetest.DockerRegistry(t)
	s, img, _ := pulled(t)
	ref := host + "/cfs/pushed:v1"
	require.NoError(t, s.Tag(img.ID.String(), ref))
	res, err := s.Push(context.Background(), ref, nil)
	require.NoError(t, err)

	out, err := exec.Command("skopeo", "--insecure-policy", "inspect", "--tls-verify=false", "docker://"+ref).Output()
	require.NoError(t, err, "skopeo inspect: %s", stderrOf(err))
	var inspected struct {
		Digest string
		Layers []string
	}
	require.NoError(t, json.Unmarshal(out, &inspected))
	require.Equal(t, res.Digest.String(), inspected.Digest)
	require.Len(t, inspected.Layers, 3)
	for i, l := range img.Layers {
		require.Equal(t, l.Digest.String(), inspected.Layers[i])
	}

	// An image that skopeo puts into the registry, from an OCI layout.
	dir := filepath.Join(t.TempDir(), "layout")
	want := imagetest.Image(t, "linux/"+runtime.GOARCH, imagetest.Layer(t, imagetest.Tar(t, imagetest.Entry{Name: "from-skopeo", Body: "hi\n"}), "gzip"))
	p, err := layout.Write(dir, emptyIndex())
	require.NoError(t, err)
	require.NoError(t, p.AppendImage(want, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})))
	cp := exec.Command("skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false", "oci:"+dir+":v1", "docker://"+host+"/cfs/copied:v1")
	if b, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, b)
	}
	s2 := newStore(t)
	got, err := s2.Pull(context.Background(), host+"/cfs/copied:v1", PullOptions{})
	require.NoError(t, err)
	wantID, err := want.ConfigName()
	require.NoError(t, err)
	require.Equal(t, wantID, got.Image.ID)
	require.FileExists(t, filepath.Join(got.Image.Layers[0].Dir, "from-skopeo"))
	require.True(t, strings.HasPrefix(got.Name, host))
}

func emptyIndex() v1.ImageIndex { return empty.Index }
