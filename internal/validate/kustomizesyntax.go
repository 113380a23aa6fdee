package validate

import (
	"path/filepath"
	"strings"

	"github.com/gitops-actions/gitops-actions/internal/render"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// sourceSyntax finds, when kustomize failed on YAML it read, the syntax
// errors and duplicate keys of the local files the kustomization in dir
// reaches (its own file, resources, bases, components and patches, through
// every kustomization they include). kustomize names neither the file nor
// a line of the file, so they are where the finding belongs.
func sourceSyntax(roots *render.Roots, dir string, buildErr error) []report.Finding {
	msg := buildErr.Error()
	if !strings.Contains(msg, "yaml") && !strings.Contains(msg, "already defined") {
		return nil
	}
	fs := reachedSyntax(roots, dir, true)
	for i := range fs {
		fs[i].Rule = RuleRender
		fs[i].Message = "kustomize build failed: " + fs[i].Message
	}
	return fs
}

// kustomizationSyntax finds the duplicate keys of the kustomization
// files a kustomization in dir reaches: kustomize keeps one of the values
// and builds without a word.
func kustomizationSyntax(roots *render.Roots, dir string) []report.Finding {
	return reachedSyntax(roots, dir, false)
}

// reachedSyntax checks the kustomization files dir reaches and, with
// all, the files they name.
func reachedSyntax(roots *render.Roots, dir string, all bool) []report.Finding {
	var fs []report.Finding
	seen := map[string]bool{}
	check := func(file string) {
		if seen[file] || !isYAML(file) {
			return
		}
		seen[file] = true
		b, err := roots.ReadFile(file)
		if err != nil {
			return
		}
		_, pf := parseDocs(file, b, 0)
		fs = append(fs, pf...)
	}
	var visit func(d string)
	visit = func(d string) {
		if seen[d+"/"] {
			return
		}
		seen[d+"/"] = true
		for _, k := range render.KustomizationFiles {
			if k := slash(filepath.Join(d, k)); isKustomizeFile(roots, k) {
				check(k)
				break
			}
		}
		for _, ref := range kustomizationRefs(roots, d) {
			if isKustomizeDir(roots, ref) {
				visit(ref)
			} else if all {
				check(ref)
			}
		}
	}
	visit(slash(dir))
	return fs
}

func isKustomizeDir(roots *render.Roots, dir string) bool {
	for _, k := range render.KustomizationFiles {
		if isKustomizeFile(roots, filepath.Join(dir, k)) {
			return true
		}
	}
	return false
}
