package bump

import (
	"net/url"
	"testing"
)

func TestGraphQLURL(t *testing.T) {
	for rest, want := range map[string]string{
		"https://api.github.com/":              "https://api.github.com/graphql",
		"https://ghe.example.com/api/v3/":      "https://ghe.example.com/api/graphql",
		"https://ghe.example.com/git/api/v3/":  "https://ghe.example.com/git/api/graphql",
		"http://127.0.0.1:8080/":               "http://127.0.0.1:8080/graphql",
		"https://proxy.example.com/github/v3/": "https://proxy.example.com/github/v3/graphql",
	} {
		u, err := url.Parse(rest)
		if err != nil {
			t.Fatal(err)
		}
		if got := graphQLURL(u); got != want {
			t.Errorf("graphQLURL(%q) = %q, want %q", rest, got, want)
		}
	}
}
