package bump

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// helmLayout is an image block of Helm values: repository with tag,
// digest and registry beside it. A block is the image's only when its
// whole name is: registry (or a non-empty global.imageRegistry, which the
// bitnami and kube-prometheus-stack templates put before every image in
// place of the block's own) joined to the repository, Docker Hub spellings
// taken as one. With the default helm-keys it finds such blocks in any
// mapping and image: holding a whole reference; with helm-keys given it
// reads those dotted paths from every mapping.
type helmLayout struct{}

func (helmLayout) strategy() string { return StrategyHelm }

// helmBlock is one image block's nodes; any but repo may be nil.
type helmBlock struct {
	repo, registry *yaml.Node
	tag, tagParent *yaml.Node
	tagKey         string
	digest         *yaml.Node
	digestKey      string
	digestHex      bool // the key holds the hex only, as kube-prometheus-stack's sha does
}

func (helmLayout) edit(w *fileEdit, root *yaml.Node) {
	global := globalRegistry(root)
	var ctrs map[*yaml.Node]bool
	if w.helmAuto {
		ctrs = map[*yaml.Node]bool{}
		walk(root, func(m *yaml.Node) {
			for _, c := range containers(m) {
				ctrs[c] = true
			}
		})
	}
	walk(root, func(m *yaml.Node) {
		if m.Kind != yaml.MappingNode {
			return
		}
		if w.helmAuto {
			if img := yamledit.Lookup(m, "image"); img != nil && img.Kind == yaml.ScalarNode && !ctrs[m] {
				w.setRef(img, StrategyHelm) // image: repo:tag; a container's is the manifest strategy's
			}
			w.helmSet(autoBlock(m), global)
			return
		}
		w.helmSet(w.keyedBlock(m), global)
	})
}

// autoBlock reads the block whose keys are m's own.
func autoBlock(m *yaml.Node) *helmBlock {
	b := &helmBlock{repo: yamledit.Lookup(m, "repository"), tagParent: m, tagKey: "tag", digestKey: "digest"}
	if b.repo == nil {
		return nil
	}
	b.registry = yamledit.Lookup(m, "registry")
	b.tag = yamledit.Lookup(m, "tag")
	b.digest = yamledit.Lookup(m, "digest")
	if b.digest == nil {
		if sha := yamledit.Lookup(m, "sha"); sha != nil {
			b.digest, b.digestKey, b.digestHex = sha, "sha", true
		}
	}
	return b
}

// keyedBlock reads the block helm-keys name below m.
func (w *fileEdit) keyedBlock(m *yaml.Node) *helmBlock {
	lookup := func(i int) (parent, val *yaml.Node) {
		if i >= len(w.HelmKeys) {
			return nil, nil
		}
		p := strings.Split(w.HelmKeys[i], ".")
		parent = m
		for _, k := range p[:len(p)-1] {
			parent = yamledit.Lookup(parent, k)
		}
		if parent == nil || parent.Kind != yaml.MappingNode {
			return nil, nil
		}
		return parent, yamledit.Lookup(parent, p[len(p)-1])
	}
	b := &helmBlock{}
	if _, b.repo = lookup(0); b.repo == nil {
		return nil
	}
	b.tagParent, b.tag = lookup(1)
	b.tagKey = w.HelmKeys[1][strings.LastIndexByte(w.HelmKeys[1], '.')+1:]
	_, b.digest = lookup(2)
	if len(w.HelmKeys) > 2 {
		b.digestKey = w.HelmKeys[2]
	}
	if len(w.HelmKeys) > 3 {
		_, b.registry = lookup(3)
	}
	return b
}

// globalRegistry is global.imageRegistry of a values document, or of the
// values of a HelmRelease.
func globalRegistry(root *yaml.Node) string {
	for _, vals := range []*yaml.Node{root, yamledit.Lookup(yamledit.Lookup(root, "spec"), "values")} {
		if v, ok := scalar(yamledit.Lookup(yamledit.Lookup(vals, "global"), "imageRegistry")); ok && v != "" {
			return v
		}
	}
	return ""
}

// name is the whole image name the block renders to, false when the
// repository is not a bare name.
func (b *helmBlock) name(global string) (string, bool) {
	repo, ok := scalar(b.repo)
	if !ok {
		return "", false
	}
	if r, err := parseImageRef(repo); err != nil || r.Tag != "" || r.Digest != "" {
		return "", false
	}
	reg, _ := scalar(b.registry)
	if global != "" {
		reg = global
	}
	if reg = strings.TrimSuffix(reg, "/"); reg != "" {
		return reg + "/" + repo, true
	}
	return repo, true
}

func (w *fileEdit) helmSet(b *helmBlock, global string) {
	if b == nil {
		return
	}
	full, ok := b.name(global)
	if !ok || !w.matches(full) || !w.found(b.repo) {
		return
	}
	oldTag, _ := scalar(b.tag)
	oldDig, _ := scalar(b.digest)
	if b.digestHex && oldDig != "" {
		oldDig = "sha256:" + oldDig
	}
	c, ok := w.begin(b.repo, StrategyHelm, oldTag, oldDig)
	if !ok {
		return
	}
	if w.Tag != "" {
		c.NewTag = w.Tag
		switch {
		case b.tag != nil:
			w.set(b.tag, w.Tag, c)
		case b.tagParent != nil:
			w.add(b.tagParent, b.tagKey, w.Tag, c)
		}
		if w.Digest == "" && oldDig != "" {
			// The old digest pinned the old image.
			c.NewDigest = ""
			w.set(b.digest, "", c)
		}
	}
	if w.Digest != "" {
		c.NewDigest = w.Digest
		switch {
		case b.digest != nil && b.digestHex:
			w.set(b.digest, strings.TrimPrefix(w.Digest, "sha256:"), c)
		case b.digest != nil:
			w.set(b.digest, w.Digest, c)
		default:
			// Not every chart reads a digest: adding one could mislead.
			key := b.digestKey
			if key == "" {
				key = "digest"
			}
			w.res.Skips = append(w.res.Skips, Skip{File: w.file, Line: b.repo.Line,
				Reason: fmt.Sprintf("helm: no %q key to hold the digest", key)})
		}
	}
}
