package prune

import (
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// TestRegistryProvider prunes a seeded repository on every real
// distribution registry the harness has (v3 in-process, Debian's 2.8).
// 2.8 has neither tag delete nor the referrers API: a DELETE by digest
// removes every tag on the digest, and referrers live in the sha256-<hex>
// fallback tag, which the walk must read and protect.
func TestRegistryProvider(t *testing.T) {
	for _, reg := range testenv.Registries(t, "pruner", "s3cret-pw") {
		t.Run(reg.Kind, func(t *testing.T) { testRegistry(t, reg) })
	}
}

func testRegistry(t *testing.T, reg *testenv.Registry) {
	opts := reg.Options()
	repo := reg.Ref("team/app")
	now := time.Now()
	day := 24 * time.Hour

	// v1.0.0: a 2-platform index; pr-3 shares its digest.
	idx := indexAt(t, now.Add(-30*day))
	v1d := push(t, repo+":v1.0.0", idx, opts...)
	push(t, repo+":pr-3", idx, opts...)
	pr1 := push(t, repo+":pr-1", imageAt(t, now.Add(-20*day)), opts...)
	pr2 := push(t, repo+":pr-2", imageAt(t, now.Add(-15*day)), opts...)
	push(t, repo+":pr-4", imageAt(t, now.Add(-5*day)), opts...) // younger than older-than
	push(t, repo+":pr-5", imageAt(t, now.Add(-1*day)), opts...) // the newest: keep 1
	// v2.0.0 with an SBOM attached by subject (OCI 1.1; ggcr writes the
	// sha256-<hex> fallback tag where the registry lacks the API) and a
	// cosign-style signature tag. Both are old and match the filter.
	v2 := imageAt(t, now.Add(-60*day))
	v2d := push(t, repo+":v2.0.0", v2, opts...)
	sbom := push(t, repo+":pr-sbom", sbomFor(t, descOf(t, v2)), opts...)
	v2sigTag := "sha256-" + strings.TrimPrefix(v2d, "sha256:") + ".sig"
	v2sig := push(t, repo+":"+v2sigTag, imageAt(t, now.Add(-60*day)), opts...)
	// A signature of pr-1, which goes: nothing kept reaches it.
	oldSig := push(t, repo+":sha256-"+strings.TrimPrefix(pr1, "sha256:")+".sig", imageAt(t, now.Add(-20*day)), opts...)

	before := listTags(t, repo, opts...)
	args := []string{"--repository", repo, "--provider", "auto", "--registry-username", reg.Username, "--registry-password", reg.Password,
		"--tag-filter", "^(pr-|sha256-)", "--older-than", "7d", "--keep", "1"}
	reg.ResetRequests()
	dry := runPrune(t, append(args, "--dry-run")...)
	if dry.code != 0 {
		t.Fatalf("dry run exit %d: %s", dry.code, dry.stderr)
	}
	if n := countDeletes(reg.RequestLog()); n != 0 {
		t.Fatalf("dry run sent %d DELETEs", n)
	}
	if got := listTags(t, repo, opts...); !slices.Equal(got, before) {
		t.Fatalf("dry run changed the tags: %v -> %v", before, got)
	}

	reg.ResetRequests()
	res := runPrune(t, args...)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	want := []string{pr1, pr2, oldSig}
	slices.Sort(want)
	if got := digestsOf(res.report.Deleted); !slices.Equal(got, want) {
		t.Errorf("deleted %v, want pr-1, pr-2 and pr-1's signature %v", got, want)
	}
	if got := digestsOf(dry.report.Planned); !slices.Equal(got, want) {
		t.Errorf("dry run planned %v, the run deleted %v", got, want)
	}
	if n := countDeletes(reg.RequestLog()); n != len(want) {
		t.Errorf("%d DELETEs sent, want %d:\n%s", n, len(want), strings.Join(reg.RequestLog(), "\n"))
	}

	prot := protectedBy(res.report.Protected)
	for d, by := range map[string]string{v1d: "v1.0.0", sbom: "v2.0.0", v2sig: "v2.0.0"} {
		if prot[d] != by {
			t.Errorf("%s protected by %q, want %q (all %v)", d, prot[d], by, prot)
		}
	}
	if !strings.Contains(res.stdout, `tags=pr-3,v1.0.0 by tag "v1.0.0": its digest is also tagged "v1.0.0"`) {
		t.Errorf("the plan does not say pr-3 is protected by v1.0.0:\n%s", res.stdout)
	}

	if !strings.Contains(res.summary, "| protected | "+repo+" | `"+v1d[:19]+"` | pr-3, v1.0.0 | protected by `v1.0.0`") ||
		!strings.Contains(res.summary, "| deleted | "+repo+" | `"+pr1[:19]+"` | pr-1 |") {
		t.Errorf("step summary lacks the protected pr-3 or the deleted pr-1:\n%s", res.summary)
	}

	after := listTags(t, repo, opts...)
	for _, gone := range []string{"pr-1", "pr-2", "sha256-" + strings.TrimPrefix(pr1, "sha256:") + ".sig"} {
		if slices.Contains(after, gone) {
			t.Errorf("tag %s is still there", gone)
		}
	}
	for _, kept := range []string{"v1.0.0", "v2.0.0", "pr-3", "pr-4", "pr-5", "pr-sbom", v2sigTag} {
		if !slices.Contains(after, kept) {
			t.Errorf("kept tag %s is gone (left: %v)", kept, after)
			continue
		}
		pullsCompletely(t, repo+":"+kept, opts...)
	}
	referrersInclude(t, repo+"@"+v2d, sbom, opts...)
	if res.report.Outputs["deleted"] != "3" || res.report.Outputs["kept"] != "2" {
		t.Errorf("outputs %v, want deleted=3 kept=2", res.report.Outputs)
	}
	if strings.Contains(res.stdout+res.stderr, reg.Password) {
		t.Error("the registry password shows in the output")
	}
}

func countDeletes(log []string) int {
	n := 0
	for _, l := range log {
		if strings.HasPrefix(l, "DELETE ") {
			n++
		}
	}
	return n
}

// A reproducible build pins its creation time to the epoch: that says
// nothing of age, so such an image is never "older than" anything.
func TestRegistryEpochIsNoAge(t *testing.T) {
	reg := testenv.StartRegistry(t, "pruner", "s3cret-pw")
	opts := reg.Options()
	repo := reg.Ref("team/repro")
	old := push(t, repo+":pr-old", imageAt(t, time.Now().Add(-30*24*time.Hour)), opts...)
	epoch := push(t, repo+":pr-epoch", imageAt(t, time.Unix(0, 0)), opts...)
	res := runPrune(t, "--repository", repo, "--registry-username", reg.Username, "--registry-password", reg.Password,
		"--tag-filter", "^pr-", "--older-than", "7d")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if got := digestsOf(res.report.Deleted); !slices.Equal(got, []string{old}) {
		t.Errorf("deleted %v, want only pr-old %s", got, old)
	}
	if len(res.report.Kept) != 1 || res.report.Kept[0].Digest != epoch || !strings.Contains(res.report.Kept[0].Reason, "creation time unknown") {
		t.Errorf("kept %+v, want pr-epoch kept as of unknown age", res.report.Kept)
	}
	if tags := listTags(t, repo, opts...); !slices.Equal(tags, []string{"pr-epoch"}) {
		t.Errorf("tags left %v, want pr-epoch", tags)
	}
}

// An image whose manifest carries org.opencontainers.image.created (the
// build action writes it) is aged from the manifest: no config read, and
// the annotation wins over the config.
func TestRegistryCreatedAnnotation(t *testing.T) {
	reg := testenv.StartRegistry(t, "pruner", "s3cret-pw")
	opts := reg.Options()
	repo := reg.Ref("team/annotated")
	img := imageAt(t, time.Now()) // the config says: just built
	img = mutate.Annotations(img, map[string]string{"org.opencontainers.image.created": time.Now().Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339)}).(v1.Image)
	d := push(t, repo+":pr-1", img, opts...)
	reg.ResetRequests()
	res := runPrune(t, "--repository", repo, "--registry-username", reg.Username, "--registry-password", reg.Password,
		"--tag-filter", "^pr-", "--older-than", "7d")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if got := digestsOf(res.report.Deleted); !slices.Equal(got, []string{d}) {
		t.Errorf("deleted %v, want pr-1 %s (30 days old by its annotation)", got, d)
	}
	for _, l := range reg.RequestLog() {
		if strings.Contains(l, "/blobs/") {
			t.Errorf("read a blob although the manifest says when it was created: %s", l)
		}
	}
}
