package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// attemptLimit is how many idle timeouts one attempt may last in all: the
// idle timeout cannot see a connect that hangs or a server trickling bytes.
const attemptLimit = 10

// Backoff between attempts of one network operation.
var (
	retryBase = 500 * time.Millisecond
	retryCap  = 5 * time.Second
	// wait sleeps before the next attempt; tests replace it.
	wait = func(ctx context.Context, d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
)

// QuickAttempts bounds the tries of a network operation whose failures
// come fast (refused, reset, 5xx): with the backoff below that rides out
// about 20 s of a restarting or overloaded server, where three tries gave
// up after one second. Timed-out attempts, each of which can last minutes,
// are bounded by Options.Attempts.
const QuickAttempts = 8

// net runs a git command that talks to the remote, with stdin as its input. Each attempt ends after
// attemptLimit idle timeouts; a transient failure (refused, reset, timed
// out, 5xx) is retried with jittered backoff, after reset when given, up
// to r.attempts timed-out attempts or QuickAttempts in all. The error says
// how often it was tried.
func (r *Repo) net(ctx context.Context, dir string, stdin []byte, reset func(), args ...string) (string, error) {
	limit := attemptLimit * r.timeout
	timeouts := 0
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, limit)
		out, err := r.run(actx, dir, stdin, args...)
		timedOut := ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded)
		cancel()
		if err == nil {
			return out, nil
		}
		if timedOut {
			err = fmt.Errorf("%w (stopped after %s)", err, limit)
		}
		if timedOut || slow(err) {
			timeouts++
		}
		if ctx.Err() != nil || !(timedOut || transient(err)) {
			return out, err
		}
		if timeouts >= r.attempts || attempt >= max(QuickAttempts, r.attempts) {
			return out, fmt.Errorf("gave up after %d attempts (idle timeout %s): %w", attempt, r.timeout, err)
		}
		window := min(retryCap, retryBase<<(attempt-1))
		if werr := wait(ctx, window/2+rand.N(window/2+1)); werr != nil {
			return out, err
		}
		if reset != nil {
			reset()
		}
	}
}

// Markers in git's messages of failures that another try will not mend;
// they win over the transient ones below, which git prints after them.
var permanentMarkers = []string{
	"authentication failed", "could not read username", "returned error: 401", "returned error: 403", "returned error: 404",
	"not found", "does not appear to be a git repository", "couldn't find remote ref", "no commits selected",
	"does not support", "[rejected]", "[remote rejected]", "permission denied", "repository not exported",
}

var transientMarkers = []string{
	"connection refused", "connection reset", "connection timed out", "timed out", "operation too slow",
	"empty reply from server", "couldn't connect to server", "failed to connect", "recv failure", "send failure",
	"the remote end hung up unexpectedly", "early eof", "unexpected disconnect", "connection closed",
	"could not resolve host", "temporary failure in name resolution", "returned error: 5", "rpc failed",
	"returned error: 429", "gnutls", "ssl_read", "ssl_write",
	// git killed by SIGPIPE: the server closed the connection under it
	// (git daemon past its --max-connections, a proxy restarting).
	"broken pipe",
	// All git says when a git:// daemon drops a connection past its limit;
	// a missing repository or refused key adds a permanent marker above.
	"could not read from remote repository",
}

// slow reports whether git gave up waiting (curl's low-speed limit, a
// connect timeout): such an attempt may have lasted the whole timeout.
func slow(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "operation too slow") || strings.Contains(msg, "timed out")
}

// transient reports whether git failed in a way that a retry may mend.
func transient(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, m := range permanentMarkers {
		if strings.Contains(msg, m) {
			return false
		}
	}
	for _, m := range transientMarkers {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}
