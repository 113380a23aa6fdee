package bump

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// kustomizeAdd is the Editor's KustomizeAdd for the inputs: paths when
// kustomize-add is on.
func kustomizeAdd(cfg Config) []string {
	if !cfg.KustomizeAdd {
		return nil
	}
	return cfg.Paths
}

// kustomizeAddHint tells, in the not-found message, how an overlay
// without an images: entry gets one.
func kustomizeAddHint(cfg Config) string {
	if cfg.KustomizeAdd || cfg.Strategy != StrategyAuto && cfg.Strategy != StrategyKustomize {
		return ""
	}
	return ", or kustomize-add: true to add an images: entry to the kustomizations paths name"
}

// addsTo reports whether the kustomize-add input lets file get an images:
// entry: a kustomization that paths name themselves, as a file or as the
// directory holding it. One found deeper (a base under an overlay) is
// left alone, since which of several kustomizations renders the image is
// not known without building them.
func (e *Editor) addsTo(file string) bool {
	switch path.Base(file) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
	default:
		return false
	}
	dir := path.Dir(file)
	for _, p := range e.KustomizeAdd {
		p = path.Clean(strings.TrimPrefix(p, "./"))
		if strings.ContainsAny(p, "*?[{") {
			if ok, _ := doublestar.Match(p, file); ok {
				return true
			}
			if ok, _ := doublestar.Match(p, dir); ok {
				return true
			}
			continue
		}
		if file == p || dir == p {
			return true
		}
	}
	return false
}

// wantsAdd reports whether root, the document of a kustomization file
// kustomize-add names, is a kustomize one (not a Flux Kustomization).
func wantsAdd(root *yaml.Node) bool {
	api, _ := scalar(yamledit.Lookup(root, "apiVersion"))
	return api == "" || strings.HasPrefix(api, "kustomize.config.k8s.io/")
}

// addKustomizeEntry appends to the kustomization out an images: entry
// for the image, as `kustomize edit set image name:tag@digest` does: to
// the end of its images: list, or as a new images: list at the end of the
// file, indented as the file's other lists are. The result is parsed
// again and must be the old tree plus that entry.
func (w *fileEdit) addKustomizeEntry(out []byte) ([]byte, error) {
	f, err := yamledit.Parse(out)
	if err != nil {
		return nil, err
	}
	if len(f.Docs) != 1 || len(f.Docs[0].Content) == 0 {
		return nil, fmt.Errorf("kustomize-add: want one YAML document, got %d", len(f.Docs))
	}
	root := f.Docs[0].Content[0]
	if root.Kind != yaml.MappingNode || root.Style&yaml.FlowStyle != 0 || root.Column != 1 {
		return nil, fmt.Errorf("kustomize-add: the kustomization is not a block mapping; add the images: entry by hand")
	}
	eol := "\n"
	if bytes.Contains(out, []byte("\r\n")) {
		eol = "\r\n"
	}
	images := yamledit.Lookup(root, "images")
	var at int
	var dash string
	var head []string
	switch {
	case images == nil:
		at = len(out)
		dash = listIndent(out, root)
		head = []string{"images:"}
	case images.Kind == yaml.SequenceNode && images.Style&yaml.FlowStyle == 0 && len(images.Content) > 0:
		at = len(out)
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i+1] == images && i+2 < len(root.Content) {
				at = lineOffset(out, root.Content[i+2].Line)
			}
		}
		dash = leading(out, images.Content[0].Line)
	default:
		return nil, fmt.Errorf("kustomize-add: images: at line %d is not a block list of entries; add the entry by hand", images.Line)
	}
	at = afterContent(out, at)
	entry := [][2]string{{"name", w.Image}}
	if w.Tag != "" {
		entry = append(entry, [2]string{"newTag", w.Tag})
	}
	if w.Digest != "" {
		entry = append(entry, [2]string{"digest", w.Digest})
	}
	lines := head
	for i, kv := range entry {
		prefix := dash + "  "
		if i == 0 {
			prefix = dash + "- "
		}
		lines = append(lines, prefix+kv[0]+": "+plainOrQuoted(kv[1]))
	}
	text := strings.Join(lines, eol) + eol
	first := bytes.Count(out[:at], []byte("\n")) + 1
	if at > 0 && out[at-1] != '\n' {
		text = eol + text
		first++
	}
	res := append(append(append([]byte{}, out[:at]...), text...), out[at:]...)

	// What the entry must add to the tree.
	want := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, kv := range entry {
		want.Content = append(want.Content, strNode(kv[0]), strNode(kv[1]))
	}
	if images == nil {
		root.Content = append(root.Content, strNode("images"), &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{want}})
	} else {
		images.Content = append(images.Content, want)
	}
	got, err := yamledit.Parse(res)
	if err != nil || len(got.Docs) != 1 {
		return nil, fmt.Errorf("kustomize-add: the file does not parse with the entry added; add it by hand")
	}
	if p := yamledit.Diff(f.Docs[0], got.Docs[0]); p != "" {
		return nil, fmt.Errorf("kustomize-add: the entry added would change %s; add it by hand", p)
	}
	c := Change{Op: "add", File: w.file, Strategy: StrategyKustomize, NewTag: w.Tag, NewDigest: w.Digest}
	for i, l := range lines {
		c.Line, c.New = first+i, strings.TrimSpace(l)
		w.res.Changes = append(w.res.Changes, c)
	}
	return res, nil
}

func strNode(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

// plainOrQuoted writes v plain when it reads back as the same string.
func plainOrQuoted(v string) string {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("k: "+v), &n); err == nil {
		if s := yamledit.Lookup(n.Content[0], "k"); s != nil && s.Kind == yaml.ScalarNode && s.ShortTag() == "!!str" && s.Value == v {
			return v
		}
	}
	return `"` + v + `"` // names, tags and digests hold no quote or backslash
}

// listIndent is the indent of the dash of the file's first block list
// below a top-level key (resources: often), so the new one looks alike.
func listIndent(src []byte, root *yaml.Node) string {
	for i := 1; i < len(root.Content); i += 2 {
		v := root.Content[i]
		if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
			return leading(src, v.Content[0].Line)
		}
	}
	return ""
}

// leading is the spaces that start line (1-based).
func leading(src []byte, line int) string {
	off := lineOffset(src, line)
	end := off
	for end < len(src) && src[end] == ' ' {
		end++
	}
	return string(src[off:end])
}

func lineOffset(src []byte, line int) int {
	off := 0
	for l := 1; l < line && off < len(src); l++ {
		i := bytes.IndexByte(src[off:], '\n')
		if i < 0 {
			return len(src)
		}
		off += i + 1
	}
	return off
}

// afterContent moves at, the start of a line or the end of src, back over
// blank and comment lines, which belong to what follows them.
func afterContent(src []byte, at int) int {
	for at > 0 {
		start := bytes.LastIndexByte(src[:at-1], '\n') + 1
		if at == len(src) && src[at-1] != '\n' {
			start = bytes.LastIndexByte(src[:at], '\n') + 1
		}
		t := bytes.TrimSpace(src[start:at])
		if len(t) > 0 && t[0] != '#' {
			return at
		}
		at = start
	}
	return at
}
