package validate

import (
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/policy"
	"github.com/gitops-actions/gitops-actions/internal/render"
	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// patch is one patch of a kustomization chain: a strategic-merge patch
// document (node) or JSON 6902 operations (ops), and what it targets.
type patch struct {
	file string
	// offset is added to node lines: an inline patch's lines count from
	// its place in the kustomization file.
	offset int
	node   *yaml.Node // the patch object (strategic merge)
	ops    []jsonOp
	kind   string
	name   *regexp.Regexp // nil: any name
	// namespace and labels narrow a target further (labels: the
	// key=value terms of its labelSelector).
	namespace string
	labels    map[string]string
	// image is an entry of the kustomization's images field, which sets
	// the name, tag or digest of every container image it names.
	image *imageEntry
}

type imageEntry struct {
	name, newName string
	line          int // where the tag or digest (else the name) is written
}

type jsonOp struct {
	path []string
	line int
}

// kustomizePatches lists the patches of the kustomization in dir and of
// every local kustomization it includes, the outermost first: the first
// that sets a field is the one whose value is rendered. Files that cannot
// be read are skipped; kustomize itself reports them.
func kustomizePatches(roots *render.Roots, dir string) []patch {
	var out []patch
	seen := map[string]bool{}
	var visit func(dir string)
	visit = func(dir string) {
		dir = filepath.Clean(dir)
		if seen[dir] {
			return
		}
		seen[dir] = true
		kfile, k := readKustomization(roots, dir)
		if k == nil {
			return
		}
		for _, e := range seq(yamledit.Lookup(k, "patches")) {
			out = append(out, patchEntry(roots, dir, kfile, e)...)
		}
		for _, e := range seq(yamledit.Lookup(k, "patchesStrategicMerge")) {
			out = append(out, smpEntry(roots, dir, kfile, e, nil)...)
		}
		for _, e := range seq(yamledit.Lookup(k, "patchesJson6902")) {
			out = append(out, patchEntry(roots, dir, kfile, e)...)
		}
		for _, e := range seq(yamledit.Lookup(k, "images")) {
			ie := &imageEntry{name: scalarOf(yamledit.Lookup(e, "name")), newName: scalarOf(yamledit.Lookup(e, "newName")), line: e.Line}
			for _, key := range []string{"newName", "newTag", "digest"} {
				if n := yamledit.Lookup(e, key); n != nil {
					ie.line = n.Line
				}
			}
			if ie.name != "" {
				out = append(out, patch{file: kfile, image: ie})
			}
		}
		// replicas: [{name, count}] is a patch of spec.replicas.
		for _, e := range seq(yamledit.Lookup(k, "replicas")) {
			n, c := scalarOf(yamledit.Lookup(e, "name")), yamledit.Lookup(e, "count")
			if n != "" && c != nil {
				out = append(out, patch{file: kfile, ops: []jsonOp{{path: []string{"spec", "replicas"}, line: c.Line}},
					name: regexp.MustCompile("^" + regexp.QuoteMeta(n) + "$")})
			}
		}
		for _, key := range []string{"resources", "bases", "components"} {
			for _, e := range seq(yamledit.Lookup(k, key)) {
				visit(filepath.Join(dir, e.Value)) // a file, or a directory without a kustomization, adds nothing
			}
		}
	}
	visit(dir)
	return out
}

// readKustomization parses the kustomization of dir; nil when dir has none.
func readKustomization(roots *render.Roots, dir string) (string, *yaml.Node) {
	f := kustomizationFile(dir)
	b, err := roots.ReadFile(f)
	if err != nil || !kustomizeContent(b) {
		return "", nil
	}
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return "", nil
	}
	return f, doc.Content[0]
}

// patchEntry reads one entry of patches or patchesJson6902: a path or an
// inline patch, strategic merge or JSON 6902, with an optional target.
func patchEntry(roots *render.Roots, dir, kfile string, e *yaml.Node) []patch {
	var kind string
	var name *regexp.Regexp
	if t := yamledit.Lookup(e, "target"); t != nil {
		kind = scalarOf(yamledit.Lookup(t, "kind"))
		if n := scalarOf(yamledit.Lookup(t, "name")); n != "" {
			name, _ = regexp.Compile("^(?:" + n + ")$")
		}
	}
	target := &patch{kind: kind, name: name}
	if t := yamledit.Lookup(e, "target"); t != nil {
		target.namespace = scalarOf(yamledit.Lookup(t, "namespace"))
		target.labels = equalityTerms(scalarOf(yamledit.Lookup(t, "labelSelector")))
	}
	if p := scalarOf(yamledit.Lookup(e, "path")); p != "" {
		f := filepath.Join(dir, p)
		b, err := roots.ReadFile(f)
		if err != nil {
			return nil
		}
		return parsePatch(slash(f), 0, b, target)
	}
	if v := yamledit.Lookup(e, "patch"); v != nil && v.Kind == yaml.ScalarNode {
		// A block scalar's text starts on the line after its indicator.
		return parsePatch(kfile, v.Line, []byte(v.Value), target)
	}
	return nil
}

// smpEntry reads one patchesStrategicMerge entry: a file or inline YAML.
func smpEntry(roots *render.Roots, dir, kfile string, e *yaml.Node, target *patch) []patch {
	if e.Kind != yaml.ScalarNode {
		return nil
	}
	if !strings.Contains(e.Value, "\n") {
		f := filepath.Join(dir, e.Value)
		if b, err := roots.ReadFile(f); err == nil {
			return parsePatch(slash(f), 0, b, target)
		}
		return nil
	}
	return parsePatch(kfile, e.Line, []byte(e.Value), target)
}

// parsePatch parses a patch file or text: JSON 6902 operations (a list),
// or strategic-merge documents, each targeting what it names unless the
// entry has a target.
func parsePatch(file string, offset int, b []byte, target *patch) []patch {
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	var out []patch
	for {
		var doc yaml.Node
		if dec.Decode(&doc) != nil {
			return out
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		p := patch{file: file, offset: offset}
		if target != nil {
			p.kind, p.name, p.namespace, p.labels = target.kind, target.name, target.namespace, target.labels
		}
		switch root.Kind {
		case yaml.SequenceNode:
			for _, op := range root.Content {
				pn := yamledit.Lookup(op, "path")
				if pn == nil {
					continue
				}
				p.ops = append(p.ops, jsonOp{path: pointer(pn.Value), line: pn.Line})
			}
		case yaml.MappingNode:
			p.node = root
			if p.kind == "" {
				p.kind = scalarOf(yamledit.Lookup(root, "kind"))
			}
			if p.name == nil {
				if n := scalarOf(yamledit.Lookup(yamledit.Lookup(root, "metadata"), "name")); n != "" {
					p.name = regexp.MustCompile("^" + regexp.QuoteMeta(n) + "$")
				}
			}
		default:
			continue
		}
		out = append(out, p)
	}
}

// equalityTerms reads the key=value (or key==value) terms of a label
// selector; set-based terms are left out, so they never exclude an object.
func equalityTerms(sel string) map[string]string {
	if sel == "" {
		return nil
	}
	out := map[string]string{}
	for _, term := range strings.Split(sel, ",") {
		k, v, ok := strings.Cut(strings.ReplaceAll(term, "==", "="), "=")
		if !ok || strings.ContainsAny(k, "!() ") {
			continue
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

// pointer splits a JSON pointer into path elements.
func pointer(s string) []string {
	parts := strings.Split(strings.TrimPrefix(s, "/"), "/")
	for i, p := range parts {
		parts[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(p)
	}
	return parts
}

// targets says whether p applies to an object of kind whose rendered name
// is name (a prefix or suffix added later keeps the patch's name inside).
func (p *patch) targets(kind, name string, obj map[string]any) bool {
	if p.kind != "" && p.kind != kind {
		return false
	}
	if ns, _ := policy.Field(obj, "metadata", "namespace").(string); p.namespace != "" && p.namespace != ns {
		return false
	}
	for k, v := range p.labels {
		if l, _ := policy.Field(obj, "metadata", "labels", k).(string); l != v {
			return false
		}
	}
	if p.name == nil {
		return true
	}
	if p.name.MatchString(name) {
		return true
	}
	lit, complete := p.name.LiteralPrefix()
	lit = strings.TrimPrefix(lit, "^")
	return lit != "" && strings.Contains(name, lit) && (complete || strings.HasSuffix(p.name.String(), "$"))
}

// locate finds path in the patch: how many elements of it matched, the
// line of the deepest, and whether the patch gives that element a value
// of its own (a scalar, or an operation on exactly that path) rather than
// merging into it. obj is the rendered object, whose list elements give
// the merge keys a strategic-merge patch matches by.
func (p *patch) locate(path []string, obj any) (depth, line int, sets bool) {
	if p.node == nil {
		for _, op := range p.ops {
			n := 0
			for n < len(op.path) && n < len(path) && op.path[n] == path[n] {
				n++
			}
			if n == len(op.path) && n > depth {
				depth, line = n, op.line
			}
		}
		return depth, line + p.offset, depth > 0 && depth == len(path)
	}
	d, l, sets := locateNode(p.node, path, obj)
	if d == 0 {
		return 0, 0, false
	}
	return d, l + p.offset, sets
}

// locateNode follows path into a YAML document as far as it goes: how many
// elements matched, the line of the deepest, and whether that is the very
// element with a scalar value. List elements are matched as a strategic
// merge does, by the rendered element's name (or mountPath,
// containerPort), so a list a patch reordered still finds its element;
// lists without such keys match by index.
func locateNode(n *yaml.Node, path []string, obj any) (depth, line int, sets bool) {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for i, el := range path {
		if n == nil {
			break
		}
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == el {
					next = n.Content[j+1]
					line = n.Content[j].Line
				}
			}
			obj = field(obj, el)
		case yaml.SequenceNode:
			idx, err := strconv.Atoi(el)
			if err != nil {
				return depth, line, false
			}
			item := index(obj, idx)
			next = mergeMatch(n, item, idx)
			if next != nil {
				line = next.Line
			}
			obj = item
		}
		if next == nil {
			break
		}
		depth = i + 1
		n = next
	}
	return depth, line, depth > 0 && depth == len(path) && n.Kind == yaml.ScalarNode
}

// mergeMatch finds the element of a YAML list that item (the rendered
// element at idx) came from: the same name (containers, env, volumes...),
// mountPath or containerPort; by position when item has none of them.
func mergeMatch(list *yaml.Node, item any, idx int) *yaml.Node {
	m, _ := item.(map[string]any)
	for _, key := range []string{"name", "mountPath", "containerPort"} {
		v, ok := m[key]
		if !ok {
			continue
		}
		want := strings.TrimSpace(yamlScalar(v))
		for _, el := range list.Content {
			if k := yamledit.Lookup(el, key); k != nil && k.Value == want {
				return el
			}
		}
		return nil
	}
	if idx >= 0 && idx < len(list.Content) {
		return list.Content[idx]
	}
	return nil
}

func yamlScalar(v any) string {
	b, _ := yaml.Marshal(v)
	return string(b)
}

func field(obj any, k string) any {
	m, _ := obj.(map[string]any)
	return m[k]
}

func index(obj any, i int) any {
	l, _ := obj.([]any)
	if i < 0 || i >= len(l) {
		return nil
	}
	return l[i]
}

// traceKustomized is the line a finding at path of a rendered object
// points to: the patch that reaches deeper into path than the base file,
// or the outermost one that sets the very field (its value is the one
// rendered), else the base file's line.
func traceKustomized(patches []patch, base *Doc, kind, name string, obj map[string]any, path []string) (string, int) {
	// An image the images field rewrote points at that entry.
	if len(path) > 0 && path[len(path)-1] == "image" {
		if ref, ok := valueAt(obj, path).(string); ok {
			repo := imageRepo(ref)
			for _, p := range patches {
				if e := p.image; e != nil && (e.newName == repo || e.newName == "" && e.name == repo) {
					return p.file, e.line
				}
			}
		}
	}
	best, baseLine, _ := locateNode(base.Node, path, obj)
	bestLine, bestFile := 0, ""
	identity := len(path) == 0 || path[0] == "apiVersion" || path[0] == "kind" ||
		len(path) == 2 && path[0] == "metadata" && (path[1] == "name" || path[1] == "namespace")
	for i := range patches {
		p := &patches[i]
		if p.image != nil || !p.targets(kind, name, obj) {
			continue
		}
		d, l, sets := p.locate(path, obj)
		if d == 0 || l == 0 {
			continue
		}
		if d > best || sets && d == best && bestFile == "" && !identity {
			best, bestLine, bestFile = d, l, p.file
		}
	}
	if bestFile != "" {
		return bestFile, bestLine
	}
	if best == 0 {
		return base.File, base.Line
	}
	return base.File, baseLine
}

// valueAt follows path (map keys, list indices) into a decoded object.
func valueAt(obj any, path []string) any {
	for _, el := range path {
		if i, err := strconv.Atoi(el); err == nil {
			obj = index(obj, i)
			continue
		}
		obj = field(obj, el)
	}
	return obj
}

// imageRepo is an image reference without its tag and digest.
func imageRepo(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

func seq(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return slices.Clone(n.Content)
}

func scalarOf(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
