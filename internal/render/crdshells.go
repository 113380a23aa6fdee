package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/resource"
)

// kustomize reads every resource file with kyaml, which copies each
// mapping node's whole subtree once per level (it resolves anchors that
// way), and copies resources again as it builds: on the deep schemas of
// CustomResourceDefinitions that is most of a build's time and memory,
// paid again by every overlay of a shared base. No kustomization field
// this file lets through reads or writes inside a CRD's openAPIV3Schema,
// so a resource file's CRD schemas are handed to kustomize as short
// placeholder strings ("shells") and put back in the built objects; the
// YAML kustomize prints is its objects' data normalized through JSON, so
// the result is the same bytes. A build that may touch a schema (custom
// field specs, plugins, replacements or patches that may select a CRD,
// anchors in the file) reads the files as they are.

// shellPrefix starts every placeholder; the rest names the file's
// content and the schema's place in it.
const shellPrefix = "gitops-actions.render.schema:"

// shellFile is a resource file read with its schemas replaced.
type shellFile struct {
	// real is the file on disk and sum its content's hash, to read the
	// schemas back from.
	real string
	sum  string
}

var shells = struct {
	sync.Mutex
	// files are the shelled contents by the original's hash; nil when
	// the file has nothing to shell.
	files map[string][]byte
	// objects are the printed objects by the hash of their shelled YAML.
	objects map[string][]byte
}{files: map[string][]byte{}, objects: map[string][]byte{}}

// shellSafeFields are the kustomization fields that cannot reach into
// a CRD's schema; patches are checked one by one.
var shellSafeFields = []string{"apiVersion", "kind", "metadata", "resources", "bases", "components", "namePrefix", "nameSuffix", "namespace",
	"commonLabels", "commonAnnotations", "labels", "images", "replicas", "patches", "patchesStrategicMerge", "patchesJson6902",
	"configMapGenerator", "secretGenerator", "generatorOptions", "buildMetadata", "sortOptions"}

var plainKind = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// shellPlan lists the resource files of the kustomization in dir whose
// schemas may be shelled, or nil when none may. read reads a file inside
// the roots.
func shellPlan(dir string, read func(string) ([]byte, error)) map[string]bool {
	resources := map[string]bool{}
	other := map[string]bool{}
	seen := map[string]bool{}
	var walk func(dir string) bool
	walk = func(dir string) bool {
		dir = absOr(filepath.Clean(dir))
		if seen[dir] {
			return true
		}
		seen[dir] = true
		var b []byte
		var err error
		for _, name := range KustomizationFiles {
			if b, err = read(filepath.Join(dir, name)); err == nil {
				break
			}
		}
		if err != nil {
			return false
		}
		var k map[string]any
		if yaml.Unmarshal(b, &k) != nil || k == nil {
			return false
		}
		for key, v := range k {
			if !slices.Contains(shellSafeFields, key) {
				return false
			}
			switch key {
			case "resources", "bases", "components":
				for _, e := range asList(v) {
					s, ok := e.(string)
					if !ok || IsRemote(s) {
						return false
					}
					p := filepath.Join(dir, s)
					if isKustomizationDir(p, read) {
						if !walk(p) {
							return false
						}
					} else if key == "resources" {
						resources[p] = true
					} else {
						return false
					}
				}
			case "labels":
				for _, e := range asList(v) {
					if m, ok := e.(map[string]any); !ok || m["fields"] != nil {
						return false
					}
				}
			case "patches", "patchesJson6902":
				for _, e := range asList(v) {
					m, ok := e.(map[string]any)
					if !ok || !patchAvoidsCRDs(dir, m, read, other) {
						return false
					}
				}
			case "patchesStrategicMerge":
				for _, e := range asList(v) {
					s, ok := e.(string)
					if !ok || !patchAvoidsCRDs(dir, map[string]any{"path": s}, read, other) {
						return false
					}
				}
			case "configMapGenerator", "secretGenerator":
				for _, e := range asList(v) {
					m, _ := e.(map[string]any)
					for _, f := range slices.Concat(asList(m["files"]), asList(m["envs"]), []any{m["env"]}) {
						if s, ok := f.(string); ok {
							_, s, _ = strings.Cut(s, "=")
							other[filepath.Join(dir, s)] = true
							other[filepath.Join(dir, f.(string))] = true
						}
					}
				}
			}
		}
		return true
	}
	if !walk(dir) {
		return nil
	}
	for p := range other {
		delete(resources, p)
	}
	if len(resources) == 0 {
		return nil
	}
	return resources
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func isKustomizationDir(p string, read func(string) ([]byte, error)) bool {
	for _, name := range KustomizationFiles {
		if _, err := read(filepath.Join(p, name)); err == nil {
			return true
		}
	}
	return false
}

// patchAvoidsCRDs says whether a patch entry cannot select a CRD: its
// target names another kind, or it has none and its documents are not
// CRDs.
func patchAvoidsCRDs(dir string, m map[string]any, read func(string) ([]byte, error), other map[string]bool) bool {
	if t, ok := m["target"]; ok {
		tm, ok := t.(map[string]any)
		kind, _ := tm["kind"].(string)
		return ok && plainKind.MatchString(kind) && kind != "CustomResourceDefinition"
	}
	var text []byte
	switch {
	case m["patch"] != nil:
		s, ok := m["patch"].(string)
		if !ok {
			return false
		}
		text = []byte(s)
	case m["path"] != nil:
		s, ok := m["path"].(string)
		if !ok || IsRemote(s) {
			return false
		}
		p := filepath.Join(dir, s)
		other[p] = true
		b, err := read(p)
		if err != nil {
			return false
		}
		text = b
	default:
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return true
		}
		kind, _ := doc["kind"].(string)
		if err != nil || doc == nil || kind == "" || kind == "CustomResourceDefinition" {
			return false
		}
	}
}

// contentKey names content by its hash (128 bits of SHA-256).
func contentKey(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// shellOf returns b with its CRD schemas shelled, or b itself when it
// has none or may not be shelled.
func shellOf(b []byte) []byte {
	key := contentKey(b)
	shells.Lock()
	out, ok := shells.files[key]
	shells.Unlock()
	if ok {
		if out == nil {
			return b
		}
		return out
	}
	out = makeShells(b, key)
	shells.Lock()
	shells.files[key] = out
	shells.Unlock()
	if out == nil {
		return b
	}
	return out
}

// makeShells parses b and encodes it again with each schema a
// placeholder; nil when nothing is shelled.
func makeShells(b []byte, sum string) []byte {
	docs, err := parseAll(b)
	if err != nil {
		return nil
	}
	n := 0
	for di, d := range docs {
		forSchemas(d, func(vi int, parent *yaml.Node, at int) {
			parent.Content[at] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: shellToken(sum, di, vi)}
			n++
		})
	}
	if n == 0 {
		return nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil
		}
	}
	if enc.Close() != nil {
		return nil
	}
	return buf.Bytes()
}

func shellToken(sum string, doc, version int) string {
	return shellPrefix + sum + ":" + itoa(doc) + ":" + itoa(version)
}

func itoa(i int) string { return strconv.Itoa(i) }

// parseAll parses every document of b, refusing anchors, aliases and
// merge keys anywhere (kustomize resolves those its own way).
func parseAll(b []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []*yaml.Node
	for {
		var d yaml.Node
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if !plainTree(&d) {
			return nil, errors.New("anchors")
		}
		docs = append(docs, &d)
	}
}

func plainTree(n *yaml.Node) bool {
	if n.Anchor != "" || n.Kind == yaml.AliasNode || n.Tag == "!!merge" {
		return false
	}
	if n.Kind == yaml.MappingNode {
		keys := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || keys[k.Value] || k.Value == "<<" {
				return false
			}
			keys[k.Value] = true
		}
	}
	for _, c := range n.Content {
		if !plainTree(c) {
			return false
		}
	}
	return true
}

// forSchemas calls fn with where each openAPIV3Schema of a CRD document
// is: spec.versions[vi].schema, or spec.validation (vi -1).
func forSchemas(doc *yaml.Node, fn func(vi int, parent *yaml.Node, at int)) {
	if len(doc.Content) != 1 {
		return
	}
	top := doc.Content[0]
	api, kind := valueOf(top, "apiVersion"), valueOf(top, "kind")
	if kind == nil || kind.Value != "CustomResourceDefinition" || api == nil || !strings.HasPrefix(api.Value, "apiextensions.k8s.io/") {
		return
	}
	spec := valueOf(top, "spec")
	if spec == nil {
		return
	}
	schemaIn := func(vi int, m *yaml.Node) {
		if m == nil || m.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "openAPIV3Schema" && m.Content[i+1].Kind == yaml.MappingNode {
				fn(vi, m, i+1)
			}
		}
	}
	schemaIn(-1, valueOf(spec, "validation"))
	if vs := valueOf(spec, "versions"); vs != nil && vs.Kind == yaml.SequenceNode {
		for vi, v := range vs.Content {
			schemaIn(vi, valueOf(v, "schema"))
		}
	}
}

func valueOf(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// shellFileOf is the shelled file an object printed as b holds
// placeholders of, or "".
func shellFileOf(b []byte, those map[string]shellFile) string {
	if len(those) == 0 {
		return ""
	}
	_, rest, ok := bytes.Cut(b, []byte(shellPrefix))
	if !ok {
		return ""
	}
	sum, _, _ := bytes.Cut(rest, []byte(":"))
	if _, ok := those[string(sum)]; !ok {
		return ""
	}
	return string(sum)
}

// docStream reads a shelled file's documents back one at a time, so
// that one document's schemas are held at once.
type docStream struct {
	file     shellFile
	readReal func(string) ([]byte, error)
	dec      *yaml.Decoder
	at       int // index of doc, -1 before the first
	doc      *yaml.Node
}

func newDocStream(f shellFile, readReal func(string) ([]byte, error)) *docStream {
	return &docStream{file: f, readReal: readReal, at: -1}
}

// get returns document di; asked for an earlier one it reads the file
// again.
func (s *docStream) get(di int) (*yaml.Node, error) {
	if s.dec == nil || di < s.at {
		b, err := s.readReal(s.file.real)
		if err != nil || contentKey(b) != s.file.sum {
			return nil, errors.New(s.file.real + " changed while it was being rendered")
		}
		s.dec, s.at, s.doc = yaml.NewDecoder(bytes.NewReader(b)), -1, nil
	}
	for s.at < di {
		var d yaml.Node
		if err := s.dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("reading %s again: %w", s.file.real, err)
		}
		if !plainTree(&d) {
			return nil, fmt.Errorf("reading %s again: it changed", s.file.real)
		}
		s.at, s.doc = s.at+1, &d
	}
	return s.doc, nil
}

// shellDoc is the file and document index the first placeholder in an
// object printed as b names.
func shellDoc(b []byte) (sum string, doc int) {
	_, rest, _ := bytes.Cut(b, []byte(shellPrefix))
	parts := strings.SplitN(string(rest[:min(len(rest), 80)]), ":", 3)
	if len(parts) < 2 {
		return "", -1
	}
	doc, _ = strconv.Atoi(parts[1])
	return parts[0], doc
}

// unshell prints r, putting its schemas back from the file they were
// read from.
func unshell(r *resource.Resource, shelled []byte, src *docStream) ([]byte, error) {
	key := contentKey(shelled)
	shells.Lock()
	out, ok := shells.objects[key]
	shells.Unlock()
	if ok {
		return out, nil
	}
	var err error
	var restore []func()
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && strings.HasPrefix(n.Value, shellPrefix) {
			parts := strings.Split(strings.TrimPrefix(n.Value, shellPrefix), ":")
			di, derr := strconv.Atoi(parts[min(1, len(parts)-1)])
			if len(parts) != 3 || parts[0] != src.file.sum || derr != nil {
				err = errors.Join(err, fmt.Errorf("internal error: placeholder %q not of %s", n.Value, src.file.real))
				return
			}
			doc, gerr := src.get(di)
			if gerr != nil {
				err = errors.Join(err, gerr)
				return
			}
			found := false
			forSchemas(doc, func(vi int, parent *yaml.Node, at int) {
				if parts[2] == itoa(vi) {
					// Put the placeholder back once printed, so that
					// the object does not keep the schema.
					placeholder := *n
					restore = append(restore, func() { *n = placeholder })
					*n, found = *parent.Content[at], true
				}
			})
			if !found {
				err = errors.Join(err, fmt.Errorf("reading %s again: it changed", src.file.real))
			}
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	defer func() {
		for _, f := range restore {
			f()
		}
	}()
	walk(r.YNode())
	if err != nil {
		return nil, err
	}
	out, err = r.AsYAML()
	if err != nil {
		return nil, err
	}
	shells.Lock()
	shells.objects[key] = out
	shells.Unlock()
	return out, nil
}
