package prune

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// TestAgeCache: a run with age-cache reads each candidate's config blob
// once; the next run takes the ages from the file, reads no config blob,
// makes the same plan, and the file then drops what was deleted. A file
// that is not an age cache is a warning, not a failure.
func TestAgeCache(t *testing.T) {
	reg := testenv.StartRegistry(t, "pruner", "s3cret-pw")
	opts := reg.Options()
	repo := reg.Ref("team/cached")
	now := time.Now()
	day := 24 * time.Hour
	push(t, repo+":v1.0.0", imageAt(t, now.Add(-40*day)), opts...)
	old1 := push(t, repo+":pr-1", imageAt(t, now.Add(-30*day)), opts...)
	old2 := push(t, repo+":pr-2", imageAt(t, now.Add(-20*day)), opts...)
	young := push(t, repo+":pr-3", imageAt(t, now.Add(-2*day)), opts...)

	cache := filepath.Join(t.TempDir(), "state", "ages.json")
	args := []string{"--repository", repo, "--registry-username", reg.Username, "--registry-password", reg.Password,
		"--tag-filter", "^pr-", "--older-than", "7d", "--age-cache", cache}
	blobGets := func() int {
		n := 0
		for _, l := range reg.RequestLog() {
			if strings.HasPrefix(l, "GET ") && strings.Contains(l, "/blobs/") {
				n++
			}
		}
		return n
	}

	reg.ResetRequests()
	dry := runPrune(t, append(args, "--dry-run")...)
	if dry.code != 0 {
		t.Fatalf("dry run exit %d: %s", dry.code, dry.stderr)
	}
	if n := blobGets(); n != 3 {
		t.Errorf("cold run read %d blobs, want the 3 candidates' configs:\n%s", n, strings.Join(reg.RequestLog(), "\n"))
	}
	ages := readAgeCache(t, cache)
	for _, d := range []string{old1, old2, young} {
		if ages[d] == "" {
			t.Errorf("cache lacks %s: %v", d, ages)
		}
	}

	reg.ResetRequests()
	res := runPrune(t, args...)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if n := blobGets(); n != 0 {
		t.Errorf("warm run read %d blobs, want none:\n%s", n, strings.Join(reg.RequestLog(), "\n"))
	}
	want := []string{old1, old2}
	slices.Sort(want)
	if got := digestsOf(res.report.Deleted); !slices.Equal(got, want) || !slices.Equal(digestsOf(dry.report.Planned), want) {
		t.Errorf("deleted %v, dry run planned %v, want %v", got, digestsOf(dry.report.Planned), want)
	}
	if got := digestsOf(res.report.Kept); !slices.Equal(got, []string{young}) {
		t.Errorf("kept %v, want pr-3 (younger than 7d) %s", got, young)
	}
	ages = readAgeCache(t, cache)
	if _, ok := ages[old1]; ok || len(ages) != 1 || ages[young] == "" {
		t.Errorf("after the deletes the cache holds %v, want only pr-3's %s", ages, young)
	}

	if err := os.WriteFile(cache, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg.ResetRequests()
	bad := runPrune(t, append(args, "--dry-run")...)
	if bad.code != 0 || !strings.Contains(bad.stdout+bad.stderr, "is not a version 1 age cache") {
		t.Errorf("a corrupt cache: exit %d, want 0 with a warning naming it:\n%s%s", bad.code, bad.stdout, bad.stderr)
	}
	if n := blobGets(); n != 1 {
		t.Errorf("with a corrupt cache the run read %d blobs, want pr-3's config again", n)
	}
	if ages := readAgeCache(t, cache); len(ages) != 1 {
		t.Errorf("the corrupt cache was not replaced: %v", ages)
	}
}

func readAgeCache(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("age cache: %v", err)
	}
	var f struct {
		Version int               `json:"version"`
		Created map[string]string `json:"created"`
	}
	if err := json.Unmarshal(raw, &f); err != nil || f.Version != 1 {
		t.Fatalf("age cache is not version 1 JSON (%v):\n%s", err, raw)
	}
	return f.Created
}
