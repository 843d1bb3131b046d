package registry

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"

	"cfs/internal/trace"

	"github.com/docker/go-units"
)

// policyTransport is the last stop of every request before the network. It
// allows plain HTTP only to insecure registries (loopback and those the
// settings name, as docker does: go-containerregistry alone would also
// fall back to HTTP for private addresses), skips the certificate check
// for insecure registries only, and with --trace prints each request and
// its answer.
type policyTransport struct {
	cfg              Config
	secure, insecure http.RoundTripper
	tr               *trace.Tracer
}

// newTransport returns the transport over base (nil: Go's default).
func newTransport(cfg Config, base http.RoundTripper, tr *trace.Tracer) *policyTransport {
	t := &policyTransport{cfg: cfg, secure: base, insecure: base, tr: tr}
	if base == nil {
		secure := http.DefaultTransport.(*http.Transport).Clone()
		insecure := secure.Clone()
		insecure.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // insecure-registries asks for it
		t.secure, t.insecure = secure, insecure
	}
	return t
}

// HTTPRefusedError is a request in plain HTTP to a registry that is not
// insecure; the message says how to allow it.
type HTTPRefusedError struct{ Host, Path string }

func (e *HTTPRefusedError) Error() string {
	return fmt.Sprintf("the registry %s would be reached over plain HTTP, which cfs allows only for loopback and insecure registries: "+
		"if you trust it (a course registry on your LAN), add %q to \"insecure-registries\" in %s, or pass --insecure-registry %s",
		e.Host, e.Host, ConfigPath, e.Host)
}

func (t *policyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	insecure := t.cfg.IsInsecure(host)
	if req.URL.Scheme == "http" && !insecure {
		return nil, &HTTPRefusedError{Host: host, Path: req.URL.Path}
	}
	base := t.secure
	if insecure {
		base = t.insecure
	}
	if t.tr == nil {
		return base.RoundTrip(req)
	}
	t.tr.Step(req.Method+" "+req.URL.Redacted(), curl(req), details(req)...)
	resp, err := base.RoundTrip(req)
	if err != nil {
		t.tr.Result("error: %v", err)
		return nil, err
	}
	t.tr.Result("%s", answer(req, resp))
	return resp, nil
}

// curl is a curl(1) command that makes the same request: a student can
// type it (with a token in $TOKEN when the request carried one).
func curl(req *http.Request) string {
	args := []string{"curl", "-s"}
	switch req.Method {
	case http.MethodHead:
		args = []string{"curl", "-sI"}
	case http.MethodGet:
		if strings.Contains(req.URL.Path, "/blobs/") {
			args = append(args, "-L") // registries often send blobs from elsewhere
		}
	default:
		args = append(args, "-X", req.Method)
	}
	if a := req.Header.Get("Accept"); a != "" && strings.Contains(req.URL.Path, "/manifests/") {
		args = append(args, "-H", "'Accept: "+a+"'")
	}
	if auth := req.Header.Get("Authorization"); auth != "" {
		scheme, _, _ := strings.Cut(auth, " ")
		args = append(args, "-H", `"Authorization: `+scheme+` $TOKEN"`)
	}
	if ct := req.Header.Get("Content-Type"); ct != "" && req.Method != http.MethodGet {
		args = append(args, "-H", "'Content-Type: "+ct+"'", "--data-binary", "@FILE")
	}
	u := *req.URL
	return strings.Join(append(args, "'"+u.Redacted()+"'"), " ")
}

// details are the request's headers that matter to the protocol; a
// credential is never printed.
func details(req *http.Request) []string {
	var d []string
	if auth := req.Header.Get("Authorization"); auth != "" {
		scheme, _, _ := strings.Cut(auth, " ")
		d = append(d, "Authorization: "+scheme+" … (from "+credentialSource(scheme)+")")
	}
	if r := req.Header.Get("Range"); r != "" {
		d = append(d, "Range: "+r)
	}
	return d
}

func credentialSource(scheme string) string {
	if strings.EqualFold(scheme, "Basic") {
		return "~/.docker/config.json"
	}
	return "the token endpoint"
}

// answer describes a response in one line: status, what came, and the
// headers the protocol uses (the digest, the next place to go, the way to
// authenticate).
func answer(req *http.Request, resp *http.Response) string {
	parts := []string{resp.Status}
	if ct := resp.Header.Get("Content-Type"); ct != "" && resp.StatusCode < 300 {
		parts = append(parts, ct)
	}
	if resp.ContentLength >= 0 && resp.StatusCode < 300 {
		parts = append(parts, units.HumanSizeWithPrecision(float64(resp.ContentLength), 3))
	}
	if d := resp.Header.Get("Docker-Content-Digest"); d != "" {
		parts = append(parts, "Docker-Content-Digest: "+d)
	}
	if l := resp.Header.Get("Location"); l != "" {
		parts = append(parts, "Location: "+l)
	}
	if w := resp.Header.Get("Www-Authenticate"); w != "" {
		parts = append(parts, "WWW-Authenticate: "+w)
	}
	if strings.Contains(req.URL.Path, "/token") || strings.Contains(req.URL.RawQuery, "scope=") {
		if resp.StatusCode == http.StatusOK {
			parts = append(parts, "a bearer token (not shown)")
		}
	}
	return strings.Join(parts, ", ")
}
