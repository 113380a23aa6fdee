package prune

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// registryProvider prunes any distribution registry. Distribution cannot
// list untagged manifests, and DELETE by digest removes every tag on the
// digest, so the planner never deletes a digest a kept tag still names.
type registryProvider struct {
	c           *registryClient
	concurrency int
	// wantAge says which tags need their image's creation time (the
	// candidates); reading it costs a config blob, so only they pay.
	wantAge func(tag string) bool
}

func (p *registryProvider) Kind() string        { return "registry" }
func (p *registryProvider) ListsUntagged() bool { return false }
func (p *registryProvider) UntagsAlone() bool   { return false }

// ageRead is one digest's creation time, read once however many
// candidate tags name it.
type ageRead struct {
	once sync.Once
	t    time.Time
	err  error
}

// List reads every tag's manifest and, right after it, the creation time
// of a candidate's image: one pass, no wait between the two.
func (p *registryProvider) List(ctx context.Context) ([]Version, error) {
	tags, err := p.c.tags(ctx)
	if err != nil {
		return nil, err
	}
	type got struct{ digest, mediaType string }
	res := make([]got, len(tags))
	var mu sync.Mutex
	ages := map[string]*ageRead{}
	if err := parallel(ctx, len(tags), p.concurrency, func(i int) error {
		d, mt, _, err := p.c.get(ctx, tags[i])
		res[i] = got{d, mt}
		if notFound(err) {
			return nil // deleted since the listing
		}
		if err != nil || p.wantAge == nil || !p.wantAge(tags[i]) {
			return err
		}
		mu.Lock()
		a := ages[d]
		if a == nil {
			a = &ageRead{}
			ages[d] = a
		}
		mu.Unlock()
		a.once.Do(func() { a.t, a.err = p.c.created(ctx, d) })
		return a.err
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
			if a := ages[v.Digest]; a != nil {
				v.Created = a.t
			}
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
	return out, nil
}

// CurrentTags lists the tags and resolves each by a manifest HEAD.
func (p *registryProvider) CurrentTags(ctx context.Context, skip func(string) bool) (map[string]string, error) {
	tags, err := p.c.tags(ctx)
	if err != nil {
		return nil, err
	}
	tags = slices.DeleteFunc(tags, skip)
	return headTags(ctx, tags, p.concurrency, p.c.head)
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
