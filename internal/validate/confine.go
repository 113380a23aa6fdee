package validate

import (
	"io/fs"
	"path/filepath"

	"github.com/gitops-actions/gitops-actions/internal/render"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// outsideFindings turns the links out of the repository in err into
// GA-PATH-OUTSIDE findings at the link; nil when there are none.
func outsideFindings(err error) []report.Finding {
	var out []report.Finding
	for _, o := range render.Outside(err) {
		out = append(out, report.Finding{Source: report.SourceSyntax, Rule: RulePathOutside, Severity: report.Error, File: o.Path, Message: o.Error()})
	}
	return out
}

// refusedFindings reports what a render refused to read: links out of
// the repository and remote references; nil when nothing was refused.
func refusedFindings(err error) []report.Finding {
	out := outsideFindings(err)
	for _, r := range render.Remote(err) {
		out = append(out, report.Finding{Source: report.SourceSyntax, Rule: RuleRemote, Severity: report.Error, File: r.File, Line: r.Line,
			Message: "remote " + r.URL + " is not fetched: vendor it or set allow-remote"})
	}
	return out
}

// outsideLinks lists the links under paths that lead out of the
// repository, for inputs whose files another package reads.
func outsideLinks(roots *render.Roots, paths []string) []report.Finding {
	var out []report.Finding
	for _, p := range paths {
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 && path != p {
				return nil
			}
			if _, err := roots.Resolve(path); err != nil {
				out = append(out, outsideFindings(err)...)
			}
			return nil
		})
	}
	return out
}
