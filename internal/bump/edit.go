package bump

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// Strategies, as the strategy input names them.
const (
	StrategyAuto      = "auto"
	StrategyKustomize = "kustomize"
	StrategyHelm      = "helm"
	StrategyManifest  = "manifest"
	StrategyMarker    = "marker"
)

// Editor finds one image in YAML files and sets its tag and digest.
type Editor struct {
	Image       string   // repository as given, e.g. ghcr.io/acme/api
	Tag, Digest string   // new values; an empty one is left alone
	Strategy    string   // one of the Strategy constants
	HelmKeys    []string // repository, tag[, digest] dotted paths
	NoDowngrade bool

	repo string // normalized Image
}

// Change is one scalar set to a new value.
type Change struct {
	Op        string `json:"op"` // set, add (a key) or remove (a key)
	File      string `json:"file"`
	Line      int    `json:"line"`
	Strategy  string `json:"strategy"`
	Old       string `json:"old"`
	New       string `json:"new"`
	OldTag    string `json:"oldTag,omitempty"`
	NewTag    string `json:"newTag,omitempty"`
	OldDigest string `json:"oldDigest,omitempty"`
	NewDigest string `json:"newDigest,omitempty"`
}

// Skip is an occurrence left alone on purpose.
type Skip struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Result of editing one file.
type Result struct {
	Out     []byte // the new text; the input when nothing changed
	Found   int    // occurrences of the image, changed or not
	Changes []Change
	Skips   []Skip
	Refs    []Ref // what each occurrence held before the edit
}

// Ref is the tag and digest one occurrence of the image held, as found;
// promotion reads them from one path to write them into others.
type Ref struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Strategy string `json:"strategy"`
	Tag      string `json:"tag,omitempty"`
	Digest   string `json:"digest,omitempty"`
}

// FileError is a target file the editor cannot handle, with its line.
type FileError struct {
	File string
	Line int
	Err  error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// NewEditor checks the target and prepares matching.
func NewEditor(e Editor) (*Editor, error) {
	repo, ok := repoKey(e.Image)
	if !ok {
		return nil, fmt.Errorf("image %q is not a valid repository name", e.Image)
	}
	e.repo = repo
	if e.Strategy == "" {
		e.Strategy = StrategyAuto
	}
	if len(e.HelmKeys) == 0 {
		e.HelmKeys = []string{"image.repository", "image.tag", "image.digest"}
	}
	return &e, nil
}

var markerRE = regexp.MustCompile(`^\s*#\s*\{\s*"\$imagepolicy"\s*:\s*"([^"]+)"\s*\}`)

// Candidate reports whether a file may hold the image, to skip parsing the
// many that cannot.
func (e *Editor) Candidate(src []byte) bool {
	if bytes.Contains(src, []byte("$imagepolicy")) {
		return true
	}
	// The last path element as a whole name: "api" in ghcr.io/acme/api:1
	// or "api" quoted, but not in apiVersion or api-worker.
	word := []byte(lastElem(e.repo))
	for i := 0; ; {
		j := bytes.Index(src[i:], word)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		before := start == 0 || bytes.IndexByte([]byte("/ \t\n\"':[{,"), src[start-1]) >= 0
		after := end == len(src) || !isNameByte(src[end])
		if before && after {
			return true
		}
		i = start + 1
	}
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// Edit finds the image in one file and sets it.
func (e *Editor) Edit(file string, src []byte) (*Result, error) {
	res := &Result{Out: src}
	f, err := yamledit.Parse(src)
	if err != nil {
		var se *yamledit.SyntaxError
		if errors.As(err, &se) {
			return nil, &FileError{File: file, Line: se.Line, Err: err}
		}
		return nil, &FileError{File: file, Err: err}
	}
	w := &fileEdit{Editor: e, f: f, file: file, res: res, seen: map[*yaml.Node]bool{}}
	for _, d := range f.Docs {
		if len(d.Content) == 0 {
			continue
		}
		root := d.Content[0]
		if e.use(StrategyKustomize) && isKustomization(file, root) {
			w.kustomize(root)
		}
		if e.use(StrategyHelm) {
			w.helm(root)
		}
		if e.use(StrategyManifest) {
			w.manifest(root)
		}
		if e.use(StrategyMarker) {
			w.markers(root)
		}
	}
	if w.err != nil {
		return nil, w.err
	}
	out, err := f.Bytes()
	if err != nil {
		return nil, &FileError{File: file, Err: err}
	}
	res.Out = out
	return res, nil
}

func (e *Editor) use(s string) bool { return e.Strategy == StrategyAuto || e.Strategy == s }

// fileEdit is the state of editing one file.
type fileEdit struct {
	*Editor
	f    *yamledit.File
	file string
	res  *Result
	seen map[*yaml.Node]bool // scalars already matched, so strategies do not count one twice
	err  error
}

func (w *fileEdit) fail(n *yaml.Node, err error) {
	if w.err == nil {
		w.err = &FileError{File: w.file, Line: n.Line, Err: err}
	}
}

// downgrade reports whether moving from old to the new tag lowers a semver.
func (w *fileEdit) downgrade(n *yaml.Node, strategy, old string) bool {
	if !w.NoDowngrade || w.Tag == "" || old == "" {
		return false
	}
	ov, err1 := semver.NewVersion(old)
	nv, err2 := semver.NewVersion(w.Tag)
	if err1 != nil || err2 != nil || !ov.GreaterThan(nv) {
		return false
	}
	w.res.Skips = append(w.res.Skips, Skip{File: w.file, Line: n.Line,
		Reason: fmt.Sprintf("%s: tag %q is higher than %q (no-downgrade)", strategy, old, w.Tag)})
	return true
}

// set changes one scalar and records the change.
func (w *fileEdit) set(n *yaml.Node, value string, c Change) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Value == value {
		return
	}
	c.Op, c.File, c.Line, c.Old, c.New = "set", w.file, n.Line, n.Value, value
	if err := w.f.Set(n, value); err != nil {
		w.fail(n, err)
		return
	}
	w.res.Changes = append(w.res.Changes, c)
}

// found counts an occurrence once, whichever strategies find it.
func (w *fileEdit) found(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if w.seen[n] {
		return false
	}
	w.seen[n] = true
	w.res.Found++
	return true
}

// begin records the occurrence at n, holding tag and digest, and returns
// the change a bump starts from; false when no-downgrade skips it.
func (w *fileEdit) begin(n *yaml.Node, strategy, tag, digest string) (Change, bool) {
	w.ref(n, strategy, tag, digest)
	if w.downgrade(n, strategy, tag) {
		return Change{}, false
	}
	return Change{Strategy: strategy, OldTag: tag, NewTag: tag, OldDigest: digest, NewDigest: digest}, true
}

// ref records what an occurrence held.
func (w *fileEdit) ref(n *yaml.Node, strategy, tag, digest string) {
	w.res.Refs = append(w.res.Refs, Ref{File: w.file, Line: n.Line, Strategy: strategy, Tag: tag, Digest: digest})
}

func (w *fileEdit) matches(s string) bool {
	k, ok := repoKey(s)
	return ok && k == w.repo
}

// setRef sets a scalar holding a whole reference, keeping the name as written.
func (w *fileEdit) setRef(n *yaml.Node, strategy string) {
	r, err := parseImageRef(n.Value)
	if err != nil || !w.matches(r.Name) || !w.found(n) {
		return
	}
	w.ref(n, strategy, r.Tag, r.Digest)
	if w.downgrade(n, strategy, r.Tag) {
		return
	}
	nr := r
	if w.Tag != "" {
		nr.Tag = w.Tag
		nr.Digest = "" // the old digest pinned the old tag
	}
	if w.Digest != "" {
		nr.Digest = w.Digest
	}
	w.set(n, nr.String(), Change{Strategy: strategy, OldTag: r.Tag, NewTag: nr.Tag, OldDigest: r.Digest, NewDigest: nr.Digest})
}

func scalar(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Value, true
}

// walk visits every node once, aliases resolved.
func walk(n *yaml.Node, visit func(*yaml.Node)) {
	seen := map[*yaml.Node]bool{}
	var rec func(*yaml.Node)
	rec = func(n *yaml.Node) {
		n = yamledit.Deref(n)
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		visit(n)
		for _, c := range n.Content {
			rec(c)
		}
	}
	rec(n)
}

func isKustomization(file string, root *yaml.Node) bool {
	switch path.Base(file) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	k, _ := scalar(yamledit.Lookup(root, "kind"))
	return k == "Kustomization" || k == "Component"
}

// kustomize sets newTag and digest of matching images: entries.
func (w *fileEdit) kustomize(root *yaml.Node) {
	images := yamledit.Lookup(root, "images")
	if images == nil || images.Kind != yaml.SequenceNode {
		return
	}
	for _, ent := range images.Content {
		ent = yamledit.Deref(ent)
		nameN := yamledit.Lookup(ent, "name")
		target := nameN
		if nn := yamledit.Lookup(ent, "newName"); nn != nil {
			target = nn
		}
		v, ok := scalar(target)
		if !ok || !w.matches(v) || !w.found(ent) {
			continue
		}
		tagN, digN := yamledit.Lookup(ent, "newTag"), yamledit.Lookup(ent, "digest")
		oldTag, _ := scalar(tagN)
		oldDig, _ := scalar(digN)
		c, ok := w.begin(ent, StrategyKustomize, oldTag, oldDig)
		if !ok {
			continue
		}
		if w.Tag != "" {
			c.NewTag = w.Tag
			if tagN != nil {
				w.set(tagN, w.Tag, c)
			} else {
				w.add(ent, "newTag", w.Tag, c)
			}
			if w.Digest == "" && digN != nil {
				// kustomize prefers the digest: a stale one would pin the old image.
				c.NewDigest = ""
				w.del(ent, "digest", c)
			}
		}
		if w.Digest != "" {
			c.NewDigest = w.Digest
			if digN != nil {
				w.set(digN, w.Digest, c)
			} else {
				w.add(ent, "digest", w.Digest, c)
			}
		}
	}
}

func (w *fileEdit) add(m *yaml.Node, key, value string, c Change) {
	if err := w.f.SetPair(m, key, value); err != nil {
		w.fail(m, err)
		return
	}
	c.Op, c.File, c.Line, c.New = "add", w.file, m.Line, key+": "+value
	w.res.Changes = append(w.res.Changes, c)
}

func (w *fileEdit) del(m *yaml.Node, key string, c Change) {
	old := yamledit.Lookup(m, key)
	if err := w.f.DeletePair(m, key); err != nil {
		w.fail(m, err)
		return
	}
	c.Op, c.File, c.Line, c.Old = "remove", w.file, old.Line, key+": "+old.Value
	w.res.Changes = append(w.res.Changes, c)
}

// helm sets the tag and digest keys next to every repository key that
// names the image.
func (w *fileEdit) helm(root *yaml.Node) {
	keys := make([][]string, len(w.HelmKeys))
	for i, k := range w.HelmKeys {
		keys[i] = strings.Split(k, ".")
	}
	lookup := func(m *yaml.Node, p []string) (parent, val *yaml.Node) {
		parent = yamledit.Deref(m)
		for _, k := range p[:len(p)-1] {
			parent = yamledit.Lookup(parent, k)
		}
		if parent == nil || parent.Kind != yaml.MappingNode {
			return nil, nil
		}
		return parent, yamledit.Lookup(parent, p[len(p)-1])
	}
	walk(root, func(m *yaml.Node) {
		if m.Kind != yaml.MappingNode {
			return
		}
		_, repoN := lookup(m, keys[0])
		v, ok := scalar(repoN)
		if !ok {
			return
		}
		// Repository keys hold a bare name.
		if r, err := parseImageRef(v); err != nil || r.Tag != "" || r.Digest != "" || !w.matches(v) || !w.found(repoN) {
			return
		}
		tagParent, tagN := lookup(m, keys[1])
		var digN *yaml.Node
		if len(keys) > 2 {
			_, digN = lookup(m, keys[2])
		}
		oldTag, _ := scalar(tagN)
		oldDig, _ := scalar(digN)
		c, ok := w.begin(repoN, StrategyHelm, oldTag, oldDig)
		if !ok {
			return
		}
		if w.Tag != "" {
			c.NewTag = w.Tag
			switch {
			case tagN != nil:
				w.set(tagN, w.Tag, c)
			case tagParent != nil:
				w.add(tagParent, keys[1][len(keys[1])-1], w.Tag, c)
			}
			if w.Digest == "" && oldDig != "" {
				c.NewDigest = ""
				w.set(digN, "", c)
			}
		}
		if w.Digest != "" {
			c.NewDigest = w.Digest
			if digN != nil {
				w.set(digN, w.Digest, c)
			} else {
				// Not every chart reads a digest: adding one could mislead.
				w.res.Skips = append(w.res.Skips, Skip{File: w.file, Line: repoN.Line,
					Reason: fmt.Sprintf("helm: no %q key to hold the digest", w.HelmKeys[len(w.HelmKeys)-1])})
			}
		}
	})
}

// manifest sets image: of every container list in any workload.
func (w *fileEdit) manifest(root *yaml.Node) {
	walk(root, func(m *yaml.Node) {
		if m.Kind != yaml.MappingNode {
			return
		}
		for _, key := range []string{"containers", "initContainers", "ephemeralContainers"} {
			list := yamledit.Lookup(m, key)
			if list == nil || list.Kind != yaml.SequenceNode {
				continue
			}
			for _, ctr := range list.Content {
				if img := yamledit.Lookup(ctr, "image"); img != nil && img.Kind == yaml.ScalarNode {
					w.setRef(img, StrategyManifest)
				}
			}
		}
	})
}

// marker is a Flux setter comment on a scalar.
type marker struct {
	n      *yaml.Node
	policy string // ns:name
	field  string // "", tag, digest or name
}

// markers sets scalars carrying Flux `# {"$imagepolicy": "ns:name[:field]"}`
// comments. A policy is this image's when one of its whole-reference or
// :name markers in the file names the image, or, failing that, when the
// policy's name is the image's last path element.
func (w *fileEdit) markers(root *yaml.Node) {
	var ms []marker
	walk(root, func(n *yaml.Node) {
		if n.Kind != yaml.ScalarNode || !strings.Contains(n.LineComment, "$imagepolicy") {
			return
		}
		_, end, err := w.f.Span(n)
		if err != nil {
			return
		}
		src := w.f.Source()
		rest := src[end:]
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
		m := marker{n: n, policy: parts[0] + ":" + parts[1]}
		if len(parts) == 3 {
			m.field = parts[2]
		}
		ms = append(ms, m)
	})
	ours := map[string]bool{}
	for _, m := range ms {
		switch m.field {
		case "":
			if r, err := parseImageRef(m.n.Value); err == nil && w.matches(r.Name) {
				ours[m.policy] = true
			}
		case "name":
			if w.matches(m.n.Value) {
				ours[m.policy] = true
			}
		}
	}
	for _, m := range ms {
		if !ours[m.policy] && m.policy[strings.IndexByte(m.policy, ':')+1:] != lastElem(w.repo) {
			continue
		}
		switch m.field {
		case "":
			w.setRef(m.n, StrategyMarker)
		case "tag":
			if !w.found(m.n) {
				continue
			}
			w.ref(m.n, StrategyMarker, m.n.Value, "")
			if w.Tag == "" || w.downgrade(m.n, StrategyMarker, m.n.Value) {
				continue
			}
			w.set(m.n, w.Tag, Change{Strategy: StrategyMarker, OldTag: m.n.Value, NewTag: w.Tag})
		case "digest":
			if !w.found(m.n) {
				continue
			}
			w.ref(m.n, StrategyMarker, "", m.n.Value)
			if w.Digest == "" {
				continue
			}
			w.set(m.n, w.Digest, Change{Strategy: StrategyMarker, OldDigest: m.n.Value, NewDigest: w.Digest})
		case "name":
			w.found(m.n)
		}
	}
}
