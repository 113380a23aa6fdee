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
	Repository    string // GITHUB_REPOSITORY: owner/name
	ServerURL     string // GITHUB_SERVER_URL
	Now           time.Time
}

// FromEnv reads the event from the runner's environment; the default
// branch comes from the payload at GITHUB_EVENT_PATH when one is there.
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
		}
		if err := json.Unmarshal(b, &payload); err != nil {
			return ev, fmt.Errorf("parsing event payload %q: %w", p, err)
		}
		ev.DefaultBranch = payload.Repository.DefaultBranch
	}
	return ev, nil
}

// Branch is the branch pushed to, or "".
func (e Event) Branch() string {
	b, _ := strings.CutPrefix(e.Ref, "refs/heads/")
	if b == e.Ref {
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

// PR is the pull request number, or 0.
func (e Event) PR() int {
	rest, ok := strings.CutPrefix(e.Ref, "refs/pull/")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(strings.Split(rest, "/")[0])
	return n
}

// OnDefaultBranch reports a push to the repository's default branch.
func (e Event) OnDefaultBranch() bool {
	return e.DefaultBranch != "" && e.Branch() == e.DefaultBranch && e.Name != "pull_request" && e.Name != "pull_request_target"
}

// Semver is a version read from a git tag such as v1.2.3-rc.1.
type Semver struct {
	Major, Minor, Patch int
	Pre, Build          string
}

var semverRE = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$`)

// ParseSemver reads a semantic version, with or without a leading v.
func ParseSemver(s string) (Semver, bool) {
	m := semverRE.FindStringSubmatch(s)
	if m == nil {
		return Semver{}, false
	}
	var v Semver
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	v.Patch, _ = strconv.Atoi(m[3])
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
