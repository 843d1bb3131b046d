package registry

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseReference(t *testing.T) {
	for _, tc := range []struct{ in, canonical, familiar string }{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
		{"docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"me/app:v1", "docker.io/me/app:v1", "me/app:v1"},
		{"localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest"},
		{"harbor.lab.example/course/web:2", "harbor.lab.example/course/web:2", "harbor.lab.example/course/web:2"},
		{"busybox@sha256:" + strings.Repeat("a", 64), "docker.io/library/busybox@sha256:" + strings.Repeat("a", 64), "busybox@sha256:" + strings.Repeat("a", 64)},
	} {
		ref, err := ParseReference(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.canonical, Canonical(ref), tc.in)
		require.Equal(t, tc.familiar, Familiar(ref), tc.in)
	}
	_, err := ParseReference("Busybox:Latest")
	require.EqualError(t, err, "invalid reference format: repository name (Busybox) must be lowercase")
	_, err = ParseReference("https://registry/x")
	require.ErrorContains(t, err, "a reference names an image, not a URL")
	_, err = ParseReference("a b")
	require.ErrorContains(t, err, "want NAME[:TAG] or NAME@sha256:DIGEST")
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "daemon.json")
	c, err := LoadConfig(path)
	require.NoError(t, err, "no file: no settings")
	require.Empty(t, c.Mirrors)

	require.NoError(t, os.WriteFile(path, []byte(`{"registry-mirrors": ["https://mirror.example.edu"], "insecure-registries": ["registry.lab:5000", "10.0.0.0/8"], "log-level": "debug"}`), 0o644))
	c, err = LoadConfig(path)
	require.NoError(t, err, "docker's other keys are ignored")
	require.Equal(t, []string{"https://mirror.example.edu"}, c.Mirrors)
	for host, want := range map[string]bool{
		"registry.lab:5000": true, "registry.lab:5001": false, "10.1.2.3:5000": true, "192.168.1.5:5000": false,
		"localhost:5000": true, "127.0.0.1:5000": true, "[::1]:5000": true, "docker.io": false,
	} {
		require.Equal(t, want, c.IsInsecure(host), host)
	}

	for bad, msg := range map[string]string{
		`{"registry-mirrors": ["mirror.example.edu"]}`:             "want a URL such as https://",
		`{"registry-mirrors": ["https://mirror.example.edu/hub"]}`: "no path, query or fragment",
		`{"insecure-registries": ["http://registry.lab"]}`:         "without a scheme",
		`{"registry-mirrors": `:                                    "not valid JSON",
	} {
		require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
		_, err := LoadConfig(path)
		require.ErrorContains(t, err, msg, bad)
		require.ErrorContains(t, err, path, "the error names the file")
	}
	_, err = Config{}.With([]string{"ftp://x"}, nil)
	require.ErrorContains(t, err, "registry mirror \"ftp://x\"")
}

// Plain HTTP goes only to loopback and insecure registries, whatever
// go-containerregistry would try (it falls back to HTTP for private
// addresses): the request never reaches the network.
func TestPlainHTTPPolicy(t *testing.T) {
	var reached []string
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		reached = append(reached, req.URL.String())
		return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	})
	tr := newTransport(Config{Insecure: []string{"registry.lab:5000"}}, base, nil)
	for url, ok := range map[string]bool{
		"http://127.0.0.1:5000/v2/":    true,
		"http://localhost:5000/v2/":    true,
		"http://registry.lab:5000/v2/": true,
		"http://10.0.0.5:5000/v2/":     false,
		"https://10.0.0.5:5000/v2/":    true,
	} {
		req, _ := http.NewRequest("GET", url, nil)
		_, err := tr.RoundTrip(req)
		if ok {
			require.NoError(t, err, url)
			continue
		}
		var refused *HTTPRefusedError
		require.True(t, errors.As(err, &refused), url)
		require.ErrorContains(t, err, `add "10.0.0.5:5000" to "insecure-registries" in /etc/cfs/daemon.json, or pass --insecure-registry 10.0.0.5:5000`)
	}
	require.NotContains(t, reached, "http://10.0.0.5:5000/v2/")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// --trace: a step per request with its curl equivalent, a result per
// answer; credentials never printed.
func TestTraceLines(t *testing.T) {
	var out bytes.Buffer
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		h := http.Header{}
		h.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		h.Set("Docker-Content-Digest", "sha256:abc")
		return &http.Response{StatusCode: 200, Status: "200 OK", Header: h, ContentLength: 4260, Body: http.NoBody, Request: req}, nil
	})
	tr := newTransport(Config{}, base, NewTracer(&out))
	req, _ := http.NewRequest("GET", "http://127.0.0.1:5000/v2/library/busybox/manifests/latest", nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	req.Header.Set("Authorization", "Bearer SECRET-TOKEN")
	_, err := tr.RoundTrip(req)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Equal(t, []string{
		`[cfs registry] GET http://127.0.0.1:5000/v2/library/busybox/manifests/latest  ≈ curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:5000/v2/library/busybox/manifests/latest'`,
		`[cfs registry]   Authorization: Bearer … (from the token endpoint)`,
		`[cfs registry] → 200 OK, application/vnd.oci.image.manifest.v1+json, 4.26kB, Docker-Content-Digest: sha256:abc`,
	}, lines)
	require.NotContains(t, out.String(), "SECRET")
}
