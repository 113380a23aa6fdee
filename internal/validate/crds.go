package validate

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"

	"github.com/gitops-actions/gitops-actions/internal/k8sschema"
	"github.com/gitops-actions/gitops-actions/internal/policy"
	"github.com/gitops-actions/gitops-actions/internal/render"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// crdAPIs lists the "group/version/Kind" each served version of a
// CustomResourceDefinition adds to the cluster. It reads the few fields
// it needs in place: a CRD set may be megabytes, and this runs for every
// copy of it. A field of the wrong type makes it no API, as a decoder
// would refuse it.
func crdAPIs(d *Doc) []string {
	if !isCRD(d) {
		return nil
	}
	spec, ok := optional[map[string]any](d.Object["spec"])
	names, ok2 := optional[map[string]any](spec["names"])
	group, ok3 := optional[string](spec["group"])
	kind, ok4 := optional[string](names["kind"])
	version, ok5 := optional[string](spec["version"])
	versions, ok6 := optional[[]any](spec["versions"])
	if !ok || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || group == "" || kind == "" {
		return nil
	}
	var out []string
	if version != "" {
		out = append(out, group+"/"+version+"/"+kind)
	}
	for _, e := range versions {
		v, ok := optional[map[string]any](e)
		name, ok2 := optional[string](v["name"])
		served, ok3 := v["served"].(bool)
		if !ok || !ok2 || (!ok3 && v["served"] != nil) {
			return nil
		}
		if name != "" && (!ok3 || served) {
			out = append(out, group+"/"+name+"/"+kind)
		}
	}
	return out
}

// optional is v as a T, or T's zero value when v is absent or null; ok
// is false only when v is there with another type.
func optional[T any](v any) (T, bool) {
	if v == nil {
		var zero T
		return zero, true
	}
	t, ok := v.(T)
	return t, ok
}

func isCRD(d *Doc) bool {
	r := d.Resource()
	return r.Kind == "CustomResourceDefinition" && (r.APIVersion == "apiextensions.k8s.io/v1" || r.APIVersion == "apiextensions.k8s.io/v1beta1")
}

// crdPath is the CustomResourceDefinitions of crd-path, read once: charts
// see them in .Capabilities before they become schemas.
type crdPath struct {
	crds     []*Doc
	findings []report.Finding
}

func readCRDPaths(cfg Config, roots *render.Roots) (*crdPath, error) {
	crds := []*Doc{}
	var findings []report.Finding
	for _, p := range cfg.CRDPaths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				if _, err := roots.Resolve(path); err != nil {
					if o := outsideFindings(err); o != nil {
						findings = append(findings, o...)
						return nil
					}
					return err
				}
			}
			if !isYAML(path) {
				return nil
			}
			b, err := roots.ReadFile(path)
			if err != nil {
				return err
			}
			ds, fs := parseDocs(slash(path), b, 0)
			findings = append(findings, fs...)
			for _, d := range ds {
				// A finding on a CRD of crd-path is at its first line;
				// the parsed nodes of megabytes of CRDs are not kept.
				d.Node = nil
				if isCRD(d) {
					crds = append(crds, d)
				}
			}
			return nil
		})
		if err != nil {
			return nil, usageErr("crd-path", "%q: %w", p, err)
		}
	}
	return &crdPath{crds: crds, findings: findings}, nil
}

// crdSchemas are the schemas the CustomResourceDefinitions of the input
// and of crd-path give their kinds. A CRD set may be megabytes and most
// of its kinds unused: a CRD is converted only when one of its kinds is
// asked for, and each distinct one once (a base's CRDs come again with
// every overlay that includes it).
type crdSchemas struct {
	strict bool
	// byKey is the CRD that defines each apiVersion/kind; a later one
	// wins, as when it is applied after the first.
	byKey map[string]*Doc

	mu        sync.Mutex
	converted map[[sha256.Size]byte]*conversion
}

type conversion struct {
	once    sync.Once
	schemas map[string]map[string]any
	err     error
}

// has says whether a CRD of the input or crd-path defines apiVersion/kind;
// a nil set has none.
func (c *crdSchemas) has(key string) bool {
	if c == nil {
		return false
	}
	_, ok := c.byKey[key]
	return ok
}

// schema is the schema of key made from its CRD, nil when no CRD
// defines it.
func (c *crdSchemas) schema(key string) (map[string]any, error) {
	if !c.has(key) {
		return nil, nil
	}
	s, err := c.convert(c.byKey[key])
	if err != nil {
		return nil, err
	}
	return s[key], nil
}

// convert is k8sschema.FromCRD of d, made once for each distinct content.
func (c *crdSchemas) convert(d *Doc) (map[string]map[string]any, error) {
	sum, err := contentSum(d)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	conv, ok := c.converted[sum]
	if !ok {
		conv = &conversion{}
		c.converted[sum] = conv
	}
	c.mu.Unlock()
	conv.once.Do(func() { conv.schemas, conv.err = k8sschema.FromCRD(d.Object, c.strict) })
	return conv.schemas, conv.err
}

// collectCRDs indexes the CustomResourceDefinitions of the input and of
// crd-path by the kinds they define, so the custom resources beside them
// are checked, and says which of their kinds are cluster-scoped.
func collectCRDs(cfg Config, fromPath *crdPath, docs []*Doc) (*crdSchemas, policy.Scope, []report.Finding, error) {
	crds := slices.Clone(fromPath.crds)
	findings := slices.Clone(fromPath.findings)
	for _, d := range docs {
		if isCRD(d) {
			crds = append(crds, d)
		}
	}
	out := &crdSchemas{strict: cfg.Strict, byKey: map[string]*Doc{}, converted: map[[sha256.Size]byte]*conversion{}}
	objs := make([]map[string]any, len(crds))
	for i, d := range crds {
		objs[i] = d.Object
	}
	for _, d := range crds {
		keys, err := k8sschema.CRDKeys(d.Object)
		if err != nil {
			file, line := d.At(nil)
			findings = append(findings, report.Finding{Source: report.SourceSchema, Rule: RuleSchemaInvalid, Severity: report.Error, File: file, Line: line, Resource: d.Resource(),
				Message: fmt.Sprintf("CustomResourceDefinition cannot be used as a schema: %v", err)})
			continue
		}
		for _, k := range keys {
			out.byKey[k] = d
		}
	}
	return out, policy.NewScope(objs), findings, nil
}

// contentSum identifies d's content: the hash of the YAML it was
// rendered from, or else of its JSON.
func contentSum(d *Doc) ([sha256.Size]byte, error) {
	if d.sum != ([sha256.Size]byte{}) {
		return d.sum, nil
	}
	b, err := json.Marshal(d.Object)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(b), nil
}
