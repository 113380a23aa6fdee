package gitrepo

import (
	"os/exec"
	"testing"
)

func TestResolveURL(t *testing.T) {
	for _, tc := range []struct{ repo, server, want string }{
		{"acme/config", "", "https://github.com/acme/config.git"},
		{"acme/config", "https://ghe.example.com/", "https://ghe.example.com/acme/config.git"},
		{"https://git.example.com/x/y.git", "", "https://git.example.com/x/y.git"},
		{"file:///srv/config.git", "", "file:///srv/config.git"},
	} {
		got, err := ResolveURL(tc.repo, tc.server)
		if err != nil || got != tc.want {
			t.Errorf("ResolveURL(%q, %q) = %q, %v; want %q", tc.repo, tc.server, got, err, tc.want)
		}
	}
	for _, bad := range []string{"config", "ftp://x/y", "a/b/c", "https://", "https:///x/y.git", "http://:80/x.git", "ssh://", "file://", "file:///"} {
		if _, err := ResolveURL(bad, ""); err == nil {
			t.Errorf("ResolveURL(%q) accepted", bad)
		}
	}
}

func TestOwnerName(t *testing.T) {
	for in, want := range map[string]string{
		"acme/config":                         "acme config",
		"https://github.com/acme/config.git":  "acme config",
		"https://ghe.example.com/acme/config": "acme config",
	} {
		o, n, err := OwnerName(in)
		if err != nil || o+" "+n != want {
			t.Errorf("OwnerName(%q) = %q %q, %v; want %q", in, o, n, err, want)
		}
	}
	if _, _, err := OwnerName("file:///config.git"); err == nil {
		t.Error("OwnerName accepted a URL without owner")
	}
}

// The table agrees with git check-ref-format --branch where git is present.
func TestCheckBranch(t *testing.T) {
	for name, ok := range map[string]bool{
		"main": true, "release/1.x": true, "bump/ghcr.io-acme-api-1a2b3c4d": true, "a.b": true, "feature/@x": true, "é": true,
		"": false, "a..b": false, "-x": false, "foo.lock": false, "a/foo.lock/b": false, "has space": false, "a~1": false,
		"a^": false, "a:b": false, "a?": false, "a*": false, "a[b": false, `a\b`: false, "/a": false, "a/": false,
		"a//b": false, "a.": false, ".a": false, "a/.b": false, "a@{1}": false, "@": false, "HEAD": false, "a\tb": false, "a\x7fb": false,
	} {
		if err := CheckBranch(name); (err == nil) != ok {
			t.Errorf("CheckBranch(%q) = %v, want ok=%v", name, err, ok)
		}
		if name == "HEAD" || name == "@" || name == "" {
			continue // --branch expands these (git 2.39 takes HEAD); empty is no argument
		}
		if git, err := exec.LookPath("git"); err == nil {
			gitOK := exec.Command(git, "check-ref-format", "--branch", name).Run() == nil
			if gitOK != ok {
				t.Errorf("git check-ref-format --branch %q ok=%v, CheckBranch ok=%v", name, gitOK, ok)
			}
		}
	}
}
