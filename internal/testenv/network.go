package testenv

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Silent listens on 127.0.0.1 and accepts connections it never answers,
// as a wedged server or a black-holing firewall does. It returns
// "127.0.0.1:port".
func Silent(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: silent server: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// Closed returns "127.0.0.1:port" of a port nothing listens on: every
// connection to it is refused, as to a server that is down.
func Closed(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: closed port: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Flaky is a front for the server at backend ("host:port") on a port of
// its own: it refuses connections (nothing listens) for refuseFor, then
// resets the first resets connections it accepts, then passes every
// connection through. It returns its "127.0.0.1:port" and a count of the
// connections it reset.
func Flaky(t testing.TB, backend string, refuseFor time.Duration, resets int) (string, *atomic.Int32) {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		t.Fatalf("testenv: flaky front: %v", err)
	}
	var reset atomic.Int32
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(done); wg.Wait() })
	wg.Go(func() {
		select {
		case <-time.After(refuseFor):
		case <-done:
			return
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("testenv: flaky front on %s: %v", addr, err)
			return
		}
		go func() { <-done; l.Close() }()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if int(reset.Load()) < resets {
				reset.Add(1)
				c.(*net.TCPConn).SetLinger(0) // close with RST
				c.Close()
				continue
			}
			wg.Go(func() { pipe(c, backend, done) })
		}
	})
	return addr, &reset
}

func pipe(c net.Conn, backend string, done <-chan struct{}) {
	defer c.Close()
	b, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer b.Close()
	go func() { <-done; c.Close(); b.Close() }()
	go io.Copy(b, c)
	io.Copy(c, b)
}

// Within runs f and fails the test when f has not returned after d: a
// hang, not a slow pass. It returns how long f took.
func Within(t testing.TB, d time.Duration, f func()) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still running after %s", d)
	}
	return time.Since(start)
}
