package prune

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/bump"
	"github.com/gitops-actions/gitops-actions/internal/gitrepo"
)

// ConfigRepo is one keep-deployed entry: REPO[@REF][:PATH].
type ConfigRepo struct {
	Spec       string // as given
	Repository string // a git URL or owner/name
	Ref        string // "": the remote's default branch
	Path       string // "." for the whole repo
}

// parseConfigRepo splits and checks an entry; it does no I/O. The path
// starts at the first colon after the repository (after the URL's host
// for a URL, whose scheme and port hold colons), the ref at the first @
// before it.
func parseConfigRepo(spec string) (ConfigRepo, error) {
	c := ConfigRepo{Spec: spec, Path: "."}
	head, prefix := spec, ""
	if i := strings.Index(spec, "://"); i >= 0 {
		j := strings.IndexByte(spec[i+3:], '/')
		if j < 0 {
			return c, fmt.Errorf("%q: a URL needs a repository path", spec)
		}
		prefix, head = spec[:i+3+j], spec[i+3+j:]
	}
	if i := strings.IndexByte(head, ':'); i >= 0 {
		head, c.Path = head[:i], head[i+1:]
		if c.Path == "" {
			return c, fmt.Errorf("%q: the path after ':' is empty", spec)
		}
	}
	if i := strings.IndexByte(head, '@'); i >= 0 {
		head, c.Ref = head[:i], head[i+1:]
		if err := gitrepo.CheckBranch(c.Ref); err != nil {
			return c, fmt.Errorf("%q: %q is not a valid branch or tag name: it %w", spec, c.Ref, err)
		}
	}
	c.Repository = prefix + head
	if _, err := gitrepo.ResolveURL(c.Repository, ""); err != nil {
		return c, fmt.Errorf("%q: %w (want a git URL or owner/name, then optionally @ref and :path)", spec, err)
	}
	if prefix != "" {
		u, err := url.Parse(c.Repository)
		if err != nil {
			return c, fmt.Errorf("%q: %w", spec, err)
		}
		if _, hasPass := u.User.Password(); hasPass || (u.User != nil && u.Scheme != "ssh") {
			// Such a URL ends up in git's config and error messages.
			return c, fmt.Errorf("%q holds credentials: give them in token instead", c.Repository)
		}
	}
	p := path.Clean(strings.TrimPrefix(c.Path, "./"))
	if path.IsAbs(c.Path) || p == ".." || strings.HasPrefix(p, "../") {
		return c, fmt.Errorf("%q: path %q is outside the config repo", spec, c.Path)
	}
	c.Path = p
	return c, nil
}

// Use is one place a config repo deploys a version: what protects it.
type Use struct {
	ConfigRepo string `json:"configRepo"` // the keep-deployed entry
	Commit     string `json:"commit"`
	File       string `json:"file"`
	Line       int    `json:"line"`
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest,omitempty"`
}

func (u Use) String() string { return fmt.Sprintf("%s %s:%d", u.ConfigRepo, u.File, u.Line) }

// deployedRef is a reference as the report lists it.
type deployedRef struct {
	Image string `json:"image"`
	Use
}

// Deployed is what the config repos deploy of one image repository.
type Deployed struct {
	Tags    map[string][]Use
	Digests map[string][]Use
}

// of returns the uses that name v by its digest or one of its tags.
func (d *Deployed) of(v Version) []Use {
	if d == nil {
		return nil
	}
	uses := append([]Use(nil), d.Digests[v.Digest]...)
	for _, t := range v.Tags {
		uses = append(uses, d.Tags[t]...)
	}
	return uses
}

// readDeployed clones every keep-deployed repo and reads what it deploys
// of the targets, by target. Any failure stops the run before planning:
// a picture missing one config repo would let a deployed image go.
func readDeployed(ctx context.Context, c *action.Context, cfg Config, ts []target) (map[string]*Deployed, error) {
	if len(cfg.KeepDeployed) == 0 {
		return nil, nil
	}
	images := make([]string, len(ts))
	out := map[string]*Deployed{}
	for i, t := range ts {
		images[i] = t.ref.String()
		out[images[i]] = &Deployed{Tags: map[string][]Use{}, Digests: map[string][]Use{}}
	}
	dir, err := os.MkdirTemp("", "prune-keep-deployed-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	server := c.Getenv("GITHUB_SERVER_URL")
	var all []deployedRef
	for i, cr := range cfg.KeepDeployed {
		u, err := gitrepo.ResolveURL(cr.Repository, server)
		if err != nil {
			return nil, action.UsageErr("keep-deployed", err)
		}
		o := gitrepo.Options{Branch: cr.Ref, Getenv: c.Getenv, Token: tokenFor(cfg.Token, u, server)}
		c.Logf("keep-deployed: reading %s", cr.Spec)
		repo, err := gitrepo.Clone(ctx, u, filepath.Join(dir, fmt.Sprint(i)), o)
		if err != nil {
			return nil, action.External(fmt.Errorf("keep-deployed %q: clone %q: %w; nothing deleted", cr.Spec, u, err))
		}
		commit, err := repo.Git(ctx, "rev-parse", "HEAD")
		if err != nil {
			return nil, action.External(fmt.Errorf("keep-deployed %q: %w", cr.Spec, err))
		}
		refs, err := bump.ReadReferences(ctx, c, repo, "keep-deployed", []string{cr.Path}, images)
		if err != nil {
			var fe *bump.FileError
			if errors.As(err, &fe) {
				return nil, action.External(fmt.Errorf("keep-deployed %q: cannot read %w; nothing deleted", cr.Spec, err))
			}
			return nil, fmt.Errorf("keep-deployed %q: %w", cr.Spec, err)
		}
		n := 0
		for _, r := range refs {
			d := out[r.Image]
			if d == nil {
				continue
			}
			use := Use{ConfigRepo: cr.Spec, Commit: commit, File: r.File, Line: r.Line, Tag: r.Tag, Digest: r.Digest}
			if r.Tag == "" && r.Digest == "" && r.Whole {
				use.Tag = "latest" // a reference without tag or digest pulls latest
			}
			if use.Tag == "" && use.Digest == "" {
				c.Logf("keep-deployed %s: %s:%d names %s without a tag or digest (the chart's or base's decides); it protects nothing itself", cr.Spec, r.File, r.Line, r.Image)
				continue
			}
			if use.Tag != "" {
				d.Tags[use.Tag] = append(d.Tags[use.Tag], use)
			}
			if use.Digest != "" {
				d.Digests[use.Digest] = append(d.Digests[use.Digest], use)
			}
			all = append(all, deployedRef{Image: r.Image, Use: use})
			n++
		}
		c.Logf("keep-deployed %s at %s: %d references to the pruned repositories", cr.Spec, commit, n)
	}
	c.SetReportData("deployedReferences", append([]deployedRef{}, all...))
	return out, nil
}

// tokenFor gives the token only to the GitHub server it is for (the
// server owner/name resolves against): prune's token is a GitHub or Quay
// credential, not one for any git host a URL names.
func tokenFor(token, repoURL, server string) string {
	if token == "" {
		return ""
	}
	if server == "" {
		server = "https://github.com"
	}
	s, err1 := url.Parse(server)
	u, err2 := url.Parse(repoURL)
	if err1 != nil || err2 != nil || u.Scheme != s.Scheme || !strings.EqualFold(u.Host, s.Host) {
		return ""
	}
	return token
}
