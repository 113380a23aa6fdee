package prune

import (
	"context"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// execute runs the plan's steps with at most concurrency in flight; a
// failed step does not stop the others. errs[i] is steps[i]'s outcome. Indexes go
// first, in a wave of their own: Google's registries refuse to delete a
// manifest an index still lists. Where the provider can re-read its tags,
// each batch of manifest deletes is checked against them first, and a step
// whose digest a tag pushed or moved since planning now reaches is skipped
// with a *movedError.
func execute(ctx context.Context, p Provider, g Graph, plan *Plan, concurrency, reads int) []error {
	steps := plan.Steps
	errs := make([]error, len(steps))
	var waves [2][]int
	for i, s := range steps {
		w := 1
		if types.MediaType(s.Version.MediaType).IsIndex() {
			w = 0
		}
		waves[w] = append(waves[w], i)
	}
	l, _ := p.(tagLister)
	gd := &guard{l: l, g: g, plan: plan, concurrency: reads}
	size := batchSize(len(plan.tagDigest)-len(plan.removed), concurrency)
	for _, wave := range waves {
		for len(wave) > 0 {
			batch := wave[:min(size, len(wave))]
			wave = wave[len(batch):]
			var reached map[string]string
			if l != nil {
				var err error
				if reached, err = gd.reachedNow(ctx); err != nil {
					// Fail closed: without a fresh picture nothing in the batch goes.
					for _, i := range batch {
						errs[i] = err
					}
					continue
				}
			}
			werrs := each(ctx, len(batch), concurrency, func(j int) error {
				s := steps[batch[j]]
				if t := reached[s.Version.Digest]; t != "" && s.Manifest {
					return &movedError{Tag: t, Digest: s.Version.Digest}
				}
				return p.Delete(ctx, s)
			})
			for j, i := range batch {
				errs[i] = werrs[j]
			}
		}
	}
	return errs
}
