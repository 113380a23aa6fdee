package policy

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

//go:embed builtin/builtin.rego
var builtinRego string

// Rule documents a built-in rule.
type Rule struct {
	ID       string
	Severity string // the usual severity; GA-IMAGE-NOT-PINNED also has a notice form
	Doc      string
}

// BuiltinRules lists every built-in rule with its one-line doc, shown
// with its findings.
var BuiltinRules = []Rule{
	{"GA-PDB-MISSING", "warning", "A Deployment/StatefulSet with 2+ replicas or an HPA needs a PodDisruptionBudget selecting its pods, or a drain can take them all."},
	{"GA-PDB-BLOCKS-DRAIN", "error", "A PodDisruptionBudget that allows 0 disruptions (maxUnavailable 0, minAvailable ≥ replicas) blocks node drains."},
	{"GA-PRESTOP-MISSING", "warning", "Containers behind a Service need lifecycle.preStop so in-flight requests finish while endpoints update."},
	{"GA-PRESTOP-NO-SHELL", "error", "preStop exec of sleep/sh fails in images without a shell (distroless, scratch, static): use lifecycle.preStop.sleep."},
	{"GA-GRACE-TOO-SHORT", "error", "terminationGracePeriodSeconds must be longer than the preStop sleep, or the pod is killed mid-shutdown."},
	{"GA-INGRESS-TO-GATEWAY", "notice", "Ingress is superseded by the Gateway API (Gateway + HTTPRoute)."},
	{"GA-PLAINTEXT-SECRET", "error", "A Secret with data/stringData in Git is plain text: use an ExternalSecret."},
	{"GA-IMAGE-NOT-PINNED", "error", "Images need a tag other than latest (error) and should be pinned by digest (notice)."},
	{"GA-RESOURCES-MISSING", "warning", "Containers need CPU and memory requests for scheduling and eviction to work."},
	{"GA-RUN-AS-ROOT", "warning", "Pods and containers should set securityContext.runAsNonRoot."},
}

// Result is one finding of a policy.
type Result struct {
	Rule     string
	Severity string // error, warning or notice
	Message  string
	// Path is the field the finding is about (map keys, list indexes).
	Path []string
}

// Builtin evaluates the built-in rules.
type Builtin struct {
	pq     rego.PreparedEvalQuery
	limits *Limits
}

// NewBuiltin compiles and prepares the built-in rules, evaluated within
// limits as any policy is: the objects they read are untrusted.
func NewBuiltin(ctx context.Context, limits *Limits) (*Builtin, error) {
	pq, err := rego.New(
		rego.Query("data.gitops.builtin.finding"),
		rego.Module("builtin.rego", builtinRego),
		rego.SetRegoVersion(ast.RegoV1),
		rego.Capabilities(capabilities),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("preparing built-in policies: %w", err)
	}
	return &Builtin{pq: pq, limits: limits}, nil
}

// Kinds are the only kinds any built-in rule looks at; others are not
// evaluated at all. Keep in step with builtin.rego.
var Kinds = map[string]bool{
	"Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true, "Job": true, "CronJob": true, "Pod": true,
	"PodDisruptionBudget": true, "Ingress": true, "Secret": true,
}

// Input converts an object once for every query that reads it.
func Input(object map[string]any) (ast.Value, error) {
	v, err := ast.InterfaceToValue(object)
	if err != nil {
		return nil, fmt.Errorf("converting object for policies: %w", err)
	}
	return v, nil
}

// Eval runs the rules on one object of unit (converted by Input) and the
// objects related to it.
func (b *Builtin) Eval(ctx context.Context, object ast.Value, kind string, related map[string][]any, unit string) ([]Result, error) {
	if !Kinds[kind] {
		return nil, nil
	}
	rel, err := ast.InterfaceToValue(toAny(related))
	if err != nil {
		return nil, fmt.Errorf("converting related objects: %w", err)
	}
	input := ast.NewObject([2]*ast.Term{ast.StringTerm("object"), ast.NewTerm(object)}, [2]*ast.Term{ast.StringTerm("related"), ast.NewTerm(rel)})
	rs, out, err := b.limits.eval(ctx, "the built-in policies", unit, &b.pq, rego.EvalParsedInput(input))
	if err != nil {
		return nil, fmt.Errorf("evaluating built-in policies: %w", err)
	}
	for _, r := range rs {
		for _, e := range r.Expressions {
			set, _ := e.Value.([]any)
			for _, f := range set {
				m, _ := f.(map[string]any)
				res := Result{}
				res.Rule, _ = m["rule"].(string)
				res.Severity, _ = m["severity"].(string)
				res.Message, _ = m["msg"].(string)
				if p, ok := m["path"].([]any); ok {
					for _, s := range p {
						res.Path = append(res.Path, fmt.Sprint(s))
					}
				}
				out = append(out, res)
			}
		}
	}
	return out, nil
}

func toAny(m map[string][]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
