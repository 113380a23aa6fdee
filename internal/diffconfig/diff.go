package diffconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"gopkg.in/yaml.v3"
)

// resKey names a resource: a renamed one is another resource.
type resKey struct {
	Group, Kind, Namespace, Name string
}

func keyOf(obj map[string]any) resKey {
	group, _, ok := strings.Cut(str(obj, "apiVersion"), "/")
	if !ok {
		group = ""
	}
	return resKey{Group: group, Kind: str(obj, "kind"), Namespace: str(obj, "metadata", "namespace"), Name: str(obj, "metadata", "name")}
}

func (k resKey) String() string {
	s := k.Kind
	if k.Group != "" {
		s += "." + k.Group
	}
	s += " "
	if k.Namespace != "" {
		s += k.Namespace + "/"
	}
	return s + k.Name
}

// Change kinds.
const (
	changeAdded   = "added"
	changeRemoved = "removed"
	changeChanged = "changed"
)

// change is one resource that differs between base and head.
type change struct {
	Resource string `json:"resource"`
	Change   string `json:"change"`
	// Diff is the unified diff of the object's YAML, ignored fields
	// dropped and Secret values hidden.
	Diff string `json:"diff"`
	// SecretKeys are the Secret keys whose values changed.
	SecretKeys []string `json:"secretValuesChanged,omitempty"`
	key        resKey
}

// imageChange is an image reference a container changed.
type imageChange struct {
	Unit     string `json:"unit"`
	Resource string `json:"resource"`
	Old      string `json:"old"`
	New      string `json:"new"`
}

// unitDiff is what changed in one unit.
type unitDiff struct {
	unit
	Added   int           `json:"added"`
	Removed int           `json:"removed"`
	Changed int           `json:"changed"`
	Changes []change      `json:"changes"`
	Images  []imageChange `json:"images,omitempty"`
	// Error is a render failure at head (or at base, with head shown whole).
	Error string `json:"error,omitempty"`
}

func (d *unitDiff) total() int { return d.Added + d.Removed + d.Changed }

// normalizer prepares objects for comparison.
type normalizer struct{ ignore []fieldPath }

// text is obj's YAML with keys sorted, ignored fields dropped and Secret
// values replaced by a hash prefix; obj is not changed.
func (n normalizer) text(obj map[string]any) (string, map[string]string) {
	c := deepCopy(obj).(map[string]any)
	for _, p := range n.ignore {
		p.drop(c)
	}
	meta, _ := c["metadata"].(map[string]any)
	for _, k := range []string{"annotations", "labels"} {
		if m, ok := meta[k].(map[string]any); ok && len(m) == 0 {
			delete(meta, k)
		}
	}
	var hashes map[string]string
	if str(c, "kind") == "Secret" && !strings.Contains(str(c, "apiVersion"), "/") {
		hashes = hideSecret(c)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return fmt.Sprintf("# cannot encode: %v\n", err), hashes
	}
	enc.Close()
	return buf.String(), hashes
}

// hideSecret replaces every data and stringData value by a hash prefix
// of the decoded value, and returns them by key. The applied
// configuration annotation would hold the values too: it always goes.
func hideSecret(c map[string]any) map[string]string {
	if meta, ok := c["metadata"].(map[string]any); ok {
		if a, ok := meta["annotations"].(map[string]any); ok {
			delete(a, "kubectl.kubernetes.io/last-applied-configuration")
			if len(a) == 0 {
				delete(meta, "annotations")
			}
		}
	}
	hashes := map[string]string{}
	for _, field := range []string{"data", "stringData"} {
		m, ok := c[field].(map[string]any)
		if !ok {
			if _, present := c[field]; present {
				c[field] = "(hidden)"
			}
			continue
		}
		for k, v := range m {
			s := fmt.Sprint(v)
			raw := []byte(s)
			if field == "data" {
				if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err == nil {
					raw = dec
				}
			}
			sum := sha256.Sum256(raw)
			h := "sha256:" + hex.EncodeToString(sum[:4])
			hashes[field+"."+k] = h
			m[k] = "(value hidden, " + h + ")"
		}
	}
	return hashes
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, c := range t {
			out[k] = deepCopy(c)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = deepCopy(c)
		}
		return out
	}
	return v
}

type side struct {
	text   string
	hashes map[string]string
	obj    map[string]any
}

func (n normalizer) index(objs []map[string]any) map[resKey]side {
	out := make(map[resKey]side, len(objs))
	for _, o := range objs {
		t, h := n.text(o)
		out[keyOf(o)] = side{text: t, hashes: h, obj: o}
	}
	return out
}

// diffUnit compares the objects of a unit at base and head.
func (n normalizer) diffUnit(u unit, base, head []map[string]any, maxLines int) *unitDiff {
	d := &unitDiff{unit: u}
	b, h := n.index(base), n.index(head)
	keys := slices.Collect(maps.Keys(b))
	for k := range h {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y resKey) int { return strings.Compare(x.sortKey(), y.sortKey()) })
	for _, k := range keys {
		bs, inBase := b[k]
		hs, inHead := h[k]
		c := change{Resource: k.String(), key: k}
		switch {
		case !inBase:
			c.Change, c.Diff = changeAdded, unified("", hs.text, maxLines)
			d.Added++
		case !inHead:
			c.Change, c.Diff = changeRemoved, unified(bs.text, "", maxLines)
			d.Removed++
		case bs.text == hs.text:
			continue
		default:
			c.Change, c.Diff = changeChanged, unified(bs.text, hs.text, maxLines)
			for key, hash := range hs.hashes {
				if bs.hashes[key] != hash {
					c.SecretKeys = append(c.SecretKeys, key)
				}
			}
			for key := range bs.hashes {
				if _, ok := hs.hashes[key]; !ok {
					c.SecretKeys = append(c.SecretKeys, key)
				}
			}
			slices.Sort(c.SecretKeys)
			d.Changed++
			d.Images = append(d.Images, imagesChanged(u.Name, k, bs.obj, hs.obj)...)
		}
		d.Changes = append(d.Changes, c)
	}
	return d
}

func (k resKey) sortKey() string {
	return k.Namespace + "\x00" + k.Kind + "\x00" + k.Name + "\x00" + k.Group
}

// unified is the unified diff of two YAML texts, at most maxLines lines
// of it and a line saying how many more there are.
func unified(a, b string, maxLines int) string {
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b),
		FromFile: "base", ToFile: "head", Context: 3,
	})
	if a == "" {
		text, err = prefixed("+", b), nil
	}
	if b == "" {
		text, err = prefixed("-", a), nil
	}
	if err != nil {
		return fmt.Sprintf("(no diff: %v)\n", err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) > maxLines {
		more := len(lines) - maxLines
		text = strings.Join(lines[:maxLines], "")
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		text += fmt.Sprintf("… %d more line(s) (max-diff-lines)\n", more)
	}
	return strings.TrimRight(text, "\n ") + "\n"
}

func prefixed(p, text string) string {
	var buf bytes.Buffer
	for _, l := range strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n") {
		buf.WriteString(p + l)
	}
	return buf.String()
}

// imagesChanged compares the images of each container of one resource.
func imagesChanged(unitName string, k resKey, base, head map[string]any) []imageChange {
	bi, hi := containerImages(base), containerImages(head)
	var out []imageChange
	for _, name := range slices.Sorted(maps.Keys(hi)) {
		if old, ok := bi[name]; ok && old != hi[name] {
			out = append(out, imageChange{Unit: unitName, Resource: k.String(), Old: old, New: hi[name]})
		}
	}
	return out
}

// containerImages maps every container below obj (any pod template,
// cron jobs' included) by its path and name to its image.
func containerImages(obj any) map[string]string {
	out := map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, c := range t {
				if k == "containers" || k == "initContainers" || k == "ephemeralContainers" {
					for _, e := range asList(c) {
						if img := str(e, "image"); img != "" {
							out[path+"/"+k+"/"+str(e, "name")] = img
						}
					}
					continue
				}
				walk(path+"/"+k, c)
			}
		case []any:
			for i, c := range t {
				walk(fmt.Sprintf("%s/%d", path, i), c)
			}
		}
	}
	walk("", obj)
	return out
}
