package bump

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/gitrepo"
	"github.com/gitops-actions/gitops-actions/internal/verify"
)

// Config is the bump-manifest action's parsed inputs.
type Config struct {
	Repository   string
	Token        string
	GitHubAPIURL string
	Branch       string
	Image        string
	Tag          string
	Digest       string
	ImageRef     string
	PromoteFrom  string // read tag and digest here instead of from inputs
	// Images are the bumps of one run: the images input, else the one
	// image with its tag and digest.
	Images        []Target
	Paths         []string
	Strategy      string
	HelmKeys      []string
	Mode          string
	PRBranch      string
	PRTitle       string
	PRBody        string
	PRLabels      []string
	PRReviewers   []string
	PRTeams       []string // pr-team-reviewers, without an org/ prefix
	PRAssignees   []string
	PRDraft       bool
	PRAutoMerge   string
	SignCommits   bool
	CommitMessage string
	AuthorName    string
	AuthorEmail   string
	MaxAttempts   int
	GitTimeout    time.Duration
	NoDowngrade   bool
	AllowMissing  bool
	KustomizeAdd  bool
	DryRun        bool
	// Verify is the policy each written image's digest must meet first.
	Verify verify.Inputs

	// Derived: the commit message and PR text templates, parsed.
	commitTmpl, titleTmpl, bodyTmpl *template.Template
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
		PromoteFrom:   in.String("promote-from"),
		Paths:         in.List("paths"),
		Strategy:      in.OneOf("strategy", "auto", "kustomize", "helm", "manifest", "marker", "argocd"),
		HelmKeys:      in.List("helm-keys"),
		Mode:          in.OneOf("mode", "push", "pull-request"),
		PRBranch:      in.String("pr-branch"),
		PRTitle:       in.String("pr-title"),
		PRBody:        in.String("pr-body"),
		PRLabels:      in.List("pr-labels"),
		PRReviewers:   in.List("pr-reviewers"),
		PRTeams:       in.List("pr-team-reviewers"),
		PRAssignees:   in.List("pr-assignees"),
		PRDraft:       in.Bool("pr-draft"),
		PRAutoMerge:   in.String("pr-auto-merge"),
		SignCommits:   in.Bool("sign-commits"),
		CommitMessage: in.String("commit-message"),
		AuthorName:    in.String("author-name"),
		AuthorEmail:   in.String("author-email"),
		MaxAttempts:   in.Int("max-attempts"),
		GitTimeout:    in.Duration("git-timeout"),
		NoDowngrade:   in.Bool("no-downgrade"),
		AllowMissing:  in.Bool("allow-missing"),
		KustomizeAdd:  in.Bool("kustomize-add"),
		DryRun:        in.Bool("dry-run"),
		Verify:        verify.ReadInputs(in),
	}
	images, many := parseImages(in)
	c.Images = images
	if c.PromoteFrom != "" {
		// The tag and digest come from the config repo: a given one would
		// contradict them or be silently ignored.
		for _, given := range []struct{ name, value string }{{"image-ref", c.ImageRef}, {"tag", c.Tag}, {"digest", c.Digest}} {
			if given.value != "" {
				in.Fail(given.name, "must be empty when promote-from is set: the tag and digest are read from %q", c.PromoteFrom)
			}
		}
		if err := checkPath(c.PromoteFrom); err != nil {
			in.Fail("promote-from", "%v", err)
		}
	}
	switch {
	case many:
		for _, given := range []struct{ name, value string }{{"image", c.Image}, {"image-ref", c.ImageRef}, {"tag", c.Tag}, {"digest", c.Digest}, {"promote-from", c.PromoteFrom}} {
			if given.value != "" {
				in.Fail("images", "cannot be combined with %s %q: give each image's tag or digest in its reference", given.name, given.value)
			}
		}
	case c.ImageRef != "" && c.PromoteFrom == "":
		r, err := parseImageRef(c.ImageRef)
		switch {
		case err != nil && strings.ToLower(r.Name) != r.Name:
			in.Fail("image-ref", "%q: the name %q must be lower case", c.ImageRef, r.Name)
		case err != nil:
			in.Fail("image-ref", "%q: %v", c.ImageRef, err)
		case c.Image != "" && !sameRepo(c.Image, r.Name):
			in.Fail("image-ref", "%q names another image than image %q", c.ImageRef, c.Image)
		default:
			c.Image = r.Name
			c.Tag = cmpOr(c.Tag, r.Tag)
			c.Digest = cmpOr(c.Digest, r.Digest)
		}
	case c.Image == "" && c.PromoteFrom != "":
		in.Fail("image", "is required with promote-from")
	case c.Image == "":
		in.Fail("image", "is required (or give image-ref)")
	case strings.ToLower(c.Image) != c.Image:
		in.Fail("image", "%q must be lower case", c.Image)
	default:
		if r, err := parseImageRef(c.Image); err != nil || r.Tag != "" || r.Digest != "" {
			in.Fail("image", "%q must be a repository name without tag or digest (use image-ref for name:tag@digest)", c.Image)
		}
	}
	if c.Tag != "" && checkTag(c.Tag) != nil {
		in.Fail("tag", "%q is not a valid image tag", c.Tag)
	}
	if c.Digest != "" && checkDigest(c.Digest) != nil {
		in.Fail("digest", "%q is not a valid digest (want sha256:<64 hex>)", c.Digest)
	}
	if c.Tag == "" && c.Digest == "" && c.PromoteFrom == "" && (c.Image != "" || c.ImageRef != "") {
		in.Fail("tag", "give a tag, a digest or both (or an image-ref that has them)")
	}
	if len(c.Images) == 0 {
		c.Images = []Target{{Image: c.Image, Tag: c.Tag, Digest: c.Digest}}
	}
	checkVerifyInputs(in, c)
	if n := len(c.HelmKeys); n < 2 || n > 4 {
		in.Fail("helm-keys", "want repository and tag keys, and optionally digest and registry keys; got %d keys", n)
	}
	if err := checkRepositoryURL(c.Repository); err != nil {
		in.Fail("repository", "%v", err)
	}
	for _, p := range c.Paths {
		if err := checkPath(p); err != nil {
			in.Fail("paths", "%v", err)
		}
	}
	for _, b := range []struct{ name, value string }{{"branch", c.Branch}, {"pr-branch", c.PRBranch}} {
		if b.value == "" {
			continue
		}
		if err := gitrepo.CheckBranch(b.value); err != nil {
			in.Fail(b.name, "%q is not a valid branch name: it %v", b.value, err)
		}
	}
	if c.Mode == "pull-request" && c.Branch != "" && prBranch(c) == c.Branch {
		in.Fail("pr-branch", "%q is the base branch: the pull request needs a branch of its own", c.Branch)
	}
	checkPRInputs(in, &c)
	var err error
	if c.commitTmpl, err = parseTemplate("commit-message", c.CommitMessage, defaultCommitMessage); err != nil {
		in.Fail("commit-message", "%v", err)
	}
	if c.titleTmpl, err = parseTemplate("pr-title", c.PRTitle, defaultPRTitle); err != nil {
		in.Fail("pr-title", "%v", err)
	}
	if c.bodyTmpl, err = parseTemplate("pr-body", c.PRBody, defaultPRBody); err != nil {
		in.Fail("pr-body", "%v", err)
	}
	if c.GitTimeout < time.Second || c.GitTimeout > time.Hour {
		in.Fail("git-timeout", "%s is not between 1s and 1h", c.GitTimeout)
	}
	if c.MaxAttempts < 1 {
		in.Fail("max-attempts", "must be at least 1")
	}
	return c, nil
}

// checkVerifyInputs refuses, before any I/O, a verify list with unknown
// proofs and images that verify cannot check: a proof is about a digest.
func checkVerifyInputs(in *action.Inputs, c Config) {
	v := c.Verify
	if !v.Enabled() {
		for _, given := range []struct{ name, value string }{{"certificate-identity", v.CertificateIdentity}, {"certificate-identity-regexp", v.CertificateIdentityRegexp}, {"certificate-oidc-issuer", v.CertificateOIDCIssuer}, {"key", v.Key}, {"trusted-root", v.TrustedRoot}} {
			if given.value != "" {
				in.Fail(given.name, "is set but verify lists no proof to require")
			}
		}
		return
	}
	for _, k := range v.Require {
		if !slices.Contains(verify.Kinds, k) {
			in.Fail("verify", "%q is not one of %s", k, strings.Join(verify.Kinds, ", "))
		}
	}
	if c.PromoteFrom != "" {
		return // the digest is read from the config repo and checked there
	}
	input := c.imageInput()
	switch {
	case c.ImageRef != "":
		input = "image-ref"
	case input == "image":
		input = "digest"
	}
	for _, t := range c.Images {
		if t.Image != "" && t.Digest == "" {
			in.Fail(input, "%s has no digest: verify checks the proofs of a digest, so give one", t.Image)
		}
	}
}

// checkRepositoryURL refuses a repository URL that names a host but no
// repository on it (https://github.com), which would only fail at the
// clone; the rest of the form is checked where the URL is resolved.
func checkRepositoryURL(repository string) error {
	if !strings.Contains(repository, "://") {
		return nil
	}
	u, err := url.Parse(repository)
	if err != nil || u.Scheme == "file" || u.Hostname() == "" {
		return nil
	}
	if strings.Trim(u.Path, "/") == "" {
		return fmt.Errorf("%q names no repository on %s", repository, u.Host)
	}
	return nil
}

// Target is one image a run bumps and the tag and digest it gets.
type Target struct {
	Image, Tag, Digest string
}

// parseImages reads the images input: name[:tag][@digest] references,
// each with a tag or a digest, each image once; given reports whether the
// input was set at all.
func parseImages(in *action.Inputs) (out []Target, given bool) {
	refs := in.List("images")
	seen := map[string]string{}
	for _, s := range refs {
		r, err := parseImageRef(s)
		switch {
		case err != nil && strings.ToLower(r.Name) != r.Name:
			in.Fail("images", "%q: the name %q must be lower case", s, r.Name)
			continue
		case err != nil:
			in.Fail("images", "%q: %v", s, err)
			continue
		case r.Tag == "" && r.Digest == "":
			in.Fail("images", "%q has neither a tag nor a digest: write name:tag, name@digest or both", s)
			continue
		}
		key, _ := repoKey(r.Name)
		if first, dup := seen[key]; dup {
			in.Fail("images", "%q and %q name one image: give each image once", first, s)
			continue
		}
		seen[key] = s
		out = append(out, Target{Image: r.Name, Tag: r.Tag, Digest: r.Digest})
	}
	return out, len(refs) > 0
}

// imageInput is the input that names the images, for messages.
func (c Config) imageInput() string {
	if c.Image == "" && len(c.Images) > 0 {
		return "images"
	}
	return "image"
}
