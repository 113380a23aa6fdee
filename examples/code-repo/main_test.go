package main

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(handler())
	defer srv.Close()
	for path, want := range map[string]string{"/healthz": "ok", "/": "hello from dev"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d %q, want %q", path, resp.StatusCode, b, want)
		}
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Accept-Language", "fr-CH, de;q=0.9, en;q=0.8")
	rec := httptest.NewRecorder()
	handler().ServeHTTP(rec, req)
	if got := rec.Body.String(); got != "bonjour de dev\n" {
		t.Errorf("GET / in French: %q", got)
	}
	if err := probe(srv.URL + "/healthz"); err != nil {
		t.Error(err)
	}
	if err := probe(srv.URL + "/missing"); err == nil {
		t.Error("probe of a 404 should fail")
	}
}
