package build

import (
	"slices"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/manifest"
)

func parseBuild(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	m, err := manifest.Load()
	if err != nil {
		t.Fatal(err)
	}
	in, err := action.ParseInputs(m.Action("build"), args, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(in)
	if err == nil {
		err = in.Err()
	}
	return c, err
}

// buildx gets the annotations in its own --annotation syntax, a key
// without a level on the manifests and, with several platforms, the index.
func TestBuildxAnnotationFlags(t *testing.T) {
	for _, tc := range []struct {
		platforms string
		anns      string
		want      []string
	}{
		{"linux/amd64", "org.example.a=1, 2", []string{"--annotation", "manifest:org.example.a=1, 2"}},
		{"linux/amd64,linux/arm64", "org.example.a=x", []string{"--annotation", "manifest:org.example.a=x", "--annotation", "index:org.example.a=x"}},
		{"linux/amd64,linux/arm64", "manifest[linux/arm64],index:k=v", []string{"--annotation", "manifest[linux/arm64]:k=v", "--annotation", "index:k=v"}},
		{"linux/amd64,linux/arm64", "manifest-descriptor[linux/amd64,linux/arm64]:k=a=b", []string{"--annotation", "manifest-descriptor[linux/amd64,linux/arm64]:k=a=b"}},
	} {
		c, err := parseBuild(t, "--image", "ghcr.io/acme/api", "--platforms", tc.platforms, "--annotations", tc.anns)
		if err != nil {
			t.Errorf("%s %q: %v", tc.platforms, tc.anns, err)
			continue
		}
		if got := buildxAnnotations(c.annotations); !slices.Equal(got, tc.want) {
			t.Errorf("%s %q: flags %q, want %q", tc.platforms, tc.anns, got, tc.want)
		}
	}
}

// images names the repositories; the first is the one image names.
func TestImagesConfig(t *testing.T) {
	c, err := parseBuild(t, "--images", "ghcr.io/acme/api\nquay.io/acme/api")
	if err != nil || c.Image != "ghcr.io/acme/api" || !slices.Equal(c.repos, []string{"ghcr.io/acme/api", "quay.io/acme/api"}) {
		t.Errorf("image %q repos %q (%v)", c.Image, c.repos, err)
	}
	c, err = parseBuild(t, "--image", "localhost:5000/acme/api")
	if err != nil || !slices.Equal(c.repos, []string{"localhost:5000/acme/api"}) {
		t.Errorf("image alone: repos %q (%v)", c.repos, err)
	}
}
