package policy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// Gatekeeper evaluates ConstraintTemplates' Rego for their constraints,
// as Gatekeeper's admission webhook would (what gator does offline).
type Gatekeeper struct {
	constraints []constraint
	scope       Scope
	limits      *Limits
	// units are the objects of each unit (one rendered kustomization or
	// chart, or the plain files): what one cluster would hold together.
	units map[string][]map[string]any

	mu       sync.Mutex
	stores   map[string]storage.Store                         // unit -> its data.inventory
	prepared map[*template]map[string]*rego.PreparedEvalQuery // per unit
}

// template is one ConstraintTemplate's compiled violation query.
type template struct {
	// name is how findings name it: the template and its file.
	name     string
	query    string
	compiler *ast.Compiler
	// inventory templates read data.inventory, so they are prepared per
	// unit against that unit's objects; the others once.
	inventory bool
	pq        *rego.PreparedEvalQuery
}

type constraint struct {
	kind, name string
	action     string // deny, warn, dryrun
	match      map[string]any
	params     any
	tmpl       *template
}

// IsTemplate reports whether an object is a ConstraintTemplate.
func IsTemplate(obj map[string]any) bool {
	av, _ := obj["apiVersion"].(string)
	return obj["kind"] == "ConstraintTemplate" && strings.HasPrefix(av, "templates.gatekeeper.sh/")
}

// IsConstraint reports whether an object is a Gatekeeper constraint.
func IsConstraint(obj map[string]any) bool {
	av, _ := obj["apiVersion"].(string)
	return strings.HasPrefix(av, "constraints.gatekeeper.sh/")
}

// Template is a ConstraintTemplate and the file it was read from.
type Template struct {
	File   string
	Object map[string]any
}

// NewGatekeeper compiles each template once; every constraint of its
// kind shares it. A template that reads data.inventory (unique Ingress
// hosts, unique Service selectors) sees the objects of the unit under
// review, as Gatekeeper's replicated data in that unit's cluster. Every
// evaluation is within limits.
func NewGatekeeper(ctx context.Context, templates []Template, constraints []map[string]any, units map[string][]map[string]any, scope Scope, limits *Limits) (*Gatekeeper, error) {
	queries := map[string]*template{}
	for _, tf := range templates {
		t := tf.Object
		kind := str(t, "spec", "crd", "spec", "names", "kind")
		tname := str(t, "metadata", "name")
		name := fmt.Sprintf("ConstraintTemplate %q (%s)", tname, tf.File)
		targets, _ := Field(t, "spec", "targets").([]any)
		if kind == "" || len(targets) == 0 {
			return nil, fmt.Errorf("%s has no spec.crd.spec.names.kind or targets", name)
		}
		target, _ := targets[0].(map[string]any)
		src, _ := target["rego"].(string)
		libs, _ := target["libs"].([]any)
		version := ast.RegoV0
		if src == "" {
			// Newer templates carry code: [{engine: Rego, source: {rego, libs, version}}].
			code, _ := target["code"].([]any)
			for _, c := range code {
				cm, _ := c.(map[string]any)
				if cm["engine"] == "Rego" {
					src = str(cm, "source", "rego")
					libs, _ = Field(cm, "source", "libs").([]any)
					if str(cm, "source", "version") == "v1" {
						version = ast.RegoV1
					}
				}
			}
		}
		if src == "" {
			return nil, fmt.Errorf("%s has no Rego", name)
		}
		mods := map[string]string{tname + ".rego": src}
		for i, l := range libs {
			if s, ok := l.(string); ok {
				mods[fmt.Sprintf("%s.lib%d.rego", tname, i)] = s
			}
		}
		m, err := ast.ParseModuleWithOpts(tname, src, ast.ParserOptions{RegoVersion: version})
		if err != nil && version == ast.RegoV0 {
			version = ast.RegoV1
			m, err = ast.ParseModuleWithOpts(tname, src, ast.ParserOptions{RegoVersion: version})
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		compiler, err := compile(mods, version)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		tm := &template{name: name, query: m.Package.Path.String() + ".violation", compiler: compiler}
		for _, src := range mods {
			tm.inventory = tm.inventory || strings.Contains(src, "inventory")
		}
		// Prepared now even when it is prepared again per unit, so a
		// template that cannot be evaluated fails here, with its name.
		pq, err := rego.New(rego.Query(tm.query), rego.Compiler(compiler), rego.Capabilities(capabilities)).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		tm.pq = &pq
		queries[kind] = tm
	}
	g := &Gatekeeper{scope: scope, limits: limits, units: units, stores: map[string]storage.Store{}, prepared: map[*template]map[string]*rego.PreparedEvalQuery{}}
	for _, c := range constraints {
		kind, _ := c["kind"].(string)
		name := str(c, "metadata", "name")
		t, ok := queries[kind]
		if !ok {
			return nil, fmt.Errorf("constraint %s %q has no ConstraintTemplate of that kind in the policy directories", kind, name)
		}
		action := str(c, "spec", "enforcementAction")
		if action == "" {
			action = "deny"
		}
		match, _ := Field(c, "spec", "match").(map[string]any)
		g.constraints = append(g.constraints, constraint{kind: kind, name: name, action: action, match: match, params: Field(c, "spec", "parameters"), tmpl: t})
	}
	return g, nil
}

// Empty reports whether there are no constraints.
func (g *Gatekeeper) Empty() bool { return len(g.constraints) == 0 }

// query is t prepared for unit: with that unit's data.inventory when t
// reads it.
func (g *Gatekeeper) query(ctx context.Context, t *template, unit string) (*rego.PreparedEvalQuery, error) {
	if !t.inventory {
		return t.pq, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if pq := g.prepared[t][unit]; pq != nil {
		return pq, nil
	}
	store := g.stores[unit]
	if store == nil {
		store = inmem.NewFromObject(map[string]any{"inventory": g.scope.Inventory(g.units[unit])})
		g.stores[unit] = store
	}
	pq, err := rego.New(rego.Query(t.query), rego.Compiler(t.compiler), rego.Capabilities(capabilities), rego.Store(store)).PrepareForEval(ctx)
	if err != nil {
		return nil, err
	}
	if g.prepared[t] == nil {
		g.prepared[t] = map[string]*rego.PreparedEvalQuery{}
	}
	g.prepared[t][unit] = &pq
	return &pq, nil
}

// Eval runs every constraint that matches the object, as the API server
// would present it (a namespaced object without a namespace in
// DefaultNamespace); unit names the objects it is applied with.
func (g *Gatekeeper) Eval(ctx context.Context, obj map[string]any, unit string) ([]Result, error) {
	var out []Result
	obj, _ = g.scope.placed(obj)
	for _, c := range g.constraints {
		if !matches(c.match, obj) {
			continue
		}
		av, _ := obj["apiVersion"].(string)
		group, version, ok := strings.Cut(av, "/")
		if !ok {
			group, version = "", av
		}
		params := c.params
		if params == nil {
			params = map[string]any{}
		}
		input := map[string]any{
			"review": map[string]any{
				"object":    obj,
				"kind":      map[string]any{"group": group, "version": version, "kind": obj["kind"]},
				"name":      str(obj, "metadata", "name"),
				"namespace": str(obj, "metadata", "namespace"),
				"operation": "CREATE",
			},
			"parameters": params,
		}
		pq, err := g.query(ctx, c.tmpl, unit)
		if err != nil {
			return nil, fmt.Errorf("preparing constraint %s %q: %w", c.kind, c.name, err)
		}
		rs, lim, err := g.limits.eval(ctx, fmt.Sprintf("constraint %s %q of %s", c.kind, c.name, c.tmpl.name), unit, pq, rego.EvalInput(input))
		if err != nil {
			return nil, fmt.Errorf("evaluating constraint %s %q: %w", c.kind, c.name, err)
		}
		out = append(out, lim...)
		sev := "error"
		switch c.action {
		case "warn":
			sev = "warning"
		case "dryrun":
			sev = "notice"
		}
		var msgs []string
		for _, r := range rs {
			for _, e := range r.Expressions {
				msgs = append(msgs, messages(e.Value)...)
			}
		}
		sort.Strings(msgs)
		for _, m := range msgs {
			out = append(out, Result{Rule: c.kind + "/" + c.name, Severity: sev, Message: m})
		}
	}
	return out, nil
}

// matches applies spec.match: kinds, namespaces, excludedNamespaces,
// labelSelector and namespaceSelector-free scope.
func matches(match map[string]any, obj map[string]any) bool {
	if match == nil {
		return true
	}
	av, _ := obj["apiVersion"].(string)
	group := ""
	if g, _, ok := strings.Cut(av, "/"); ok {
		group = g
	}
	kind, _ := obj["kind"].(string)
	if kinds, ok := match["kinds"].([]any); ok && len(kinds) > 0 {
		found := false
		for _, k := range kinds {
			km, _ := k.(map[string]any)
			groups := strings_(km["apiGroups"])
			ks := strings_(km["kinds"])
			if (len(groups) == 0 || slices.Contains(groups, "*") || slices.Contains(groups, group)) &&
				(len(ks) == 0 || slices.Contains(ks, "*") || slices.Contains(ks, kind)) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	ns := str(obj, "metadata", "namespace")
	if list := strings_(match["namespaces"]); len(list) > 0 && !globMatch(list, ns) {
		return false
	}
	if list := strings_(match["excludedNamespaces"]); len(list) > 0 && globMatch(list, ns) {
		return false
	}
	if scope, _ := match["scope"].(string); scope == "Namespaced" && ns == "" || scope == "Cluster" && ns != "" {
		return false
	}
	if sel, ok := match["labelSelector"].(map[string]any); ok {
		labels, _ := Field(obj, "metadata", "labels").(map[string]any)
		if !SelectorMatches(sel, labels) {
			return false
		}
	}
	return true
}

func globMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if p == s || strings.HasSuffix(p, "*") && strings.HasPrefix(s, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

// SelectorMatches applies a Kubernetes label selector (matchLabels and
// matchExpressions) to labels. An empty selector matches everything.
func SelectorMatches(sel map[string]any, labels map[string]any) bool {
	if ml, ok := sel["matchLabels"].(map[string]any); ok {
		for k, v := range ml {
			if fmt.Sprint(labels[k]) != fmt.Sprint(v) {
				return false
			}
		}
	}
	exprs, _ := sel["matchExpressions"].([]any)
	for _, e := range exprs {
		em, _ := e.(map[string]any)
		key, _ := em["key"].(string)
		values := strings_(em["values"])
		v, has := labels[key]
		val := fmt.Sprint(v)
		switch em["operator"] {
		case "In":
			if !has || !slices.Contains(values, val) {
				return false
			}
		case "NotIn":
			if has && slices.Contains(values, val) {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		}
	}
	return true
}

func strings_(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Field follows path through nested maps; nil when any step is missing.
func Field(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func str(m map[string]any, path ...string) string {
	s, _ := Field(m, path...).(string)
	return s
}
