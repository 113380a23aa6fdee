package prune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// registryClient reads and deletes manifests of one repository through the
// distribution API. It remembers manifests by digest, so listing and the
// reachability walk read each one once.
type registryClient struct {
	repo   name.Repository
	auth   authn.Authenticator
	rt     *transport.Transport
	puller *remote.Puller

	mu        sync.Mutex
	manifests map[string][]byte
	// ages, when set, remembers creation times across runs.
	ages *ageCache

	delOnce sync.Once
	del     *http.Client
	delErr  error
}

// manifestDoc holds the fields of any manifest or index the walk needs.
type manifestDoc struct {
	MediaType string `json:"mediaType"`
	Config    struct {
		Digest string `json:"digest"`
	} `json:"config"`
	Manifests []struct {
		Digest   string       `json:"digest"`
		Platform *v1.Platform `json:"platform"`
	} `json:"manifests"`
	Annotations map[string]string `json:"annotations"`
}

const createdAnnotation = "org.opencontainers.image.created"

func newRegistryClient(ctx context.Context, repo name.Repository, auth authn.Authenticator, rt *transport.Transport, reads int) (*registryClient, error) {
	// WithJobs: the puller otherwise fetches at most 4 blobs at a time.
	p, err := remote.NewPuller(append(rt.Remote(), remote.WithAuth(auth), remote.WithContext(ctx), remote.WithJobs(reads))...)
	if err != nil {
		return nil, fmt.Errorf("setting up registry client for %q: %w", repo, err)
	}
	return &registryClient{repo: repo, auth: auth, rt: rt, puller: p, manifests: map[string][]byte{}}, nil
}

// tags lists the repository's tags (tags/list, following pagination).
func (c *registryClient) tags(ctx context.Context) ([]string, error) {
	tags, err := c.puller.List(ctx, c.repo)
	var terr *ggcrtransport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return nil, nil // no such repository yet: nothing to prune
	}
	if err != nil {
		return nil, fmt.Errorf("listing tags of %q: %w", c.repo, err)
	}
	return tags, nil
}

// get reads a manifest by tag or digest; it returns its digest, media type
// and bytes.
func (c *registryClient) get(ctx context.Context, ref string) (string, string, []byte, error) {
	if d, err := v1.NewHash(ref); err == nil {
		c.mu.Lock()
		raw, ok := c.manifests[d.String()]
		c.mu.Unlock()
		if ok {
			var m manifestDoc
			json.Unmarshal(raw, &m)
			return d.String(), m.MediaType, raw, nil
		}
	}
	r, err := name.ParseReference(c.repo.String()+sep(ref)+ref, name.StrictValidation)
	if err != nil {
		return "", "", nil, fmt.Errorf("reference %q in %q: %w", ref, c.repo, err)
	}
	desc, err := c.puller.Get(ctx, r)
	if err != nil {
		return "", "", nil, fmt.Errorf("reading manifest %q: %w", r, err)
	}
	c.mu.Lock()
	c.manifests[desc.Digest.String()] = desc.Manifest
	c.mu.Unlock()
	return desc.Digest.String(), string(desc.MediaType), desc.Manifest, nil
}

// head resolves a tag to the digest it names now, bypassing the cache.
func (c *registryClient) head(ctx context.Context, tag string) (string, error) {
	desc, err := c.puller.Head(ctx, c.repo.Tag(tag))
	if err != nil {
		return "", fmt.Errorf("resolving tag %q of %q: %w", tag, c.repo, err)
	}
	return desc.Digest.String(), nil
}

func sep(ref string) string {
	if _, err := v1.NewHash(ref); err == nil {
		return "@"
	}
	return ":"
}

func notFound(err error) bool {
	var terr *ggcrtransport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

// Refs implements Graph: index children of every platform (attestation
// manifests are index children too) and referrers, by the OCI 1.1
// referrers API or its sha256-<hex> tag fallback.
func (c *registryClient) Refs(ctx context.Context, digest string) ([]string, error) {
	_, _, raw, err := c.get(ctx, digest)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m manifestDoc
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parsing manifest %s of %q: %w", digest, c.repo, err)
	}
	var out []string
	for _, d := range m.Manifests {
		out = append(out, d.Digest)
	}
	idx, err := remote.Referrers(c.repo.Digest(digest), remote.Reuse(c.puller), remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("listing referrers of %s in %q: %w", digest, c.repo, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading referrers of %s in %q: %w", digest, c.repo, err)
	}
	for _, d := range im.Manifests {
		out = append(out, d.Digest.String())
	}
	return out, nil
}

// created is when the image was built: the manifest's
// org.opencontainers.image.created annotation, else the config's created
// field; for an index, its annotation, else its first platform image's.
// Distribution keeps no timestamps of its own, so reading one costs a
// config blob unless the age cache knows the digest.
func (c *registryClient) created(ctx context.Context, digest string) (time.Time, error) {
	if t, ok := c.ages.get(digest); ok {
		return t, nil
	}
	t, err := c.readCreated(ctx, digest)
	if t.Before(reproducible) {
		t = time.Time{} // a pinned epoch, not an age
	}
	if err == nil {
		c.ages.put(digest, t)
	}
	return t, err
}

func (c *registryClient) readCreated(ctx context.Context, digest string) (time.Time, error) {
	_, _, raw, err := c.get(ctx, digest)
	if err != nil {
		return time.Time{}, err
	}
	var m manifestDoc
	if err := json.Unmarshal(raw, &m); err != nil {
		return time.Time{}, fmt.Errorf("parsing manifest %s of %q: %w", digest, c.repo, err)
	}
	if t, err := time.Parse(time.RFC3339, m.Annotations[createdAnnotation]); err == nil {
		return t, nil
	}
	if len(m.Manifests) > 0 {
		for _, d := range m.Manifests {
			// buildx attestation manifests carry platform unknown/unknown.
			if d.Platform == nil || d.Platform.OS != "unknown" {
				return c.created(ctx, d.Digest)
			}
		}
		return time.Time{}, nil
	}
	if m.Config.Digest == "" {
		return time.Time{}, nil
	}
	l, err := c.puller.Layer(ctx, c.repo.Digest(m.Config.Digest))
	if err != nil {
		return time.Time{}, fmt.Errorf("reading config %s of %q: %w", m.Config.Digest, c.repo, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return time.Time{}, fmt.Errorf("reading config %s of %q: %w", m.Config.Digest, c.repo, err)
	}
	// Read to the end: a body left unread closes its connection, and the
	// next read pays for a new one.
	raw, err = io.ReadAll(io.LimitReader(rc, 8<<20))
	rc.Close()
	if err != nil {
		return time.Time{}, fmt.Errorf("reading config %s of %q: %w", m.Config.Digest, c.repo, err)
	}
	var cfg struct {
		Created *time.Time `json:"created"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg.Created == nil {
		// Artifacts (SBOMs, signatures) have an empty or foreign config.
		return time.Time{}, nil
	}
	return *cfg.Created, nil
}

// deleteManifest issues DELETE /v2/<repo>/manifests/<ref>. The client is
// made once, with delete scope, so that each delete is one request.
func (c *registryClient) deleteManifest(ctx context.Context, ref string) error {
	c.delOnce.Do(func() {
		tr, err := ggcrtransport.NewWithContext(ctx, c.repo.Registry, c.auth, c.rt, []string{c.repo.Scope(ggcrtransport.DeleteScope)})
		if err != nil {
			c.delErr = fmt.Errorf("authenticating to delete in %q: %w", c.repo, err)
			return
		}
		c.del = &http.Client{Transport: tr}
	})
	if c.delErr != nil {
		return c.delErr
	}
	u := url.URL{Scheme: c.repo.Scheme(), Host: c.repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/manifests/%s", c.repo.RepositoryStr(), ref)}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := c.del.Do(req)
	if err != nil {
		return fmt.Errorf("deleting %s%s%s: %w", c.repo, sep(ref), ref, err)
	}
	defer resp.Body.Close()
	if err := ggcrtransport.CheckError(resp, http.StatusOK, http.StatusAccepted); err != nil {
		return fmt.Errorf("deleting %s%s%s: %w", c.repo, sep(ref), ref, err)
	}
	return nil
}
