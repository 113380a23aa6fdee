package policy

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
)

// RuleLimit is the finding of a policy stopped by a limit.
const RuleLimit = "GA-POLICY-LIMIT"

// DefaultTimeout bounds one policy on one object; real policies take
// milliseconds.
const DefaultTimeout = 10 * time.Second

// heapBudget is how far the heap may grow while policies run before the
// running evaluations are stopped. It keeps the process under 1 GB: OPA
// has no allocation limit, and some builtins (numbers.range,
// net.cidr_expand) build their whole result in one call, checking only
// for cancellation.
const heapBudget = 256 << 20

// watchEvery is how often the heap is read while policies run.
const watchEvery = 10 * time.Millisecond

// Limits bound policy evaluation: each evaluation's time, and the heap
// all of them use together. One Limits is shared by every policy of a run.
type Limits struct {
	timeout time.Duration

	// exclusive is held for reading by every evaluation and for writing
	// by one that reruns alone to learn whether it is the one that used
	// the memory.
	exclusive sync.RWMutex

	mu        sync.Mutex
	running   map[*evaluation]struct{}
	stopped   map[[2]string]bool // policy, unit
	watching  bool
	heapLimit uint64
}

type evaluation struct {
	cancel context.CancelFunc
	over   atomic.Bool // stopped for memory, not time
}

// NewLimits bounds each evaluation to timeout (DefaultTimeout when 0).
func NewLimits(timeout time.Duration) *Limits {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Limits{timeout: timeout, running: map[*evaluation]struct{}{}, stopped: map[[2]string]bool{}}
}

// limitError says why an evaluation was stopped.
type limitError struct{ reason string }

func (e *limitError) Error() string { return e.reason }

// eval runs pq for policy (how a finding names it) on an object of unit.
// A policy stopped by a limit is a GA-POLICY-LIMIT result, once per
// unit: it is not run again on the unit's other objects, so a runaway
// policy costs one timeout per unit, not per object.
func (l *Limits) eval(ctx context.Context, policy, unit string, pq *rego.PreparedEvalQuery, opts ...rego.EvalOption) (rego.ResultSet, []Result, error) {
	key := [2]string{policy, unit}
	l.mu.Lock()
	stopped := l.stopped[key]
	l.mu.Unlock()
	if stopped {
		return nil, nil, nil
	}
	rs, err := l.limited(ctx, pq, opts)
	var le *limitError
	if !errors.As(err, &le) {
		return rs, nil, err
	}
	l.mu.Lock()
	first := !l.stopped[key]
	l.stopped[key] = true
	l.mu.Unlock()
	if !first {
		return nil, nil, nil
	}
	return nil, []Result{{Rule: RuleLimit, Severity: "error", Message: fmt.Sprintf("%s was stopped: %s; it is not run on the unit's other objects", policy, le.reason)}}, nil
}

func (l *Limits) limited(ctx context.Context, pq *rego.PreparedEvalQuery, opts []rego.EvalOption) (rego.ResultSet, error) {
	rs, over, err := l.try(ctx, pq, opts, false)
	if !over {
		return rs, err
	}
	// Every evaluation running when the heap filled was stopped; each
	// runs again alone, so only the one that fills it is blamed.
	l.exclusive.Lock()
	defer l.exclusive.Unlock()
	debug.FreeOSMemory()
	rs, over, err = l.try(ctx, pq, opts, true)
	if over {
		debug.FreeOSMemory()
		return nil, &limitError{fmt.Sprintf("its evaluation used more than %d MiB of memory", heapBudget>>20)}
	}
	return rs, err
}

func (l *Limits) try(ctx context.Context, pq *rego.PreparedEvalQuery, opts []rego.EvalOption, alone bool) (rego.ResultSet, bool, error) {
	if !alone {
		l.exclusive.RLock()
		defer l.exclusive.RUnlock()
	}
	ectx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	e := &evaluation{cancel: cancel}
	l.start(e)
	rs, err := pq.Eval(ectx, opts...)
	l.end(e)
	switch {
	case e.over.Load():
		return nil, true, nil
	case err != nil && ctx.Err() == nil && errors.Is(ectx.Err(), context.DeadlineExceeded):
		return nil, false, &limitError{fmt.Sprintf("it ran longer than policy-timeout (%s)", l.timeout)}
	}
	return rs, false, err
}

func (l *Limits) start(e *evaluation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running[e] = struct{}{}
	if l.watching {
		return
	}
	if l.heapLimit == 0 {
		// What the repo's own objects take, with the garbage the
		// collector lets accumulate (GOGC 100), is not the policies'.
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
		metrics.Read(s)
		l.heapLimit = max(s[0].Value.Uint64(), 2*s[1].Value.Uint64()) + heapBudget
	}
	l.watching = true
	go l.watch()
}

func (l *Limits) end(e *evaluation) {
	l.mu.Lock()
	delete(l.running, e)
	l.mu.Unlock()
}

// watch stops every running evaluation when the heap passes the limit;
// it ends when none is running.
func (l *Limits) watch() {
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	for range t.C {
		metrics.Read(s)
		l.mu.Lock()
		if len(l.running) == 0 {
			l.watching = false
			l.mu.Unlock()
			return
		}
		if s[0].Value.Uint64() > l.heapLimit {
			for e := range l.running {
				e.over.Store(true)
				e.cancel()
			}
		}
		l.mu.Unlock()
	}
}
