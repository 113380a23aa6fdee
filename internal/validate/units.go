package validate

import (
	"github.com/gitops-actions/gitops-actions/internal/render"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// Units are what validate-config renders under a set of paths, for other
// actions (diff-config) that must see the same units.
type Units struct {
	Files          []string // plain multi-document YAML, not owned by a unit
	Kustomizations []string // built with kustomize
	Components     []string // kustomize Components no kustomization includes
	Charts         []string // rendered with Helm
	// Outside are links that leave the roots; they are not read.
	Outside []report.Finding
}

// DiscoverUnits finds the units under paths as validate-config does with
// render auto: helmValues are values files (never resources), ignore globs
// skip files and directories.
func DiscoverUnits(paths, helmValues, ignore []string, roots *render.Roots) (Units, error) {
	p, err := discover(Config{Paths: paths, HelmValues: helmValues, Ignore: ignore, Render: "auto"}, roots)
	if err != nil {
		return Units{}, err
	}
	return Units{Files: p.files, Kustomizations: p.kustomizations, Components: p.components, Charts: p.charts, Outside: p.outside}, nil
}

// KustomizationRefs lists the local files and directories the
// kustomization in dir names, joined to dir.
func KustomizationRefs(roots *render.Roots, dir string) []string {
	return kustomizationRefs(roots, dir)
}

// HelmChartHome is the chartHome of a kustomization with helmCharts in
// dir, or "" when it has none.
func HelmChartHome(roots *render.Roots, dir string) string { return helmChartHome(roots, dir) }

// Ignored reports whether rel, or its base name, matches one of the
// ignore globs.
func Ignored(globs []string, rel string) bool { return ignored(globs, rel) }
