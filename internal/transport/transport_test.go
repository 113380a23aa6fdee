package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// fast are limits small enough for a test to wait them out.
var fast = Options{ConnectTimeout: 200 * time.Millisecond, ResponseTimeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond,
	Attempts: 3, Backoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MaxRetryAfter: 5 * time.Second}

func get(t *testing.T, tr *Transport, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr.Client().Do(req)
}

func TestSilentServerTimesOutAfterBoundedAttempts(t *testing.T) {
	addr := testenv.Silent(t)
	start := time.Now()
	_, err := get(t, New(fast), "http://"+addr+"/v2/")
	took := time.Since(start)
	var te *Error
	if !errors.As(err, &te) || te.Attempts != 3 {
		t.Fatalf("err %v, want a transport.Error after 3 attempts", err)
	}
	if !strings.Contains(err.Error(), "gave up after 3 attempts") || !strings.Contains(err.Error(), "GET http://"+addr+"/v2/") {
		t.Errorf("error %q does not say what was tried and how often", err)
	}
	if took > 3*time.Second {
		t.Errorf("took %s; three tries of 200ms should not", took)
	}
}

// A server that stops mid-body is cut off by the idle timeout.
func TestStalledBodyIsCutOff(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	resp, err := get(t, New(fast), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	_, err = io.ReadAll(resp.Body)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) > 2*time.Second {
		t.Errorf("reading a stalled body: %v after %s, want a timeout after about 200ms", err, time.Since(start))
	}
}

func TestRefusedThenServing(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // refused until the server below starts
	go func() {
		time.Sleep(150 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
		t.Cleanup(func() { srv.Close() })
		srv.Serve(l)
	}()
	o := fast
	o.Attempts, o.Backoff, o.MaxBackoff = 8, 50*time.Millisecond, 200*time.Millisecond
	resp, err := get(t, New(o), "http://"+addr+"/")
	if err != nil {
		t.Fatalf("a server refusing for 150ms then serving: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %s", resp.Status)
	}
}

func TestRefusedToTheEndSaysSo(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = get(t, New(fast), "http://"+addr+"/x")
	var te *Error
	if !errors.As(err, &te) || te.Attempts != 3 || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err %v, want 3 attempts ending in connection refused", err)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	var n atomic.Int32
	var first time.Time
	var gap time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		gap = time.Since(first)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	resp, err := get(t, New(fast), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || n.Load() != 2 {
		t.Errorf("status %s after %d requests, want 200 after 2", resp.Status, n.Load())
	}
	if gap < time.Second {
		t.Errorf("retried after %s, before the Retry-After of 1s", gap)
	}
}

func TestRetryAfterBeyondTheCapGivesUp(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "come back in an hour", http.StatusTooManyRequests)
	}))
	defer srv.Close()
	start := time.Now()
	_, err := get(t, New(fast), srv.URL)
	if err == nil || !strings.Contains(err.Error(), "asked to wait 1h0m0s, more than the 5s") || n.Load() != 1 || time.Since(start) > time.Second {
		t.Errorf("err %v after %d requests in %s, want an immediate error naming the wait", err, n.Load(), time.Since(start))
	}
}

func TestServerErrorsEndWithTheLastAnswer(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}`, http.StatusInternalServerError)
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/v2/app/manifests/x?token=secret", nil)
	_, err := New(fast).Client().Do(req)
	if n.Load() != 3 || err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") || !strings.Contains(err.Error(), "500 Internal Server Error: {\"errors\"") || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("%d requests, err %v; want 3 and the last status and body", n.Load(), err)
	}
	var te *Error
	if errors.As(err, &te) && strings.Contains(te.Error(), "secret") {
		t.Errorf("the query (which may hold a token) shows in %q", te)
	}
}

// A POST that may have reached the server is not sent twice; one that
// was refused is.
func TestPostIsNotRepeatedAfterItWasSent(t *testing.T) {
	addr := testenv.Silent(t)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/pulls", strings.NewReader("{}"))
	_, err := New(fast).Client().Do(req)
	var te *Error
	if err == nil || errors.As(err, &te) {
		t.Errorf("err %v, want the first timeout, not a retry", err)
	}
}

func TestRetryableLeavesWhatWasRetriedAlone(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{IsTemporary: true}}
	if !Retryable(refused) {
		t.Error("a temporary dial failure is retryable")
	}
	if Retryable(&Error{Attempts: 3, Err: refused}) {
		t.Error("a failure already retried is retried again")
	}
	if Retryable(context.Canceled) {
		t.Error("a canceled context is retryable")
	}
}

func TestRetryAfterDoesNotOverflow(t *testing.T) {
	for _, v := range []string{"9223372036854775807", "99999999999999"} {
		h := http.Header{}
		h.Set("Retry-After", v)
		d, ok := retryAfter(h)
		if !ok || d < DefaultMaxRetryAfter {
			t.Errorf("Retry-After %s read as %s, want a wait over the %s cap", v, d, DefaultMaxRetryAfter)
		}
	}
}
