package prune

import (
	"context"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// execute runs the steps with at most concurrency in flight; a failed
// step does not stop the others. errs[i] is steps[i]'s outcome. Indexes go
// first, in a wave of their own: Google's registries refuse to delete a
// manifest an index still lists.
func execute(ctx context.Context, p Provider, steps []Step, concurrency int) []error {
	errs := make([]error, len(steps))
	var waves [2][]int
	for i, s := range steps {
		w := 1
		if types.MediaType(s.Version.MediaType).IsIndex() {
			w = 0
		}
		waves[w] = append(waves[w], i)
	}
	for _, wave := range waves {
		werrs := each(ctx, len(wave), concurrency, func(j int) error { return p.Delete(ctx, steps[wave[j]]) })
		for j, i := range wave {
			errs[i] = werrs[j]
		}
	}
	return errs
}
