// Package registry is the engine's client of the OCI distribution
// protocol, the HTTP API that Docker Hub, Harbor, registry:2 and every
// other registry speak: what a reference such as busybox means, which
// hosts to ask for it (mirrors first, for Docker Hub), whether plain HTTP
// is allowed (loopback and insecure registries only, as in docker), the
// credentials of `docker login` (~/.docker/config.json), the errors a
// person can act on, and --trace, which narrates every request in the
// stages' trace format (docs/trace.md).
//
// Role: the registry side of the image store (final/image), which alone
// imports it. No stage teaches it: stage 08 imports a layer tar from a file;
// docs/10-images.md shows the same layers arriving over HTTP. The protocol
// itself is github.com/google/go-containerregistry's (pkg/v1/remote).
package registry

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Docker Hub, under the names people write and the one its API answers on.
const (
	DockerHub     = "docker.io"       // how references name it
	DockerHubHost = "index.docker.io" // go-containerregistry's name; it reaches registry-1.docker.io
)

// ParseReference parses an image reference as docker does: "busybox" is
// docker.io/library/busybox:latest, "me/app" docker.io/me/app:latest, and
// a first part with a dot or a colon, or localhost, names a registry
// ("localhost:5000/app"). A reference may end in @sha256:DIGEST. The error
// says what is wrong and what a good reference looks like.
func ParseReference(s string, opts ...name.Option) (name.Reference, error) {
	if s == "" {
		return nil, errors.New("invalid reference format: the image name is empty")
	}
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return nil, fmt.Errorf("invalid reference format %q: a reference names an image, not a URL (write localhost:5000/app, without http://)", s)
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		if _, lerr := name.ParseReference(strings.ToLower(s), opts...); lerr == nil {
			repo, _, _ := strings.Cut(s, "@")
			if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
				repo = repo[:i]
			}
			return nil, fmt.Errorf("invalid reference format: repository name (%s) must be lowercase", repo)
		}
		return nil, fmt.Errorf("invalid reference format %q: want NAME[:TAG] or NAME@sha256:DIGEST, e.g. busybox, busybox:1.36, localhost:5000/app:v1", s)
	}
	return ref, nil
}

// Canonical writes a reference in full, as the store keeps it:
// docker.io/library/busybox:latest, localhost:5000/app@sha256:….
func Canonical(ref name.Reference) string {
	return Repository(ref.Context()) + separator(ref) + ref.Identifier()
}

// Repository writes a repository in full: docker.io/library/busybox.
func Repository(repo name.Repository) string {
	reg := repo.RegistryStr()
	if reg == DockerHubHost {
		reg = DockerHub
	}
	return reg + "/" + repo.RepositoryStr()
}

// Familiar writes a reference as docker shows it: busybox:latest,
// me/app:v1, localhost:5000/app:v1; Docker Hub's registry and its
// "library/" are left out.
func Familiar(ref name.Reference) string {
	return FamiliarRepository(ref.Context()) + separator(ref) + ref.Identifier()
}

// FamiliarRepository writes a repository as docker shows it: busybox.
func FamiliarRepository(repo name.Repository) string {
	if repo.RegistryStr() != DockerHubHost {
		return repo.RegistryStr() + "/" + repo.RepositoryStr()
	}
	return strings.TrimPrefix(repo.RepositoryStr(), "library/")
}

func separator(ref name.Reference) string {
	if _, ok := ref.(name.Digest); ok {
		return "@"
	}
	return ":"
}
