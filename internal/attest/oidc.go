package attest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// oidcAudience is the audience Fulcio accepts tokens for.
const oidcAudience = "sigstore"

// idToken is the job's GitHub Actions OIDC token.
type idToken struct {
	Raw string
	// JobWorkflowRef is the workflow file that runs the job: the reusable
	// workflow when one is called (owner/repo/.github/workflows/x.yml@ref).
	JobWorkflowRef string
}

// fetchIDToken asks the runner for an OIDC token for Fulcio. The runner
// sets the two variables only for jobs with permission id-token: write.
func fetchIDToken(ctx context.Context, c *action.Context) (*idToken, error) {
	reqURL, reqToken := c.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), c.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqToken == "" {
		return nil, action.Usage("signing", "is keyless but the job has no OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are unset): grant the job `permissions: id-token: write`, or use signing: key")
	}
	c.Mask(reqToken)
	u, err := url.Parse(reqURL)
	if err != nil {
		return nil, action.Usage("signing", "ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: %v", err)
	}
	q := u.Query()
	q.Set("audience", oidcAudience)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "bearer "+reqToken)
	req.Header.Set("Accept", "application/json")
	resp, err := transport.For(ctx).Client().Do(req)
	if err != nil {
		return nil, action.External(fmt.Errorf("requesting the job's OIDC token: %w", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, action.External(fmt.Errorf("reading the job's OIDC token: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, action.External(fmt.Errorf("requesting the job's OIDC token: %s", resp.Status))
	}
	var out struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Value == "" {
		return nil, action.External(fmt.Errorf("the runner's OIDC token response holds no token"))
	}
	c.Mask(out.Value)
	tok := &idToken{Raw: out.Value}
	// The claims are read unverified, only to name the builder; Fulcio
	// verifies the token, and the certificate is what verifiers check.
	if parts := strings.Split(out.Value, "."); len(parts) == 3 {
		if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			var claims struct {
				JobWorkflowRef string `json:"job_workflow_ref"`
			}
			if json.Unmarshal(payload, &claims) == nil {
				tok.JobWorkflowRef = claims.JobWorkflowRef
			}
		}
	}
	return tok, nil
}
