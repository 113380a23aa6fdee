package validate

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/yannh/kubeconform/pkg/resource"
	"github.com/yannh/kubeconform/pkg/validator"

	"github.com/gitops-actions/gitops-actions/internal/k8sschema"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// schemaChecker validates documents with kubeconform. The schemas it
// needs (embedded ones for the kinds present, and those made from CRDs)
// are written to a private directory that kubeconform reads as a local
// schema location, so nothing is fetched unless a URL location is given.
type schemaChecker struct {
	v       validator.Validator
	minor   string
	cleanup func()

	// results holds the verdict on each distinct document: the CRDs
	// and objects of a base come again with every overlay over it.
	mu      sync.Mutex
	results map[checkKey]*checkResult
}

type checkKey struct {
	file string
	sum  [sha256.Size]byte
}

type checkResult struct {
	once sync.Once
	res  validator.Result
	err  error
}

// validate is the validator's result for d, computed once for each
// distinct content of each file; the JSON is made only for the first.
func (s *schemaChecker) validate(d *Doc) (validator.Result, error) {
	var b []byte
	sum := d.sum
	if sum == ([sha256.Size]byte{}) {
		var err error
		if b, err = json.Marshal(d.Object); err != nil {
			return validator.Result{}, err
		}
		sum = sha256.Sum256(b)
	}
	k := checkKey{d.File, sum}
	s.mu.Lock()
	r, ok := s.results[k]
	if !ok {
		r = &checkResult{}
		s.results[k] = r
	}
	s.mu.Unlock()
	r.once.Do(func() {
		if b == nil {
			if b, r.err = json.Marshal(d.Object); r.err != nil {
				return
			}
		}
		r.res = s.v.ValidateResource(resource.Resource{Path: d.File, Bytes: b})
		// Not kept: the document may be megabytes.
		r.res.Resource = resource.Resource{}
	})
	return r.res, r.err
}

// schemaPath lays schemas out the way the template below reads them.
func schemaPath(dir, apiVersion, kind string) string {
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		version = group
	}
	return filepath.Join(dir, group, version, strings.ToLower(kind)+".json")
}

const schemaTemplate = "{{ .Group }}/{{ .ResourceAPIVersion }}/{{ .ResourceKind }}.json"

func newSchemaChecker(cfg Config, minor string, docs []*Doc, crds *crdSchemas) (*schemaChecker, error) {
	tmp, err := os.MkdirTemp("", "validate-config-schemas-")
	if err != nil {
		return nil, fmt.Errorf("creating schema directory: %w", err)
	}
	cleanup := func() { os.RemoveAll(tmp) }
	crdDir, embDir := filepath.Join(tmp, "crd"), filepath.Join(tmp, "embedded")
	store := k8sschema.NewStore(minor, cfg.Strict)
	needed := map[[2]string]bool{}
	for _, d := range docs {
		r := d.Resource()
		needed[[2]string{r.APIVersion, r.Kind}] = true
	}
	write := func(path string, b []byte) error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, b, 0o644)
	}
	for gvk := range needed {
		if s, err := crds.schema(k8sschema.Key(gvk[0], gvk[1])); err != nil || s != nil {
			if err != nil {
				cleanup()
				return nil, fmt.Errorf("converting the CustomResourceDefinition of %s %s: %w", gvk[0], gvk[1], err)
			}
			b, err := json.Marshal(s)
			if err != nil {
				cleanup()
				return nil, err
			}
			if err := write(schemaPath(crdDir, gvk[0], gvk[1]), b); err != nil {
				cleanup()
				return nil, fmt.Errorf("writing schema: %w", err)
			}
			continue
		}
		b, err := store.Schema(gvk[0], gvk[1])
		if err != nil {
			cleanup()
			return nil, err
		}
		if b != nil {
			if err := write(schemaPath(embDir, gvk[0], gvk[1]), b); err != nil {
				cleanup()
				return nil, fmt.Errorf("writing schema: %w", err)
			}
		}
	}
	locations := []string{filepath.Join(crdDir, schemaTemplate)}
	for _, l := range cfg.SchemaLocations {
		if l == "default" {
			l = filepath.Join(embDir, schemaTemplate)
		}
		locations = append(locations, l)
	}
	v, err := validator.New(locations, validator.Opts{
		Strict: cfg.Strict, IgnoreMissingSchemas: cfg.IgnoreMissingSchemas, KubernetesVersion: minor + ".0",
	})
	if err != nil {
		cleanup()
		return nil, usageErr("schema-location", "%w", err)
	}
	return &schemaChecker{v: v, minor: minor, cleanup: cleanup, results: map[checkKey]*checkResult{}}, nil
}

func (s *schemaChecker) check(d *Doc) []report.Finding {
	res, err := s.validate(d)
	if err != nil {
		// An object that cannot be checked is not a pass.
		file, line := d.At(nil)
		return []report.Finding{{Source: report.SourceSchema, Rule: RuleSchemaInvalid, Severity: report.Error, File: file, Line: line, Resource: d.Resource(), Message: fmt.Sprintf("cannot be checked against its schema: %v", err)}}
	}
	r := d.Resource()
	switch res.Status {
	case validator.Invalid:
		var fs []report.Finding
		for _, ve := range res.ValidationErrors {
			path := splitPath(ve.Path)
			msg := sortAdditional(ve.Msg)
			// Point at the unknown field itself, not the object holding it.
			if m := additionalProp.FindStringSubmatch(msg); m != nil {
				path = append(path, m[1])
			}
			file, line := d.At(path)
			if ve.Path != "" {
				msg = strings.TrimPrefix(ve.Path, "/") + ": " + msg
			}
			fs = append(fs, report.Finding{Source: report.SourceSchema, Rule: RuleSchemaInvalid, Severity: report.Error, File: file, Line: line, Resource: r, Message: msg})
		}
		if len(fs) == 0 {
			file, line := d.At(nil)
			fs = append(fs, report.Finding{Source: report.SourceSchema, Rule: RuleSchemaInvalid, Severity: report.Error, File: file, Line: line, Resource: r, Message: res.Err.Error()})
		}
		return fs
	case validator.Error:
		file, line := d.At(nil)
		msg := res.Err.Error()
		// Other errors are the schema source's (a download failed), not
		// the object's: no rule may silence them.
		rule := ""
		if strings.HasPrefix(msg, "could not find schema") {
			rule = ruleNoSchema
			msg = fmt.Sprintf("no schema for %s %s (Kubernetes %s): add its CustomResourceDefinition to the input or crd-path, or set ignore-missing-schemas", r.APIVersion, r.Kind, s.minor)
			if builtinGroup(r.APIVersion) {
				msg = fmt.Sprintf("Kubernetes %s serves no %s %s: check the apiVersion and kind (a typo, or an API removed long ago)", s.minor, r.APIVersion, r.Kind)
			}
		}
		return []report.Finding{{Source: report.SourceSchema, Rule: rule, Severity: report.Error, File: file, Line: line, Resource: r, Message: msg}}
	}
	return nil
}

var additionalProp = regexp.MustCompile(`additional propert(?:y|ies) '([^']+)'`)

var additionalList = regexp.MustCompile(`^(.*additional properties )('[^']*'(?:, '[^']*')+)( not allowed.*)$`)

// sortAdditional puts the names of an additional-properties error in
// order: the schema library lists them in map order, and a report that
// differs between two runs of the same input cannot be compared.
func sortAdditional(msg string) string {
	m := additionalList.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	names := strings.Split(m[2], ", ")
	slices.Sort(names)
	return m[1] + strings.Join(names, ", ") + m[3]
}

func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	parts := strings.Split(p, "/")
	for i, s := range parts {
		// JSON pointer escapes.
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

// builtinGroups are the API groups Kubernetes serves itself. A kind the
// embedded schemas lack in one of them is a mistake, not a missing
// CustomResourceDefinition (gateway.networking.k8s.io and other
// *.k8s.io groups of CRDs are not here).
var builtinGroups = map[string]bool{
	"": true, "apps": true, "batch": true, "extensions": true, "policy": true, "autoscaling": true,
	"admissionregistration.k8s.io": true, "apiextensions.k8s.io": true, "apiregistration.k8s.io": true,
	"authentication.k8s.io": true, "authorization.k8s.io": true, "certificates.k8s.io": true,
	"coordination.k8s.io": true, "discovery.k8s.io": true, "events.k8s.io": true,
	"flowcontrol.apiserver.k8s.io": true, "internal.apiserver.k8s.io": true, "networking.k8s.io": true,
	"node.k8s.io": true, "rbac.authorization.k8s.io": true, "resource.k8s.io": true,
	"scheduling.k8s.io": true, "settings.k8s.io": true, "storage.k8s.io": true, "storagemigration.k8s.io": true,
}

func builtinGroup(apiVersion string) bool {
	group, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group = ""
	}
	return builtinGroups[group]
}
