package bump

import (
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// argocdLayout is the overrides Argo CD itself applies to a source: an
// Application's spec.source and spec.sources[], an ApplicationSet's
// spec.template.spec ones, and argocd-image-updater's write-back file
// .argocd-source-<app>.yaml, which holds one source's overrides at its top
// level. It edits kustomize.images strings and helm.parameters; helm.values
// written as a YAML string is argocdValues' (argocdvalues.go), and
// helm.valuesObject is an ordinary mapping the helm layout reads.
type argocdLayout struct{}

func (argocdLayout) strategy() string { return StrategyArgoCD }

func (argocdLayout) edit(w *fileEdit, root *yaml.Node) {
	for _, src := range argocdSources(w.file, root) {
		w.argocdImages(yamledit.Lookup(yamledit.Lookup(src, "kustomize"), "images"))
		helm := yamledit.Lookup(src, "helm")
		w.argocdParameters(yamledit.Lookup(helm, "parameters"))
		w.argocdValues(helm)
	}
}

// isArgocdSourceFile reports whether file is an argocd-image-updater
// write-back file, which Argo CD merges into the source at its directory.
func isArgocdSourceFile(file string) bool {
	return strings.HasPrefix(path.Base(file), ".argocd-source")
}

// argocdSources returns the source mappings of root.
func argocdSources(file string, root *yaml.Node) []*yaml.Node {
	if isArgocdSourceFile(file) {
		return []*yaml.Node{root}
	}
	api, _ := scalar(yamledit.Lookup(root, "apiVersion"))
	kind, _ := scalar(yamledit.Lookup(root, "kind"))
	if !strings.HasPrefix(api, "argoproj.io/") {
		return nil
	}
	spec := yamledit.Lookup(root, "spec")
	switch kind {
	case "Application":
	case "ApplicationSet":
		spec = yamledit.Lookup(yamledit.Lookup(spec, "template"), "spec")
	default:
		return nil
	}
	var out []*yaml.Node
	if s := yamledit.Lookup(spec, "source"); s != nil && s.Kind == yaml.MappingNode {
		out = append(out, s)
	}
	if ss := yamledit.Lookup(spec, "sources"); ss != nil && ss.Kind == yaml.SequenceNode {
		for _, s := range ss.Content {
			if s = yamledit.Deref(s); s.Kind == yaml.MappingNode {
				out = append(out, s)
			}
		}
	}
	return out
}

// argocdImages edits kustomize.images, strings in the form of `kustomize
// edit set image`: [name=]newName[:tag][@digest]. An entry is the image's
// when the name it replaces or the name it sets is.
func (w *fileEdit) argocdImages(images *yaml.Node) {
	if images == nil || images.Kind != yaml.SequenceNode {
		return
	}
	for _, n := range images.Content {
		n = yamledit.Deref(n)
		v, ok := scalar(n)
		if !ok {
			continue
		}
		prefix, spec := "", v
		if old, rest, found := strings.Cut(v, "="); found {
			prefix, spec = old+"=", rest
		}
		r, err := parseImageRef(spec)
		named := err == nil && w.matches(r.Name)
		if !named && !(prefix != "" && w.matches(strings.TrimSuffix(prefix, "="))) {
			continue
		}
		if err != nil {
			w.fail(n, fmt.Errorf("argocd: kustomize image %q replaces the image with %q, which is not supported: %w", v, spec, err))
			continue
		}
		if !w.found(n) {
			continue
		}
		w.ref(n, StrategyArgoCD, r.Tag, r.Digest)
		if w.downgrade(n, StrategyArgoCD, r.Tag) {
			continue
		}
		nr := w.bumped(r)
		w.set(n, prefix+nr.String(), Change{Strategy: StrategyArgoCD, OldTag: r.Tag, NewTag: nr.Tag, OldDigest: r.Digest, NewDigest: nr.Digest})
	}
}

// bumped is r with the new tag and digest; a new tag alone drops the old
// digest, which pinned the old image.
func (w *fileEdit) bumped(r imageRef) imageRef {
	if w.Tag != "" {
		r.Tag, r.Digest = w.Tag, ""
	}
	if w.Digest != "" {
		r.Digest = w.Digest
	}
	return r
}

// argocdParameters edits helm.parameters, a list of {name, value} that
// Argo CD passes as --set: the parameters named like a Helm image block's
// keys (image.repository, image.tag, image.digest, image.registry, and
// argocd-image-updater's image.name), found the way the helm layout finds
// them, and a parameter holding a whole reference (image-updater's
// helm spec form).
func (w *fileEdit) argocdParameters(params *yaml.Node) {
	if params == nil || params.Kind != yaml.SequenceNode {
		return
	}
	values := map[string]*yaml.Node{} // parameter name -> its value
	var names []string
	for _, ent := range params.Content {
		name, ok := scalar(yamledit.Lookup(ent, "name"))
		if !ok {
			continue
		}
		if _, dup := values[name]; !dup {
			names = append(names, name)
		}
		values[name] = yamledit.Lookup(ent, "value") // --set: the last one wins
	}
	global, _ := scalar(values["global.imageRegistry"])
	before, refsBefore := len(w.res.Changes), len(w.res.Refs)
	for _, name := range names {
		blocks := w.parameterBlocks(name, values)
		for _, b := range blocks {
			full, ok := b.name(global)
			if !ok || !w.matches(full) {
				continue
			}
			if b.tag == nil && w.Tag != "" && !w.seen[b.repo] {
				w.fail(b.repo, fmt.Errorf("argocd: helm parameter %q names the image but there is no %q parameter with a value to set the tag in; add one", name, b.tagKey))
				return
			}
			w.helmSet(b, global)
		}
		v := values[name]
		if v != nil && v.Kind == yaml.ScalarNode && strings.ContainsAny(v.Value, ":@") {
			w.setRef(v, StrategyArgoCD)
		}
		if v != nil && len(blocks) == 0 && !w.seen[v] && w.matches(v.Value) {
			why := "not as <prefix>.repository or <prefix>.name with <prefix>.tag beside it; left alone (helm-keys names other parameters)"
			if !w.helmAuto {
				why = fmt.Sprintf("but helm-keys name %q; left alone", w.HelmKeys[0])
			}
			w.res.Skips = append(w.res.Skips, Skip{File: w.file, Line: v.Line,
				Reason: fmt.Sprintf("argocd: helm parameter %q names the image, %s", name, why)})
		}
	}
	for i := before; i < len(w.res.Changes); i++ {
		w.res.Changes[i].Strategy = StrategyArgoCD
	}
	// A block with no tag and no digest renders the chart's default tag,
	// which this file does not name; recorded as found, it is no reference.
	refs := w.res.Refs[:refsBefore]
	for _, r := range w.res.Refs[refsBefore:] {
		if r.Tag != "" || r.Digest != "" {
			r.Strategy = StrategyArgoCD
			refs = append(refs, r)
		}
	}
	w.res.Refs = refs
}

// parameterBlocks returns the image blocks whose repository parameter is
// name: with helm-keys given, theirs; else any parameter ending in
// repository or name with tag, digest and registry beside it.
func (w *fileEdit) parameterBlocks(name string, values map[string]*yaml.Node) []*helmBlock {
	block := func(repo, tag, digest, registry string) *helmBlock {
		return &helmBlock{repo: values[repo], tag: values[tag], tagKey: tag, digest: values[digest], digestKey: digest, registry: values[registry]}
	}
	if !w.helmAuto {
		k := append(append([]string{}, w.HelmKeys...), "", "")
		if name != k[0] || values[name] == nil {
			return nil
		}
		return []*helmBlock{block(k[0], k[1], k[2], k[3])}
	}
	if values[name] == nil {
		return nil
	}
	for _, key := range []string{"repository", "name"} {
		if prefix, ok := strings.CutSuffix(name, key); ok && (prefix == "" || strings.HasSuffix(prefix, ".")) {
			return []*helmBlock{block(name, prefix+"tag", prefix+"digest", prefix+"registry")}
		}
	}
	return nil
}
