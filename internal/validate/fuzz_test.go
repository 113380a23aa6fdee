package validate

import (
	"slices"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/report"
)

// FuzzParseDocs: any input is decoded or becomes syntax findings in the
// file, never a panic; aliases never make the decoded values outgrow the
// text by more than yaml.v3's allowance (a hundredfold, plus the first
// thousand values it does not judge); and a second parse says the same.
func FuzzParseDocs(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: web\n  labels: &l {app: api}\nspec:\n  replicas: 3\n  selector: {matchLabels: *l}\n  template:\n    metadata: {labels: *l}\n    spec:\n      containers:\n        - name: api\n          image: ghcr.io/acme/api:1.2.3\n          ports: [{containerPort: 8080}]\n",
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  x: \"1\"\n  x: \"2\"\n---\n# empty\n---\n- just\n- a list\n",
		"defaults: &d {replicas: 2, strategy: {type: RollingUpdate}}\nprod: {<<: *d, replicas: 4}\nstaging:\n  <<: [*d]\n",
		"resources:\n  - ../../base\npatches:\n  - path: replicas.yaml\nimages:\n  - name: ghcr.io/acme/api\n    newTag: \"1.2.3\"\n",
		"{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"s\"}, \"spec\": {\"ports\": [{\"port\": 80}]}}\n",
		"a: [1, 2\nb: {c: d\n",
		"? [complex, key]\n: value\n",
		"n: 0x1F\nf: .inf\nbig: 123456789012345678901234567890\nt: 2026-01-01\nb: !!binary aGVsbG8=\n",
		aliasBomb(),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		docs, fs := parseDocs("f.yaml", src, 0)
		for _, f := range fs {
			if f.File != "f.yaml" || f.Source != report.SourceSyntax || f.Severity != report.Error || f.Line < 0 || f.Message == "" {
				t.Fatalf("finding %+v", f)
			}
		}
		values := 0
		for _, d := range docs {
			if d.File != "f.yaml" || d.Line < 1 || d.Node == nil {
				t.Fatalf("document %+v", d)
			}
			values += count(d.Object)
		}
		if max := 1100 + 100*len(src); values > max {
			t.Fatalf("%d bytes decoded to %d values, over %d", len(src), values, max)
		}
		again, fs2 := parseDocs("f.yaml", src, 0)
		if len(again) != len(docs) || !slices.Equal(fs, fs2) {
			t.Fatalf("second parse differs: %d docs, %v; then %d docs, %v", len(docs), fs, len(again), fs2)
		}
	})
}

// count is the number of values in v, itself included.
func count(v any) int {
	n := 1
	switch t := v.(type) {
	case map[string]any:
		for _, e := range t {
			n += 1 + count(e)
		}
	case []any:
		for _, e := range t {
			n += count(e)
		}
	}
	return n
}
