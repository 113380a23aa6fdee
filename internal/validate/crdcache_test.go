package validate

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

const cacheCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`

// overlayCopies is the same base rendered by n overlays: one CRD and one
// bad Widget per overlay, each its own document.
func overlayCopies(t *testing.T, n int) []*Doc {
	t.Helper()
	var docs []*Doc
	for range n {
		ds, fs := parseDocs("base/crd.yaml", []byte(cacheCRD), 0)
		if len(fs) > 0 || len(ds) != 1 {
			t.Fatalf("parsing the CRD: %v", fs)
		}
		w, fs := parseDocs("base/widget.yaml", []byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  size: big\n"), 0)
		if len(fs) > 0 || len(w) != 1 {
			t.Fatalf("parsing the Widget: %v", fs)
		}
		docs = append(docs, ds[0], w[0])
	}
	return docs
}

// A base's CRDs come once per overlay: each distinct CRD is converted,
// and each distinct document validated, once, and every copy still gets
// its findings.
func TestSameCRDConvertedAndCheckedOnce(t *testing.T) {
	docs := overlayCopies(t, 7)
	cfg := Config{Strict: true, SchemaLocations: []string{"default"}}
	crds, _, fs, err := collectCRDs(cfg, &crdPath{}, docs)
	if err != nil || len(fs) != 0 {
		t.Fatal(err, fs)
	}
	first, err := crds.schema("example.com/v1/Widget")
	if err != nil || first == nil {
		t.Fatalf("no schema for the Widget: %v", err)
	}
	for _, d := range docs {
		if !isCRD(d) {
			continue
		}
		s, err := crds.convert(d)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(s["example.com/v1/Widget"]) != fmt.Sprint(first) {
			t.Fatalf("a copy of the CRD converted to another schema")
		}
	}
	if len(crds.converted) != 1 {
		t.Errorf("7 copies of one CRD converted %d times, want once", len(crds.converted))
	}

	sc, err := newSchemaChecker(cfg, "1.33", docs, crds)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.cleanup()
	for i, d := range docs {
		fs := sc.check(d)
		if isCRD(d) {
			if len(fs) != 0 {
				t.Errorf("copy %d of the CRD: %v", i/2, fs)
			}
			continue
		}
		if len(fs) != 1 || !strings.Contains(fs[0].Message, "spec/size") || fs[0].File != "base/widget.yaml" || fs[0].Line != 5 {
			t.Errorf("copy %d of the Widget: got %v, want one error at base/widget.yaml:5 on spec/size", i/2, fs)
		}
	}
	if len(sc.results) != 2 {
		t.Errorf("14 documents of 2 distinct contents validated %d times, want 2", len(sc.results))
	}
}

// Only the CRDs whose kinds the input uses are turned into schemas: a
// project's CRD set is megabytes, of which a repository uses a few kinds.
func TestOnlyUsedCRDsConverted(t *testing.T) {
	used, _ := parseDocs("crds.yaml", []byte(cacheCRD+"---\n"+strings.ReplaceAll(strings.ReplaceAll(cacheCRD, "Widget", "Gadget"), "widgets", "gadgets")), 0)
	w, _ := parseDocs("w.yaml", []byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  size: big\n"), 0)
	docs := append(used, w...)
	cfg := Config{Strict: true, SchemaLocations: []string{"default"}}
	crds, _, fs, err := collectCRDs(cfg, &crdPath{}, docs)
	if err != nil || len(fs) != 0 {
		t.Fatal(err, fs)
	}
	if !crds.has("example.com/v1/Gadget") || !crds.has("example.com/v1/Widget") {
		t.Fatalf("kinds of the CRDs not indexed: %v", crds.byKey)
	}
	sc, err := newSchemaChecker(cfg, "1.33", w, crds)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.cleanup()
	if len(crds.converted) != 1 {
		t.Errorf("%d CRDs converted for one kind used, want 1", len(crds.converted))
	}
	if fs := sc.check(w[0]); len(fs) != 1 || !strings.Contains(fs[0].Message, "spec/size") {
		t.Errorf("the Widget: got %v, want one error on spec/size", fs)
	}
}

// The objects a base renders into every overlay are decoded and held
// once; one with findings is parsed again, so each copy keeps them.
func TestRenderedObjectsDecodedOnce(t *testing.T) {
	c := newSourceCache(nil)
	var objs []map[string]any
	for _, file := range []string{"overlays/a/kustomization.yaml", "overlays/b/kustomization.yaml"} {
		ds, fs := c.parseRendered(file, sha256.Sum256([]byte(cacheCRD)), []byte(cacheCRD))
		if len(fs) != 0 || len(ds) != 1 || ds[0].File != file {
			t.Fatalf("%s: got %d docs, findings %v", file, len(ds), fs)
		}
		objs = append(objs, ds[0].Object)
	}
	if fmt.Sprintf("%p", objs[0]) != fmt.Sprintf("%p", objs[1]) {
		t.Errorf("the same rendered CRD was decoded twice")
	}
	dup := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: x, a: y}\n")
	for _, file := range []string{"overlays/a/kustomization.yaml", "overlays/b/kustomization.yaml"} {
		if _, fs := c.parseRendered(file, sha256.Sum256(dup), dup); len(fs) != 1 || fs[0].File != file {
			t.Errorf("%s: duplicate key findings %v, want one in this file", file, fs)
		}
	}
}

// The APIs a CRD adds to .Capabilities, read without copying the CRD.
func TestCRDAPIs(t *testing.T) {
	head := "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: w}\n"
	for spec, want := range map[string]string{
		"spec: {group: example.com, names: {kind: W}, versions: [{name: v1}, {name: v2, served: false}, {name: v3, served: true}]}": "[example.com/v1/W example.com/v3/W]",
		"spec: {group: example.com, version: v1beta1, names: {kind: W}}":                                                            "[example.com/v1beta1/W]",
		"spec: {group: example.com, names: {kind: W}, versions: [{name: v1, served: \"yes\"}]}":                                     "[]",
		"spec: {group: example.com, names: {kind: 3}, versions: [{name: v1}]}":                                                      "[]",
		"spec: {names: {kind: W}, versions: [{name: v1}]}":                                                                          "[]",
		"spec: {group: example.com, names: {kind: W}, versions: {name: v1}}":                                                        "[]",
	} {
		ds, fs := parseDocs("crd.yaml", []byte(head+spec+"\n"), 0)
		if len(fs) != 0 || len(ds) != 1 {
			t.Fatalf("%s: %v", spec, fs)
		}
		if got := fmt.Sprint(crdAPIs(ds[0])); got != want {
			t.Errorf("%s: got %s, want %s", spec, got, want)
		}
	}
}
