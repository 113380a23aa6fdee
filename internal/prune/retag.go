package prune

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// tagLister reads what the tags of a repository name now. The plan is
// made from one listing, and a tag pushed or moved after it must still
// protect its digest: the deletes re-read the tags before each batch.
type tagLister interface {
	// CurrentTags maps every tag the repository has now to its digest,
	// except those skip says need no look.
	CurrentTags(ctx context.Context, skip func(tag string) bool) (map[string]string, error)
}

// movedError is the outcome of a step skipped because a tag that stays now
// reaches its digest: a tag pushed or moved since the plan was made.
type movedError struct {
	Tag, Digest string
}

func (e *movedError) Error() string {
	return fmt.Sprintf("not deleted: tag %q was pushed or moved during the run and now reaches %s", e.Tag, e.Digest)
}

// guard re-checks a batch of steps against the tags as they are now.
type guard struct {
	l           tagLister
	g           Graph
	plan        *Plan
	concurrency int
}

// reachedNow maps each digest that a tag pushed or moved since planning
// reaches now to that tag. A tag that names what it named at planning
// time needs no walk: the plan already protects what it reaches, and
// manifests are immutable.
func (gd *guard) reachedNow(ctx context.Context) (map[string]string, error) {
	cur, err := gd.l.CurrentTags(ctx, func(t string) bool { return gd.plan.removed[t] })
	if err != nil {
		return nil, fmt.Errorf("re-reading the tags of %s before deleting: %w", gd.plan.Repository, err)
	}
	reach := map[string]string{}
	var frontier []string
	for _, t := range slices.Sorted(maps.Keys(cur)) {
		d := cur[t]
		if gd.plan.removed[t] || gd.plan.tagDigest[t] == d || reach[d] != "" {
			continue
		}
		reach[d] = t
		frontier = append(frontier, d)
	}
	if err := walk(ctx, reach, frontier, nil, gd.g, gd.concurrency); err != nil {
		return nil, fmt.Errorf("re-checking %s before deleting: %w", gd.plan.Repository, err)
	}
	return reach, nil
}

// batchSize is how many deletes go between two re-checks. A re-check costs
// a tag listing and one manifest HEAD per tag that stays, so a batch is at
// least as large as that and several rounds of concurrency: the re-check
// never costs more than one request per delete, and the deletes keep their
// pace. The window left between a re-check and a delete is one batch.
func batchSize(kept, concurrency int) int {
	return max(8*concurrency, 32, kept)
}

// headTags resolves tags to digests, at most limit at once.
func headTags(ctx context.Context, tags []string, limit int, head func(ctx context.Context, tag string) (string, error)) (map[string]string, error) {
	out := make(map[string]string, len(tags))
	var mu sync.Mutex
	err := parallel(ctx, len(tags), limit, func(i int) error {
		d, err := head(ctx, tags[i])
		if notFound(err) {
			return nil // deleted since the listing
		}
		if err != nil {
			return err
		}
		mu.Lock()
		out[tags[i]] = d
		mu.Unlock()
		return nil
	})
	return out, err
}

// tagsOf inverts a listing of versions.
func tagsOf(vs []Version) map[string]string {
	out := map[string]string{}
	for _, v := range vs {
		for _, t := range v.Tags {
			out[t] = v.Digest
		}
	}
	return out
}
