package build

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	httptransport "github.com/gitops-actions/gitops-actions/internal/transport"
)

// registryAccess is how this run reaches registries: credentials and which
// hosts are plain HTTP / unverified TLS.
type registryAccess struct {
	auth     authn.Keychain
	insecure []string
	getenv   func(string) string
}

func newRegistryAccess(cfg Config, getenv func(string) string) *registryAccess {
	ra := &registryAccess{insecure: cfg.InsecureRegistries, getenv: getenv}
	if cfg.RegistryUsername != "" {
		ra.auth = staticKeychain{authn.FromConfig(authn.AuthConfig{Username: cfg.RegistryUsername, Password: cfg.RegistryPassword})}
	} else {
		dir := getenv("DOCKER_CONFIG")
		if dir == "" && getenv("HOME") != "" {
			dir = filepath.Join(getenv("HOME"), ".docker")
		}
		// Our reader honours DOCKER_CONFIG as the run sees it; the default
		// keychain adds podman's auth file and credential helpers.
		ra.auth = authn.NewMultiKeychain(dockerConfigKeychain{dir: dir}, authn.DefaultKeychain)
	}
	return ra
}

type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }

// dockerConfigKeychain reads <dir>/config.json, with credential helpers.
type dockerConfigKeychain struct{ dir string }

func (k dockerConfigKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if k.dir == "" {
		return authn.Anonymous, nil
	}
	f, err := os.Open(filepath.Join(k.dir, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return authn.Anonymous, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the Docker config: %w", err)
	}
	defer f.Close()
	cf, err := config.LoadFromReader(f)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", f.Name(), err)
	}
	key := r.RegistryStr()
	if key == name.DefaultRegistry {
		key = authn.DefaultAuthKey
	}
	ac, err := cf.GetAuthConfig(key)
	if err != nil {
		return nil, fmt.Errorf("reading credentials for %q from the Docker config: %w", key, err)
	}
	if ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "" && ac.RegistryToken == "" {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken,
	}), nil
}

// isInsecure: listed registries, and loopback ones as go-containerregistry
// treats them.
func (ra *registryAccess) isInsecure(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" || h == "127.0.0.1" || h == "::1" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	return slices.Contains(ra.insecure, host) || slices.Contains(ra.insecure, h)
}

func (ra *registryAccess) nameOpts(s string) []name.Option {
	reg := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		reg = s[:i]
	}
	if ra.isInsecure(reg) {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (ra *registryAccess) repository(s string) (name.Repository, error) {
	return name.NewRepository(s, ra.nameOpts(s)...)
}

func (ra *registryAccess) reference(s string) (name.Reference, error) {
	return name.ParseReference(s, ra.nameOpts(s)...)
}

// transport skips TLS verification only for the insecure registries.
type hostTransport struct {
	ra            *registryAccess
	secure, noVfy http.RoundTripper
}

func (t hostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.ra.isInsecure(r.URL.Host) {
		return t.noVfy.RoundTrip(r)
	}
	return t.secure.RoundTrip(r)
}

func (ra *registryAccess) remoteOpts(ctx context.Context) []remote.Option {
	base := httptransport.For(ctx)
	noVfy := base.WithTLS(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only for registries listed as insecure
	return append(base.RemoteRetry(),
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(ra.auth),
		remote.WithTransport(hostTransport{ra: ra, secure: base, noVfy: noVfy}),
		remote.WithJobs(4),
	)
}

// classify turns registry errors into exit codes: a missing base or a
// refused login is still something outside (exit 3).
func registryErr(what string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		return fmt.Errorf("%s: registry answered %d: %w", what, te.StatusCode, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
