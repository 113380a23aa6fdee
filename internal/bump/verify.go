package bump

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/target"
	"github.com/gitops-actions/gitops-actions/internal/verify"
)

// verifyImages checks every image to be written against the policy before
// anything is committed. One that fails stops the run (exit 1) with the
// proofs that were missing or wrong; the report lists every result.
func verifyImages(ctx context.Context, c *action.Context, p *verify.Policy, images []Target) ([]verify.Result, error) {
	if p == nil {
		return nil, nil
	}
	opts := target.RemoteOptions(ctx, target.Auth{})
	var results []verify.Result
	var failed []string
	for _, t := range images {
		if t.Digest == "" {
			return nil, action.Blocking(fmt.Errorf("%s has no digest to verify", t.Image))
		}
		ref, err := name.NewDigest(t.Image + "@" + t.Digest)
		if err != nil {
			return nil, action.Usage("image", "%q@%s is not an image reference: %v", t.Image, t.Digest, err)
		}
		r, err := verify.Verify(ctx, ref, p, opts...)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
		if !r.Verified {
			failed = append(failed, fmt.Sprintf("%s: %s", ref.String(), strings.Join(r.Failures(), "; ")))
			continue
		}
		c.Logf("verified %s (%s): %s", ref.String(), p.Describe, strings.Join(p.Require, ", "))
	}
	c.SetReportData("verification", results)
	if len(failed) > 0 {
		return results, action.Blocking(fmt.Errorf("not deploying unverified images (trusted: %s):\n%s", p.Describe, strings.Join(failed, "\n")))
	}
	return results, nil
}

// verificationText is the pull request's list of what was verified.
func verificationText(results []verify.Result) string {
	if len(results) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Verified before deploy:\n\n| image | proof | identity | workflow | details |\n|---|---|---|---|---|\n")
	for _, r := range results {
		for _, p := range r.Proofs {
			who := p.Identity
			if who == "" {
				who = r.Trusted
			}
			details := p.PredicateType
			if p.Kind == verify.KindVulnerabilities {
				details = fmt.Sprintf("scanned %s, DB %s, critical %d, high %d, medium %d, low %d", p.ScanTime, p.DBTime,
					p.Counts["critical"], p.Counts["high"], p.Counts["medium"], p.Counts["low"])
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", r.Image, p.Kind, who, p.Workflow, details)
		}
	}
	return b.String()
}
