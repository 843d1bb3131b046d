// Package imagetest builds the images that the image store's tests pull,
// push, save and load, and serves them from registries on loopback:
// go-containerregistry's registry in-process, with faults on demand (a
// tampered blob, a connection dropped in the middle of a layer, basic
// auth), and Debian's docker-registry, the reference registry server, as
// a process. No request leaves the machine.
package imagetest

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/require"
)

// Entry is one file of a layer tar.
type Entry struct {
	Name         string
	Type         byte // tar.TypeReg when 0
	Body         string
	Link         string
	Mode         int64 // 0644 (0755 for a directory) when 0
	UID, GID     int
	Major, Minor int64
	Xattrs       map[string]string
}

// Tar makes a layer tar of entries, in order.
func Tar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.Mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{Name: e.Name, Typeflag: typ, Mode: mode, Uid: e.UID, Gid: e.GID, Linkname: e.Link,
			Devmajor: e.Major, Devminor: e.Minor, ModTime: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		for k, v := range e.Xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		require.NoError(t, tw.WriteHeader(hdr))
		if typ == tar.TypeReg {
			_, err := tw.Write([]byte(e.Body))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return b.Bytes()
}

// Layer is a layer of a tar, compressed with comp ("gzip", "zstd", or ""
// for none).
func Layer(t testing.TB, tarBytes []byte, comp string) v1.Layer {
	t.Helper()
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarBytes)), nil }
	var opts []tarball.LayerOption
	switch comp {
	case "zstd":
		opts = append(opts, tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	case "gzip":
		opts = append(opts, tarball.WithMediaType(types.OCILayer))
	case "":
		l, err := tarball.LayerFromOpener(opener, tarball.WithMediaType(types.OCIUncompressedLayer))
		require.NoError(t, err)
		return uncompressed{l}
	}
	l, err := tarball.LayerFromOpener(opener, append(opts, tarball.WithCompressedCaching)...)
	require.NoError(t, err)
	return l
}

// uncompressed is a layer whose blob is its tar.
type uncompressed struct{ v1.Layer }

func (u uncompressed) Compressed() (io.ReadCloser, error) { return u.Uncompressed() }
func (u uncompressed) Digest() (v1.Hash, error)           { return u.DiffID() }
func (u uncompressed) Size() (int64, error) {
	rc, err := u.Uncompressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.Copy(io.Discard, rc)
}

// Created is the creation time of the test images.
var Created = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// Image makes an OCI image of layers (bottom first) for platform
// (os/arch), with a line of history per layer and a command.
func Image(t testing.TB, platform string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var adds []mutate.Addendum
	for i, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{
			Created: v1.Time{Time: Created}, CreatedBy: fmt.Sprintf("/bin/sh -c #(nop) ADD file:layer%d-of-the-test-image.tar in / ", i),
		}})
	}
	img, err := mutate.Append(img, adds...)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	p, err := v1.ParsePlatform(platform)
	require.NoError(t, err)
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: Created}
	cf.Config = v1.Config{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/usr/bin:/bin"}, WorkingDir: "/", Labels: map[string]string{"test": "cfs"}}
	cf.History = append(cf.History, v1.History{Created: v1.Time{Time: Created}, CreatedBy: `/bin/sh -c #(nop)  CMD ["/bin/sh"]`, EmptyLayer: true})
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	return img
}

// Test layers: what the store must get right, layer by layer.
//
//	layer 0 (gzip): directories, files with owners and modes (set-user-ID
//	    too), a symlink, a hard link, a device node, a fifo, an xattr
//	layer 1 (gzip): deletes etc/passwd (a whiteout), replaces var/lib/data
//	    (an opaque directory), changes etc/motd
//	layer 2 (zstd): adds opt/app
func Layers(t testing.TB) []v1.Layer {
	l0 := Tar(t,
		Entry{Name: "bin/", Type: tar.TypeDir},
		Entry{Name: "bin/tool", Body: "#!/bin/sh\necho tool\n", Mode: 0o4755},
		Entry{Name: "bin/tool-hard", Type: tar.TypeLink, Link: "bin/tool"},
		Entry{Name: "dev/", Type: tar.TypeDir},
		Entry{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666, Major: 1, Minor: 3},
		Entry{Name: "dev/pipe", Type: tar.TypeFifo, Mode: 0o600},
		Entry{Name: "etc/", Type: tar.TypeDir},
		Entry{Name: "etc/motd", Body: "hello from layer 0\n"},
		Entry{Name: "etc/motd.link", Type: tar.TypeSymlink, Link: "/etc/motd"},
		Entry{Name: "etc/passwd", Body: "root:x:0:0::/root:/bin/sh\n"},
		Entry{Name: "home/user/", Type: tar.TypeDir, UID: 1000, GID: 1000, Mode: 0o700},
		Entry{Name: "home/user/notes", Body: "mine\n", UID: 1000, GID: 1000, Mode: 0o600},
		Entry{Name: "usr/bin/ping", Body: "ping\n", Mode: 0o755, Xattrs: map[string]string{"user.cfs.test": "kept"}},
		Entry{Name: "var/lib/data/", Type: tar.TypeDir},
		Entry{Name: "var/lib/data/old", Body: "old\n"},
	)
	l1 := Tar(t,
		Entry{Name: "etc/", Type: tar.TypeDir},
		Entry{Name: "etc/.wh.passwd"},
		Entry{Name: "etc/motd", Body: "hello from layer 1\n"},
		Entry{Name: "var/lib/data/", Type: tar.TypeDir},
		Entry{Name: "var/lib/data/.wh..wh..opq"},
		Entry{Name: "var/lib/data/new", Body: "new\n"},
	)
	l2 := Tar(t,
		Entry{Name: "opt/", Type: tar.TypeDir},
		Entry{Name: "opt/app", Body: "app in a zstd layer\n", Mode: 0o755},
	)
	return []v1.Layer{Layer(t, l0, "gzip"), Layer(t, l1, "gzip"), Layer(t, l2, "zstd")}
}

// TestImage is the three layers of Layers for this machine's platform.
func TestImage(t testing.TB, platform string) v1.Image { return Image(t, platform, Layers(t)...) }

// Index is a manifest list of one small image per platform; each holds
// /arch with its platform's name.
func Index(t testing.TB, platforms ...string) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		img := Image(t, p, Layer(t, Tar(t, Entry{Name: "arch", Body: p + "\n"}), "gzip"))
		pl, err := v1.ParsePlatform(p)
		require.NoError(t, err)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: pl}})
	}
	return idx
}

// BigImage is an image of n layers of size bytes each of random-looking
// (incompressible) data: for the benchmark.
func BigImage(t testing.TB, n int, size int64) v1.Image {
	t.Helper()
	var layers []v1.Layer
	for i := range n {
		data := make([]byte, size)
		x := uint64(i*7919 + 1)
		for j := range data {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			data[j] = byte(x)
		}
		var entries []Entry
		per := size / 16
		for f := int64(0); f < 16; f++ {
			entries = append(entries, Entry{Name: fmt.Sprintf("layer%d/file%02d", i, f), Body: string(data[f*per : (f+1)*per])})
		}
		layers = append(layers, Layer(t, Tar(t, entries...), "gzip"))
	}
	return Image(t, "linux/amd64", layers...)
}

// ---------------------------------------------------------------------------
// The in-process registry

// Registry is go-containerregistry's registry on 127.0.0.1, behind a
// handler that can misbehave.
type Registry struct {
	Host string // 127.0.0.1:PORT
	srv  *httptest.Server

	mu       sync.Mutex
	tamper   map[string]bool // blob digests whose bytes are changed on the way
	drop     map[string]bool // blob digests whose download breaks off half-way
	user     string          // basic auth, when set
	password string
	requests []string
	block    map[string]chan struct{} // blob digests whose download waits
}

// NewRegistry starts a registry for the test.
func NewRegistry(t testing.TB) *Registry {
	r := &Registry{tamper: map[string]bool{}, drop: map[string]bool{}, block: map[string]chan struct{}{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.serve(w, req, inner) }))
	t.Cleanup(r.srv.Close)
	r.Host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

// Ref is a reference to repo:tag in this registry.
func (r *Registry) Ref(repoTag string) string { return r.Host + "/" + repoTag }

// Push puts img at repo:tag.
func (r *Registry) Push(t testing.TB, repoTag string, img v1.Image) {
	t.Helper()
	ref, err := name.ParseReference(r.Ref(repoTag))
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))
}

// PushIndex puts a manifest list at repo:tag.
func (r *Registry) PushIndex(t testing.TB, repoTag string, idx v1.ImageIndex) {
	t.Helper()
	ref, err := name.ParseReference(r.Ref(repoTag))
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(ref, idx))
}

// Tamper changes one byte of the blob h whenever it is downloaded.
func (r *Registry) Tamper(h v1.Hash) { r.mu.Lock(); r.tamper[h.String()] = true; r.mu.Unlock() }

// Drop makes the blob h's download break off half-way.
func (r *Registry) Drop(h v1.Hash) { r.mu.Lock(); r.drop[h.String()] = true; r.mu.Unlock() }

// Block holds the blob h's download until the returned function is called.
func (r *Registry) Block(h v1.Hash) (release func()) {
	ch := make(chan struct{})
	r.mu.Lock()
	r.block[h.String()] = ch
	r.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// Heal undoes Tamper, Drop and Block.
func (r *Registry) Heal() {
	r.mu.Lock()
	r.tamper, r.drop = map[string]bool{}, map[string]bool{}
	for _, ch := range r.block {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	r.block = map[string]chan struct{}{}
	r.mu.Unlock()
}

// RequireAuth makes the registry answer 401 to anyone without these
// credentials (HTTP basic auth).
func (r *Registry) RequireAuth(user, password string) {
	r.mu.Lock()
	r.user, r.password = user, password
	r.mu.Unlock()
}

// Requests are the requests served so far: "METHOD PATH".
func (r *Registry) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requests...)
}

func (r *Registry) serve(w http.ResponseWriter, req *http.Request, inner http.Handler) {
	r.mu.Lock()
	r.requests = append(r.requests, req.Method+" "+req.URL.Path)
	user, password := r.user, r.password
	r.mu.Unlock()
	if user != "" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
		if req.Header.Get("Authorization") != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="cfs-test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
	}
	digest := ""
	if i := strings.Index(req.URL.Path, "/blobs/"); i >= 0 && req.Method == http.MethodGet {
		digest = req.URL.Path[i+len("/blobs/"):]
	}
	r.mu.Lock()
	tamper, drop, block := r.tamper[digest], r.drop[digest], r.block[digest]
	r.mu.Unlock()
	if block != nil {
		<-block
	}
	if !tamper && !drop {
		inner.ServeHTTP(w, req)
		return
	}
	rec := httptest.NewRecorder()
	inner.ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(rec.Code)
	if tamper && len(body) > 0 {
		body = append([]byte(nil), body...)
		body[len(body)/2] ^= 0xff
		w.Write(body)
		return
	}
	w.Write(body[:len(body)/2])
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	panic(http.ErrAbortHandler) // the connection closes in the middle of the body
}

// ---------------------------------------------------------------------------
// Debian's docker-registry

// DockerRegistry starts Debian's docker-registry (the reference registry
// server, distribution/distribution) on a free loopback port with its
// storage in a temporary directory, and returns its host:port. It skips
// the test when the program is not installed and CFS_REQUIRE_PRIVILEGED
// does not ask for everything (.ci/run installs it).
func DockerRegistry(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		NeedTool(t, "docker-registry", "docker-registry")
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644))
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not answer on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// NeedTool skips the test without a tool, or fails it when the run must
// be complete (CFS_REQUIRE_PRIVILEGED=1, as in CI) and the tool is one
// .ci/run installs. In the VM lane (CFS_IN_VM=1), which has no Debian
// packages, it skips with that reason.
func NeedTool(t testing.TB, tool, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err == nil {
		return
	}
	if os.Getenv("CFS_IN_VM") == "1" {
		t.Skipf("%s is not in the VM lane's image (Debian package %s); the host lane runs this test", tool, pkg)
	}
	if os.Getenv("CFS_REQUIRE_PRIVILEGED") == "1" {
		t.Fatalf("%s is missing: apt-get install %s (.ci/run installs it)", tool, pkg)
	}
	t.Skipf("%s is missing: apt-get install %s", tool, pkg)
}
