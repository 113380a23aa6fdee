package prune

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// A tag that stays, moved onto a doomed digest after the plan was made
// (as a release promotion during a scheduled run would), keeps it: so does
// a new index that lists a doomed image. The other candidates still go.
func TestRetagDuringRunKeepsTheDigest(t *testing.T) {
	for _, reg := range testenv.Registries(t, "pruner", "s3cret-pw") {
		t.Run(reg.Kind, func(t *testing.T) {
			opts := reg.Options()
			repo := reg.Ref("team/retag")
			old := time.Now().Add(-30 * 24 * time.Hour)
			var digests []string
			var imgs []v1.Image
			for _, tag := range []string{"pr-1", "pr-2", "pr-3"} {
				img := imageAt(t, old)
				imgs = append(imgs, img)
				digests = append(digests, push(t, repo+":"+tag, img, opts...))
			}
			push(t, repo+":stable", imageAt(t, old), opts...)

			t.Cleanup(func() { afterPlan = func(string) {} })
			afterPlan = func(string) {
				// stable moves onto pr-2; a new index "bundle" lists pr-3.
				retag(t, repo+":pr-2", repo+":stable", opts...)
				idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{Add: imgs[2]})
				push(t, repo+":bundle", idx, opts...)
			}
			res := runPrune(t, "--repository", repo, "--registry-username", reg.Username, "--registry-password", reg.Password,
				"--tag-filter", "^pr-", "--concurrency", "2")
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			if got := digestsOf(res.report.Deleted); !slices.Equal(got, []string{digests[0]}) {
				t.Errorf("deleted %v, want only pr-1 %s", got, digests[0])
			}
			want := []string{digests[1], digests[2]}
			slices.Sort(want)
			if got := digestsOf(res.report.SkippedRetagged); !slices.Equal(got, want) {
				t.Errorf("skippedRetagged %v, want pr-2 and pr-3 %v", got, want)
			}
			if by := protectedBy(res.report.SkippedRetagged); by[digests[1]] != "stable" || by[digests[2]] != "bundle" {
				t.Errorf("skipped by %v, want pr-2 by stable and pr-3 by bundle", by)
			}
			if res.report.Outputs["skipped-retagged"] != "2" || res.report.Outputs["deleted"] != "1" {
				t.Errorf("outputs %v, want skipped-retagged=2 deleted=1", res.report.Outputs)
			}
			if !strings.Contains(res.summary, "2 skipped (retagged during the run)") {
				t.Errorf("summary does not count the skipped digests:\n%s", res.summary)
			}
			pullsCompletely(t, repo+":stable", opts...)
			pullsCompletely(t, repo+":bundle", opts...)
			pullsCompletely(t, repo+"@"+digests[2], opts...)
			if tags := listTags(t, repo, opts...); slices.Contains(tags, "pr-1") {
				t.Errorf("pr-1 is still there: %v", tags)
			}
		})
	}
}

func retag(tb testing.TB, from, to string, opts ...remote.Option) {
	tb.Helper()
	src, err := name.ParseReference(from)
	if err != nil {
		tb.Fatal(err)
	}
	desc, err := remote.Get(src, opts...)
	if err != nil {
		tb.Fatalf("reading %s: %v", from, err)
	}
	dst, err := name.NewTag(to)
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Tag(dst, desc, opts...); err != nil {
		tb.Fatalf("tagging %s as %s: %v", from, to, err)
	}
}

// brokenListing answers tags/list with 500 once broken is set.
type brokenListing struct {
	next   http.Handler
	broken atomic.Bool
}

func (b *brokenListing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if b.broken.Load() && strings.HasSuffix(r.URL.Path, "/tags/list") {
		http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"index offline"}]}`, http.StatusInternalServerError)
		return
	}
	b.next.ServeHTTP(w, r)
}

// Without a fresh look at the tags nothing is deleted: a failed re-read
// fails the batch, it does not fall back on the plan's old picture.
func TestFailedRecheckDeletesNothing(t *testing.T) {
	front := &brokenListing{next: quietRegistry()}
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/app"
	old := time.Now().Add(-30 * 24 * time.Hour)
	for _, tag := range []string{"pr-1", "pr-2"} {
		push(t, repo+":"+tag, imageAt(t, old))
	}
	t.Cleanup(func() { afterPlan = func(string) {} })
	afterPlan = func(string) { front.broken.Store(true) }
	res := runPrune(t, "--repository", repo, "--provider", "registry", "--tag-filter", "^pr-")
	front.broken.Store(false)
	if res.code != 3 || len(res.report.Deleted) != 0 || len(res.report.Failed) != 2 || !strings.Contains(res.report.Failed[0].Error, "re-reading the tags") {
		t.Errorf("exit %d, deleted %d, failed %+v; want exit 3, nothing deleted, both failed for the re-read", res.code, len(res.report.Deleted), res.report.Failed)
	}
	if tags := listTags(t, repo); !slices.Equal(tags, []string{"pr-1", "pr-2"}) {
		t.Errorf("tags left %v, want both", tags)
	}
}
