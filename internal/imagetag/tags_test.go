package imagetag

import (
	"os"
	"path/filepath"
	"slices"
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
	tests := []struct {
		name  string
		rules []string
		ev    Event
		want  []string
	}{
		{"push to default branch", std,
			Event{Name: "push", Ref: "refs/heads/main", SHA: sha, DefaultBranch: "main"},
			[]string{"sha-0123456", "main", "latest"}},
		{"push to feature branch", std,
			Event{Name: "push", Ref: "refs/heads/feature/login-form", SHA: sha, DefaultBranch: "main"},
			[]string{"sha-0123456", "feature-login-form"}},
		{"pull request", std,
			Event{Name: "pull_request", Ref: "refs/pull/42/merge", SHA: sha, DefaultBranch: "main"},
			[]string{"sha-0123456", "pr-42"}},
		{"semver tag", std,
			Event{Name: "push", Ref: "refs/tags/v1.2.3", SHA: sha, DefaultBranch: "main"},
			[]string{"sha-0123456", "1.2.3", "1.2", "1"}},
		{"semver pre-release gets only the full version", std,
			Event{Name: "push", Ref: "refs/tags/v2.0.0-rc.1", SHA: sha, DefaultBranch: "main"},
			[]string{"sha-0123456", "2.0.0-rc.1"}},
		{"0.x gets no major-only tag", std,
			Event{Name: "push", Ref: "refs/tags/v0.4.1", SHA: sha},
			[]string{"sha-0123456", "0.4.1", "0.4"}},
		{"schedule", std,
			Event{Name: "schedule", Ref: "refs/heads/main", SHA: sha, DefaultBranch: "main", Now: now},
			[]string{"sha-0123456", "main", "nightly-20260314", "latest"}},
		{"schedule default pattern", []string{"type=schedule"},
			Event{Name: "schedule", Ref: "refs/heads/main", SHA: sha, Now: now},
			[]string{"nightly"}},
		{"sha long, custom prefix, raw and enable", []string{
			"type=sha,format=long,prefix=",
			"type=raw,value=stable,enable={{is_default_branch}}",
			"type=raw,value=build-{{date 'YYYYMMDD-HHmmss'}}",
			"type=raw,value=never,enable=false",
			"edge",
		},
			Event{Name: "push", Ref: "refs/heads/main", SHA: sha, DefaultBranch: "main", Now: now},
			[]string{sha, "stable", "build-20260314-023000", "edge", "latest"}},
		{"default rules on a branch", nil,
			Event{Name: "push", Ref: "refs/heads/dev", SHA: sha, DefaultBranch: "main"},
			[]string{"sha-0123456", "dev"}},
		{"default rules on a tag", nil,
			Event{Name: "push", Ref: "refs/tags/release-7", SHA: sha, DefaultBranch: "main"},
			[]string{"sha-0123456", "release-7"}},
		{"no latest without a known default branch", std,
			Event{Name: "push", Ref: "refs/heads/main", SHA: sha},
			[]string{"sha-0123456", "main"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := ParseRules(tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Tags(rules, tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("tags %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseRuleErrors(t *testing.T) {
	for _, line := range []string{
		"type=bogus", "type=ref", "type=ref,event=commit", "type=semver", "type=raw",
		"type=sha,format=medium", "type=sha,colour=red", "event=branch", "type=raw,value=x,enable=maybe",
		"type=sha,priority=high",
	} {
		if _, err := ParseRule(line); err == nil || !strings.Contains(err.Error(), line) {
			t.Errorf("%q: error %v should quote the rule", line, err)
		}
	}
	if _, err := Tags([]Rule{{Type: "raw", Value: "x-{{nope}}"}}, Event{}); err == nil {
		t.Error("unknown expression: want an error")
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
	tags, _ := Tags(nil, ev)
	l := Labels(ev, tags, "ghcr.io/acme/api", now)
	want := map[string]string{
		LabelSource: "https://github.com/acme/api", LabelRevision: sha, LabelCreated: "2026-03-14T02:30:00Z",
		LabelVersion: "trunk", LabelTitle: "api",
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
