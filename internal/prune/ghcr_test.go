package prune

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// packagesAPI is the part of GitHub's REST API the ghcr provider uses, for
// one organisation's container package, served by the harness's GitHub
// fake (which asserts token, routes and counts): GET /users/{owner},
// GET /orgs/{org}/packages/container/{pkg}/versions (paged by per_page and
// page), DELETE .../versions/{id}. A front adds what the fake's handlers
// cannot: the Link header of paging, and throttling once each way GitHub
// does: 429 with Retry-After on the first delete, and a 403 secondary rate
// limit on the first read of page 2.
type packagesAPI struct {
	org, pkg, token string
	gh              *testenv.GitHubAPI
	versionsPath    string

	mu          sync.Mutex
	versions    []ghVersion
	pages       []int
	deletedIDs  []int64
	throttled   map[string]time.Time
	firstDelete string
	gaps        map[string]time.Duration
}

type ghVersion struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Metadata  struct {
		PackageType string `json:"package_type"`
		Container   struct {
			Tags []string `json:"tags"`
		} `json:"container"`
	} `json:"metadata"`
}

func startPackagesAPI(t *testing.T, org, pkg, token string) (*packagesAPI, string) {
	a := &packagesAPI{org: org, pkg: pkg, token: token, gh: testenv.StartGitHubAPI(t),
		versionsPath: fmt.Sprintf("/orgs/%s/packages/container/%s/versions", org, pkg),
		throttled:    map[string]time.Time{}, gaps: map[string]time.Duration{}}
	a.gh.RequireToken(token)
	a.gh.Handle("GET", "/users/{owner}", func(r *testenv.Request) (int, any) {
		if r.PathValue("owner") != org {
			return http.StatusNotFound, map[string]string{"message": "Not Found"}
		}
		return http.StatusOK, map[string]any{"login": org, "id": 1, "type": "Organization"}
	})
	a.gh.Handle("GET", a.versionsPath, func(r *testenv.Request) (int, any) {
		per, page := paging(r.Query)
		a.mu.Lock()
		defer a.mu.Unlock()
		a.pages = append(a.pages, page)
		live := a.live()
		lo := min((page-1)*per, len(live))
		return http.StatusOK, live[lo:min(lo+per, len(live))]
	})
	a.gh.Handle("DELETE", a.versionsPath+"/{id}", func(r *testenv.Request) (int, any) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		a.mu.Lock()
		defer a.mu.Unlock()
		if !slices.ContainsFunc(a.live(), func(v ghVersion) bool { return v.ID == id }) {
			return http.StatusNotFound, map[string]string{"message": "Package version not found."}
		}
		a.deletedIDs = append(a.deletedIDs, id)
		return http.StatusNoContent, nil
	})
	target, _ := url.Parse(a.gh.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method != http.MethodGet || resp.Request.URL.Path != a.versionsPath {
			return nil
		}
		per, page := paging(resp.Request.URL.Query())
		a.mu.Lock()
		more := page*per < len(a.live())
		a.mu.Unlock()
		if more {
			resp.Header.Set("Link", fmt.Sprintf(`<%s%s?page=%d&per_page=%d&state=active>; rel="next"`, frontURL(resp.Request), a.versionsPath, page+1, per))
		}
		return nil
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.throttle(w, r) {
			return
		}
		r.Header.Set("X-Front-Host", r.Host)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return a, front.URL
}

func frontURL(r *http.Request) string { return "http://" + r.Header.Get("X-Front-Host") }

func paging(q url.Values) (per, page int) {
	per, _ = strconv.Atoi(q.Get("per_page"))
	page, _ = strconv.Atoi(q.Get("page"))
	if per < 1 || per > 100 {
		per = 30
	}
	return per, max(page, 1)
}

// live is the versions not deleted; a.mu is held.
func (a *packagesAPI) live() []ghVersion {
	return slices.DeleteFunc(slices.Clone(a.versions), func(v ghVersion) bool { return slices.Contains(a.deletedIDs, v.ID) })
}

// throttle answers the first delete with 429 and the first read of page 2
// with GitHub's secondary rate limit, both with Retry-After: 1, and
// records how long the client waited before sending the same request again.
func (a *packagesAPI) throttle(w http.ResponseWriter, r *http.Request) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	var key, body string
	status := http.StatusTooManyRequests
	switch {
	case r.Method == http.MethodDelete:
		if a.firstDelete == "" {
			a.firstDelete = r.URL.Path
		}
		if r.URL.Path != a.firstDelete {
			return false
		}
		key, body = "delete", `{"message":"rate limited"}`
	case r.Method == http.MethodGet && r.URL.Path == a.versionsPath && r.URL.Query().Get("page") == "2":
		key, status = "page2", http.StatusForbidden
		body = `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#secondary-rate-limits"}`
	default:
		return false
	}
	if at, ok := a.throttled[key]; ok {
		if _, seen := a.gaps[key]; !seen {
			a.gaps[key] = time.Since(at)
		}
		return false
	}
	a.throttled[key] = time.Now()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
	return true
}

func (a *packagesAPI) add(digest string, created time.Time, tags ...string) int64 {
	v := ghVersion{ID: int64(1000 + len(a.versions)), Name: digest, CreatedAt: created.UTC().Format(time.RFC3339), UpdatedAt: created.UTC().Format(time.RFC3339)}
	v.URL = fmt.Sprintf("https://api.github.com/orgs/%s/packages/container/%s/versions/%d", a.org, a.pkg, v.ID)
	v.Metadata.PackageType = "container"
	v.Metadata.Container.Tags = append([]string{}, tags...)
	a.versions = append(a.versions, v)
	return v.ID
}

// withAttestation adds a buildx-style attestation manifest to idx.
func withAttestation(tb testing.TB, idx v1.ImageIndex, created time.Time) (v1.ImageIndex, string) {
	tb.Helper()
	att := imageAt(tb, created)
	cf, _ := att.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "unknown", "unknown"
	att, err := mutate.ConfigFile(att, cf)
	if err != nil {
		tb.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	d := mustDigest(tb, att)
	return mutate.AppendManifests(idx, mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
		Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": im.Manifests[0].Digest.String()},
	}}), d
}

func TestGHCRProvider(t *testing.T) {
	// The versions the API lists are manifests in a real registry, so
	// what a kept tag reaches is read for real.
	reg := testenv.StartRegistry(t, "acme-bot", "registry-pw")
	opts := reg.Options()
	repo := reg.Ref("acme/app")
	now := time.Now()
	day := 24 * time.Hour
	old := now.Add(-30 * day)

	api, apiURL := startPackagesAPI(t, "acme", "app", "ghp_secret")
	// A tagged multi-arch index: GHCR lists its children (and its
	// attestation manifest) as untagged versions of their own.
	idx, att := withAttestation(t, indexAt(t, old), old)
	v1d := push(t, repo+":v1", idx, opts...)
	api.add(v1d, old, "v1")
	im, _ := idx.IndexManifest()
	var protectedWant []string
	for _, m := range im.Manifests {
		api.add(m.Digest.String(), old)
		protectedWant = append(protectedWant, m.Digest.String())
	}
	sb := sbomFor(t, descOf(t, idx))
	sbom := push(t, repo+"@"+mustDigest(t, sb), sb, opts...)
	api.add(sbom, old)
	protectedWant = append(protectedWant, sbom)
	slices.Sort(protectedWant)
	if !slices.Contains(protectedWant, att) {
		t.Fatal("attestation manifest not in the index")
	}

	pr1 := push(t, repo+":pr-1", imageAt(t, old), opts...)
	pr1ID := api.add(pr1, old, "pr-1")
	pr2 := push(t, repo+":pr-2", imageAt(t, now.Add(-time.Hour)), opts...)
	api.add(pr2, now.Add(-time.Hour), "pr-2")
	dimg := imageAt(t, old)
	dangling := push(t, repo+"@"+mustDigest(t, dimg), dimg, opts...)
	wantIDs := []int64{pr1ID, api.add(dangling, old)}
	// Enough old untagged versions for a second page.
	for i := range 120 {
		wantIDs = append(wantIDs, api.add(fakeDigest(fmt.Sprint("old-", i)), old))
	}
	slices.Sort(wantIDs)
	// Two listings of two pages each, one delete per planned version, and
	// a re-listing before each batch of 64 deletes: two pages before the
	// first, one (58 left) before the second.
	api.gh.Expect("GET", api.versionsPath, 7)
	api.gh.Expect("DELETE", api.versionsPath+"/{id}", len(wantIDs))

	args := []string{"--repository", repo, "--provider", "ghcr", "--github-api-url", apiURL, "--token", api.token, "--registry-username", reg.Username, "--registry-password", reg.Password, "--tag-filter", "^pr-", "--older-than", "7d"}
	dry := runPrune(t, append(args, "--dry-run")...)
	if dry.code != 0 {
		t.Fatalf("dry run exit %d: %s", dry.code, dry.stderr)
	}
	api.mu.Lock()
	if len(api.deletedIDs) > 0 {
		t.Fatalf("dry run deleted %v", api.deletedIDs)
	}
	api.mu.Unlock()

	res := runPrune(t, args...)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	api.mu.Lock()
	got, pages, gaps := slices.Clone(api.deletedIDs), slices.Clone(api.pages), api.gaps
	api.mu.Unlock()
	slices.Sort(got)
	if !slices.Equal(got, wantIDs) {
		t.Errorf("deleted version IDs %v,\nwant %v", got, wantIDs)
	}
	if !slices.Equal(pages, []int{1, 2, 1, 2, 1, 2, 1}) {
		t.Errorf("pages read %v, want 1 and 2 in each listing and each re-check", pages)
	}
	for _, k := range []string{"page2", "delete"} {
		if gaps[k] < time.Second {
			t.Errorf("%s retried after %s, before its Retry-After of 1s", k, gaps[k])
		}
	}
	prot := protectedBy(res.report.Protected)
	if got := digestsOf(res.report.Protected); !slices.Equal(got, protectedWant) {
		t.Errorf("protected %v,\nwant the index's children, its attestation and its SBOM %v", got, protectedWant)
	}
	for d, by := range prot {
		if by != "v1" {
			t.Errorf("%s protected by %q, want v1", d, by)
		}
	}
	if !slices.Equal(digestsOf(dry.report.Planned), digestsOf(res.report.Deleted)) {
		t.Errorf("dry run planned %d, the run deleted %d different ones", len(dry.report.Planned), len(res.report.Deleted))
	}
	pullsCompletely(t, repo+":v1", opts...)
	pullsCompletely(t, repo+":pr-2", opts...)
	referrersInclude(t, repo+"@"+v1d, sbom, opts...)
}
