package testenv

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PushRandomImage pushes a small random image (two 1 KiB layers) to ref and
// returns its manifest digest. ref is either a full reference in r
// ("127.0.0.1:port/app:v1") or one relative to r ("app:v1").
func PushRandomImage(t testing.TB, r *Registry, ref string) v1.Hash {
	t.Helper()
	tag := parseRef(t, r, ref)
	img := randomImage(t, "")
	if err := remote.Write(tag, img, r.Options()...); err != nil {
		t.Fatalf("testenv: push random image to %q: %v", tag, err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatalf("testenv: digest of random image: %v", err)
	}
	return digest
}

// PushRandomIndex pushes a manifest list with one random image per platform
// ("linux/amd64", "linux/arm64/v8", ...; linux/amd64 and linux/arm64 when none
// is given) to ref and returns the list's digest. Each image's config names
// its platform too, as a real multi-platform build's does.
func PushRandomIndex(t testing.TB, r *Registry, ref string, platforms ...string) v1.Hash {
	t.Helper()
	tag := parseRef(t, r, ref)
	if len(platforms) == 0 {
		platforms = []string{"linux/amd64", "linux/arm64"}
	}
	// Docker media types throughout, since random images are Docker schema 2.
	idx := mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	for _, p := range platforms {
		img := randomImage(t, p)
		platform, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatalf("testenv: platform %q: %v", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: platform},
		})
	}
	if err := remote.WriteIndex(tag, idx, r.Options()...); err != nil {
		t.Fatalf("testenv: push random index to %q: %v", tag, err)
	}
	digest, err := idx.Digest()
	if err != nil {
		t.Fatalf("testenv: digest of random index: %v", err)
	}
	return digest
}

// parseRef parses ref, placing it in r unless it already names r's host.
func parseRef(t testing.TB, r *Registry, ref string) name.Reference {
	t.Helper()
	if !strings.HasPrefix(ref, r.Host+"/") {
		ref = r.Ref(ref)
	}
	parsed, err := name.ParseReference(ref)
	if err != nil {
		t.Fatalf("testenv: parse reference %q: %v", ref, err)
	}
	return parsed
}

// randomImage returns a random image whose config names platform, if given.
func randomImage(t testing.TB, platform string) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatalf("testenv: random image: %v", err)
	}
	if platform == "" {
		return img
	}
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		t.Fatalf("testenv: platform %q: %v", platform, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("testenv: config of random image: %v", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant, cfg.OSVersion = p.OS, p.Architecture, p.Variant, p.OSVersion
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatalf("testenv: set platform %q in config: %v", platform, err)
	}
	return img
}
