package prune

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
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
