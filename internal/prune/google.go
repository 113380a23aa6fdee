package prune

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/google"
)

// googleProvider prunes gcr.io and Artifact Registry (*-docker.pkg.dev):
// their tags/list carries a manifest map of every digest with its tags and
// times, untagged ones included. A delete untags, then deletes the digest.
type googleProvider struct {
	c *registryClient
}

func (p *googleProvider) Kind() string        { return "google" }
func (p *googleProvider) ListsUntagged() bool { return true }
func (p *googleProvider) UntagsAlone() bool   { return true }

// reproducible marks creation times builders pin to the epoch for
// reproducible images (ko, bazel); such a time says nothing of age.
var reproducible = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func (p *googleProvider) List(ctx context.Context) ([]Version, error) {
	tags, err := google.List(p.c.repo, google.WithAuth(p.c.auth), google.WithTransport(p.c.rt), google.WithContext(ctx))
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %q with Google's manifest extension: %w", p.c.repo, err)
	}
	if len(tags.Manifests) == 0 && len(tags.Tags) > 0 {
		return nil, fmt.Errorf("listing %q: the registry's tags/list has no manifest map; it is not a Google registry (use provider: registry)", p.c.repo)
	}
	out := make([]Version, 0, len(tags.Manifests))
	for d, m := range tags.Manifests {
		v := Version{ID: d, Digest: d, Tags: slices.Clone(m.Tags), MediaType: m.MediaType, Created: m.Created}
		if v.Created.Before(reproducible) {
			v.Created = m.Uploaded
		}
		if v.Created.Before(reproducible) {
			v.Created = time.Time{}
		}
		slices.Sort(v.Tags)
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Version) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// CurrentTags reads the manifest map again: one request.
func (p *googleProvider) CurrentTags(ctx context.Context, _ func(string) bool) (map[string]string, error) {
	vs, err := p.List(ctx)
	return tagsOf(vs), err
}

func (p *googleProvider) Delete(ctx context.Context, s Step) error {
	for _, t := range s.Tags {
		if err := p.c.deleteManifest(ctx, t); err != nil {
			return err
		}
	}
	if s.Manifest {
		return p.c.deleteManifest(ctx, s.Version.Digest)
	}
	return nil
}
