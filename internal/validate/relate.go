package validate

import "github.com/gitops-actions/gitops-actions/internal/policy"

// relate finds, for the cross-resource rules, which PDBs, Services and
// HPAs apply to each workload and which workloads each PDB covers. Only
// objects of one unit and one namespace can relate, so they are grouped by
// both first.
func relate(docs []*Doc) map[*Doc]map[string][]any {
	type workload struct {
		d      *Doc
		labels map[string]any
	}
	byNS := map[string]struct {
		workloads        []workload
		pdbs, svcs, hpas []*Doc
	}{}
	for _, d := range docs {
		r := d.Resource()
		key := d.Unit + "\x00" + r.Namespace
		g := byNS[key]
		switch r.Kind {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
			labels, _ := policy.Field(d.Object, "spec", "template", "metadata", "labels").(map[string]any)
			g.workloads = append(g.workloads, workload{d, labels})
		case "Pod":
			labels, _ := policy.Field(d.Object, "metadata", "labels").(map[string]any)
			g.workloads = append(g.workloads, workload{d, labels})
		case "PodDisruptionBudget":
			g.pdbs = append(g.pdbs, d)
		case "Service":
			g.svcs = append(g.svcs, d)
		case "HorizontalPodAutoscaler":
			g.hpas = append(g.hpas, d)
		default:
			continue
		}
		byNS[key] = g
	}
	out := map[*Doc]map[string][]any{}
	add := func(d *Doc, key string, v any) {
		if out[d] == nil {
			out[d] = map[string][]any{}
		}
		out[d][key] = append(out[d][key], v)
	}
	for _, g := range byNS {
		for _, w := range g.workloads {
			if len(w.labels) == 0 {
				continue
			}
			for _, p := range g.pdbs {
				sel, _ := policy.Field(p.Object, "spec", "selector").(map[string]any)
				if sel != nil && policy.SelectorMatches(sel, w.labels) {
					add(w.d, "pdbs", p.Object)
					add(p, "workloads", w.d.Object)
				}
			}
			for _, s := range g.svcs {
				sel, _ := policy.Field(s.Object, "spec", "selector").(map[string]any)
				if len(sel) > 0 && policy.SelectorMatches(map[string]any{"matchLabels": sel}, w.labels) {
					add(w.d, "services", s.Object)
				}
			}
			name := w.d.Resource().Name
			for _, h := range g.hpas {
				ref, _ := policy.Field(h.Object, "spec", "scaleTargetRef").(map[string]any)
				if ref["kind"] == w.d.Object["kind"] && ref["name"] == name {
					add(w.d, "hpas", h.Object)
				}
			}
		}
	}
	return out
}
