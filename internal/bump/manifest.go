package bump

import (
	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// manifestLayout is image: of every container list in any workload, so
// every kind and CronJobs alike.
type manifestLayout struct{}

func (manifestLayout) strategy() string { return StrategyManifest }

func (manifestLayout) edit(w *fileEdit, root *yaml.Node) {
	walk(root, func(m *yaml.Node) {
		for _, ctr := range containers(m) {
			if img := yamledit.Lookup(ctr, "image"); img != nil && img.Kind == yaml.ScalarNode {
				w.setRef(img, StrategyManifest)
			}
		}
	})
}

// containers returns the container mappings the lists of mapping m hold.
func containers(m *yaml.Node) []*yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	var out []*yaml.Node
	for _, key := range []string{"containers", "initContainers", "ephemeralContainers"} {
		list := yamledit.Lookup(m, key)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for _, ctr := range list.Content {
			out = append(out, yamledit.Deref(ctr))
		}
	}
	return out
}
