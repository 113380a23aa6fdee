package imagetag

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sha = "0123456789abcdef0123456789abcdef01234567"

var now = time.Date(2026, 3, 14, 2, 30, 0, 0, time.UTC)

func TestTags(t *testing.T) {
	std := []string{
		"type=sha",
		"type=ref,event=branch",
		"type=ref,event=pr",
		"type=semver,pattern={{version}}",
		"type=semver,pattern={{major}}.{{minor}}",
		"type=semver,pattern={{major}}",
		"type=schedule,pattern=nightly-{{date 'YYYYMMDD'}}",
	}
	main := Event{Name: "push", Ref: "refs/heads/main", SHA: sha, DefaultBranch: "main", Now: now}
	tests := []struct {
		name   string
		rules  []string
		flavor []string
		ev     Event
		want   []string
	}{
		// latest comes from a release tag, never from the default branch alone.
		{"push to default branch", std, nil, main, []string{"main", "sha-0123456"}},
		{"push to feature branch", std, nil,
			Event{Name: "push", Ref: "refs/heads/feature/login-form", SHA: sha, DefaultBranch: "main"},
			[]string{"feature-login-form", "sha-0123456"}},
		{"pull request", std, nil,
			Event{Name: "pull_request", Ref: "refs/pull/42/merge", SHA: sha, DefaultBranch: "main"},
			[]string{"pr-42", "sha-0123456"}},
		{"semver tag", std, nil,
			Event{Name: "push", Ref: "refs/tags/v1.2.3", SHA: sha, DefaultBranch: "main"},
			[]string{"1.2.3", "1.2", "1", "sha-0123456", "latest"}},
		{"semver pre-release gets only the full version, no latest", std, nil,
			Event{Name: "push", Ref: "refs/tags/v2.0.0-rc.1", SHA: sha, DefaultBranch: "main"},
			[]string{"2.0.0-rc.1", "sha-0123456"}},
		{"pre-release with a v pattern still gets the bare version", []string{"type=semver,pattern=v{{version}}"}, nil,
			Event{Name: "push", Ref: "refs/tags/v2.0.0-rc.1"},
			[]string{"2.0.0-rc.1"}},
		{"0.x gets its major tag too", std, nil,
			Event{Name: "push", Ref: "refs/tags/v0.4.1", SHA: sha},
			[]string{"0.4.1", "0.4", "0", "sha-0123456", "latest"}},
		{"not a semver tag", std, nil,
			Event{Name: "push", Ref: "refs/tags/v1.2", SHA: sha},
			[]string{"sha-0123456"}},
		{"schedule", std, nil,
			Event{Name: "schedule", Ref: "refs/heads/main", SHA: sha, DefaultBranch: "main", Now: now},
			[]string{"nightly-20260314", "main", "sha-0123456"}},
		{"schedule default pattern", []string{"type=schedule"}, nil,
			Event{Name: "schedule", Ref: "refs/heads/main", SHA: sha, Now: now},
			[]string{"nightly"}},
		{"sha long, custom prefix, raw and enable", []string{
			"type=sha,format=long,prefix=",
			"type=raw,value=stable,enable={{is_default_branch}}",
			"type=raw,value=build-{{date 'YYYYMMDD-HHmmss'}}",
			"type=raw,value=never,enable=false",
			"edge",
		}, nil, main, []string{"stable", "build-20260314-023000", "edge", sha}},
		{"default rules on a branch", nil, nil,
			Event{Name: "push", Ref: "refs/heads/dev", SHA: sha, DefaultBranch: "main"},
			[]string{"dev"}},
		{"default rules on a tag", nil, nil,
			Event{Name: "push", Ref: "refs/tags/release-7", SHA: sha, DefaultBranch: "main"},
			[]string{"release-7", "latest"}},
		{"latest=true adds latest on a branch push", []string{"type=ref,event=branch"}, []string{"latest=true"}, main,
			[]string{"main", "latest"}},
		{"latest=false keeps it off a release", []string{"type=semver,pattern={{version}}"}, []string{"latest=false"},
			Event{Name: "push", Ref: "refs/tags/v1.2.3"}, []string{"1.2.3"}},
		{"latest=true adds nothing when no rule gives a tag", []string{"type=ref,event=tag"}, []string{"latest=true"}, main, nil},
		{"latest on the default branch by rule", []string{"type=raw,value=latest,enable={{is_default_branch}}", "type=sha"}, nil, main,
			[]string{"latest", "sha-0123456"}},
		{"flavor prefix on every rule without its own, and on latest", []string{"type=semver,pattern={{version}}", "type=sha", "type=raw,value=x,prefix="},
			[]string{"prefix={{branch}}v-,onlatest=true", "suffix=-alpine"},
			Event{Name: "push", Ref: "refs/tags/v3.0.0", SHA: sha},
			[]string{"v-3.0.0-alpine", "x-alpine", "sha-0123456-alpine", "v-latest"}},
		{"edge follows the payload's default branch", []string{"type=edge"}, nil,
			Event{Name: "push", Ref: "refs/heads/trunk", DefaultBranch: "trunk"}, []string{"edge"}},
		{"edge without a known default branch", []string{"type=edge"}, nil,
			Event{Name: "push", Ref: "refs/heads/trunk"}, nil},
		{"priority ties keep the order given", []string{"type=raw,b", "type=raw,a,priority=5000", "type=raw,c", "type=sha,priority=200"}, nil, main,
			[]string{"a", "b", "c", "sha-0123456"}},
		{"date formats", []string{"type=raw,value={{date 'YY.M.D-Do-ddd-MMM-hh-A-[YYYY]'}}"}, nil, main,
			[]string{"26.3.14-14th-Sat-Mar-02-AM-YYYY"}},
		{"commit date from the payload", []string{"type=raw,value={{commit_date 'YYYYMMDD-HHmmss'}}"}, nil,
			Event{Name: "push", Ref: "refs/heads/main", Now: now, CommitDate: time.Date(2022, 4, 19, 9, 4, 39, 0, time.UTC)},
			[]string{"20220419-090439"}},
		{"commit date falls back to now", []string{"type=raw,value={{commit_date 'YYYYMMDD'}}"}, nil, main,
			[]string{"20260314"}},
		{"docs/build.md example", []string{"type=semver,pattern={{version}}"}, []string{"prefix=foo-,onlatest=true", "suffix=-dev"},
			Event{Name: "push", Ref: "refs/tags/v1.1.1"}, []string{"foo-1.1.1-dev", "foo-latest"}},
		{"a duplicate is given once", []string{"type=raw,value=main", "type=ref,event=branch"}, nil, main, []string{"main"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkTags(t, tt.rules, tt.flavor, tt.ev, tt.want)
		})
	}
}

func TestParseRuleErrors(t *testing.T) {
	for _, line := range []string{
		"type=bogus", "type=ref", "type=ref,event=commit", "type=semver", "type=raw",
		"type=sha,format=medium", "type=sha,colour=red", "event=branch", "type=raw,value=x,enable=maybe",
		"type=sha,priority=high", "type=pep440,pattern={{version}}",
		"type=semver,pattern={{prerelease}}", "type=semver,pattern={{version}},match=v\\d",
		"type=match", "type=match,pattern=v(", "type=match,pattern=/v/x", "type=match,pattern=a(b),group=x",
		// metadata-action's tag18 has this rule and skips it with a warning;
		// a group the pattern cannot have is a mistake, so it fails here.
		`type=match,pattern=p1/v(\d.\d),group=3`,
		"type=raw,value=x-{{nope}}", "type=raw,value={{date YYYY}}", "type=raw,value={{date 'YYYY' zone='UTC'}}",
		"type=raw,value={{date 'YYYY' tz='Mars/Olympus'}}", "type=raw,value={{date 'wo'}}",
		"type=raw,value={{branch 'x'}}", "type=raw,value={{branch", "type=schedule,pattern={{branch}}",
		"type=raw,value=a,value=b", "type=raw,value=a,",
	} {
		if _, err := ParseRule(line); err == nil || !strings.Contains(err.Error(), "tag rule") {
			t.Errorf("%q: error %v should name the tag rule", line, err)
		}
	}
	r, err := ParseRule("type=raw,value=x,enable={{branch}}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Tags([]Rule{r}, Flavor{}, Event{Ref: "refs/heads/main"}); err == nil || !strings.Contains(err.Error(), "enable") {
		t.Errorf("enable that is not true or false: error %v", err)
	}
}

func TestParseFlavor(t *testing.T) {
	fl, err := ParseFlavor([]string{"# comment", "latest=false", "prefix=foo-,onlatest=true", "suffix=-dev"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Flavor{Latest: "false", Prefix: "foo-", PrefixLatest: true, Suffix: "-dev"}); fl != want {
		t.Errorf("flavor %+v, want %+v", fl, want)
	}
	// Cases of metadata-action's __tests__/flavor.test.ts that it rejects.
	for _, lines := range [][]string{
		{"randomstr", "latest=auto"}, {"unknwown=foo"}, {"latest"}, {"latest=foo"},
		{"prefix=x,onlatest=maybe"}, {"onlatest=true"}, {"prefix={{nope}}"},
	} {
		if _, err := ParseFlavor(lines); err == nil || !strings.Contains(err.Error(), "flavor") {
			t.Errorf("%q: error %v should name the flavor", lines, err)
		}
	}
}

func TestFromEnvAndLabels(t *testing.T) {
	payload := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(payload, []byte(`{"repository":{"default_branch":"trunk"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/trunk", "GITHUB_SHA": sha,
		"GITHUB_REPOSITORY": "acme/api", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_EVENT_PATH": payload,
	}
	ev, err := FromEnv(func(k string) string { return env[k] }, now)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.OnDefaultBranch() {
		t.Errorf("trunk is the default branch from the payload: %+v", ev)
	}
	tags, _ := Tags([]Rule{{Type: "sha", Prefix: "sha-", HasPrefix: true, Enable: "true", Priority: 100}}, Flavor{}, ev)
	l := Labels(ev, tags, "ghcr.io/acme/api", now)
	want := map[string]string{
		LabelSource: "https://github.com/acme/api", LabelRevision: sha, LabelCreated: "2026-03-14T02:30:00Z",
		LabelVersion: "sha-0123456", LabelTitle: "api",
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("label %s = %q, want %q", k, l[k], v)
		}
	}
	env = map[string]string{"GITHUB_REF_NAME": "v3.1.0", "GITHUB_REF_TYPE": "tag"}
	ev, err = FromEnv(func(k string) string { return env[k] }, now)
	if err != nil || ev.GitTag() != "v3.1.0" {
		t.Fatalf("ref from GITHUB_REF_NAME: %+v %v", ev, err)
	}
	if l := Labels(ev, nil, "quay.io/acme/worker", now); l[LabelVersion] != "3.1.0" || l[LabelTitle] != "worker" {
		t.Errorf("labels on a tag: %v", l)
	}
	env["GITHUB_EVENT_PATH"] = filepath.Join(t.TempDir(), "missing.json")
	if _, err := FromEnv(func(k string) string { return env[k] }, now); err == nil {
		t.Error("missing payload: want an error")
	}
}
