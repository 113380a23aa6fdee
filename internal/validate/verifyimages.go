package validate

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/report"
	"github.com/gitops-actions/gitops-actions/internal/target"
	"github.com/gitops-actions/gitops-actions/internal/verify"
)

// imageAt is one container image reference of an object.
type imageAt struct {
	ref  string
	path []string // to the image field
}

// verifyImages checks every container image of resources against the
// verify policy: a reference without a digest, or a digest without the
// proofs, is a GA-IMAGE-UNVERIFIED error at the reference's line.
func verifyImages(ctx context.Context, c *action.Context, cfg Config, resources []*Doc) ([]report.Finding, error) {
	p, err := verify.NewPolicy(cfg.Verify)
	if err != nil {
		return nil, err
	}
	opts := target.RemoteOptions(ctx, target.Auth{})
	// One registry lookup per distinct digest, however often it is used.
	seen := map[string][]string{}
	var fs []report.Finding
	checked := 0
	for _, d := range resources {
		for _, im := range containerImages(d.Object, nil) {
			file, line := d.At(im.path)
			f := report.Finding{Source: report.SourcePolicy, Rule: RuleImageUnverified, Severity: report.Error, File: file, Line: line, Resource: d.Resource()}
			ref, err := name.NewDigest(im.ref)
			if err != nil {
				f.Message = fmt.Sprintf("image %q is not pinned by digest: verify-images checks the proofs of a digest", im.ref)
				fs = append(fs, f)
				continue
			}
			key := ref.Context().Name() + "@" + ref.DigestStr()
			failures, ok := seen[key]
			if !ok {
				res, err := verify.Verify(ctx, ref, p, opts...)
				if err != nil {
					return nil, err
				}
				checked++
				failures = res.Failures()
				seen[key] = failures
			}
			if len(failures) > 0 {
				f.Message = fmt.Sprintf("image %q is not verified for %s: %s", im.ref, p.Describe, strings.Join(failures, "; "))
				fs = append(fs, f)
			}
		}
	}
	c.Logf("validate-config: verified %d image digest(s) for %s (%s)", checked, p.Describe, strings.Join(p.Require, ", "))
	return fs, nil
}

// containerImages finds the image of every container, init and ephemeral
// container anywhere in an object (pods, templates, CronJob job templates).
func containerImages(v any, path []string) []imageAt {
	var out []imageAt
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := append(slices.Clone(path), k)
			if list, ok := x[k].([]any); ok && (k == "containers" || k == "initContainers" || k == "ephemeralContainers") {
				for i, c := range list {
					if m, ok := c.(map[string]any); ok {
						if img, ok := m["image"].(string); ok && img != "" {
							out = append(out, imageAt{ref: img, path: append(slices.Clone(p), strconv.Itoa(i), "image")})
						}
					}
				}
				continue
			}
			out = append(out, containerImages(x[k], p)...)
		}
	case []any:
		for i, e := range x {
			out = append(out, containerImages(e, append(slices.Clone(path), strconv.Itoa(i)))...)
		}
	}
	return out
}
