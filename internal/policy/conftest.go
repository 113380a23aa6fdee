package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"gopkg.in/yaml.v3"
)

// Conftest evaluates user policies with conftest's conventions: in each
// namespace (package), rules named deny, violation (errors) and warn
// (warnings), or prefixed deny_, violation_, warn_, yield messages.
type Conftest struct {
	queries []nsQuery
	limits  *Limits
}

type nsQuery struct {
	ns string
	pq rego.PreparedEvalQuery
	// name is how a limit finding names the namespace: with its files.
	name string
}

// LoadRego reads every .rego file (not _test.rego) under dirs.
func LoadRego(dirs []string) (map[string]string, error) {
	mods := map[string]string{}
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".rego") || strings.HasSuffix(path, "_test.rego") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			mods[filepath.ToSlash(path)] = string(b)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading policies in %q: %w", d, err)
		}
	}
	return mods, nil
}

// LoadData merges JSON and YAML data files (or directories of them) into
// one document, each file's top-level keys at the root of data.
func LoadData(paths []string) (map[string]any, error) {
	data := map[string]any{}
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			ext := strings.ToLower(filepath.Ext(path))
			if ext != ".json" && ext != ".yaml" && ext != ".yml" {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var v map[string]any
			if ext == ".json" {
				err = json.Unmarshal(b, &v)
			} else {
				err = yaml.Unmarshal(b, &v)
			}
			if err != nil {
				return fmt.Errorf("data file %q: %w", path, err)
			}
			merge(data, v)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return data, nil
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// RegoVersion maps "v0"/"v1" to OPA's.
func RegoVersion(v string) ast.RegoVersion {
	if v == "v0" {
		return ast.RegoV0
	}
	return ast.RegoV1
}

// NewConftest compiles the modules once and prepares one query per
// namespace, each evaluated within limits.
func NewConftest(ctx context.Context, modules map[string]string, data map[string]any, namespaces []string, version ast.RegoVersion, limits *Limits) (*Conftest, error) {
	c := &Conftest{limits: limits}
	if len(modules) == 0 {
		return c, nil
	}
	compiler, err := compile(modules, version)
	if err != nil {
		return nil, err
	}
	store := inmem.NewFromObject(data)
	for _, ns := range namespaces {
		ref, err := ast.ParseRef("data." + ns)
		if err != nil {
			return nil, fmt.Errorf("policy namespace %q: %w", ns, err)
		}
		pq, err := rego.New(
			rego.ParsedQuery(ast.NewBody(ast.NewExpr(ast.NewTerm(ref)))),
			rego.Compiler(compiler),
			rego.Capabilities(capabilities),
			rego.Store(store),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("preparing policy namespace %q: %w", ns, err)
		}
		var files []string
		for name, m := range compiler.Modules {
			if p := m.Package.Path.String(); p == ref.String() || strings.HasPrefix(p, ref.String()+".") {
				files = append(files, name)
			}
		}
		sort.Strings(files)
		c.queries = append(c.queries, nsQuery{ns: ns, pq: pq, name: fmt.Sprintf("policy namespace %s (%s)", ns, strings.Join(files, ", "))})
	}
	return c, nil
}

func compile(modules map[string]string, version ast.RegoVersion) (*ast.Compiler, error) {
	parsed := map[string]*ast.Module{}
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m, err := ast.ParseModuleWithOpts(n, modules[n], ast.ParserOptions{RegoVersion: version})
		if err != nil {
			return nil, fmt.Errorf("parsing policy: %w", err)
		}
		parsed[n] = m
	}
	if err := checkForbidden(parsed); err != nil {
		return nil, err
	}
	compiler := ast.NewCompiler().WithDefaultRegoVersion(version).WithCapabilities(capabilities)
	if compiler.Compile(parsed); compiler.Failed() {
		return nil, fmt.Errorf("compiling policies: %w", compiler.Errors)
	}
	return compiler, nil
}

// Empty reports whether there is nothing to evaluate.
func (c *Conftest) Empty() bool { return len(c.queries) == 0 }

// Eval runs every namespace's rules on one document of unit.
func (c *Conftest) Eval(ctx context.Context, object ast.Value, unit string) ([]Result, error) {
	var out []Result
	for _, q := range c.queries {
		rs, lim, err := c.limits.eval(ctx, q.name, unit, &q.pq, rego.EvalParsedInput(object))
		if err != nil {
			return nil, fmt.Errorf("evaluating policy namespace %q: %w", q.ns, err)
		}
		out = append(out, lim...)
		for _, r := range rs {
			for _, e := range r.Expressions {
				pkg, _ := e.Value.(map[string]any)
				for name, v := range pkg {
					sev := ""
					switch {
					case name == "deny" || name == "violation" || strings.HasPrefix(name, "deny_") || strings.HasPrefix(name, "violation_"):
						sev = "error"
					case name == "warn" || strings.HasPrefix(name, "warn_"):
						sev = "warning"
					default:
						continue
					}
					for _, msg := range messages(v) {
						out = append(out, Result{Rule: q.ns + "." + name, Severity: sev, Message: msg})
					}
				}
			}
		}
	}
	return out, nil
}

// messages reads a rule's value: a set of strings or of objects with msg,
// or a single string (for `deny := "..." if`).
func messages(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			switch m := e.(type) {
			case string:
				out = append(out, m)
			case map[string]any:
				if s, ok := m["msg"].(string); ok {
					out = append(out, s)
				} else {
					b, _ := json.Marshal(m)
					out = append(out, string(b))
				}
			}
		}
		sort.Strings(out)
		return out
	case bool:
		if t {
			return []string{"denied"}
		}
	}
	return nil
}
