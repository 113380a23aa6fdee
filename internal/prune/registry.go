package prune

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// registryProvider prunes any distribution registry. Distribution cannot
// list untagged manifests, and DELETE by digest removes every tag on the
// digest, so the planner never deletes a digest a kept tag still names.
type registryProvider struct {
	c           *registryClient
	concurrency int
	// wantAge says which tag sets need a creation time; reading it costs
	// a config blob per image, so only candidates pay.
	wantAge func(tags []string) bool
}

func (p *registryProvider) Kind() string        { return "registry" }
func (p *registryProvider) ListsUntagged() bool { return false }
func (p *registryProvider) UntagsAlone() bool   { return false }

func (p *registryProvider) List(ctx context.Context) ([]Version, error) {
	tags, err := p.c.tags(ctx)
	if err != nil {
		return nil, err
	}
	type got struct{ digest, mediaType string }
	res := make([]got, len(tags))
	if err := parallel(ctx, len(tags), p.concurrency, func(i int) error {
		d, mt, _, err := p.c.get(ctx, tags[i])
		res[i] = got{d, mt}
		if notFound(err) {
			return nil // deleted since the listing
		}
		return err
	}); err != nil {
		return nil, err
	}
	byDigest := map[string]*Version{}
	var order []string
	for i, t := range tags {
		if res[i].digest == "" {
			continue
		}
		v := byDigest[res[i].digest]
		if v == nil {
			v = &Version{ID: res[i].digest, Digest: res[i].digest, MediaType: res[i].mediaType}
			byDigest[v.Digest] = v
			order = append(order, v.Digest)
		}
		v.Tags = append(v.Tags, t)
	}
	out := make([]Version, len(order))
	for i, d := range order {
		out[i] = *byDigest[d]
		slices.Sort(out[i].Tags)
	}
	if err := parallel(ctx, len(out), p.concurrency, func(i int) error {
		if p.wantAge != nil && !p.wantAge(out[i].Tags) {
			return nil
		}
		t, err := p.c.created(ctx, out[i].Digest)
		out[i].Created = t
		return err
	}); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *registryProvider) Delete(ctx context.Context, s Step) error {
	if !s.Manifest {
		return fmt.Errorf("registry provider cannot remove tags %v of %s alone", s.Tags, s.Version.Digest)
	}
	return p.c.deleteManifest(ctx, s.Version.Digest)
}

// parallel runs f(0..n-1) with at most limit at once and returns the
// first error.
func parallel(ctx context.Context, n, limit int, f func(i int) error) error {
	for _, err := range each(ctx, n, limit, f) {
		if err != nil {
			return err
		}
	}
	return nil
}

// each runs f(0..n-1) with at most limit at once; errs[i] is f(i)'s.
func each(ctx context.Context, n, limit int, f func(i int) error) []error {
	errs := make([]error, n)
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			errs[i] = f(i)
		})
	}
	wg.Wait()
	return errs
}
