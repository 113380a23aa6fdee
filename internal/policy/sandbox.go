package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Forbidden are the builtins no policy may call: validate-config runs on
// pull requests anyone can open, so a policy must not reach the network
// or the resolver, read the process environment or files outside the
// repo, or give answers that change from run to run. time.now_ns and the
// io.jwt builtins stay: expiry checks need the clock, and Gatekeeper
// allows them too.
var Forbidden = map[string]string{
	"http.send":          "it makes network requests",
	"net.lookup_ip_addr": "it queries the DNS resolver",
	"opa.runtime":        "it reads the process environment and configuration",
	"json.match_schema":  "it loads $ref schemas from files and URLs",
	"json.verify_schema": "it loads $ref schemas from files and URLs",
	"rand.intn":          "its result changes from run to run",
	"uuid.rfc4122":       "its result changes from run to run",
	// Gatekeeper's own, not OPA's: it asks external data providers.
	"external_data": "it makes network requests",
}

// capabilities is every builtin of this OPA except the forbidden ones,
// and no host to reach: what every policy is compiled and evaluated with.
var capabilities = func() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = slices.DeleteFunc(c.Builtins, func(b *ast.Builtin) bool { return Forbidden[b.Name] != "" })
	c.AllowNet = []string{}
	return c
}()

// checkForbidden names the first forbidden builtin each module calls,
// with its file and line, before the compiler's "undefined function"
// would say it less clearly.
func checkForbidden(modules map[string]*ast.Module) error {
	var errs []string
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var found *ast.Location
		var name string
		visit := func(op *ast.Term) {
			if found != nil {
				return
			}
			ref, ok := op.Value.(ast.Ref)
			if !ok {
				return
			}
			if s := ref.String(); Forbidden[s] != "" {
				found, name = op.Location, s
			}
		}
		ast.WalkExprs(modules[n], func(e *ast.Expr) bool {
			if e.IsCall() {
				visit(e.OperatorTerm())
			}
			// `with http.send as ...` would replace the builtin with a
			// mock; it is refused the same.
			for _, w := range e.With {
				visit(w.Target)
			}
			return found != nil
		})
		ast.WalkTerms(modules[n], func(t *ast.Term) bool {
			if c, ok := t.Value.(ast.Call); ok && len(c) > 0 {
				visit(c[0])
			}
			return found != nil
		})
		if found != nil {
			at := n
			if found.Row > 0 {
				at = fmt.Sprintf("%s:%d", n, found.Row)
			}
			errs = append(errs, fmt.Sprintf("%s: %s is not allowed (%s); validate-config runs policies offline", at, name, Forbidden[name]))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
