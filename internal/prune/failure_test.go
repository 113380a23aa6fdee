package prune

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
	"github.com/gitops-actions/gitops-actions/internal/transport"
)

func TestBadInputExits2NamingTheInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--repository", "example.com/app", "--older-than", "soon"}, `input "older-than": "soon" is not a duration`},
		{[]string{"--repository", "example.com/app", "--tag-filter", "^pr-("}, `input "tag-filter"`},
		{[]string{"--repository", "example.com/app", "--exclude-tags", "(("}, `input "exclude-tags"`},
		{[]string{"--repository", "ghcr.io/acme/app"}, `input "token": the ghcr provider`},
		{[]string{"--repository", "quay.io/acme/app"}, `input "token": the quay provider`},
		{[]string{"--repository", "example.com/app", "--registry-username", "u"}, `input "registry-password"`},
	} {
		res := runPrune(t, tc.args...)
		if res.code != 2 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, res.code, res.stderr, tc.want)
		}
		if res.report.Status != "error" || len(res.report.Deleted) != 0 {
			t.Errorf("%v: report %+v", tc.args, res.report)
		}
	}
}

// failingDeletes refuses DELETE of one digest with 500; the rest of the
// registry is real.
type failingDeletes struct {
	next http.Handler
	bad  string
}

func (f *failingDeletes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/manifests/"+f.bad) {
		http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}`, http.StatusInternalServerError)
		return
	}
	f.next.ServeHTTP(w, r)
}

func TestFailedDeleteIsListedOthersGoOnExit3(t *testing.T) {
	front := &failingDeletes{next: quietRegistry()}
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/app"
	old := time.Now().Add(-30 * 24 * time.Hour)
	var ds []string
	for _, tag := range []string{"pr-1", "pr-2", "pr-3"} {
		ds = append(ds, push(t, repo+":"+tag, imageAt(t, old)))
	}
	front.bad = ds[1]

	res := runPrune(t, "--repository", repo, "--provider", "registry", "--tag-filter", "^pr-", "--concurrency", "1")
	if res.code != 3 {
		t.Fatalf("exit %d, want 3", res.code)
	}
	if got := digestsOf(res.report.Failed); !slices.Equal(got, []string{ds[1]}) || !strings.Contains(res.report.Failed[0].Error, "disk on fire") {
		t.Errorf("failed %+v, want only %s with the registry's message", res.report.Failed, ds[1])
	}
	want := []string{ds[0], ds[2]}
	slices.Sort(want)
	if got := digestsOf(res.report.Deleted); !slices.Equal(got, want) {
		t.Errorf("deleted %v, want the other two %v", got, want)
	}
	if res.report.Outputs["deleted"] != "2" {
		t.Errorf("outputs %v", res.report.Outputs)
	}
}

// A registry that accepts connections and never answers ends the run with
// exit 3 once the tries are spent, naming them; it does not hang.
func TestSilentRegistryExits3(t *testing.T) {
	repo := testenv.Silent(t) + "/app"
	o := transport.Tight(300*time.Millisecond, 3)
	var res result
	took := testenv.Within(t, 30*time.Second, func() {
		res = runPruneWith(t, o, "--repository", repo, "--provider", "registry", "--tag-filter", "^pr-", "--registry-username", "pruner", "--registry-password", "s3cret-pw")
	})
	if res.code != 3 || !strings.Contains(res.stderr, "gave up after 3 attempts") {
		t.Errorf("exit %d after %s, stderr %q; want exit 3 saying it gave up after 3 attempts", res.code, took, res.stderr)
	}
	if took > 15*time.Second {
		t.Errorf("took %s", took)
	}
}

// A registry that refuses connections for a moment, then resets the first
// ones it accepts (a restart, a load balancer draining) is waited for.
func TestRefusedThenResetRegistryIsRetried(t *testing.T) {
	reg := testenv.StartRegistry(t, "pruner", "s3cret-pw")
	old := time.Now().Add(-30 * 24 * time.Hour)
	d := push(t, reg.Ref("app")+":pr-1", imageAt(t, old), reg.Options()...)
	front, resets := testenv.Flaky(t, reg.Host, 500*time.Millisecond, 2)
	o := transport.Options{Attempts: 8, Backoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
	res := runPruneWith(t, o, "--repository", front+"/app", "--provider", "registry", "--tag-filter", "^pr-",
		"--registry-username", reg.Username, "--registry-password", reg.Password)
	if res.code != 0 || !slices.Equal(digestsOf(res.report.Deleted), []string{d}) {
		t.Errorf("exit %d, deleted %v; want exit 0 and pr-1 %s deleted", res.code, digestsOf(res.report.Deleted), d)
	}
	if resets.Load() != 2 {
		t.Errorf("%d connections reset, want 2", resets.Load())
	}
}
