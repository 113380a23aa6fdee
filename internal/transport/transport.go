package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Defaults no healthy registry or API comes near; a server silent for
// longer is taken as gone.
const (
	DefaultConnectTimeout  = 30 * time.Second
	DefaultResponseTimeout = 2 * time.Minute
	DefaultIdleTimeout     = 2 * time.Minute
	DefaultAttempts        = 5
	DefaultBackoff         = time.Second
	DefaultMaxBackoff      = 30 * time.Second
	DefaultMaxRetryAfter   = 10 * time.Minute
)

// Options bound the requests of a Transport. Zero fields take the defaults.
type Options struct {
	// ConnectTimeout bounds a TCP connect and, separately, a TLS handshake.
	ConnectTimeout time.Duration
	// ResponseTimeout bounds the wait for response headers once the
	// request is sent.
	ResponseTimeout time.Duration
	// IdleTimeout bounds any pause of a connection in the middle of a
	// transfer (no byte read or written for that long).
	IdleTimeout time.Duration
	// Attempts is the most tries of one request, the first included.
	Attempts int
	// Backoff is the pause after the first failed try; it doubles after
	// each, up to MaxBackoff, and each pause is jittered by ±50 %.
	Backoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After (or rate-limit reset) that
	// is waited for; a server asking for more ends the tries.
	MaxRetryAfter time.Duration
}

// Tight is d for every wait and attempts tries with pauses of a few
// milliseconds: what a test against a silent server can wait out.
func Tight(d time.Duration, attempts int) Options {
	return Options{ConnectTimeout: d, ResponseTimeout: d, IdleTimeout: d, Attempts: attempts, Backoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ConnectTimeout, DefaultConnectTimeout)
	def(&o.ResponseTimeout, DefaultResponseTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.Backoff, DefaultBackoff)
	def(&o.MaxBackoff, DefaultMaxBackoff)
	def(&o.MaxRetryAfter, DefaultMaxRetryAfter)
	if o.Attempts < 1 {
		o.Attempts = DefaultAttempts
	}
	return o
}

// Transport is an http.RoundTripper with the limits and retries above. It
// is safe for concurrent use; share one.
type Transport struct {
	o    Options
	base *http.Transport
	logf func(format string, args ...any)
	// A rate limit applies to the client, not to one request: every
	// request waits until the latest Retry-After has passed.
	limit *rateLimit
	sleep func(ctx context.Context, d time.Duration) error
}

type rateLimit struct {
	mu    sync.Mutex
	until time.Time
}

// New makes a Transport with its own connection pool.
func New(o Options) *Transport {
	o = o.withDefaults()
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	idle := o.IdleTimeout
	base := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, idle: idle}, nil
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64, // enough for the requests in flight: fewer reconnect for most
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.ResponseTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &Transport{o: o, base: base, logf: func(string, ...any) {}, limit: &rateLimit{}, sleep: sleepCtx}
}

var (
	defaultMu sync.Mutex
	defaults  *Transport
)

type optionsKey struct{}

// WithOptions returns a context whose For gives a Transport with o: the
// limits for everything run under ctx. Tests make them small this way.
func WithOptions(ctx context.Context, o Options) context.Context {
	return context.WithValue(ctx, optionsKey{}, o)
}

// For returns the Transport for ctx: the process's shared one, or one with
// the options WithOptions put in ctx.
func For(ctx context.Context) *Transport {
	if o, ok := ctx.Value(optionsKey{}).(Options); ok {
		return New(o)
	}
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaults == nil {
		defaults = New(Options{})
	}
	return defaults
}

// WithLogf returns a Transport that reports each retry through logf; it
// shares t's connections.
func (t *Transport) WithLogf(logf func(format string, args ...any)) *Transport {
	c := *t
	c.logf = logf
	return &c
}

// WithTLS returns a Transport with the same limits and its own pool that
// uses cfg for TLS (for example a registry's own CA).
func (t *Transport) WithTLS(cfg *tls.Config) *Transport {
	c := *t
	c.base = t.base.Clone()
	c.base.TLSClientConfig = cfg
	c.limit = &rateLimit{}
	return &c
}

// WithBase returns a Transport with the same limits and its own pool, its
// base first changed by modify (which must keep the timeouts).
func (t *Transport) WithBase(modify func(*http.Transport)) *Transport {
	c := *t
	c.base = t.base.Clone()
	modify(c.base)
	c.limit = &rateLimit{}
	return &c
}

// Options returns the limits in force.
func (t *Transport) Options() Options { return t.o }

// Client is an http.Client on t. It sets no overall timeout: a long
// transfer that keeps moving is fine.
func (t *Transport) Client() *http.Client { return &http.Client{Transport: t} }

// Remote is the go-containerregistry options that send through t. Its own
// retries are turned off for what t retries already (one retry layer, not
// two); it keeps retrying whole blob uploads, whose bodies t cannot
// replay, on the same transient failures with t's backoff.
func (t *Transport) Remote() []remote.Option {
	return append(t.RemoteRetry(), remote.WithTransport(t))
}

// RemoteRetry is Remote without the transport, for a caller that routes
// requests to several Transports itself.
func (t *Transport) RemoteRetry() []remote.Option {
	return []remote.Option{
		remote.WithRetryStatusCodes(),
		remote.WithRetryPredicate(Retryable),
		remote.WithRetryBackoff(remote.Backoff{Duration: t.o.Backoff, Factor: 2, Jitter: 0.5, Steps: t.o.Attempts, Cap: t.o.MaxBackoff}),
	}
}

// Error is a request that failed after every try.
type Error struct {
	Method, URL string
	Attempts    int
	Elapsed     time.Duration
	// Status is the last response's status line, when the server answered.
	Status string
	// Body is the start of the last response's body.
	Body string
	// Err is the last failure when the server did not answer.
	Err error
}

func (e *Error) Error() string {
	last := e.Status
	if e.Body != "" {
		last += ": " + e.Body
	}
	if e.Err != nil {
		last = e.Err.Error()
	}
	return fmt.Sprintf("%s %s: gave up after %d attempts over %s: %s", e.Method, e.URL, e.Attempts, e.Elapsed.Round(time.Millisecond), last)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable says whether err is a transient failure that no Transport has
// retried yet: go-containerregistry's predicate for what t cannot retry.
func Retryable(err error) bool {
	var te *Error
	return err != nil && !errors.As(err, &te) && transient(err, true)
}

// transient says whether a failure to get any answer may pass. sent says
// the request may have reached the server, which only an idempotent one
// may risk twice.
func transient(err error, sent bool) bool {
	// Not DeadlineExceeded: net/http's header timeout matches it too. The
	// caller's own deadline is the caller's to check.
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true // nothing reached the server
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		var dns *net.DNSError
		return !errors.As(err, &dns) || dns.IsTemporary || dns.IsTimeout
	}
	if !sent {
		return false
	}
	var ne net.Error
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		(errors.As(err, &ne) && ne.Timeout())
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// RoundTrip sends req, retrying transient failures. A request whose body
// cannot be replayed is sent once.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	fail := func(attempt int, resp *http.Response, err error) *Error {
		e := &Error{Method: req.Method, URL: safeURL(req), Attempts: attempt, Elapsed: time.Since(start), Err: err}
		if resp != nil {
			e.Status = resp.Status
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
			resp.Body.Close()
			e.Body = strings.TrimSpace(string(b))
		}
		return e
	}
	for attempt := 1; ; attempt++ {
		if err := t.waitLimit(req.Context()); err != nil {
			return nil, err
		}
		r := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(req.Context())
			r.Body = body
		}
		resp, err := t.base.RoundTrip(r)
		var wait time.Duration
		switch {
		case err != nil:
			if req.Context().Err() != nil || !transient(err, idempotent(req.Method)) || !replayable {
				if attempt > 1 {
					return nil, fail(attempt, nil, err)
				}
				return nil, err
			}
			wait = t.backoff(attempt)
		default:
			d, limited := rateLimited(resp, attempt, t.backoff)
			switch {
			case limited:
				if d > t.o.MaxRetryAfter {
					e := fail(attempt, resp, nil)
					e.Status += fmt.Sprintf(" (asked to wait %s, more than the %s this run waits)", d.Round(time.Second), t.o.MaxRetryAfter)
					return nil, e
				}
				t.limit.mu.Lock()
				if u := time.Now().Add(d); u.After(t.limit.until) {
					t.limit.until = u
				}
				t.limit.mu.Unlock()
				// No wait of its own: the next try waits out the shared pause.
			case retryStatus(resp.StatusCode):
				wait = t.backoff(attempt)
			default:
				return resp, nil
			}
			if !replayable {
				return resp, nil
			}
		}
		if attempt >= t.o.Attempts {
			return nil, fail(attempt, resp, err)
		}
		if resp != nil {
			t.logf("%s %s answered %s; trying again (attempt %d of %d)", req.Method, safeURL(req), resp.Status, attempt+1, t.o.Attempts)
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		} else {
			t.logf("%s %s: %v; trying again in %s (attempt %d of %d)", req.Method, safeURL(req), err, wait.Round(time.Millisecond), attempt+1, t.o.Attempts)
		}
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

func (t *Transport) waitLimit(ctx context.Context) error {
	t.limit.mu.Lock()
	pause := time.Until(t.limit.until)
	t.limit.mu.Unlock()
	if pause <= 0 {
		return nil
	}
	return t.sleep(ctx, pause)
}

// backoff is the pause after the attempt-th failure: doubling, capped,
// jittered so that clients failing together do not retry together.
func (t *Transport) backoff(attempt int) time.Duration {
	d := t.o.Backoff << min(attempt-1, 20)
	if d <= 0 || d > t.o.MaxBackoff {
		d = t.o.MaxBackoff
	}
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}

func retryStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// rateLimited says whether resp asks the client to slow down, and for how
// long: 429, and GitHub's primary and secondary rate limits (403 with
// Retry-After, x-ratelimit-remaining: 0, or the secondary-limit message).
func rateLimited(resp *http.Response, attempt int, backoff func(int) time.Duration) (time.Duration, bool) {
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if d, ok := retryAfter(resp.Header); ok {
			return d, true
		}
		if d, ok := rateReset(resp.Header); ok {
			return d, true
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			return 0, false // a plain 503: retried with backoff
		}
		return backoff(attempt), true
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
		// A huge value must stay huge (and over MaxRetryAfter), not wrap
		// around to a negative wait.
		return time.Duration(min(s, 1<<31)) * time.Second, true
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

// safeURL is the request's URL without credentials or query (tokens ride
// in both).
func safeURL(req *http.Request) string {
	u := *req.URL
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// idleConn fails a read or write that waits longer than idle: a server
// that accepts and then goes silent cannot hold a transfer forever.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(p)
}
