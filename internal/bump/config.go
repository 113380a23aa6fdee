package bump

import (
	"github.com/gitops-actions/gitops-actions/internal/action"
)

// Config is the bump-manifest action's parsed inputs.
type Config struct {
	Repository    string
	Token         string
	GitHubAPIURL  string
	Branch        string
	Image         string
	Tag           string
	Digest        string
	ImageRef      string
	Paths         []string
	Strategy      string
	HelmKeys      []string
	Mode          string
	PRBranch      string
	PRTitle       string
	PRBody        string
	PRLabels      []string
	CommitMessage string
	AuthorName    string
	AuthorEmail   string
	MaxAttempts   int
	NoDowngrade   bool
	AllowMissing  bool
	DryRun        bool
}

// ParseConfig turns inputs into a Config; it does no I/O.
func ParseConfig(in *action.Inputs) (Config, error) {
	c := Config{
		Repository:    in.String("repository"),
		Token:         in.Secret("token"),
		GitHubAPIURL:  in.String("github-api-url"),
		Branch:        in.String("branch"),
		Image:         in.String("image"),
		Tag:           in.String("tag"),
		Digest:        in.String("digest"),
		ImageRef:      in.String("image-ref"),
		Paths:         in.List("paths"),
		Strategy:      in.OneOf("strategy", "auto", "kustomize", "helm", "manifest", "marker"),
		HelmKeys:      in.List("helm-keys"),
		Mode:          in.OneOf("mode", "push", "pull-request"),
		PRBranch:      in.String("pr-branch"),
		PRTitle:       in.String("pr-title"),
		PRBody:        in.String("pr-body"),
		PRLabels:      in.List("pr-labels"),
		CommitMessage: in.String("commit-message"),
		AuthorName:    in.String("author-name"),
		AuthorEmail:   in.String("author-email"),
		MaxAttempts:   in.Int("max-attempts"),
		NoDowngrade:   in.Bool("no-downgrade"),
		AllowMissing:  in.Bool("allow-missing"),
		DryRun:        in.Bool("dry-run"),
	}
	if c.Image == "" && c.ImageRef == "" {
		in.Fail("image", "is required (or give image-ref)")
	}
	if c.MaxAttempts < 1 {
		in.Fail("max-attempts", "must be at least 1")
	}
	return c, nil
}
