package validate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/report"
)

// Doc is one YAML document of the input, decoded once; schema, policy and
// deprecation checks all read Object.
type Doc struct {
	// File and Line locate the document's source (1-based).
	File string
	Line int
	// Node is the parsed document, for mapping a field path to its line.
	Node *yaml.Node
	// Object is the decoded document.
	Object map[string]any
	// Unit is what the document is applied with: the kustomization or
	// chart it was rendered from, or the directory of a plain file (see
	// plainUnit). Checks that relate objects (a PDB to its Deployment,
	// Gatekeeper's data.inventory) stay within one unit, so two overlays
	// for two clusters, or two unrelated example directories, never meet.
	Unit string
	// trace maps a field path to a line in another file (kustomize
	// origins, Helm templates); nil means Node is the source.
	trace func(path []string) (file string, line int)
	// sum is the sha256 of the rendered YAML the document was decoded
	// from, zero when not known: copies of one base object share it.
	sum [32]byte
}

// Resource names the document's object.
func (d *Doc) Resource() *report.Resource {
	r := &report.Resource{}
	r.APIVersion, _ = d.Object["apiVersion"].(string)
	r.Kind, _ = d.Object["kind"].(string)
	if md, ok := d.Object["metadata"].(map[string]any); ok {
		r.Name, _ = md["name"].(string)
		r.Namespace, _ = md["namespace"].(string)
		r.Name = stableName(r.Name, md)
	}
	return r
}

// IsResource reports whether the document is a Kubernetes object: it has
// both apiVersion and kind.
func (d *Doc) IsResource() bool {
	a, _ := d.Object["apiVersion"].(string)
	k, _ := d.Object["kind"].(string)
	return a != "" && k != ""
}

// At returns the file and line of the field at path (map keys and list
// indexes), falling back to the nearest enclosing field that exists.
func (d *Doc) At(path []string) (string, int) {
	if d.trace != nil {
		return d.trace(path)
	}
	return d.File, lineOf(d.Node, path, d.Line)
}

// lineOf walks node along path and returns the line of the deepest node
// found; def when node is nil.
func lineOf(node *yaml.Node, path []string, def int) int {
	if node == nil {
		return def
	}
	n := node
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if keyOf(n.Content[i]) == p {
					line = n.Content[i].Line
					next = n.Content[i+1]
					break
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(p); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		case yaml.AliasNode:
			next = n.Alias
		}
		if next == nil {
			break
		}
		n = next
	}
	if line == 0 {
		return def
	}
	return line
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseDocs splits a YAML stream into documents. Syntax errors and
// duplicate keys become findings; a syntax error ends the file, as no
// later document can be trusted.
func parseDocs(file string, b []byte, lineOffset int) ([]*Doc, []report.Finding) {
	var docs []*Doc
	var fs []report.Finding
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := 0
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = strings.TrimSpace(strings.TrimPrefix(strings.Replace(msg, m[0], "", 1), ":"))
				// These are reported at the 0-based line where the construct
				// began; the rest are 1-based already.
				if strings.HasPrefix(msg, "did not find expected") || strings.HasPrefix(msg, "found a tab character") {
					line++
				}
			}
			fs = append(fs, report.Finding{Source: report.SourceSyntax, Severity: report.Error, File: file, Line: line + lineOffset,
				Message: "YAML syntax error: " + msg})
			break
		}
		fs = append(fs, duplicateKeys(file, &n, lineOffset)...)
		v, err := decodeNode(&n)
		if err != nil {
			line := n.Line
			if ae := (*aliasError)(nil); errors.As(err, &ae) {
				line = ae.alias.Line
			}
			fs = append(fs, report.Finding{Source: report.SourceSyntax, Severity: report.Error, File: file, Line: line + lineOffset, Message: err.Error()})
			continue
		}
		obj, _ := v.(map[string]any)
		if obj == nil {
			// Empty documents and scalars are not objects; a list at the
			// top is not one either.
			if _, isList := v.([]any); !isList {
				continue
			}
		}
		line := n.Line
		if len(n.Content) > 0 {
			line = n.Content[0].Line
		}
		if lineOffset != 0 {
			shiftLines(&n, lineOffset)
		}
		docs = append(docs, &Doc{File: file, Line: line + lineOffset, Node: &n, Object: obj})
	}
	return docs, fs
}

func shiftLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

// duplicateKeys reports every mapping key given twice, at the second one.
func duplicateKeys(file string, n *yaml.Node, off int) []report.Finding {
	var fs []report.Finding
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for i, c := range n.Content {
				p := path
				if n.Kind == yaml.SequenceNode {
					p = fmt.Sprintf("%s[%d]", path, i)
				}
				walk(c, p)
			}
		case yaml.MappingNode:
			seen := map[string]int{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Value == "<<" {
					continue
				}
				key := keyOf(k)
				if first, dup := seen[key]; dup {
					fs = append(fs, report.Finding{Source: report.SourceSyntax, Severity: report.Error, File: file, Line: k.Line + off,
						Message: fmt.Sprintf("duplicate key %q at %s (first at line %d)", key, strings.TrimPrefix(path+"."+key, "."), first+off)})
				} else {
					seen[key] = k.Line
				}
				walk(n.Content[i+1], path+"."+key)
			}
		}
	}
	walk(n, "")
	return fs
}

// decodeNode turns a node into plain Go values (maps, slices, strings,
// int64, uint64, float64, bool, nil) as sigs.k8s.io/yaml would (see
// scalar), keeping the last value of a duplicate key as the API server
// does.
func decodeNode(n *yaml.Node) (any, error) {
	var d decoder
	return d.decode(n)
}

// decoder counts the values it makes, so that aliases cannot expand a
// small document into an exponential one (the "billion laughs"): yaml.v3
// guards its own Unmarshal this way, but not a walk over yaml.Node.
type decoder struct {
	decoded, aliased int
	// alias is the outermost alias being expanded, where a finding points.
	alias *yaml.Node
}

// aliasError is a document that aliases expand beyond reason.
type aliasError struct{ alias *yaml.Node }

func (e *aliasError) Error() string {
	return fmt.Sprintf("excessive aliasing: the alias *%s at line %d expands to too many values", e.alias.Value, e.alias.Line)
}

// allowedAliasShare is the share of decoded values that may come from
// aliases: nearly all of a small document, a tenth of a huge one. These
// are yaml.v3's figures (its Unmarshal counts nodes as tick does), so
// what it refuses is refused here too, give or take a node.
func allowedAliasShare(decoded int) float64 {
	const low, high = 400_000, 4_000_000
	switch {
	case decoded <= low:
		return 0.99
	case decoded >= high:
		return 0.10
	}
	return 0.99 - 0.89*float64(decoded-low)/float64(high-low)
}

// tick counts one node about to be decoded.
func (d *decoder) tick() error {
	d.decoded++
	if d.alias != nil {
		d.aliased++
		if d.aliased > 100 && d.decoded > 1000 && float64(d.aliased)/float64(d.decoded) > allowedAliasShare(d.decoded) {
			return &aliasError{alias: d.alias}
		}
	}
	return nil
}

func (d *decoder) decode(n *yaml.Node) (any, error) {
	if err := d.tick(); err != nil {
		return nil, err
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return d.decode(n.Content[0])
	case yaml.AliasNode:
		if d.alias != nil {
			return d.decode(n.Alias)
		}
		d.alias = n
		v, err := d.decode(n.Alias)
		d.alias = nil
		return v, err
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := d.decode(c)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.Tag == "!!merge" {
				merged, err := d.decode(vn)
				if err != nil {
					return nil, err
				}
				for _, m := range mergeSources(merged) {
					for mk, mv := range m {
						if _, ok := out[mk]; !ok {
							out[mk] = mv
						}
					}
				}
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping keys must be scalars", k.Line)
			}
			key, err := mapKey(k)
			if err != nil {
				return nil, err
			}
			if err := d.tick(); err != nil {
				return nil, err
			}
			v, err := d.decode(vn)
			if err != nil {
				return nil, err
			}
			out[key] = v
		}
		return out, nil
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, nil
}

func mergeSources(v any) []map[string]any {
	switch t := v.(type) {
	case map[string]any:
		return []map[string]any{t}
	case []any:
		var out []map[string]any
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// plainUnit is the unit of a plain file: its directory alone, without
// subdirectories. A repository of many examples or apps keeps each in a
// directory of its own, and those are applied one at a time.
func plainUnit(file string) string {
	return "dir:" + path.Dir(file)
}

// plain reports whether the document was read from a plain file rather
// than rendered from a kustomization or chart.
func (d *Doc) plain() bool { return d.Unit == "" || strings.HasPrefix(d.Unit, "dir:") }
