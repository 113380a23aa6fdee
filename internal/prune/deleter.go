package prune

import "context"

// execute runs the steps with at most concurrency in flight; a failed
// step does not stop the others. errs[i] is steps[i]'s outcome.
func execute(ctx context.Context, p Provider, steps []Step, concurrency int) []error {
	return each(ctx, len(steps), concurrency, func(i int) error { return p.Delete(ctx, steps[i]) })
}
