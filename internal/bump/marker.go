package bump

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// markerLayout is scalars carrying Flux setter comments,
// `# {"$imagepolicy": "ns:name[:field]"}`. A policy is this image's when
// one of its whole-reference or :name markers in the document names the
// image. A policy without such a marker is the image's only where its
// marker sits beside a key naming the image (name, newName, image,
// repository): the policy's own name says nothing about the image.
type markerLayout struct{}

func (markerLayout) strategy() string { return StrategyMarker }

var markerRE = regexp.MustCompile(`^\s*#\s*\{\s*"\$imagepolicy"\s*:\s*"([^"]+)"\s*\}`)

// marker is a Flux setter comment on a scalar.
type marker struct {
	n      *yaml.Node
	parent *yaml.Node // the mapping holding n; nil in a sequence
	policy string     // ns:name
	field  string     // "", tag, digest or name
}

func (markerLayout) edit(w *fileEdit, root *yaml.Node) {
	ms := w.findMarkers(root)
	if len(ms) == 0 {
		return
	}
	named, ours := map[string]bool{}, map[string]bool{}
	isMarker := map[*yaml.Node]bool{}
	for _, m := range ms {
		isMarker[m.n] = true
		name := m.n.Value
		switch m.field {
		case "":
			r, err := parseImageRef(m.n.Value)
			if err != nil {
				continue
			}
			name = r.Name
		case "name":
		default:
			continue
		}
		named[m.policy] = true
		if w.matches(name) {
			ours[m.policy] = true
		}
	}
	belongs := func(m marker) bool {
		if named[m.policy] {
			return ours[m.policy]
		}
		return m.parent != nil && w.namedBeside(m.parent)
	}
	digests := map[string][]marker{}
	for _, m := range ms {
		if m.field == "digest" && belongs(m) {
			digests[m.policy] = append(digests[m.policy], m)
		}
	}
	warned := map[string]bool{}
	for _, m := range ms {
		if !belongs(m) {
			if !named[m.policy] && !warned[m.policy] && m.policy[strings.IndexByte(m.policy, ':')+1:] == lastElem(w.repo) {
				warned[m.policy] = true
				w.res.Skips = append(w.res.Skips, Skip{File: w.file, Line: m.n.Line, Reason: fmt.Sprintf(
					"marker: policy %q has no :name marker and no image beside it naming %s; left alone", m.policy, w.Image)})
			}
			continue
		}
		switch m.field {
		case "":
			w.setRef(m.n, StrategyMarker)
		case "tag":
			w.markerTag(m, digests[m.policy], isMarker)
		case "digest":
			if !w.found(m.n) {
				continue
			}
			w.ref(m.n, StrategyMarker, "", m.n.Value)
			if w.Digest != "" {
				w.set(m.n, w.Digest, Change{Strategy: StrategyMarker, OldDigest: m.n.Value, NewDigest: w.Digest})
			}
		case "name":
			w.found(m.n)
		}
	}
}

// markerTag sets a :tag marker and keeps the digest of its image in step:
// the policy's :digest markers, or an unmarked digest beside the tag, are
// cleared when only a tag is given (they pinned the old image) and set
// when a digest is; with nowhere to put a given digest it says so.
func (w *fileEdit) markerTag(m marker, digests []marker, isMarker map[*yaml.Node]bool) {
	if !w.found(m.n) {
		return
	}
	old := m.n.Value
	w.ref(m.n, StrategyMarker, old, "")
	if w.downgrade(m.n, StrategyMarker, old) {
		return
	}
	var beside *yaml.Node
	if d := yamledit.Lookup(m.parent, "digest"); d != nil && d.Kind == yaml.ScalarNode && !isMarker[d] {
		beside = d
	}
	c := Change{Strategy: StrategyMarker, OldTag: old, NewTag: old}
	if beside != nil {
		c.OldDigest, c.NewDigest = beside.Value, beside.Value
	}
	if w.Tag != "" {
		c.NewTag = w.Tag
		w.set(m.n, w.Tag, c)
	}
	switch {
	case w.Digest == "" && w.Tag != "":
		for _, d := range digests {
			if d.n.Value != "" {
				w.set(d.n, "", Change{Strategy: StrategyMarker, OldTag: old, NewTag: w.Tag, OldDigest: d.n.Value})
			}
		}
		if beside != nil && beside.Value != "" {
			c.NewDigest = ""
			if isImagesEntry(m.parent) {
				w.del(m.parent, "digest", c) // as the kustomize strategy does
			} else {
				w.set(beside, "", c)
			}
		}
	case w.Digest != "" && beside != nil:
		c.NewDigest = w.Digest
		w.set(beside, w.Digest, c)
	case w.Digest != "" && len(digests) == 0:
		w.res.Skips = append(w.res.Skips, Skip{File: w.file, Line: m.n.Line, Reason: fmt.Sprintf(
			"marker: policy %q has no :digest marker and no digest beside its tag; the digest is not written", m.policy)})
	}
}

// namedBeside reports whether mapping m names the image in a key beside a
// marker: an images: entry's name or newName, image, or a repository with
// its registry.
func (w *fileEdit) namedBeside(m *yaml.Node) bool {
	for _, key := range []string{"name", "newName", "image"} {
		if v, ok := scalar(yamledit.Lookup(m, key)); ok {
			if r, err := parseImageRef(v); err == nil && w.matches(r.Name) {
				return true
			}
		}
	}
	if b := autoBlock(m); b != nil {
		full, ok := b.name("")
		return ok && w.matches(full)
	}
	return false
}

func isImagesEntry(m *yaml.Node) bool {
	return yamledit.Lookup(m, "name") != nil && (yamledit.Lookup(m, "newTag") != nil || yamledit.Lookup(m, "newName") != nil)
}

// findMarkers returns the scalars of root carrying a marker, in order.
func (w *fileEdit) findMarkers(root *yaml.Node) []marker {
	var ms []marker
	visit := func(n, parent *yaml.Node) {
		n = yamledit.Deref(n)
		if n.Kind != yaml.ScalarNode || !strings.Contains(n.LineComment, "$imagepolicy") {
			return
		}
		_, end, err := w.f.Span(n)
		if err != nil {
			return
		}
		rest := w.f.Source()[end:]
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			rest = rest[:i]
		}
		sm := markerRE.FindSubmatch(rest)
		if sm == nil {
			return
		}
		parts := strings.Split(string(sm[1]), ":")
		if len(parts) < 2 || len(parts) > 3 {
			return
		}
		m := marker{n: n, parent: parent, policy: parts[0] + ":" + parts[1]}
		if len(parts) == 3 {
			m.field = parts[2]
		}
		ms = append(ms, m)
	}
	seen := map[*yaml.Node]bool{}
	walk(root, func(n *yaml.Node) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				if c := yamledit.Deref(n.Content[i]); !seen[c] {
					seen[c] = true
					visit(c, n)
				}
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				if c = yamledit.Deref(c); !seen[c] {
					seen[c] = true
					visit(c, nil)
				}
			}
		case yaml.DocumentNode:
			for _, c := range n.Content {
				visit(c, nil)
			}
		}
	})
	return ms
}
