package bump

import (
	"bytes"
	"errors"
	"fmt"

	"slices"

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
	HelmKeys    []string // repository, tag[, digest[, registry]] dotted paths; empty or DefaultHelmKeys finds them
	NoDowngrade bool
	// KustomizeAdd are the paths whose own kustomizations get an images:
	// entry when none names the image (the kustomize-add input); nil: none.
	KustomizeAdd []string

	repo     string // normalized Image
	helmAuto bool   // HelmKeys are the default: find image blocks wherever they are
}

// DefaultHelmKeys is the helm-keys default; with it the helm strategy finds
// registry/repository/tag/digest siblings in any mapping, and image:
// holding a whole reference.
var DefaultHelmKeys = []string{"image.repository", "image.tag", "image.digest"}

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
	if len(e.HelmKeys) == 0 || slices.Equal(e.HelmKeys, DefaultHelmKeys) {
		e.HelmKeys, e.helmAuto = DefaultHelmKeys, true
	}
	return &e, nil
}

// Candidate reports whether a file may hold the image, to skip parsing the
// many that cannot.
func (e *Editor) Candidate(src []byte) bool {
	if len(e.KustomizeAdd) > 0 || bytes.Contains(src, []byte("$imagepolicy")) {
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
		for _, l := range layouts {
			if e.use(l.strategy()) {
				l.edit(w, d.Content[0])
			}
		}
	}
	if w.err != nil {
		return nil, w.err
	}
	out, err := f.Bytes()
	if err == nil && w.addEntry {
		if out, err = w.addKustomizeEntry(out); err == nil {
			res.Found++
		}
	}
	if err != nil {
		return nil, &FileError{File: file, Err: err}
	}
	res.Out = out
	return res, nil
}

// layout is one way a file holds an image, edited by one strategy; each
// lives in its own file, so a new layout is one new file and one entry in
// layouts.
type layout interface {
	strategy() string
	edit(w *fileEdit, root *yaml.Node) // root is one document's top node
}

// layouts in the order they run: the kustomize one before the markers, so
// a marker on an images: entry sees the entry as the kustomize one left it.
var layouts = []layout{kustomizeLayout{}, fluxKustomizationLayout{}, helmLayout{}, helmReleaseLayout{}, manifestLayout{}, argocdLayout{}, markerLayout{}}

func (e *Editor) use(s string) bool { return e.Strategy == StrategyAuto || e.Strategy == s }

// fileEdit is the state of editing one file.
type fileEdit struct {
	*Editor
	f    *yamledit.File
	file string
	res  *Result
	seen map[*yaml.Node]bool // scalars already matched, so strategies do not count one twice
	err  error

	addEntry bool // kustomize-add: append an images: entry once the other edits are made
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
