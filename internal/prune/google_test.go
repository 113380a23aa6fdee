package prune

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// gcrFront serves a real in-process registry as Google's registries do:
// tags/list carries the "manifest" map (every digest, tagged or not, with
// tag, mediaType, timeCreatedMs, timeUploadedMs, imageSizeBytes), and a
// DELETE of a digest that still has tags is refused, so a client must
// untag first, as is a DELETE of a manifest an index still lists.
type gcrFront struct {
	next http.Handler

	mu        sync.Mutex
	entries   map[string]*gcrEntry // digest -> entry
	created   map[string]time.Time // creation times the test sets
	deletes   []string             // DELETE /manifests/<ref>, in order
	refusedDL []string
}

type gcrEntry struct {
	children  []string // an index's manifests
	tags      []string
	mediaType string
	uploaded  time.Time
}

func newGCRFront() *gcrFront {
	return &gcrFront{next: quietRegistry(), entries: map[string]*gcrEntry{}, created: map[string]time.Time{}}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }

func (f *gcrFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if repo, ok := strings.CutSuffix(r.URL.Path, "/tags/list"); ok && r.Method == http.MethodGet {
		f.tagsList(w, strings.TrimPrefix(repo, "/v2/"))
		return
	}
	_, ref, isManifest := strings.Cut(r.URL.Path, "/manifests/")
	if !isManifest {
		f.next.ServeHTTP(w, r)
		return
	}
	isDigest := strings.HasPrefix(ref, "sha256:")
	switch r.Method {
	case http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var doc manifestDoc
		json.Unmarshal(body, &doc)
		sw := &statusWriter{ResponseWriter: w, status: 200}
		f.next.ServeHTTP(sw, r)
		if sw.status != http.StatusCreated {
			return
		}
		d := w.Header().Get("Docker-Content-Digest")
		f.mu.Lock()
		defer f.mu.Unlock()
		e := f.entries[d]
		if e == nil {
			e = &gcrEntry{mediaType: r.Header.Get("Content-Type"), uploaded: time.Now()}
			for _, c := range doc.Manifests {
				e.children = append(e.children, c.Digest)
			}
			f.entries[d] = e
		}
		if !isDigest {
			for _, o := range f.entries {
				o.tags = slices.DeleteFunc(o.tags, func(t string) bool { return t == ref })
			}
			e.tags = append(e.tags, ref)
		}
	case http.MethodDelete:
		f.mu.Lock()
		f.deletes = append(f.deletes, ref)
		if isDigest {
			if e := f.entries[ref]; e != nil && len(e.tags) > 0 {
				f.refusedDL = append(f.refusedDL, ref)
				f.mu.Unlock()
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"errors":[{"code":"GOOGLE_MANIFEST_DANGLING_TAG","message":"Manifest is still referenced by tag: %s"}]}`, e.tags[0])
				return
			}
			for parent, e := range f.entries {
				if slices.Contains(e.children, ref) {
					f.refusedDL = append(f.refusedDL, ref)
					f.mu.Unlock()
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprintf(w, `{"errors":[{"code":"GOOGLE_MANIFEST_DANGLING_PARENT_IMAGE","message":"Manifest is still referenced by parent image: %s"}]}`, parent)
					return
				}
			}
			delete(f.entries, ref)
		} else {
			for _, e := range f.entries {
				e.tags = slices.DeleteFunc(e.tags, func(t string) bool { return t == ref })
			}
		}
		f.mu.Unlock()
		f.next.ServeHTTP(w, r)
	default:
		f.next.ServeHTTP(w, r)
	}
}

func (f *gcrFront) tagsList(w http.ResponseWriter, repo string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	type info struct {
		Size      string   `json:"imageSizeBytes"`
		MediaType string   `json:"mediaType"`
		Created   string   `json:"timeCreatedMs"`
		Uploaded  string   `json:"timeUploadedMs"`
		Tags      []string `json:"tag"`
	}
	out := struct {
		Child    []string        `json:"child"`
		Manifest map[string]info `json:"manifest"`
		Name     string          `json:"name"`
		Tags     []string        `json:"tags"`
	}{Child: []string{}, Manifest: map[string]info{}, Name: repo, Tags: []string{}}
	for d, e := range f.entries {
		c := f.created[d]
		if c.IsZero() {
			c = e.uploaded
		}
		out.Manifest[d] = info{Size: "0", MediaType: e.mediaType, Created: strconv.FormatInt(c.UnixMilli(), 10), Uploaded: strconv.FormatInt(e.uploaded.UnixMilli(), 10), Tags: append([]string{}, e.tags...)}
		out.Tags = append(out.Tags, e.tags...)
	}
	slices.Sort(out.Tags)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func TestGoogleProvider(t *testing.T) {
	front := newGCRFront()
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/proj/app"
	now := time.Now()
	day := 24 * time.Hour

	idx := indexAt(t, now.Add(-30*day))
	v1d := push(t, repo+":v1.0.0", idx)
	push(t, repo+":pr-3", idx)
	im, _ := idx.IndexManifest()
	sbom := push(t, repo+"@"+mustDigest(t, sbomFor(t, descOf(t, idx))), sbomFor(t, descOf(t, idx)))
	// An old pr index: it and its untagged children all go, the index
	// first, since Google refuses to delete a child its index still lists.
	oldIdx := indexAt(t, now.Add(-25*day))
	prIdx := push(t, repo+":pr-idx", oldIdx)
	oim, _ := oldIdx.IndexManifest()
	pr1 := push(t, repo+":pr-1", imageAt(t, now.Add(-20*day)))
	pr2 := push(t, repo+":pr-2", imageAt(t, now.Add(-15*day)))
	pr4 := push(t, repo+":pr-4", imageAt(t, now.Add(-2*day)))
	oldImg := imageAt(t, now.Add(-40*day))
	dangling := push(t, repo+"@"+mustDigest(t, oldImg), oldImg)
	youngImg := imageAt(t, now.Add(-1*day))
	young := push(t, repo+"@"+mustDigest(t, youngImg), youngImg)
	front.mu.Lock()
	for d, c := range map[string]time.Time{v1d: now.Add(-30 * day), sbom: now.Add(-30 * day), pr1: now.Add(-20 * day), pr2: now.Add(-15 * day), pr4: now.Add(-2 * day), dangling: now.Add(-40 * day), young: now.Add(-1 * day),
		im.Manifests[0].Digest.String(): now.Add(-30 * day), im.Manifests[1].Digest.String(): now.Add(-30 * day),
		prIdx: now.Add(-25 * day), oim.Manifests[0].Digest.String(): now.Add(-25 * day), oim.Manifests[1].Digest.String(): now.Add(-25 * day)} {
		front.created[d] = c
	}
	front.mu.Unlock()

	args := []string{"--repository", repo, "--provider", "google", "--tag-filter", "^pr-", "--older-than", "7d"}
	dry := runPrune(t, append(args, "--dry-run")...)
	if dry.code != 0 {
		t.Fatalf("dry run exit %d: %s", dry.code, dry.stderr)
	}
	front.mu.Lock()
	if len(front.deletes) != 0 {
		t.Fatalf("dry run sent DELETEs: %v", front.deletes)
	}
	front.mu.Unlock()

	res := runPrune(t, args...)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	wantGone := []string{pr1, pr2, dangling, prIdx, oim.Manifests[0].Digest.String(), oim.Manifests[1].Digest.String()}
	slices.Sort(wantGone)
	var manifestsGone []string
	for _, d := range res.report.Deleted {
		if d.ManifestDeleted {
			manifestsGone = append(manifestsGone, d.Digest)
		}
	}
	slices.Sort(manifestsGone)
	if !slices.Equal(manifestsGone, wantGone) {
		t.Errorf("manifests deleted %v, want pr-1, pr-2 and the old dangling one %v", manifestsGone, wantGone)
	}
	if !slices.Equal(digestsOf(dry.report.Planned), digestsOf(res.report.Deleted)) {
		t.Errorf("dry run planned %v, the run deleted %v", digestsOf(dry.report.Planned), digestsOf(res.report.Deleted))
	}
	// pr-3 shares v1.0.0's digest: Google can untag it alone, and must
	// leave the manifest.
	front.mu.Lock()
	deletes := slices.Clone(front.deletes)
	refused := slices.Clone(front.refusedDL)
	front.mu.Unlock()
	if len(refused) > 0 {
		t.Errorf("deletes Google would refuse (digest still tagged or listed by an index): %v", refused)
	}
	wantDeletes := append([]string{"pr-1", "pr-2", "pr-3", "pr-idx"}, wantGone...)
	slices.Sort(wantDeletes)
	slices.Sort(deletes)
	if !slices.Equal(deletes, wantDeletes) {
		t.Errorf("DELETEs issued %v, want exactly %v", deletes, wantDeletes)
	}
	prot := protectedBy(res.report.Protected)
	for _, d := range []string{im.Manifests[0].Digest.String(), im.Manifests[1].Digest.String(), sbom} {
		if prot[d] != "v1.0.0" {
			t.Errorf("%s protected by %q, want v1.0.0 (all %v)", d, prot[d], prot)
		}
	}
	// The registry may also hold the referrers fallback tag sha256-<hex>.
	got := slices.DeleteFunc(listTags(t, repo), func(t string) bool { return t == "sha256-"+strings.TrimPrefix(v1d, "sha256:") })
	if !slices.Equal(got, []string{"pr-4", "v1.0.0"}) {
		t.Errorf("tags left %v, want pr-4 and v1.0.0", got)
	}
	pullsCompletely(t, repo+":v1.0.0")
	pullsCompletely(t, repo+":pr-4")
	pullsCompletely(t, repo+"@"+young)
	referrersInclude(t, repo+"@"+v1d, sbom)
	if res.report.Outputs["deleted"] != "7" || res.report.Outputs["protected"] != "3" {
		t.Errorf("outputs %v, want deleted=7 (6 manifests + 1 untag) protected=3", res.report.Outputs)
	}
}

func mustDigest(tb testing.TB, x interface {
	Digest() (v1.Hash, error)
}) string {
	tb.Helper()
	d, err := x.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return d.String()
}

// referrersInclude checks the subject still lists want as a referrer.
func referrersInclude(tb testing.TB, subject, want string, opts ...remote.Option) {
	tb.Helper()
	d, err := name.NewDigest(subject)
	if err != nil {
		tb.Fatal(err)
	}
	idx, err := remote.Referrers(d, opts...)
	if err != nil {
		tb.Fatalf("referrers of %s: %v", subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		tb.Fatal(err)
	}
	for _, m := range im.Manifests {
		if m.Digest.String() == want {
			return
		}
	}
	tb.Errorf("referrer %s of %s is gone (referrers: %v)", want, subject, im.Manifests)
}
