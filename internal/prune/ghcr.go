package prune

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// ghcrProvider prunes a GitHub container package through the Packages
// API, which lists every version, tagged or not; GHCR refuses manifest
// DELETE, so a version goes by its ID.
type ghcrProvider struct {
	gh    *github.Client
	owner string
	pkg   string
	org   *bool // resolved on first List
}

func newGHCR(apiURL, token, repoPath string, rt *transport.Transport) (*ghcrProvider, error) {
	owner, pkg, ok := strings.Cut(repoPath, "/")
	if !ok || pkg == "" {
		return nil, fmt.Errorf("%q is not OWNER/PACKAGE", repoPath)
	}
	gh := github.NewClient(rt.Client()).WithAuthToken(token)
	base, err := url.Parse(strings.TrimSuffix(apiURL, "/") + "/")
	if err != nil {
		return nil, fmt.Errorf("GitHub API URL %q: %w", apiURL, err)
	}
	gh.BaseURL = base
	return &ghcrProvider{gh: gh, owner: owner, pkg: pkg}, nil
}

func (p *ghcrProvider) Kind() string        { return "ghcr" }
func (p *ghcrProvider) ListsUntagged() bool { return true }
func (p *ghcrProvider) UntagsAlone() bool   { return false }

func (p *ghcrProvider) isOrg(ctx context.Context) (bool, error) {
	if p.org != nil {
		return *p.org, nil
	}
	u, _, err := p.gh.Users.Get(ctx, p.owner)
	if err != nil {
		return false, fmt.Errorf("looking up GitHub owner %q: %w", p.owner, err)
	}
	org := u.GetType() == "Organization"
	p.org = &org
	return org, nil
}

func (p *ghcrProvider) List(ctx context.Context) ([]Version, error) {
	org, err := p.isOrg(ctx)
	if err != nil {
		return nil, err
	}
	opts := &github.PackageListOptions{State: github.String("active"), ListOptions: github.ListOptions{PerPage: 100}}
	var out []Version
	for {
		var vs []*github.PackageVersion
		var resp *github.Response
		if org {
			vs, resp, err = p.gh.Organizations.PackageGetAllVersions(ctx, p.owner, "container", p.pkg, opts)
		} else {
			vs, resp, err = p.gh.Users.PackageGetAllVersions(ctx, p.owner, "container", url.PathEscape(p.pkg), opts)
		}
		if err != nil {
			return nil, fmt.Errorf("listing versions of container package %s/%s: %w", p.owner, p.pkg, err)
		}
		for _, v := range vs {
			ver := Version{ID: strconv.FormatInt(v.GetID(), 10), Digest: v.GetName()}
			if m := v.GetMetadata(); m != nil && m.Container != nil {
				ver.Tags = slices.Clone(m.Container.Tags)
				slices.Sort(ver.Tags)
			}
			// The later of the two: a version re-tagged recently is not stale.
			ver.Created = v.GetCreatedAt().Time
			if u := v.GetUpdatedAt().Time; u.After(ver.Created) {
				ver.Created = u
			}
			out = append(out, ver)
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// CurrentTags lists the package versions again.
func (p *ghcrProvider) CurrentTags(ctx context.Context, _ func(string) bool) (map[string]string, error) {
	vs, err := p.List(ctx)
	return tagsOf(vs), err
}

func (p *ghcrProvider) Delete(ctx context.Context, s Step) error {
	if !s.Manifest {
		return fmt.Errorf("ghcr cannot remove tags %v of %s alone", s.Tags, s.Version.Digest)
	}
	org, err := p.isOrg(ctx)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(s.Version.ID, 10, 64)
	if err != nil {
		return fmt.Errorf("package version ID %q: %w", s.Version.ID, err)
	}
	if org {
		_, err = p.gh.Organizations.PackageDeleteVersion(ctx, p.owner, "container", p.pkg, id)
	} else {
		_, err = p.gh.Users.PackageDeleteVersion(ctx, p.owner, "container", url.PathEscape(p.pkg), id)
	}
	if err != nil {
		return fmt.Errorf("deleting version %d (%s) of container package %s/%s: %w", id, s.Version.Digest, p.owner, p.pkg, err)
	}
	return nil
}
