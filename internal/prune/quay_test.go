package prune

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// quayAPI is Quay's REST API for one repository's tags, as documented:
// GET /api/v1/repository/{ns}/{repo}/tag/?limit=&page=&onlyActiveTags=
// answers {"tags": [...], "page": N, "has_additional": bool}; DELETE
// .../tag/{tag} answers 204. Every request needs the bearer token.
type quayAPI struct {
	t     *testing.T
	ns    string
	repo  string
	token string

	mu        sync.Mutex
	tags      []quayFixtureTag
	pages     []int
	deleted   []string
	throttled bool // the first list request gets 429 Retry-After: 1
	retryGap  time.Duration
	lastThrot time.Time
}

type quayFixtureTag struct {
	Name           string `json:"name"`
	Reversion      bool   `json:"reversion"`
	StartTS        int64  `json:"start_ts"`
	ManifestDigest string `json:"manifest_digest"`
	IsManifestList bool   `json:"is_manifest_list"`
	Size           int64  `json:"size"`
	LastModified   string `json:"last_modified"`
}

func (q *quayAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+q.token {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error": "Requires authentication"}`)
		return
	}
	base := fmt.Sprintf("/api/v1/repository/%s/%s/tag/", q.ns, q.repo)
	tag, ok := strings.CutPrefix(r.URL.Path, base)
	if !ok {
		q.t.Errorf("quay API: unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	switch {
	case r.Method == http.MethodGet && tag == "":
		if !q.throttled {
			q.throttled = true
			q.lastThrot = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if q.retryGap == 0 {
			q.retryGap = time.Since(q.lastThrot)
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if limit < 1 || limit > 100 {
			limit = 50
		}
		page = max(page, 1)
		q.pages = append(q.pages, page)
		active := slices.DeleteFunc(slices.Clone(q.tags), func(t quayFixtureTag) bool { return slices.Contains(q.deleted, t.Name) })
		lo := min((page-1)*limit, len(active))
		hi := min(lo+limit, len(active))
		json.NewEncoder(w).Encode(map[string]any{"tags": active[lo:hi], "page": page, "has_additional": hi < len(active)})
	case r.Method == http.MethodDelete && tag != "":
		if slices.Contains(q.deleted, tag) || !slices.ContainsFunc(q.tags, func(t quayFixtureTag) bool { return t.Name == tag }) {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		q.deleted = append(q.deleted, tag)
		w.WriteHeader(http.StatusNoContent)
	default:
		q.t.Errorf("quay API: unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func TestQuayProvider(t *testing.T) {
	reg := httptest.NewServer(quietRegistry())
	t.Cleanup(reg.Close)
	repo := strings.TrimPrefix(reg.URL, "http://") + "/acme/app"
	now := time.Now()
	day := 24 * time.Hour

	// What a kept tag reaches is read from the registry for real.
	idx := indexAt(t, now.Add(-30*day))
	v1d := push(t, repo+":v1.0.0", idx)
	sigTag := "sha256-" + strings.TrimPrefix(v1d, "sha256:") + ".sig"
	sig := push(t, repo+":"+sigTag, imageAt(t, now.Add(-30*day)))

	q := &quayAPI{t: t, ns: "acme", repo: "app", token: "quay-secret-token"}
	tag := func(name, digest string, age time.Duration) {
		start := now.Add(-age)
		q.tags = append(q.tags, quayFixtureTag{Name: name, StartTS: start.Unix(), ManifestDigest: digest, Size: 1024, LastModified: start.UTC().Format(time.RFC1123Z)})
	}
	tag("v1.0.0", v1d, 30*day)
	tag(sigTag, sig, 30*day)
	tag("pr-shared", v1d, 20*day)
	tag("pr-new", fakeDigest("pr-new"), 1*day)
	tag("pr-keep-me", fakeDigest("pr-keep-me"), 60*day)
	var wantDeleted []string
	for i := range 110 {
		n := fmt.Sprintf("pr-%d", i)
		tag(n, fakeDigest(n), 20*day)
		wantDeleted = append(wantDeleted, n)
	}
	wantDeleted = append(wantDeleted, "pr-shared")
	api := httptest.NewServer(q)
	t.Cleanup(api.Close)

	res := runPrune(t, "--repository", repo, "--provider", "quay", "--quay-api-url", api.URL+"/api/v1",
		"--token", q.token, "--tag-filter", "^(pr-|sha256-)", "--exclude-tags", "keep", "--older-than", "7d")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	q.mu.Lock()
	deleted, pages, gap := slices.Clone(q.deleted), slices.Clone(q.pages), q.retryGap
	q.mu.Unlock()
	slices.Sort(deleted)
	slices.Sort(wantDeleted)
	if !slices.Equal(deleted, wantDeleted) {
		t.Errorf("tags deleted %v,\nwant %v", deleted, wantDeleted)
	}
	if !slices.Equal(pages, []int{1, 2}) {
		t.Errorf("pages read %v, want 1 and 2", pages)
	}
	if gap < time.Second {
		t.Errorf("retried %s after a 429 with Retry-After: 1", gap)
	}
	prot := protectedBy(res.report.Protected)
	if prot[sig] != "v1.0.0" || len(prot) != 1 {
		t.Errorf("protected %v, want only the signature %s by v1.0.0", prot, sig)
	}
	if strings.Contains(res.stdout+res.stderr, q.token) {
		t.Errorf("the token shows in the output")
	}
	pullsCompletely(t, repo+":v1.0.0")
	pullsCompletely(t, repo+":"+sigTag)
}

func fakeDigest(s string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s)))
}
