package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
)

// GitHubAPI is a scripted fake of the GitHub REST API. A test registers the
// routes it expects with Handle; every request is recorded, and one that no
// route handles gets 404 and fails the test at cleanup, so that a call the
// test did not plan for cannot pass unnoticed.
type GitHubAPI struct {
	// URL is "http://127.0.0.1:port", without a trailing slash.
	URL string

	mux *http.ServeMux

	mu          sync.Mutex
	requests    []*Request
	unhandled   []*Request
	badToken    []*Request
	hits        map[string]int
	expectTimes map[string]int
	token       string
	graphql     map[string]func(r *Request) (int, any)
}

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	// RawBody is the request body as sent.
	RawBody []byte
	// Body is RawBody decoded as JSON (map[string]any, []any, ...), nil when
	// the body is empty or not JSON.
	Body any
	// Route is the "METHOD pattern" that handled the request, "" for none;
	// "GRAPHQL field" for a GraphQL request.
	Route string
	// GraphQL is the decoded body of a POST /graphql, nil for other requests.
	GraphQL *GraphQLRequest

	http *http.Request
}

// GraphQLRequest is one GraphQL request: its query, its variables, and the
// name of the query's first top-level field (the mutation or query run).
type GraphQLRequest struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables"`
	Field     string         `json:"-"`
}

// PathValue returns the value of the wildcard name in the route's pattern,
// as (*http.Request).PathValue does.
func (r *Request) PathValue(name string) string {
	if r.http == nil {
		return ""
	}
	return r.http.PathValue(name)
}

// Decode unmarshals the JSON body into v.
func (r *Request) Decode(v any) error {
	if err := json.Unmarshal(r.RawBody, v); err != nil {
		return fmt.Errorf("decode body of %s %q: %w", r.Method, r.Path, err)
	}
	return nil
}

// String returns "METHOD /path?query", and the field of a GraphQL request
// after it ("POST /graphql createCommitOnBranch"), as reports show a request.
func (r *Request) String() string {
	s := r.Method + " " + r.Path
	if len(r.Query) > 0 {
		s += "?" + r.Query.Encode()
	}
	if r.GraphQL != nil {
		s += " " + r.GraphQL.Field
	}
	return s
}

// StartGitHubAPI starts the fake on 127.0.0.1. At cleanup it fails t for
// every unhandled request, every request without the token RequireToken set,
// and every route hit a different number of times than Expect said.
func StartGitHubAPI(t testing.TB) *GitHubAPI {
	t.Helper()
	g := &GitHubAPI{
		mux:         http.NewServeMux(),
		hits:        map[string]int{},
		expectTimes: map[string]int{},
	}
	srv := httptest.NewServer(http.HandlerFunc(g.serve))
	g.URL = srv.URL
	t.Cleanup(func() {
		// Close first: it waits for requests in flight, so the checks
		// below see all of them.
		srv.Close()
		g.verify(t)
	})
	return g
}

// routeKey joins method and pattern the way http.ServeMux patterns read. A
// pattern that already starts with method is taken as it is, so that
// Handle("GET", "GET /user", fn) and Handle("GET", "/user", fn) agree.
func routeKey(method, pattern string) string {
	if strings.HasPrefix(pattern, method+" ") {
		return pattern
	}
	return method + " " + pattern
}

// Handle answers requests matching method and pattern (an http.ServeMux path
// pattern such as "/repos/{owner}/{repo}/pulls") with fn's status and body.
// A []byte or string body is sent as it is, nil sends none, and anything
// else is sent as JSON. A status of 0 means 200.
func (g *GitHubAPI) Handle(method, pattern string, fn func(r *Request) (status int, body any)) {
	route := routeKey(method, pattern)
	g.mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
		rec := r.Context().Value(requestKey{}).(*Request)
		// Under the lock: a test reads these through Requests from its
		// own goroutine.
		g.mu.Lock()
		rec.Route = route
		rec.http = r
		g.hits[route]++
		g.mu.Unlock()
		status, body := fn(rec)
		writeAPIResponse(w, status, body)
	})
}

// HandleGraphQL answers POST /graphql requests whose first top-level field
// is field (such as "createCommitOnBranch") with fn's status and body. A
// GraphQL request for a field no handler was given is unhandled, as a REST
// request without a route is. Expect("GRAPHQL", field, n) and
// Hits("GRAPHQL", field) count its requests.
func (g *GitHubAPI) HandleGraphQL(field string, fn func(r *Request) (status int, body any)) {
	g.mu.Lock()
	first := g.graphql == nil
	if first {
		g.graphql = map[string]func(r *Request) (int, any){}
	}
	g.graphql[field] = fn
	g.mu.Unlock()
	if !first {
		return
	}
	g.mux.HandleFunc("POST /graphql", func(w http.ResponseWriter, r *http.Request) {
		rec := r.Context().Value(requestKey{}).(*Request)
		if rec.GraphQL == nil {
			return // not a GraphQL body: left unhandled
		}
		g.mu.Lock()
		fn := g.graphql[rec.GraphQL.Field]
		if fn != nil {
			rec.Route = routeKey("GRAPHQL", rec.GraphQL.Field)
			rec.http = r
			g.hits[rec.Route]++
		}
		g.mu.Unlock()
		if fn == nil {
			return
		}
		status, body := fn(rec)
		writeAPIResponse(w, status, body)
	})
}

// graphQLField returns the name of the first field of a query's top-level
// selection set: "createCommitOnBranch" in
// "mutation M($input: X!) { createCommitOnBranch(input: $input) { ... } }".
func graphQLField(query string) string {
	depth := 0
	for i := 0; i < len(query); i++ {
		switch query[i] {
		case '(':
			depth++ // variable definitions, which may hold defaults in braces
		case ')':
			depth--
		case '{':
			if depth > 0 {
				continue
			}
			rest := strings.TrimLeft(query[i+1:], " \t\r\n")
			end := strings.IndexFunc(rest, func(r rune) bool {
				return !(r == '_' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z')
			})
			if end < 0 {
				end = len(rest)
			}
			name := rest[:end]
			// An alias "a: field" names the field after the colon.
			if after, ok := strings.CutPrefix(strings.TrimLeft(rest[end:], " \t\r\n"), ":"); ok {
				return graphQLField("{" + after)
			}
			return name
		}
	}
	return ""
}

// Expect records that the route of method and pattern must be hit exactly
// times times by the end of the test; 0 asserts it is never hit.
func (g *GitHubAPI) Expect(method, pattern string, times int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expectTimes[routeKey(method, pattern)] = times
}

// RequireToken makes every request that lacks "Authorization: Bearer token"
// or "Authorization: token token" get 401, as GitHub answers, and fail the
// test at cleanup.
func (g *GitHubAPI) RequireToken(token string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.token = token
}

// Requests returns every request received so far, in order.
func (g *GitHubAPI) Requests() []*Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*Request(nil), g.requests...)
}

// Unhandled returns the requests no route matched.
func (g *GitHubAPI) Unhandled() []*Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*Request(nil), g.unhandled...)
}

// Hits returns how many requests the route of method and pattern handled.
func (g *GitHubAPI) Hits(method, pattern string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hits[routeKey(method, pattern)]
}

type requestKey struct{}

func (g *GitHubAPI) serve(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, fmt.Sprintf("read request body: %v", err), http.StatusBadRequest)
		return
	}
	rec := &Request{
		Method:  r.Method,
		Path:    r.URL.Path,
		Query:   r.URL.Query(),
		Header:  r.Header.Clone(),
		RawBody: raw,
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		var body any
		if json.Unmarshal(raw, &body) == nil {
			rec.Body = body
		}
	}
	if r.Method == http.MethodPost && r.URL.Path == "/graphql" {
		var q GraphQLRequest
		if json.Unmarshal(raw, &q) == nil && q.Query != "" {
			q.Field = graphQLField(q.Query)
			rec.GraphQL = &q
		}
	}
	g.mu.Lock()
	g.requests = append(g.requests, rec)
	token := g.token
	g.mu.Unlock()

	if token != "" && !hasToken(r.Header.Get("Authorization"), token) {
		g.mu.Lock()
		g.badToken = append(g.badToken, rec)
		g.mu.Unlock()
		writeAPIResponse(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}

	// The mux answers what no route matches itself (404, 405, redirects to
	// a cleaned path): serve into a recorder to tell those apart from a
	// route's answer and replace them with a reported 404.
	r.Body = io.NopCloser(bytes.NewReader(raw))
	r = r.WithContext(context.WithValue(r.Context(), requestKey{}, rec))
	recorder := httptest.NewRecorder()
	g.mux.ServeHTTP(recorder, r)
	g.mu.Lock()
	handled := rec.Route != ""
	g.mu.Unlock()
	if !handled {
		g.mu.Lock()
		g.unhandled = append(g.unhandled, rec)
		g.mu.Unlock()
		writeAPIResponse(w, http.StatusNotFound, map[string]string{
			"message": "Not Found (testenv: no route for " + rec.Method + " " + rec.Path + ")",
		})
		return
	}
	for k, v := range recorder.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(recorder.Code)
	_, _ = w.Write(recorder.Body.Bytes())
}

// hasToken reports whether an Authorization header carries token in either
// form GitHub accepts.
func hasToken(authorization, token string) bool {
	return authorization == "Bearer "+token || authorization == "token "+token
}

func writeAPIResponse(w http.ResponseWriter, status int, body any) {
	if status == 0 {
		status = http.StatusOK
	}
	var data []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		data = b
	case string:
		data = []byte(b)
	default:
		var err error
		data, err = json.Marshal(b)
		if err != nil {
			http.Error(w, fmt.Sprintf("testenv: encode response body: %v", err), http.StatusInternalServerError)
			return
		}
	}
	if data != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// verify fails t for what the test did not plan for.
func (g *GitHubAPI) verify(t testing.TB) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range g.unhandled {
		t.Errorf("testenv: GitHub API fake: no route handles %s", r)
	}
	for _, r := range g.badToken {
		t.Errorf("testenv: GitHub API fake: %s without the expected token (Authorization %q)", r, redact(r.Header.Get("Authorization")))
	}
	routes := make([]string, 0, len(g.expectTimes))
	for route := range g.expectTimes {
		routes = append(routes, route)
	}
	sort.Strings(routes)
	for _, route := range routes {
		if got, want := g.hits[route], g.expectTimes[route]; got != want {
			t.Errorf("testenv: GitHub API fake: %q hit %d times, want %d", route, got, want)
		}
	}
}

// redact keeps an Authorization header's scheme and hides its secret, which
// must not end up in test logs.
func redact(authorization string) string {
	if authorization == "" {
		return ""
	}
	scheme, _, _ := strings.Cut(authorization, " ")
	return scheme + " <redacted>"
}
