package prune

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rateTransport retries requests a server refused for rate: 429 with or
// without Retry-After, and GitHub's primary and secondary rate limits
// (403 with Retry-After, x-ratelimit-remaining: 0, or the secondary-limit
// message). Other failures pass through untouched.
type rateTransport struct {
	base     http.RoundTripper
	attempts int
	maxWait  time.Duration
	// wait sleeps; tests and the logs see each pause through it.
	wait func(ctx context.Context, d time.Duration) error

	// A limit applies to the client, not to one request: every request
	// waits until the latest Retry-After has passed.
	mu    sync.Mutex
	until time.Time
}

func newRateTransport(base http.RoundTripper) *rateTransport {
	return &rateTransport{base: base, attempts: 6, maxWait: 10 * time.Minute, wait: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// baseTransport keeps enough idle connections per host for the deletes in
// flight; the default of 2 would reconnect for most requests.
func baseTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

func (t *rateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		t.mu.Lock()
		pause := time.Until(t.until)
		t.mu.Unlock()
		if pause > 0 {
			if err := t.wait(req.Context(), pause); err != nil {
				return nil, err
			}
		}
		resp, err := t.base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		d, limited := rateLimited(resp, attempt)
		replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
		if !limited || attempt >= t.attempts || d > t.maxWait || !replayable {
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		t.mu.Lock()
		if u := time.Now().Add(d); u.After(t.until) {
			t.until = u
		}
		t.mu.Unlock()
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
	}
}

// rateLimited says whether resp asks the client to slow down, and for how long.
func rateLimited(resp *http.Response, attempt int) (time.Duration, bool) {
	backoff := time.Duration(1<<(attempt-1)) * time.Second
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		if d, ok := retryAfter(resp.Header); ok {
			return d, true
		}
		if d, ok := rateReset(resp.Header); ok {
			return d, true
		}
		return backoff, true
	case http.StatusForbidden:
		if d, ok := retryAfter(resp.Header); ok {
			return d, true
		}
		if d, ok := rateReset(resp.Header); ok {
			return d, true
		}
		// GitHub's secondary limit may come without headers; its docs ask
		// for at least a minute's pause then.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if strings.Contains(strings.ToLower(string(body)), "secondary rate limit") {
			return time.Minute, true
		}
	}
	return 0, false
}

func retryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// rateReset reads GitHub's x-ratelimit-remaining: 0 with its reset time.
func rateReset(h http.Header) (time.Duration, bool) {
	if h.Get("X-Ratelimit-Remaining") != "0" {
		return 0, false
	}
	reset, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64)
	if err != nil {
		return 0, false
	}
	return max(time.Until(time.Unix(reset, 0)), 0) + time.Second, true
}
