package prune

import (
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

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// packagesAPI is the part of GitHub's REST API the ghcr provider uses, for
// one organisation's container package: GET /users/{owner},
// GET /orgs/{org}/packages/container/{pkg}/versions (paged by per_page and
// page, with a Link header), DELETE .../versions/{id}. It throttles once
// each way GitHub does: 429 with Retry-After on the first delete, and a
// 403 secondary rate limit on the first read of page 2.
type packagesAPI struct {
	t           *testing.T
	org, pkg    string
	token       string
	mu          sync.Mutex
	versions    []ghVersion
	pages       []int
	deletedIDs  []int64
	unexpected  []string
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

func (a *packagesAPI) throttle(w http.ResponseWriter, key string, status int, body string) bool {
	if at, ok := a.throttled[key]; ok {
		if _, seen := a.gaps[key]; !seen {
			a.gaps[key] = time.Since(at)
		}
		return false
	}
	a.throttled[key] = time.Now()
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
	return true
}

func (a *packagesAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+a.token {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"Bad credentials"}`)
		return
	}
	versionsPath := fmt.Sprintf("/orgs/%s/packages/container/%s/versions", a.org, a.pkg)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/users/"+a.org:
		fmt.Fprintf(w, `{"login":%q,"id":1,"type":"Organization"}`, a.org)
	case r.Method == http.MethodGet && r.URL.Path == versionsPath:
		q := r.URL.Query()
		per, _ := strconv.Atoi(q.Get("per_page"))
		page, _ := strconv.Atoi(q.Get("page"))
		if per < 1 || per > 100 {
			per = 30
		}
		page = max(page, 1)
		if page == 2 && a.throttle(w, "page2", http.StatusForbidden, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#secondary-rate-limits"}`) {
			return
		}
		a.pages = append(a.pages, page)
		live := slices.DeleteFunc(slices.Clone(a.versions), func(v ghVersion) bool { return slices.Contains(a.deletedIDs, v.ID) })
		lo := min((page-1)*per, len(live))
		hi := min(lo+per, len(live))
		if hi < len(live) {
			w.Header().Set("Link", fmt.Sprintf(`<http://%s%s?page=%d&per_page=%d&state=active>; rel="next"`, r.Host, versionsPath, page+1, per))
		}
		json.NewEncoder(w).Encode(live[lo:hi])
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, versionsPath+"/"):
		if a.firstDelete == "" {
			a.firstDelete = r.URL.Path
		}
		if r.URL.Path == a.firstDelete && a.throttle(w, "delete", http.StatusTooManyRequests, `{"message":"rate limited"}`) {
			return
		}
		id, _ := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, versionsPath+"/"), 10, 64)
		if !slices.ContainsFunc(a.versions, func(v ghVersion) bool { return v.ID == id }) || slices.Contains(a.deletedIDs, id) {
			a.unexpected = append(a.unexpected, r.Method+" "+r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		a.deletedIDs = append(a.deletedIDs, id)
		w.WriteHeader(http.StatusNoContent)
	default:
		a.unexpected = append(a.unexpected, r.Method+" "+r.URL.String())
		w.WriteHeader(http.StatusNotFound)
	}
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

	api := &packagesAPI{t: t, org: "acme", pkg: "app", token: "ghp_secret", throttled: map[string]time.Time{}, gaps: map[string]time.Duration{}}
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
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	args := []string{"--repository", repo, "--provider", "ghcr", "--github-api-url", srv.URL, "--token", api.token, "--registry-username", reg.Username, "--registry-password", reg.Password, "--tag-filter", "^pr-", "--older-than", "7d"}
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
	got, pages, gaps, unexpected := slices.Clone(api.deletedIDs), slices.Clone(api.pages), api.gaps, api.unexpected
	api.mu.Unlock()
	slices.Sort(got)
	if !slices.Equal(got, wantIDs) {
		t.Errorf("deleted version IDs %v,\nwant %v", got, wantIDs)
	}
	if len(unexpected) > 0 {
		t.Errorf("requests no plan called for: %v", unexpected)
	}
	if !slices.Equal(pages, []int{1, 2, 1, 2}) {
		t.Errorf("pages read %v, want 1 and 2 in each run", pages)
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
