package prune

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// quickRetries keep the limits but not the pauses: a test waits out no
// backoff (a Retry-After it still does).
var quickRetries = transport.Options{Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}

// pruneReport is the JSON report as a user's script would read it.
type pruneReport struct {
	Status          string            `json:"status"`
	Error           string            `json:"error"`
	Outputs         map[string]string `json:"outputs"`
	DryRun          bool              `json:"dryRun"`
	Planned         []Decision        `json:"planned"`
	Deleted         []Decision        `json:"deleted"`
	Kept            []Decision        `json:"kept"`
	Protected       []Decision        `json:"protected"`
	Failed          []Decision        `json:"failed"`
	SkippedRetagged []Decision        `json:"skippedRetagged"`
	DeployedRefs    []deployedRef     `json:"deployedReferences"`
}

type result struct {
	code           int
	stdout, stderr string
	summary        string // the step summary markdown
	report         pruneReport
}

// runPrune runs the action's real entry point in-process.
func runPrune(t *testing.T, args ...string) result {
	t.Helper()
	return runPruneWith(t, quickRetries, args...)
}

// runPruneWith runs it with the network limits o.
func runPruneWith(t *testing.T, o transport.Options, args ...string) result {
	t.Helper()
	return runPruneEnv(t, o, nil, args...)
}

// runPruneEnv runs it with the network limits o and more environment.
func runPruneEnv(t *testing.T, o transport.Options, more map[string]string, args ...string) result {
	t.Helper()
	dir := t.TempDir()
	rep := filepath.Join(dir, "report.json")
	var out, errb bytes.Buffer
	env := map[string]string{"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary.md")}
	maps.Copy(env, more)
	code := Main(transport.WithOptions(context.Background(), o), append([]string{"prune-images", "--report-file", rep}, args...), func(k string) string { return env[k] }, &out, &errb)
	r := result{code: code, stdout: out.String(), stderr: errb.String()}
	if md, err := os.ReadFile(env["GITHUB_STEP_SUMMARY"]); err == nil {
		r.summary = string(md)
	}
	raw, err := os.ReadFile(rep)
	if err != nil {
		t.Fatalf("no report (exit %d, stderr %s): %v", code, r.stderr, err)
	}
	if err := json.Unmarshal(raw, &r.report); err != nil {
		t.Fatalf("report: %v\n%s", err, raw)
	}
	t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", code, r.stdout, r.stderr)
	return r
}

// digestsOf lists the digests of decisions, sorted.
func digestsOf(ds []Decision) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Digest)
	}
	slices.Sort(out)
	return out
}

// protectedBy maps each protected digest to the tag protecting it.
func protectedBy(ds []Decision) map[string]string {
	m := map[string]string{}
	for _, d := range ds {
		m[d.Digest] = d.ProtectedBy
	}
	return m
}

// imageAt is a small random OCI image whose config says it was created at t.
func imageAt(tb testing.TB, t time.Time) v1.Image {
	tb.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		tb.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.CreatedAt(img, v1.Time{Time: t.UTC().Truncate(time.Second)})
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

// indexAt is a two-platform OCI index whose images were created at t.
func indexAt(tb testing.TB, t time.Time) v1.ImageIndex {
	tb.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		pl, _ := v1.ParsePlatform(p)
		img := imageAt(tb, t)
		cf, err := img.ConfigFile()
		if err != nil {
			tb.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = pl.OS, pl.Architecture
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			tb.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: pl}})
	}
	return idx
}

// sbomFor is an SBOM artifact whose subject is the manifest desc.
func sbomFor(tb testing.TB, subject v1.Descriptor) v1.Image {
	tb.Helper()
	img := imageAt(tb, time.Now().Add(-90*24*time.Hour))
	img = mutate.ConfigMediaType(img, "application/spdx+json")
	return mutate.Subject(img, subject).(v1.Image)
}

func descOf(tb testing.TB, x interface {
	Digest() (v1.Hash, error)
	MediaType() (types.MediaType, error)
	Size() (int64, error)
}) v1.Descriptor {
	tb.Helper()
	d, err := x.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	mt, _ := x.MediaType()
	sz, _ := x.Size()
	return v1.Descriptor{Digest: d, MediaType: mt, Size: sz}
}

// push writes an image or index to ref and returns its digest.
func push(tb testing.TB, ref string, x any, opts ...remote.Option) string {
	tb.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		tb.Fatal(err)
	}
	switch v := x.(type) {
	case v1.Image:
		err = remote.Write(r, v, opts...)
	case v1.ImageIndex:
		err = remote.WriteIndex(r, v, opts...)
	}
	if err != nil {
		tb.Fatalf("push %s: %v", ref, err)
	}
	d, _ := x.(interface{ Digest() (v1.Hash, error) }).Digest()
	return d.String()
}

// pullsCompletely reads ref's manifest, every child and every blob.
func pullsCompletely(tb testing.TB, ref string, opts ...remote.Option) {
	tb.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		tb.Fatal(err)
	}
	desc, err := remote.Get(r, opts...)
	if err != nil {
		tb.Errorf("kept %s no longer pulls: %v", ref, err)
		return
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err == nil {
			err = validate.Index(idx)
		}
		if err != nil {
			tb.Errorf("kept index %s is broken: %v", ref, err)
		}
		return
	}
	img, err := desc.Image()
	if err == nil {
		err = validate.Image(img)
	}
	if err != nil {
		tb.Errorf("kept image %s is broken: %v", ref, err)
	}
}

func listTags(tb testing.TB, repo string, opts ...remote.Option) []string {
	tb.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		tb.Fatal(err)
	}
	tags, err := remote.List(r, opts...)
	if err != nil {
		tb.Fatalf("listing %s: %v", repo, err)
	}
	slices.Sort(tags)
	return tags
}

// quietRegistry is go-containerregistry's in-process registry without its
// request log.
func quietRegistry() http.Handler {
	return registry.New(registry.Logger(log.New(io.Discard, "", 0)))
}
