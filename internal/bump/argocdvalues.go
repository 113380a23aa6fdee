package bump

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// argocdValues edits helm.values of an Argo CD source, Helm values written
// as a YAML string: the string is edited as a values file would be, and
// written back into its block scalar line by line.
func (w *fileEdit) argocdValues(helm *yaml.Node) {
	n := yamledit.Lookup(helm, "values")
	v, ok := scalar(n)
	if !ok || v == "" || !w.Candidate([]byte(v)) {
		return
	}
	inner := *w.Editor
	inner.Strategy = StrategyAuto
	res, err := inner.Edit(w.file, []byte(v))
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			err = fe.Err // its line is the string's, not the file's
		}
		if strings.Contains(v, "{{") {
			// An ApplicationSet's template fills it in per application: as
			// with a Helm template file, there is no tag here to set.
			w.res.Skips = append(w.res.Skips, Skip{File: w.file, Line: n.Line,
				Reason: fmt.Sprintf("argocd: helm.values is a template ({{ }}) that cannot be edited as YAML (%v); left alone", err)})
			return
		}
		w.fail(n, fmt.Errorf("argocd: helm.values: %w", err))
		return
	}
	// The body starts on the line after a block scalar's header.
	shift := n.Line
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		shift = n.Line - 1
	}
	w.res.Found += res.Found
	for _, c := range res.Changes {
		c.Line += shift
		w.res.Changes = append(w.res.Changes, c)
	}
	for _, s := range res.Skips {
		s.Line += shift
		w.res.Skips = append(w.res.Skips, s)
	}
	for _, r := range res.Refs {
		r.Line += shift
		w.res.Refs = append(w.res.Refs, r)
	}
	if len(res.Changes) == 0 {
		return
	}
	if n.Style&yaml.LiteralStyle == 0 {
		w.fail(n, fmt.Errorf("argocd: helm.values names the image but is not written as a literal block (values: |), which is not supported"))
		return
	}
	if err := w.f.SetLiteral(n, string(res.Out)); err != nil {
		w.fail(n, fmt.Errorf("argocd: helm.values: %w", err))
	}
}
