package bump

import (
	"strings"
	"testing"
)

// Bad branch names and repository URLs are bad input (exit 2 naming the
// input), refused before any clone.
func TestBadRefsAndURLs(t *testing.T) {
	r := newRemote(t, map[string]string{"deploy.yaml": deployment})
	head := gitCmd(t, r.home, r.bare, "rev-parse", "main")
	base := []string{"--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", "2.0.0"}
	for _, tc := range []struct {
		input string
		args  []string
	}{
		{"branch", []string{"--repository", r.url, "--branch", "a..b"}},
		{"branch", []string{"--repository", r.url, "--branch", "-x"}},
		{"branch", []string{"--repository", r.url, "--branch", "foo.lock"}},
		{"branch", []string{"--repository", r.url, "--branch", "has space"}},
		{"pr-branch", []string{"--repository", r.url, "--mode", "pull-request", "--pr-branch", "a..b"}},
		{"pr-branch", []string{"--repository", r.url, "--mode", "pull-request", "--pr-branch", "-x"}},
		{"pr-branch", []string{"--repository", r.url, "--mode", "pull-request", "--pr-branch", "bump/foo.lock"}},
		{"pr-branch", []string{"--repository", r.url, "--mode", "pull-request", "--pr-branch", "has space"}},
		{"pr-branch", []string{"--repository", r.url, "--mode", "pull-request", "--branch", "main", "--pr-branch", "main"}},
		{"repository", []string{"--repository", "https://"}},
		{"repository", []string{"--repository", "https:///acme/config.git"}},
	} {
		res := runAction(t, nil, append(tc.args, base...)...)
		if msg := res.stdout + res.stderr; res.code != 2 || !strings.Contains(msg, `"`+tc.input+`"`) || strings.Contains(msg, "goroutine") {
			t.Errorf("%v: exit %d, want 2 naming %q\n%s", tc.args, res.code, tc.input, msg)
		}
	}
	if gitCmd(t, r.home, r.bare, "rev-parse", "main") != head || strings.Contains(gitCmd(t, r.home, r.bare, "branch", "--list"), "bump/") {
		t.Error("a refused run changed the remote")
	}
}
