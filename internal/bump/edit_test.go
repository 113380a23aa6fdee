package bump

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const (
	digest1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	digest2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

type goldenCase struct {
	name, in      string
	image         string
	tag, digest   string
	strategy      string
	helmKeys      []string
	noDowngrade   bool
	file          string   // the file's name when it matters; else in + ".yaml"
	kustomizeAdd  []string // the kustomize-add paths
	wantFound     int
	wantSkips     int
	wantUnchanged bool
}

var goldenCases = []goldenCase{
	{name: "kustomize-tag", in: "kustomize", image: "ghcr.io/acme/api", tag: "1.5.0", strategy: StrategyKustomize, wantFound: 3},
	{name: "kustomize-digest", in: "kustomize", image: "ghcr.io/acme/api", tag: "1.5.0", digest: digest2, strategy: StrategyKustomize, wantFound: 3},
	{name: "kustomize-crlf", in: "kustomize-crlf", image: "ghcr.io/acme/api", tag: "1.5.0", digest: digest2, strategy: StrategyAuto, wantFound: 3},
	{name: "values", in: "values", image: "ghcr.io/acme/api", tag: "1.5.0", digest: digest2, strategy: StrategyHelm, wantFound: 4, wantSkips: 3},
	{name: "values-tag", in: "values", image: "ghcr.io/acme/api", tag: "1.5.0", strategy: StrategyAuto, wantFound: 4},
	{name: "manifests", in: "manifests", image: "ghcr.io/acme/api", tag: "1.5.0", digest: digest2, strategy: StrategyAuto, wantFound: 4},
	{name: "manifests-tag", in: "manifests", image: "ghcr.io/acme/api", tag: "1.5.0", strategy: StrategyManifest, wantFound: 4},
	{name: "manifests-crlf", in: "manifests-crlf", image: "ghcr.io/acme/api", tag: "1.5.0", digest: digest2, strategy: StrategyManifest, wantFound: 4},
	{name: "markers", in: "markers", image: "ghcr.io/acme/api", tag: "1.5.0", strategy: StrategyMarker, wantFound: 3},
	{name: "markers-auto", in: "markers", image: "ghcr.io/acme/api", tag: "1.5.0", digest: digest2, strategy: StrategyAuto, wantFound: 3, wantSkips: 2},
	{name: "manifests-no-downgrade", in: "manifests", image: "ghcr.io/acme/api", tag: "1.3.9", strategy: StrategyAuto, noDowngrade: true, wantFound: 4, wantSkips: 3, wantUnchanged: false},
	{name: "manifests-other-image", in: "manifests", image: "docker.io/library/nginx", tag: "1.5.0", strategy: StrategyAuto, wantFound: 0, wantUnchanged: true},

	// A :tag marker is the image's only through its policy's :name marker
	// or an image named beside it, never through the policy's name.
	{name: "markers-partner", in: "markers-partner", image: "ghcr.io/acme/api", tag: "2.0.0", strategy: StrategyAuto, wantFound: 0, wantSkips: 1, wantUnchanged: true},
	{name: "markers-partner-image", in: "markers-partner", image: "docker.io/partner/api", tag: "2.0.0", strategy: StrategyMarker, wantFound: 2, wantSkips: 1},

	// Split registry: the whole name matches, never the repository alone.
	{name: "kps-alertmanager", in: "kube-prometheus-stack", image: "quay.io/prometheus/alertmanager", tag: "v0.35.0", strategy: StrategyAuto, wantFound: 1},
	{name: "kps-alertmanager-digest", in: "kube-prometheus-stack", image: "quay.io/prometheus/alertmanager", tag: "v0.35.0", digest: digest2, strategy: StrategyHelm, wantFound: 1},
	{name: "kps-other-registry", in: "kube-prometheus-stack", image: "docker.io/prometheus/alertmanager", tag: "v0.35.0", strategy: StrategyAuto, wantFound: 0, wantUnchanged: true},
	{name: "kps-thanos", in: "kube-prometheus-stack", image: "quay.io/thanos/thanos", tag: "v0.43.0", strategy: StrategyHelm, wantFound: 1},
	{name: "kps-busybox", in: "kube-prometheus-stack", image: "index.docker.io/library/busybox", tag: "1.37", strategy: StrategyHelm, wantFound: 1},
	{name: "bitnami", in: "bitnami", image: "bitnami/redis", tag: "8.2.2-debian-12-r0", strategy: StrategyAuto, wantFound: 2},
	{name: "bitnami-mirror", in: "bitnami", image: "registry.example.com/bitnami/redis", tag: "8.2.2-debian-12-r0", digest: digest2, strategy: StrategyAuto, wantFound: 1},
	{name: "bitnami-keys", in: "bitnami", image: "docker.io/bitnami/redis-sentinel", tag: "8.2.2-debian-12-r0", strategy: StrategyHelm,
		helmKeys: []string{"image.repository", "image.tag", "image.digest", "image.registry"}, wantFound: 1},

	// Markers keep the digest in step with the tag.
	{name: "markers-digest-tag", in: "markers-digest", image: "ghcr.io/acme/api", tag: "1.5.0", strategy: StrategyMarker, wantFound: 4},
	{name: "markers-digest-both", in: "markers-digest", image: "ghcr.io/acme/api", tag: "1.5.0", digest: digest2, strategy: StrategyAuto, wantFound: 4, wantSkips: 1},

	// kustomize: name is the image the resources hold; tagSuffix alone is left alone.
	{name: "kustomize-newname", in: "kustomize-newname", image: "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/adservice", tag: "v0.10.2", strategy: StrategyAuto, wantFound: 1},
	{name: "kustomize-float", in: "kustomize-newname", image: "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/cartservice", tag: "1.10", strategy: StrategyKustomize, wantFound: 1},
	{name: "kustomize-tagsuffix", in: "kustomize-newname", image: "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/frontend", tag: "v0.10.2", strategy: StrategyAuto, wantFound: 0, wantSkips: 1, wantUnchanged: true},

	// Flux: a Kustomization's spec.images and a HelmRelease's post-renderer
	// images, without markers and with them (one occurrence, one edit).
	{name: "flux-kustomization", in: "flux-kustomization", image: "ghcr.io/stefanprodan/podinfo", tag: "6.9.3", strategy: StrategyKustomize, wantFound: 1},
	{name: "flux-kustomization-newname", in: "flux-kustomization", image: "public.ecr.aws/docker/library/redis", tag: "8.6.3", strategy: StrategyAuto, wantFound: 1},
	{name: "flux-helmrelease", in: "flux-helmrelease", image: "public.ecr.aws/docker/library/redis", tag: "8.6.3", strategy: StrategyAuto, wantFound: 2},
	{name: "flux-helmrelease-digest", in: "flux-helmrelease", image: "public.ecr.aws/docker/library/redis", tag: "8.6.3", digest: digest2, strategy: StrategyHelm, wantFound: 2, wantSkips: 1},
	{name: "flux-markers", in: "flux-markers", image: "ghcr.io/stefanprodan/podinfo", tag: "6.9.3", strategy: StrategyAuto, wantFound: 4},

	// kustomize-add: an images: entry for a kustomization paths name that has none.
	{name: "kustomize-add", in: "kustomize-add", file: "kustomize/kustomization.yaml", kustomizeAdd: []string{"kustomize"}, image: "ghcr.io/stefanprodan/podinfo", tag: "6.14.2", strategy: StrategyAuto, wantFound: 1},
	{name: "kustomize-add-list", in: "kustomize-add-list", file: "tenants/staging/kustomization.yaml", kustomizeAdd: []string{"tenants/*"}, image: "ghcr.io/stefanprodan/podinfo", tag: "6.14.2", digest: digest2, strategy: StrategyKustomize, wantFound: 1},
	{name: "kustomize-add-off", in: "kustomize-add", file: "kustomize/kustomization.yaml", image: "ghcr.io/stefanprodan/podinfo", tag: "6.14.2", strategy: StrategyAuto, wantFound: 0, wantUnchanged: true},
	{name: "kustomize-add-deeper", in: "kustomize-add", file: "apps/base/kustomization.yaml", kustomizeAdd: []string{"apps"}, image: "ghcr.io/stefanprodan/podinfo", tag: "6.14.2", strategy: StrategyAuto, wantFound: 0, wantUnchanged: true},
	{name: "kustomize-add-present", in: "kustomize-add-list", file: "kustomization.yaml", kustomizeAdd: []string{"."}, image: "ghcr.io/stefanprodan/podinfo-ui", tag: "1.1.0", strategy: StrategyAuto, wantFound: 1},

	// A new tag that reads as a number is quoted.
	{name: "values-float", in: "values-float", image: "ghcr.io/acme/api", tag: "1.10", strategy: StrategyHelm, wantFound: 2},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", tc.in+".in.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			e, err := NewEditor(Editor{Image: tc.image, Tag: tc.tag, Digest: tc.digest, Strategy: tc.strategy, HelmKeys: tc.helmKeys, NoDowngrade: tc.noDowngrade, KustomizeAdd: tc.kustomizeAdd})
			if err != nil {
				t.Fatal(err)
			}
			file := cmpOr(tc.file, tc.in+".yaml")
			res, err := e.Edit(file, in)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, res.Out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.Out, want) {
				t.Errorf("output differs from %s:\n%s", golden, res.Out)
			}
			if res.Found != tc.wantFound || len(res.Skips) != tc.wantSkips {
				t.Errorf("found %d, skipped %v; want %d found, %d skipped", res.Found, res.Skips, tc.wantFound, tc.wantSkips)
			}
			if tc.wantUnchanged != (len(res.Changes) == 0) || bytes.Equal(in, res.Out) != (len(res.Changes) == 0) {
				t.Errorf("changes %v; want unchanged=%v", res.Changes, tc.wantUnchanged)
			}
			assertDiffIsChanges(t, in, res)
		})
	}
}

// assertDiffIsChanges checks that the line diff between in and the result
// is exactly the lines the changes name: a set rewrites its line, an
// added key adds one line, a removed key removes its line.
func assertDiffIsChanges(t *testing.T, in []byte, res *Result) {
	t.Helper()
	removed, added := lineDiff(splitLines(in), splitLines(res.Out))
	var wantRemoved []int
	adds, sets := 0, map[int]bool{}
	for _, c := range res.Changes {
		switch c.Op {
		case "add":
			adds++
		case "remove":
			wantRemoved = append(wantRemoved, c.Line)
		default:
			if !sets[c.Line] {
				sets[c.Line] = true
				wantRemoved = append(wantRemoved, c.Line)
			}
		}
	}
	slices.Sort(wantRemoved)
	if !slices.Equal(removed, wantRemoved) || added != len(sets)+adds {
		t.Errorf("diff removes lines %v and adds %d; changes %+v want lines %v and %d added", removed, added, res.Changes, wantRemoved, len(sets)+adds)
	}
}

// splitLines keeps each line's break so CRLF changes would show.
func splitLines(b []byte) []string {
	return strings.SplitAfter(string(b), "\n")
}

// lineDiff returns the 1-based lines of a not in the longest common
// subsequence with b, and how many lines of b are not in it.
func lineDiff(a, b []string) (removed []int, added int) {
	n, m := len(a), len(b)
	l := make([][]int, n+1)
	for i := range l {
		l[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			i++
			j++
		case l[i+1][j] >= l[i][j+1]:
			removed = append(removed, i+1)
			i++
		default:
			added++
			j++
		}
	}
	for ; i < n; i++ {
		removed = append(removed, i+1)
	}
	return removed, added + m - j
}

func TestCandidate(t *testing.T) {
	e, err := NewEditor(Editor{Image: "ghcr.io/acme/api", Tag: "1"})
	if err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]bool{
		"apiVersion: v1\nkind: Service\n":                 false,
		"image: ghcr.io/acme/api-worker:1\n":              false,
		"image: ghcr.io/acme/api:1\n":                     true,
		"repository: ghcr.io/acme/api\n":                  true,
		"- {name: x, image: 'ghcr.io/acme/api@sha256:1'}": true,
		"tag: 1 # {\"$imagepolicy\": \"ns:p:tag\"}\n":     true,
	} {
		if got := e.Candidate([]byte(src)); got != want {
			t.Errorf("Candidate(%q) = %v, want %v", src, got, want)
		}
	}
}

func TestLeavesRepo(t *testing.T) {
	links := map[string]string{
		"a/up":          "../b.yaml",          // inside
		"a/out":         "../../b.yaml",       // one level above the root
		"a/abs":         "/etc/passwd",        // absolute
		"a/dir":         "../c",               // a directory inside
		"a/viadir":      "dir/../../../x",     // through a/dir (c), then above
		"a/viadirok":    "dir/../x",           // through a/dir (c), back to x
		"c/escape":      "/usr/share",         // a directory outside
		"d/chain":       "../a/out",           // to a link that leaves
		"d/chainok":     "../a/up",            // to a link that stays
		"loop/a":        "b",                  // a cycle
		"loop/b":        "a",                  //
		"e/deep":        "x/y/../../../e/z",   // down and back up, inside
		"e/dots":        "./.././/e/./z",      // odd spellings, inside
		"f/through/out": "ok",                 // inside, under a path holding no link
		"g/lnk":         "../c/escape/passwd", // through a link that leaves
	}
	want := map[string]bool{"a/up": false, "a/out": true, "a/abs": true, "a/dir": false, "a/viadir": true, "a/viadirok": false,
		"c/escape": true, "d/chain": true, "d/chainok": false, "loop/a": true, "loop/b": true, "e/deep": false, "e/dots": false,
		"f/through/out": false, "g/lnk": true}
	for p, w := range want {
		if got := leavesRepo(p, links); got != w {
			t.Errorf("leavesRepo(%q → %q) = %v, want %v", p, links[p], got, w)
		}
	}
}
