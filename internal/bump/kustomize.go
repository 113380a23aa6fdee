package bump

import (
	"path"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// kustomizeLayout is the images: list of a kustomization.yaml. An entry is
// the image's when its name (the image as the resources write it, which
// is what `kustomize edit set image` matches) or its newName (the image it
// becomes) names it. It sets newTag and digest.
type kustomizeLayout struct{}

func (kustomizeLayout) strategy() string { return StrategyKustomize }

func (kustomizeLayout) edit(w *fileEdit, root *yaml.Node) {
	if isKustomization(w.file, root) && !w.kustomize(root) && w.addsTo(w.file) && wantsAdd(root) {
		w.addEntry = true
	}
}

// kustomize edits the images: list of m, a kustomization or any mapping
// holding such a list (a Flux Kustomization's spec), and reports whether
// an entry names the image.
func (w *fileEdit) kustomize(m *yaml.Node) (named bool) {
	images := yamledit.Lookup(m, "images")
	if images == nil || images.Kind != yaml.SequenceNode {
		return false
	}
	for _, ent := range images.Content {
		ent = yamledit.Deref(ent)
		if !w.kustomizeEntryMatches(ent) {
			continue
		}
		named = true
		tagN, digN := yamledit.Lookup(ent, "newTag"), yamledit.Lookup(ent, "digest")
		if tagN == nil && yamledit.Lookup(ent, "tagSuffix") != nil {
			// The suffix is appended to the tag the resources hold: a
			// newTag added here would replace that tag for every overlay
			// using the entry, so the bump belongs where the tag is.
			w.res.Skips = append(w.res.Skips, Skip{File: w.file, Line: ent.Line,
				Reason: "kustomize: entry sets only tagSuffix, which applies to the tag the resources hold; no newTag or digest is added"})
			continue
		}
		if !w.found(ent) {
			continue
		}
		for _, n := range []*yaml.Node{tagN, digN, yamledit.Lookup(ent, "name"), yamledit.Lookup(ent, "newName")} {
			if n != nil {
				w.seen[yamledit.Deref(n)] = true // a marker on the entry's fields is this same occurrence
			}
		}
		oldTag, _ := scalar(tagN)
		oldDig, _ := scalar(digN)
		c, ok := w.begin(ent, StrategyKustomize, oldTag, oldDig)
		if !ok {
			continue
		}
		if w.Tag != "" {
			c.NewTag = w.Tag
			w.setOrAdd(ent, tagN, "newTag", w.Tag, c)
			if w.Digest == "" && digN != nil {
				// kustomize prefers the digest: a stale one would pin the old image.
				c.NewDigest = ""
				w.del(ent, "digest", c)
			}
		}
		if w.Digest != "" {
			c.NewDigest = w.Digest
			w.setOrAdd(ent, digN, "digest", w.Digest, c)
		}
	}
	return named
}

// setOrAdd sets n, the value of key in mapping m, or adds the key when n is nil.
func (w *fileEdit) setOrAdd(m, n *yaml.Node, key, value string, c Change) {
	if n != nil {
		w.set(n, value, c)
	} else {
		w.add(m, key, value, c)
	}
}

func (w *fileEdit) kustomizeEntryMatches(ent *yaml.Node) bool {
	for _, key := range []string{"name", "newName"} {
		if v, ok := scalar(yamledit.Lookup(ent, key)); ok && w.matches(v) {
			return true
		}
	}
	return false
}

func isKustomization(file string, root *yaml.Node) bool {
	switch path.Base(file) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	k, _ := scalar(yamledit.Lookup(root, "kind"))
	return k == "Kustomization" || k == "Component"
}
