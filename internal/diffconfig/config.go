package diffconfig

import (
	"github.com/gitops-actions/gitops-actions/internal/action"
)

// DefaultIgnoreFields hide what changes without changing what runs.
var DefaultIgnoreFields = []string{
	`metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]`,
	`metadata.labels["helm.sh/chart"]`,
	`spec.template.metadata.labels["helm.sh/chart"]`,
}

// Config is the diff-config action's parsed inputs.
type Config struct {
	// RepoPath is a directory in the checkout to diff; "" is the one
	// holding the working directory.
	RepoPath          string
	Paths             []string
	BaseRef           string
	HeadRef           string
	HelmValues        []string
	KubernetesVersion string
	CRDPaths          []string
	Ignore            []string
	IgnoreFields      []fieldPath
	MaxDiffLines      int
	Validate          bool
	Comment           bool
	Token             string
	GitHubAPIURL      string
	Repository        string
	PullRequest       int
	OutputFormat      string
}

// ParseConfig turns inputs into a Config; it does no I/O.
func ParseConfig(in *action.Inputs) (Config, error) {
	c := Config{
		RepoPath:          in.String("repo-path"),
		Paths:             in.List("path"),
		BaseRef:           in.String("base-ref"),
		HeadRef:           in.String("head-ref"),
		HelmValues:        in.List("helm-values"),
		KubernetesVersion: in.String("kubernetes-version"),
		CRDPaths:          in.List("crd-path"),
		Ignore:            in.List("ignore"),
		MaxDiffLines:      in.Int("max-diff-lines"),
		Validate:          in.Bool("validate"),
		Comment:           in.Bool("comment"),
		Token:             in.Secret("token"),
		GitHubAPIURL:      in.String("github-api-url"),
		Repository:        in.String("repository"),
		PullRequest:       in.Int("pull-request"),
		OutputFormat:      in.OneOf("output-format", "markdown", "text", "json"),
	}
	fields := DefaultIgnoreFields
	if in.IsSet("ignore-fields") {
		fields = in.List("ignore-fields")
		if len(fields) == 1 && fields[0] == "none" {
			fields = nil
		}
	}
	for _, f := range fields {
		p, err := parseFieldPath(f)
		if err != nil {
			in.Fail("ignore-fields", "%q: %v", f, err)
			continue
		}
		c.IgnoreFields = append(c.IgnoreFields, p)
	}
	if c.MaxDiffLines == 0 {
		in.Fail("max-diff-lines", "must be at least 1")
	}
	if c.HeadRef == "" {
		c.HeadRef = "HEAD"
	}
	if len(c.Paths) == 0 {
		c.Paths = []string{"."}
	}
	if c.Comment && c.Token == "" {
		in.Fail("token", "is required when comment is true")
	}
	return c, nil
}
