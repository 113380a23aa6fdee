package prune

import (
	"regexp"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// Config is the prune-images action's parsed inputs.
type Config struct {
	Repositories     []string
	Provider         string
	Token            string
	RegistryUsername string
	RegistryPassword string
	GitHubAPIURL     string
	QuayAPIURL       string
	Untagged         bool
	TagFilter        *regexp.Regexp
	ExcludeTags      *regexp.Regexp
	Keep             int
	OlderThan        time.Duration
	Concurrency      int
	DryRun           bool
	AgeCache         string
	KeepDeployed     []ConfigRepo
}

// ParseConfig turns inputs into a Config; it does no I/O.
func ParseConfig(in *action.Inputs) (Config, error) {
	c := Config{
		Repositories:     in.List("repository"),
		Provider:         in.OneOf("provider", "auto", "ghcr", "google", "quay", "registry"),
		Token:            in.Secret("token"),
		RegistryUsername: in.String("registry-username"),
		RegistryPassword: in.Secret("registry-password"),
		GitHubAPIURL:     in.String("github-api-url"),
		QuayAPIURL:       in.String("quay-api-url"),
		Untagged:         in.Bool("untagged"),
		Keep:             in.Int("keep"),
		OlderThan:        in.Duration("older-than"),
		Concurrency:      in.Int("concurrency"),
		DryRun:           in.Bool("dry-run"),
		AgeCache:         in.String("age-cache"),
	}
	for _, spec := range in.List("keep-deployed") {
		cr, err := parseConfigRepo(spec)
		if err != nil {
			in.Fail("keep-deployed", "%v", err)
			continue
		}
		c.KeepDeployed = append(c.KeepDeployed, cr)
	}
	c.TagFilter = regexpInput(in, "tag-filter")
	c.ExcludeTags = regexpInput(in, "exclude-tags")
	if c.Concurrency < 1 {
		in.Fail("concurrency", "must be at least 1")
	}
	return c, nil
}

func regexpInput(in *action.Inputs, name string) *regexp.Regexp {
	v := in.String(name)
	if v == "" {
		return nil
	}
	re, err := regexp.Compile(v)
	if err != nil {
		in.Fail(name, "%q is not a valid regexp: %v", v, err)
	}
	return re
}
