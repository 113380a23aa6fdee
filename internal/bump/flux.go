package bump

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// fluxKustomizationLayout is a Flux Kustomization's spec.images: the
// kustomize images: entries kustomize-controller applies when it builds
// the path, so the kustomize strategy edits them.
type fluxKustomizationLayout struct{}

func (fluxKustomizationLayout) strategy() string { return StrategyKustomize }

func (fluxKustomizationLayout) edit(w *fileEdit, root *yaml.Node) {
	spec := fluxSpec(root, "kustomize.toolkit.fluxcd.io/", "Kustomization")
	if spec == nil {
		return
	}
	before := len(w.res.Refs)
	w.kustomize(spec)
	for i := before; i < len(w.res.Refs); i++ {
		w.res.Refs[i].Strategy = StrategyFlux // as References names the field
	}
}

// helmReleaseLayout is a Flux HelmRelease's spec.postRenderers[].kustomize
// .images: helm-controller applies them after rendering the chart, so
// they override the values' tag. The helm strategy edits them with the
// values, or a bump of the values alone would leave the release running
// the old image.
type helmReleaseLayout struct{}

func (helmReleaseLayout) strategy() string { return StrategyHelm }

func (helmReleaseLayout) edit(w *fileEdit, root *yaml.Node) {
	spec := fluxSpec(root, "helm.toolkit.fluxcd.io/", "HelmRelease")
	prs := yamledit.Lookup(spec, "postRenderers")
	if prs == nil || prs.Kind != yaml.SequenceNode {
		return
	}
	for _, pr := range prs.Content {
		if k := yamledit.Lookup(yamledit.Deref(pr), "kustomize"); k != nil && k.Kind == yaml.MappingNode {
			w.kustomize(k)
		}
	}
}

// fluxSpec is the spec of root when root is a kind of the API group
// prefix (any version), else nil.
func fluxSpec(root *yaml.Node, group, kind string) *yaml.Node {
	api, _ := scalar(yamledit.Lookup(root, "apiVersion"))
	k, _ := scalar(yamledit.Lookup(root, "kind"))
	if !strings.HasPrefix(api, group) || k != kind {
		return nil
	}
	if spec := yamledit.Lookup(root, "spec"); spec != nil && spec.Kind == yaml.MappingNode {
		return spec
	}
	return nil
}
