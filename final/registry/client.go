package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"

	"cfs/internal/trace"

	"github.com/docker/cli/cli/config"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Client reaches registries with one set of settings.
type Client struct {
	Config Config
	// Keychain finds credentials; nil is docker's: ~/.docker/config.json
	// and its credential helpers (DOCKER_CONFIG moves it), then, under
	// sudo, the invoking user's.
	Keychain authn.Keychain
	// Trace, when not nil, prints every request and answer.
	Trace *trace.Tracer
	// Transport is the network; nil is Go's default. Tests put a
	// registry in-process here.
	Transport http.RoundTripper
	// Jobs is how many blobs go at once (push); 0 is 3, docker's default.
	Jobs int

	rt *policyTransport
}

// TraceSide is the SIDE of the trace lines a Client prints (docs/trace.md).
const TraceSide = "registry"

// NewTracer returns the tracer of --trace: registry requests on w.
func NewTracer(w io.Writer) *trace.Tracer { return trace.NewTo(TraceSide, w) }

func (c *Client) keychain() authn.Keychain {
	if c.Keychain != nil {
		return c.Keychain
	}
	return authn.NewMultiKeychain(authn.DefaultKeychain, sudoUserKeychain{})
}

func (c *Client) transport() *policyTransport {
	if c.rt == nil {
		c.rt = newTransport(c.Config, c.Transport, c.Trace)
	}
	return c.rt
}

// Parse parses a reference (ParseReference), marking insecure registries
// so that plain HTTP is tried after HTTPS.
func (c *Client) Parse(s string) (name.Reference, error) {
	ref, err := ParseReference(s)
	if err != nil {
		return nil, err
	}
	if c.Config.IsInsecure(ref.Context().RegistryStr()) {
		return ParseReference(s, name.Insecure)
	}
	return ref, nil
}

// Options are the remote options for a request about ref.
func (c *Client) Options(ctx context.Context, extra ...remote.Option) []remote.Option {
	jobs := c.Jobs
	if jobs == 0 {
		jobs = 3
	}
	return append([]remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(c.transport()),
		remote.WithAuthFromKeychain(c.keychain()),
		remote.WithUserAgent("cfs"),
		remote.WithJobs(jobs),
		// A registry that answers 5xx or drops the connection gets a
		// second try; a client error (401, 404) none.
		remote.WithRetryBackoff(remote.Backoff{Steps: 2, Duration: 200e6, Factor: 2}),
	}, extra...)
}

// Sources are where ref's manifest is asked for, in order: for Docker
// Hub, each mirror and then Docker Hub; for any other registry, itself.
func (c *Client) Sources(ref name.Reference) []name.Reference {
	if ref.Context().RegistryStr() != DockerHubHost {
		return []name.Reference{ref}
	}
	var out []name.Reference
	for _, m := range c.Config.Mirrors {
		host, err := mirrorHost(m)
		if err != nil {
			continue
		}
		var opts []name.Option
		if c.Config.IsInsecure(host) {
			opts = append(opts, name.Insecure)
		}
		s := host + "/" + ref.Context().RepositoryStr() + separator(ref) + ref.Identifier()
		if mr, err := name.ParseReference(s, opts...); err == nil {
			out = append(out, mr)
		}
	}
	return append(out, ref)
}

// Get fetches the manifest (or index) of ref from the first of its
// Sources that has it. It returns the descriptor and where it came from;
// the layers come from the same place.
func (c *Client) Get(ctx context.Context, ref name.Reference, opts ...remote.Option) (*remote.Descriptor, name.Reference, error) {
	var firstErr error
	srcs := c.Sources(ref)
	for i, src := range srcs {
		desc, err := remote.Get(src, c.Options(ctx, opts...)...)
		if err == nil {
			return desc, src, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if i < len(srcs)-1 {
			c.Trace.Result("the mirror %s failed (%v): trying the next source", src.Context().RegistryStr(), c.Explain("pull", src, err))
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		return nil, nil, c.Explain("pull", ref, err)
	}
	return nil, nil, c.Explain("pull", ref, firstErr)
}

// Explain turns an error of a request about ref into a message that says
// what failed and what to do. op is "pull" or "push".
func (c *Client) Explain(op string, ref name.Reference, err error) error {
	if err == nil {
		return nil
	}
	reg := ref.Context().RegistryStr()
	shown := reg
	if reg == DockerHubHost {
		shown = DockerHub
	}
	var refused *HTTPRefusedError
	var terr *transport.Error
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *tls509Error
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s %s: canceled", op, Familiar(ref))
	case errors.As(err, &refused):
		return refused
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%s %s: the registry %s speaks plain HTTP, not HTTPS: if you trust it, add %q to \"insecure-registries\" in %s, or pass --insecure-registry %s",
			op, Familiar(ref), shown, reg, ConfigPath, reg)
	case errors.As(err, &terr):
		return c.explainStatus(op, ref, shown, terr)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("%s %s: cannot find the registry %s (%v): check the name; with no network, use a mirror (\"registry-mirrors\" in %s) or an image that is here (cfs images)",
			op, Familiar(ref), shown, dnsErr, ConfigPath)
	case asCertError(err, &certErr):
		return fmt.Errorf("%s %s: the registry %s has a certificate this machine does not trust (%v): install its CA in /usr/local/share/ca-certificates and run update-ca-certificates, or, for a registry you trust on your LAN, add %q to \"insecure-registries\" in %s",
			op, Familiar(ref), shown, certErr.err, reg, ConfigPath)
	case errors.As(err, &opErr):
		return fmt.Errorf("%s %s: cannot reach the registry %s (%v): is it running, and is the port right? Behind a firewall, use a mirror (\"registry-mirrors\" in %s)",
			op, Familiar(ref), shown, opErr, ConfigPath)
	}
	return fmt.Errorf("%s %s: %w", op, Familiar(ref), err)
}

func (c *Client) explainStatus(op string, ref name.Reference, shown string, terr *transport.Error) error {
	code := transport.ErrorCode("")
	if len(terr.Errors) > 0 {
		code = terr.Errors[0].Code
	}
	detail := strings.TrimPrefix(terr.Error(), "")
	if i := strings.Index(detail, ": "); i >= 0 && terr.Request != nil {
		detail = detail[i+2:] // the URL is in --trace
	}
	switch {
	case terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden || code == transport.UnauthorizedErrorCode || code == transport.DeniedErrorCode:
		if c.hasCredentials(ref) {
			return fmt.Errorf("%s %s: the registry %s refused the credentials in ~/.docker/config.json (%s): log in again with `docker login %s`, or check that your account may %s %s",
				op, Familiar(ref), shown, detail, loginHost(shown), op, FamiliarRepository(ref.Context()))
		}
		if op == "push" {
			return fmt.Errorf("push %s: the registry %s wants credentials (%s): `docker login %s` first (cfs reads ~/.docker/config.json; under sudo, yours too)",
				Familiar(ref), shown, detail, loginHost(shown))
		}
		return fmt.Errorf("pull access denied for %s: the repository does not exist, or it is private and needs `docker login %s` (%s)",
			FamiliarRepository(ref.Context()), loginHost(shown), detail)
	case code == transport.BlobUnknownErrorCode:
		return fmt.Errorf("%s %s: the registry %s lists a blob it does not have (%s): the image there is broken; push it again, or ask the registry's keeper",
			op, Familiar(ref), shown, detail)
	case terr.StatusCode == http.StatusNotFound || code == transport.ManifestUnknownErrorCode || code == transport.NameUnknownErrorCode:
		if _, ok := ref.(name.Tag); ok {
			return fmt.Errorf("manifest for %s not found: manifest unknown: the registry %s has no tag %q in %s (check the name and tag)",
				Familiar(ref), shown, ref.Identifier(), FamiliarRepository(ref.Context()))
		}
		return fmt.Errorf("manifest for %s not found: manifest unknown (%s)", Familiar(ref), detail)
	case terr.StatusCode == http.StatusTooManyRequests || code == transport.TooManyRequestsErrorCode:
		return fmt.Errorf("%s %s: the registry %s limits how many pulls you make (%s): log in (`docker login`) for a higher limit, or use a mirror (\"registry-mirrors\" in %s)",
			op, Familiar(ref), shown, detail, ConfigPath)
	}
	return fmt.Errorf("%s %s: the registry %s answered %s", op, Familiar(ref), shown, detail)
}

func loginHost(shown string) string {
	if shown == DockerHub {
		return ""
	}
	return shown
}

func (c *Client) hasCredentials(ref name.Reference) bool {
	a, err := c.keychain().Resolve(ref.Context().Registry)
	return err == nil && a != authn.Anonymous
}

// tls509Error finds a certificate error in a chain of errors.
type tls509Error struct{ err error }

func asCertError(err error, out **tls509Error) bool {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid), errors.As(err, &verify):
		*out = &tls509Error{err: err}
		return true
	}
	return false
}

// sudoUserKeychain finds credentials in the ~/.docker/config.json of the
// user who ran sudo, so that their `docker login` works for `sudo cfs
// pull` as it does for docker.
type sudoUserKeychain struct{}

func (sudoUserKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	who := os.Getenv("SUDO_USER")
	if who == "" || os.Geteuid() != 0 {
		return authn.Anonymous, nil
	}
	u, err := user.Lookup(who)
	if err != nil {
		return authn.Anonymous, nil
	}
	f, err := os.Open(filepath.Join(u.HomeDir, ".docker", config.ConfigFileName))
	if err != nil {
		return authn.Anonymous, nil
	}
	defer f.Close()
	cf, err := config.LoadFromReader(f)
	if err != nil {
		return authn.Anonymous, nil
	}
	key := target.RegistryStr()
	if key == name.DefaultRegistry {
		key = authn.DefaultAuthKey
	}
	ac, err := cf.GetAuthConfig(key)
	if err != nil || (ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "" && ac.RegistryToken == "") {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken,
	}), nil
}

// Platform is this machine's platform, as manifest lists name them.
func Platform() v1.Platform { return v1.Platform{OS: "linux", Architecture: runtime.GOARCH} }
