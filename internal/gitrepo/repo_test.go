package gitrepo

import "testing"

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
	for _, bad := range []string{"config", "ftp://x/y", "a/b/c"} {
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
