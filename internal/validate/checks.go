package validate

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/gitops-actions/gitops-actions/internal/deprecation"
	"github.com/gitops-actions/gitops-actions/internal/k8sschema"
	"github.com/gitops-actions/gitops-actions/internal/policy"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// checkers hold everything prepared once and then run on each document.
type checkers struct {
	cfg        Config
	minor      string
	schema     *schemaChecker
	builtin    *policy.Builtin
	conftest   *policy.Conftest
	gatekeeper *policy.Gatekeeper
	related    map[*Doc]map[string][]any
	// extraAPIs is the deprecations-file's table.
	extraAPIs deprecation.Extra
	// repoCRDs are the schemas of the input's and crd-path's CRDs.
	repoCRDs   *crdSchemas
	suppressed suppressions
}

func newCheckers(ctx context.Context, cfg Config, minor, schemaMinor string, docs []*Doc, crds *crdSchemas, scope policy.Scope) (*checkers, error) {
	c := &checkers{cfg: cfg, minor: minor, repoCRDs: crds}
	var err error
	if c.extraAPIs, err = readDeprecations(cfg.DeprecationsFile); err != nil {
		return nil, err
	}
	limits := policy.NewLimits(cfg.PolicyTimeout)
	if c.schema, err = newSchemaChecker(cfg, schemaMinor, docs, crds); err != nil {
		return nil, err
	}
	if cfg.BuiltinPolicies {
		if c.builtin, err = policy.NewBuiltin(ctx, limits); err != nil {
			c.close()
			return nil, err
		}
		c.related = relate(docs)
	}
	if len(cfg.Policies) > 0 {
		mods, err := policy.LoadRego(cfg.Policies)
		if err != nil {
			c.close()
			return nil, usageErr("policy", "%w", err)
		}
		data, err := policy.LoadData(cfg.Data)
		if err != nil {
			c.close()
			return nil, usageErr("data", "%w", err)
		}
		if c.conftest, err = policy.NewConftest(ctx, mods, data, cfg.PolicyNamespaces, policy.RegoVersion(cfg.RegoVersion), limits); err != nil {
			c.close()
			return nil, usageErr("policy", "%w", err)
		}
		templates, constraints, err := gatekeeperObjects(cfg.Policies)
		if err != nil {
			c.close()
			return nil, usageErr("policy", "%w", err)
		}
		units := map[string][]map[string]any{}
		for _, d := range docs {
			units[d.Unit] = append(units[d.Unit], d.Object)
		}
		if c.gatekeeper, err = policy.NewGatekeeper(ctx, templates, constraints, units, scope, limits); err != nil {
			c.close()
			return nil, usageErr("policy", "%w", err)
		}
	}
	return c, nil
}

func (c *checkers) close() {
	if c.schema != nil {
		c.schema.cleanup()
	}
}

// run checks every document, in parallel, each against its one decoded
// object.
func (c *checkers) run(ctx context.Context, docs []*Doc) []report.Finding {
	results := make([][]report.Finding, len(docs))
	parallel(ctx, len(docs), func(i int) {
		results[i] = c.suppressed.apply(docs[i], c.check(ctx, docs[i]))
	})
	var out []report.Finding
	for _, r := range results {
		out = append(out, r...)
	}
	return out
}

func (c *checkers) check(ctx context.Context, d *Doc) []report.Finding {
	r := d.Resource()
	st, api := deprecation.CheckWith(c.extraAPIs, r.APIVersion, r.Kind, c.minor)
	// A CRD of the repo that serves the version says the cluster runs a
	// release of the project older than the embedded catalog's.
	key := k8sschema.Key(r.APIVersion, r.Kind)
	if c.repoCRDs.has(key) && api.Project != "" && c.extraAPIs[key] == (deprecation.API{}) {
		st = deprecation.Current
	}
	var fs []report.Finding
	// A removed API has no schema; GA-API-REMOVED says it better. A
	// deprecated one may be older than the embedded schemas: checked when
	// a schema is there, else GA-API-DEPRECATED stands alone.
	switch st {
	case deprecation.Current:
		fs = c.schema.check(d)
	case deprecation.Deprecated:
		fs = slices.DeleteFunc(c.schema.check(d), func(f report.Finding) bool { return f.Rule == ruleNoSchema })
	}
	switch st {
	case deprecation.Removed, deprecation.Deprecated:
		file, line := d.At([]string{"apiVersion"})
		f := report.Finding{Source: report.SourceDeprecation, File: file, Line: line, Resource: r}
		repl := "; it has no replacement"
		if api.Replacement != "" {
			repl = "; use " + api.Replacement
		}
		// A CRD's versions are its project's releases; the target is
		// the cluster's Kubernetes version.
		project, target := "Kubernetes", fmt.Sprintf(" (target %s)", c.minor)
		if api.Project != "" {
			project, target = api.Project, ""
		}
		if st == deprecation.Removed {
			f.Rule, f.Severity = RuleAPIRemoved, report.Error
			f.Message = fmt.Sprintf("%s %s was removed in %s %s%s%s", r.APIVersion, r.Kind, project, api.Removed, target, repl)
		} else {
			f.Rule, f.Severity = RuleAPIDeprecated, report.Warning
			f.Message = fmt.Sprintf("%s %s is deprecated", r.APIVersion, r.Kind)
			if api.Deprecated != "" {
				f.Message += fmt.Sprintf(" since %s %s", project, api.Deprecated)
			}
			if api.Removed != "" {
				f.Message += fmt.Sprintf(" and removed in %s", api.Removed)
			}
			f.Message += repl
		}
		fs = append(fs, f)
	}
	add := func(source string, rs []policy.Result, err error) {
		if err != nil {
			file, line := d.At(nil)
			fs = append(fs, report.Finding{Source: source, Severity: report.Error, File: file, Line: line, Resource: r, Message: err.Error()})
			return
		}
		for _, res := range rs {
			file, line := d.At(res.Path)
			msg := res.Message
			fs = append(fs, report.Finding{Source: source, Rule: res.Rule, Severity: report.Severity(res.Severity), File: file, Line: line, Resource: r, Message: msg})
		}
	}
	// The object is converted for Rego once, for every query that reads it.
	if c.builtin != nil && policy.Kinds[r.Kind] || c.conftest != nil && !c.conftest.Empty() {
		input, err := policy.Input(d.Object)
		if err != nil {
			add(report.SourcePolicy, nil, err)
		} else {
			if c.builtin != nil {
				rs, err := c.builtin.Eval(ctx, input, r.Kind, c.related[d], d.Unit)
				add(report.SourcePolicy, rs, err)
			}
			if c.conftest != nil && !c.conftest.Empty() {
				rs, err := c.conftest.Eval(ctx, input, d.Unit)
				add(report.SourcePolicy, rs, err)
			}
		}
	}
	if c.gatekeeper != nil && !c.gatekeeper.Empty() {
		rs, err := c.gatekeeper.Eval(ctx, d.Object, d.Unit)
		add(report.SourcePolicy, rs, err)
	}
	return fs
}

// gatekeeperObjects reads ConstraintTemplates and constraints from the
// YAML files of the policy directories.
func gatekeeperObjects(dirs []string) (templates []policy.Template, constraints []map[string]any, err error) {
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !isYAML(path) || filepath.Ext(path) == ".json" {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			docs, fs := parseDocs(path, b, 0)
			if len(fs) > 0 {
				return fmt.Errorf("%s", fs[0].String())
			}
			for _, d := range docs {
				switch {
				case d.Object == nil:
				case policy.IsTemplate(d.Object):
					templates = append(templates, policy.Template{File: filepath.ToSlash(path), Object: d.Object})
				case policy.IsConstraint(d.Object):
					constraints = append(constraints, d.Object)
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("reading %q: %w", dir, err)
		}
	}
	return templates, constraints, nil
}

// maxDeprecationsFile bounds the deprecations-file read into memory.
const maxDeprecationsFile = 4 << 20

func readDeprecations(path string) (deprecation.Extra, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErr("deprecations-file", "%w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxDeprecationsFile+1))
	if err != nil {
		return nil, usageErr("deprecations-file", "%q: %w", path, err)
	}
	if len(b) > maxDeprecationsFile {
		return nil, usageErr("deprecations-file", "%q is larger than 4 MiB", path)
	}
	extra, err := deprecation.ParseExtra(b)
	if err != nil {
		return nil, usageErr("deprecations-file", "%q: %w", path, err)
	}
	return extra, nil
}
