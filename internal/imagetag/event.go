package imagetag

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Event is what triggered the run, as GitHub Actions describes it.
type Event struct {
	Name          string // GITHUB_EVENT_NAME: push, pull_request, schedule, ...
	Ref           string // GITHUB_REF: refs/heads/main, refs/tags/v1.2.3, refs/pull/7/merge
	SHA           string // GITHUB_SHA
	DefaultBranch string // from the event payload's repository.default_branch
	// BaseRef is the payload's base_ref on a tag push, or the pull
	// request's base branch: what {{base_ref}} gives.
	BaseRef    string
	Repository string // GITHUB_REPOSITORY: owner/name
	ServerURL  string // GITHUB_SERVER_URL
	Now        time.Time
	// CommitDate is when SHA was committed, from the payload; zero when
	// unknown, and {{commit_date}} then falls back to Now.
	CommitDate time.Time
}

// FromEnv reads the event from the runner's environment; the default
// branch, base ref and commit date come from the payload at
// GITHUB_EVENT_PATH when one is there.
func FromEnv(getenv func(string) string, now time.Time) (Event, error) {
	ev := Event{
		Name: getenv("GITHUB_EVENT_NAME"), Ref: getenv("GITHUB_REF"), SHA: getenv("GITHUB_SHA"),
		Repository: getenv("GITHUB_REPOSITORY"), ServerURL: getenv("GITHUB_SERVER_URL"), Now: now,
	}
	if ev.Ref == "" && getenv("GITHUB_REF_NAME") != "" {
		kind := "heads"
		if getenv("GITHUB_REF_TYPE") == "tag" {
			kind = "tags"
		}
		ev.Ref = "refs/" + kind + "/" + getenv("GITHUB_REF_NAME")
	}
	if p := getenv("GITHUB_EVENT_PATH"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return ev, fmt.Errorf("reading event payload %q: %w", p, err)
		}
		var payload struct {
			Repository struct {
				DefaultBranch string `json:"default_branch"`
			} `json:"repository"`
			BaseRef     *string `json:"base_ref"`
			Number      int     `json:"number"`
			PullRequest *struct {
				Base struct {
					Ref string `json:"ref"`
				} `json:"base"`
			} `json:"pull_request"`
			HeadCommit *payloadCommit  `json:"head_commit"`
			Commits    []payloadCommit `json:"commits"`
		}
		if err := json.Unmarshal(b, &payload); err != nil {
			return ev, fmt.Errorf("parsing event payload %q: %w", p, err)
		}
		ev.DefaultBranch = payload.Repository.DefaultBranch
		// pull_request_target runs on the base branch's ref; the tags are
		// still those of the pull request, as metadata-action makes them.
		if ev.Name == "pull_request_target" && payload.Number > 0 {
			ev.Ref = "refs/pull/" + strconv.Itoa(payload.Number) + "/merge"
		}
		switch {
		case strings.HasPrefix(ev.Ref, "refs/tags/") && payload.BaseRef != nil:
			ev.BaseRef = strings.TrimPrefix(*payload.BaseRef, "refs/heads/")
		case strings.HasPrefix(ev.Ref, "refs/pull/") && payload.PullRequest != nil:
			ev.BaseRef = payload.PullRequest.Base.Ref
		}
		commits := payload.Commits
		if payload.HeadCommit != nil {
			commits = append(commits, *payload.HeadCommit)
		}
		for _, c := range commits {
			if c.ID == ev.SHA && ev.SHA != "" {
				if t, err := time.Parse(time.RFC3339, c.Timestamp); err == nil {
					ev.CommitDate = t
					break
				}
			}
		}
	}
	if ev.BaseRef == "" && strings.HasPrefix(ev.Ref, "refs/pull/") {
		ev.BaseRef = getenv("GITHUB_BASE_REF")
	}
	return ev, nil
}

type payloadCommit struct {
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
}

// Branch is the branch pushed to, or "".
func (e Event) Branch() string {
	b, ok := strings.CutPrefix(e.Ref, "refs/heads/")
	if !ok {
		return ""
	}
	return b
}

// GitTag is the git tag pushed, or "".
func (e Event) GitTag() string {
	t, ok := strings.CutPrefix(e.Ref, "refs/tags/")
	if !ok {
		return ""
	}
	return t
}

// PRRef is what follows refs/pull/ without /merge ("42" for
// refs/pull/42/merge), or "".
func (e Event) PRRef() string {
	rest, ok := strings.CutPrefix(e.Ref, "refs/pull/")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(rest, "/merge")
}

// PR is the pull request number, or 0.
func (e Event) PR() int {
	n, _ := strconv.Atoi(strings.Split(e.PRRef(), "/")[0])
	return n
}

// OnDefaultBranch is {{is_default_branch}}: the ref is the payload's
// default branch, or the event is one GitHub only runs on the default
// branch's last commit (create, discussion, issues, schedule).
func (e Event) OnDefaultBranch() bool {
	branch := strings.TrimPrefix(e.Ref, "refs/heads/")
	if branch == "" {
		return false
	}
	if e.DefaultBranch == branch {
		return true
	}
	for _, name := range []string{"create", "discussion", "issues", "schedule"} {
		if strings.Contains(e.Name, name) {
			return true
		}
	}
	return false
}

// Semver is a version read from a git tag such as v1.2.3-rc.1.
type Semver struct {
	Major, Minor, Patch int
	Pre, Build          string
}

// The semver.org grammar: no leading zeros in numbers, no empty
// identifiers, with an optional leading v.
var semverRE = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?` +
	`(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$`)

// ParseSemver reads a semantic version, with or without a leading v.
func ParseSemver(s string) (Semver, bool) {
	m := semverRE.FindStringSubmatch(s)
	if m == nil {
		return Semver{}, false
	}
	var v Semver
	var err [3]error
	v.Major, err[0] = strconv.Atoi(m[1])
	v.Minor, err[1] = strconv.Atoi(m[2])
	v.Patch, err[2] = strconv.Atoi(m[3])
	for _, e := range err {
		if e != nil {
			return Semver{}, false
		}
	}
	v.Pre, v.Build = m[4], m[5]
	return v, true
}

// String is the version without the v prefix or build metadata.
func (v Semver) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	return s
}
