package validate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gitops-actions/gitops-actions/internal/k8sschema"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// RuleNotResource is a document that is half an object: a kind without
// an apiVersion, or the other way round. kubectl refuses it; skipping it
// would pass a typo such as "apiVerison" unchecked.
const RuleNotResource = "GA-NOT-A-RESOURCE"

// maxListDepth bounds Lists nested in Lists, which no client sends.
const maxListDepth = 8

// expandDocs sorts documents into candidate objects, with every List
// replaced by its items, and findings for documents that are neither an
// object nor plainly something else. Documents with neither apiVersion
// nor kind are counted as skipped.
func expandDocs(docs []*Doc) (objs []*Doc, skipped int, fs []report.Finding) {
	var visit func(d *Doc, depth int)
	visit = func(d *Doc, depth int) {
		if d.Object == nil {
			skipped++
			return
		}
		if f, ok := halfObject(d); ok {
			av, _ := d.Object["apiVersion"].(string)
			if d.plain() && (isValuesFile(d.File) || isConfigFile(av, "", nil)) {
				// A Helm values file may well say `kind: DaemonSet`, and
				// a tool's file (score.dev) may have no kind.
				skipped++
				return
			}
			fs = append(fs, f)
			return
		}
		if _, hasKind := d.Object["kind"]; !hasKind {
			if depth > 0 {
				// Inside a List it can only be an object kubectl refuses.
				file, line := d.At(nil)
				fs = append(fs, report.Finding{Source: report.SourceSyntax, Rule: RuleNotResource, Severity: report.Error, File: file, Line: line, Resource: d.Resource(),
					Message: "List item has neither apiVersion nor kind: kubectl would refuse it"})
				return
			}
			skipped++
			return
		}
		items, isList, f := listItems(d, depth)
		if f != nil {
			fs = append(fs, *f)
			return
		}
		if !isList {
			objs = append(objs, d)
			return
		}
		for _, it := range items {
			visit(it, depth+1)
		}
	}
	for _, d := range docs {
		visit(d, 0)
	}
	return objs, skipped, fs
}

// halfObject is the finding for a document that names only one of
// apiVersion and kind, or names one that is not a non-empty string.
func halfObject(d *Doc) (report.Finding, bool) {
	av, hasAV := d.Object["apiVersion"]
	k, hasKind := d.Object["kind"]
	typo := misspelledKey(d.Object)
	if !hasAV && !hasKind && typo == "" {
		return report.Finding{}, false
	}
	as, _ := av.(string)
	ks, _ := k.(string)
	if as != "" && ks != "" {
		return report.Finding{}, false
	}
	describe := func(key string, v any, has bool) string {
		s, isString := v.(string)
		switch {
		case !has:
			return "no " + key
		case !isString:
			return fmt.Sprintf("%s %v, which is not a string", key, v)
		case s == "":
			return "an empty " + key
		}
		return key + " " + s
	}
	var msg string
	at := []string{"kind"}
	switch {
	case ks != "":
		msg = fmt.Sprintf("has kind %s but %s", ks, describe("apiVersion", av, hasAV))
		if hasAV {
			at = []string{"apiVersion"}
		}
	case as != "":
		msg = fmt.Sprintf("has apiVersion %s but %s", as, describe("kind", k, hasKind))
		if !hasKind {
			at = []string{"apiVersion"}
		}
	default:
		msg = fmt.Sprintf("has %s and %s", describe("apiVersion", av, hasAV), describe("kind", k, hasKind))
	}
	if typo != "" {
		msg += fmt.Sprintf(" (is %q a misspelling?)", typo)
		at = []string{typo}
	}
	msg += ": kubectl would refuse it"
	file, line := d.At(at)
	return report.Finding{Source: report.SourceSyntax, Rule: RuleNotResource, Severity: report.Error, File: file, Line: line, Resource: d.Resource(), Message: msg}, true
}

// misspelledKey is a top-level key that stands where apiVersion or kind
// should: either in another case, or apiVersion with two letters wrong.
func misspelledKey(obj map[string]any) string {
	found := ""
	for key := range obj {
		switch {
		case key == "apiVersion" || key == "kind":
		case strings.EqualFold(key, "apiVersion"), strings.EqualFold(key, "kind"),
			len(key) > 6 && editDistance(strings.ToLower(key), "apiversion") <= 2:
			if found == "" || key < found {
				found = key
			}
		}
	}
	return found
}

// isValuesFile reports whether a file is named as Helm values files are
// (values.yaml, values-prod.yaml, prod.values.yaml, prod-values.yaml).
// Only half objects in them are let go: a whole object is still checked.
func isValuesFile(file string) bool {
	name := strings.ToLower(file[strings.LastIndex(file, "/")+1:])
	if i := strings.LastIndex(name, "."); i > 0 {
		name = name[:i]
	}
	return name == "values" || strings.HasPrefix(name, "values-") || strings.HasPrefix(name, "values.") || strings.HasPrefix(name, "values_") ||
		strings.HasSuffix(name, "-values") || strings.HasSuffix(name, ".values") || strings.HasSuffix(name, "_values")
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// listItems returns the items of a List as documents of their own, each
// pointing at its lines in the List. `kind: List` (v1) and typed lists
// (`DeploymentList`) are lists when they hold `items`, as kubectl reads
// them; items of a typed list that name no apiVersion and kind are of
// the list's group and item kind, as the API server returns them.
func listItems(d *Doc, depth int) ([]*Doc, bool, *report.Finding) {
	r := d.Resource()
	raw, hasItems := d.Object["items"]
	if !strings.HasSuffix(r.Kind, "List") || !hasItems && r.Kind != "List" {
		return nil, false, nil
	}
	fail := func(path []string, msg string) ([]*Doc, bool, *report.Finding) {
		file, line := d.At(path)
		return nil, true, &report.Finding{Source: report.SourceSyntax, Rule: RuleNotResource, Severity: report.Error, File: file, Line: line, Resource: r, Message: msg}
	}
	if depth >= maxListDepth {
		return fail(nil, fmt.Sprintf("%s nests more than %d lists", r.Kind, maxListDepth))
	}
	if raw == nil {
		return nil, true, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return fail([]string{"items"}, fmt.Sprintf("%s items is not a list", r.Kind))
	}
	itemKind := strings.TrimSuffix(r.Kind, "List")
	var out []*Doc
	for i, it := range list {
		prefix := []string{"items", strconv.Itoa(i)}
		obj, ok := it.(map[string]any)
		if !ok {
			return fail(prefix, fmt.Sprintf("%s item %d is not an object", r.Kind, i))
		}
		_, av := obj["apiVersion"]
		_, k := obj["kind"]
		if !av && !k && itemKind != "" {
			obj["apiVersion"], obj["kind"] = r.APIVersion, itemKind
		}
		parent := d
		item := &Doc{File: d.File, Object: obj, Unit: d.Unit}
		item.trace = func(path []string) (string, int) {
			return parent.At(append(prefix[:2:2], path...))
		}
		item.File, item.Line = parent.At(prefix)
		out = append(out, item)
	}
	return out, true, nil
}

// configGroups are API groups whose objects are files a program reads,
// never objects of a cluster. Kubernetes names the groups of its
// components' config files <component>.config.k8s.io (kubelet,
// kube-scheduler, kube-proxy, kustomize); the rest are tools' own.
var configGroups = map[string]bool{
	"audit.k8s.io":                 true, // the API server's audit policy file
	"apiserver.k8s.io":             true, // admission configuration, before apiserver.config.k8s.io
	"kubeadm.k8s.io":               true,
	"client.authentication.k8s.io": true, // exec credential plugins
	"kind.x-k8s.io":                true, // kind cluster configs
	"k3d.io":                       true,
	"ctlptl.dev":                   true,
	"schema.plugin.fluxcd.io":      true, // .fluxschema.yml
	"kpt.dev":                      true, // Kptfile
	"config.kubernetes.io":         true, // KRM function configs
	"builtin":                      true, // kustomize built-in generator and transformer configs
	"backstage.io":                 true, // catalog-info.yaml
	"score.dev":                    true,
	"garden.io":                    true,
	"kapp.k14s.io":                 true, // Carvel tool configs; kappctrl.k14s.io is a cluster API
	"kbld.k14s.io":                 true,
	"vendir.k14s.io":               true,
	"imgpkg.carvel.dev":            true,
	"cli.kyverno.io":               true, // kyverno test files
	"chainsaw.kyverno.io":          true,
	"kuttl.dev":                    true,
}

// configKinds are v1 kinds that are files: a kubeconfig and the legacy
// kube-scheduler policy (--policy-config-file).
var configKinds = map[string]bool{"Config": true, "Policy": true}

// isConfigFile reports whether apiVersion/kind is a tool's config file
// rather than a cluster object. A CustomResourceDefinition in the input
// or crd-path for it makes it an object again.
func isConfigFile(apiVersion, kind string, crds *crdSchemas) bool {
	if crds.has(k8sschema.Key(apiVersion, kind)) {
		return false
	}
	group, _, hasGroup := strings.Cut(apiVersion, "/")
	switch {
	case !hasGroup:
		return apiVersion == "v1" && configKinds[kind] || apiVersion == "builtin"
	case group == "skaffold": // skaffold.yaml: apiVersion skaffold/v4beta11
		return true
	}
	return configGroups[group] || strings.HasSuffix(group, ".config.k8s.io")
}
