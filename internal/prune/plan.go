package prune

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Rules are the user's choices that make a version a candidate.
type Rules struct {
	Untagged    bool
	TagFilter   *regexp.Regexp // nil: no tag is a candidate
	ExcludeTags *regexp.Regexp // nil: nothing excluded
	Keep        int
	OlderThan   time.Duration
	Now         time.Time
	// Deployed is what config repos deploy (keep-deployed): never deleted.
	Deployed *Deployed
}

// Candidate says whether tag is one the filters select.
func (r Rules) Candidate(tag string) bool {
	return r.TagFilter != nil && r.TagFilter.MatchString(tag) && (r.ExcludeTags == nil || !r.ExcludeTags.MatchString(tag))
}

// Graph says which manifests a manifest keeps alive.
type Graph interface {
	// Refs returns the digests reached from digest: the children of an
	// index (every platform, attestations) and its referrers. A manifest
	// the registry no longer has reaches nothing.
	Refs(ctx context.Context, digest string) ([]string, error)
}

// Decision is one version's fate in the plan, as the report shows it.
type Decision struct {
	Repository string     `json:"repository"`
	Digest     string     `json:"digest"`
	Tags       []string   `json:"tags,omitempty"`
	Created    *time.Time `json:"created,omitempty"`
	// RemovedTags and ManifestDeleted say what a delete step removes.
	RemovedTags     []string `json:"removedTags,omitempty"`
	ManifestDeleted bool     `json:"manifestDeleted,omitempty"`
	// ProtectedBy is the kept tag that keeps a protected version, or the
	// config repo file and line that deploys it.
	ProtectedBy string `json:"protectedBy,omitempty"`
	// DeployedBy are the config repo references that keep it (keep-deployed).
	DeployedBy []Use  `json:"deployedBy,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Plan is what a run deletes, keeps and protects in one repository.
type Plan struct {
	Repository string
	Candidates int
	Steps      []Step
	Kept       []Decision
	Protected  []Decision

	// What planning saw, for the re-check before the deletes: the digest
	// each tag named, and the tags the steps remove.
	tagDigest map[string]string
	removed   map[string]bool
}

// MakePlan chooses candidates by the rules, then protects everything a
// kept tag reaches: no step ever deletes a manifest reachable from a tag
// that stays, nor removes the last tag of one.
func MakePlan(ctx context.Context, repo string, p Provider, versions []Version, r Rules, g Graph, concurrency int) (*Plan, error) {
	plan := &Plan{Repository: repo, tagDigest: map[string]string{}}
	candTags := make(map[string][]string, len(versions)) // digest -> tags the filters select
	var tagged, untagged []Version
	for _, v := range versions {
		var ct []string
		for _, t := range v.Tags {
			plan.tagDigest[t] = v.Digest
			if r.Candidate(t) {
				ct = append(ct, t)
			}
		}
		switch {
		case len(ct) > 0:
			candTags[v.Digest] = ct
			tagged = append(tagged, v)
		case len(v.Tags) == 0 && r.Untagged && p.ListsUntagged():
			untagged = append(untagged, v)
		}
	}
	plan.Candidates = len(tagged) + len(untagged)

	// The newest first, so that keep takes the head.
	newestFirst := func(a, b Version) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Digest, b.Digest)
	}
	slices.SortFunc(tagged, newestFirst)
	slices.SortFunc(untagged, newestFirst)
	var doomed []Version
	for i, v := range tagged {
		if i < r.Keep {
			plan.Kept = append(plan.Kept, decision(repo, v, fmt.Sprintf("one of the %d newest candidates (keep)", r.Keep)))
			continue
		}
		if why := young(v, r); why != "" {
			plan.Kept = append(plan.Kept, decision(repo, v, why))
			continue
		}
		doomed = append(doomed, v)
	}
	for _, v := range untagged {
		if why := young(v, r); why != "" {
			plan.Kept = append(plan.Kept, decision(repo, v, why))
			continue
		}
		doomed = append(doomed, v)
	}

	// A deployed version keeps every tag: its tags may be what a cluster
	// pulls, and its digest is then reached as a kept tag's.
	live := doomed[:0]
	for _, v := range doomed {
		if uses := r.Deployed.of(v); len(uses) > 0 {
			d := decision(repo, v, "deployed: a config repo names its digest or tag")
			d.ProtectedBy, d.DeployedBy = uses[0].String(), uses
			plan.Protected = append(plan.Protected, d)
			continue
		}
		live = append(live, v)
	}
	doomed = live

	removed := map[string]bool{}
	for _, v := range doomed {
		for _, t := range candTags[v.Digest] {
			removed[t] = true
		}
	}
	plan.removed = removed
	// Deployed digests keep what they reach as kept tags do; their labels
	// (config repo, file and line) hold a space, which no tag does.
	seeds, labelUses := map[string]string{}, map[string][]Use{}
	if r.Deployed != nil {
		for dg, uses := range r.Deployed.Digests {
			seeds[dg] = uses[0].String()
			labelUses[seeds[dg]] = uses
		}
	}
	reach, err := reachable(ctx, versions, removed, seeds, g, concurrency)
	if err != nil {
		return nil, err
	}

	for _, v := range doomed {
		var keptOwn []string
		for _, t := range v.Tags {
			if !removed[t] {
				keptOwn = append(keptOwn, t)
			}
		}
		switch {
		case len(keptOwn) > 0 && p.UntagsAlone():
			plan.Steps = append(plan.Steps, Step{Version: v, Tags: candTags[v.Digest]})
		case len(keptOwn) > 0:
			d := decision(repo, v, fmt.Sprintf("its digest is also tagged %q, which stays; deleting it would delete that tag", keptOwn[0]))
			d.ProtectedBy = keptOwn[0]
			plan.Protected = append(plan.Protected, d)
		case reach[v.Digest] != "":
			d := decision(repo, v, "reachable from a kept tag (index child, attestation or referrer)")
			d.ProtectedBy = reach[v.Digest]
			if uses, ok := labelUses[d.ProtectedBy]; ok {
				d.Reason = "reachable from a deployed digest (index child, attestation or referrer)"
				d.DeployedBy = uses
			}
			plan.Protected = append(plan.Protected, d)
		default:
			plan.Steps = append(plan.Steps, Step{Version: v, Tags: v.Tags, Manifest: true})
		}
	}
	slices.SortFunc(plan.Steps, func(a, b Step) int {
		return cmp.Or(a.Version.Created.Compare(b.Version.Created), strings.Compare(a.Version.Digest, b.Version.Digest))
	})
	return plan, nil
}

// young says why a version is too new (or of unknown age) to delete.
func young(v Version, r Rules) string {
	if r.OlderThan <= 0 {
		return ""
	}
	if v.Created.IsZero() {
		return "creation time unknown, so never older than older-than"
	}
	if age := r.Now.Sub(v.Created); age < r.OlderThan {
		return fmt.Sprintf("created %s, younger than older-than (%s)", v.Created.UTC().Format(time.RFC3339), r.OlderThan)
	}
	return ""
}

func decision(repo string, v Version, reason string) Decision {
	d := Decision{Repository: repo, Digest: v.Digest, Tags: v.Tags, Reason: reason}
	if !v.Created.IsZero() {
		t := v.Created.UTC()
		d.Created = &t
	}
	return d
}

// fallbackTag matches the tag schemes that attach an artifact to a
// manifest by name: sha256-<hex> (OCI referrers fallback) and cosign's
// sha256-<hex>.sig / .att / .sbom.
var fallbackTag = regexp.MustCompile(`^sha256-([0-9a-f]{64})(\.[A-Za-z0-9_-]+)?$`)

// reachable maps every digest a kept tag reaches to that tag. Kept tags
// are all listed tags not in removed; seeds are more digests to keep, by
// their label, whether listed or not.
func reachable(ctx context.Context, versions []Version, removed map[string]bool, seeds map[string]string, g Graph, concurrency int) (map[string]string, error) {
	reach := map[string]string{}
	// Artifacts attached by tag name: subject digest -> their digests.
	attached := map[string][]string{}
	var frontier []string
	for _, v := range versions {
		for _, t := range v.Tags {
			if m := fallbackTag.FindStringSubmatch(t); m != nil {
				attached["sha256:"+m[1]] = append(attached["sha256:"+m[1]], v.Digest)
			}
		}
	}
	for _, v := range versions {
		for _, t := range v.Tags {
			if !removed[t] && reach[v.Digest] == "" {
				reach[v.Digest] = t
				frontier = append(frontier, v.Digest)
			}
		}
	}
	for _, d := range slices.Sorted(maps.Keys(seeds)) {
		if reach[d] == "" {
			reach[d] = seeds[d]
			frontier = append(frontier, d)
		}
	}
	if err := walk(ctx, reach, frontier, attached, g, concurrency); err != nil {
		return nil, err
	}
	return reach, nil
}

// walk extends reach from frontier, each digest reached inheriting the tag
// of the digest that reaches it.
func walk(ctx context.Context, reach map[string]string, frontier []string, attached map[string][]string, g Graph, concurrency int) error {
	for len(frontier) > 0 {
		refs := make([][]string, len(frontier))
		errs := each(ctx, len(frontier), max(concurrency, 1), func(i int) error {
			var err error
			refs[i], err = g.Refs(ctx, frontier[i])
			return err
		})
		var next []string
		for i, d := range frontier {
			if errs[i] != nil {
				return fmt.Errorf("reading what %s reaches (kept by tag %q): %w", d, reach[d], errs[i])
			}
			for _, r := range append(refs[i], attached[d]...) {
				if reach[r] == "" {
					reach[r] = reach[d]
					next = append(next, r)
				}
			}
		}
		frontier = next
	}
	return nil
}
