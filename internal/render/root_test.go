package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Resolve lets through what stays inside the root, however it gets
// there, and blames the first link that leaves it.
func TestRootsResolve(t *testing.T) {
	work := t.TempDir()
	repo, outside := filepath.Join(work, "repo"), filepath.Join(work, "outside")
	for _, d := range []string{repo + "/a/b", outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{repo + "/a/b/x.yaml", outside + "/s.yaml"} {
		if err := os.WriteFile(f, []byte("k: v\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"in.yaml":      "a/b/x.yaml",        // inside
		"indir":        "a",                 // inside, a directory
		"hop.yaml":     "in.yaml",           // inside through another link
		"out.yaml":     "../outside/s.yaml", // relative, outside
		"outdir":       outside,             // absolute, a directory
		"outhop.yaml":  "out.yaml",          // inside link to an outside link
		"dangling.yml": "../outside/nope.yaml",
		"a/up":         "../../outside",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(repo, name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(repo)
	r, err := NewRoots(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, blame string // blame "" means readable
	}{
		{"a/b/x.yaml", ""},
		{"in.yaml", ""},
		{"indir/b/x.yaml", ""},
		{"hop.yaml", ""},
		{"a/b/missing.yaml", ""},
		{"out.yaml", "out.yaml"},
		{"outdir/s.yaml", "outdir"},
		{"outhop.yaml", "outhop.yaml"},
		{"dangling.yml", "dangling.yml"},
		{"a/up/s.yaml", "a/up"},
		{"indir/up/s.yaml", "indir/up"},
		{"../outside/s.yaml", "../outside/s.yaml"},
	} {
		_, err := r.Resolve(tc.path)
		var o *OutsideError
		switch {
		case tc.blame == "" && err != nil:
			t.Errorf("%s: %v", tc.path, err)
		case tc.blame != "" && !errors.As(err, &o):
			t.Errorf("%s: got %v, want outside", tc.path, err)
		case tc.blame != "" && o.Path != tc.blame && !(tc.blame[0] == '.' && filepath.Base(o.Path) == filepath.Base(tc.blame)):
			t.Errorf("%s: blames %q, want %q", tc.path, o.Path, tc.blame)
		}
	}
	if _, err := r.ReadFile("out.yaml"); err == nil {
		t.Error("ReadFile read a link out of the root")
	}
}

// Every place kustomize takes a path is checked for what it would
// fetch; local paths, inline patches and URLs in plain values are not.
func TestRemoteRefs(t *testing.T) {
	k := `resources:
  - ../base
  - base.v2/app
  - https://example.com/a.yaml
  - git@gitlab.example.com:org/repo.git//x
  - github.com/org/repo//y?ref=v1
commonAnnotations:
  docs: https://example.com/not-fetched
patches:
  - path: http://example.com/p.yaml
  - patch: |-
      - op: add
        path: /metadata/annotations/u
        value: https://example.com/inline
replacements:
  - path: ssh://git@example.com/r.yaml
configMapGenerator:
  - name: c
    files: [k=https://example.com/f.txt, local.txt]
    envs: [https://example.com/e.env]
openapi:
  path: https://example.com/schema.json
helmChartInflationGenerator:
  - chartName: x
    chartRepoUrl: https://charts.example.com
components:
  - git::https://example.com/c.git
`
	var got []string
	for _, r := range remoteRefs("k.yaml", []byte(k)) {
		got = append(got, r.URL)
	}
	want := []string{"https://example.com/a.yaml", "git@gitlab.example.com:org/repo.git//x", "github.com/org/repo//y?ref=v1",
		"http://example.com/p.yaml", "ssh://git@example.com/r.yaml", "https://example.com/f.txt", "https://example.com/e.env",
		"https://example.com/schema.json", "https://charts.example.com", "git::https://example.com/c.git"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
