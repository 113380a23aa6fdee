package gobuild

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// RemoteBase fetches ref once and returns a Base that picks the image for
// each platform from it, and the digest the base resolved to (for the
// base-digest annotation).
func RemoteBase(ctx context.Context, ref name.Reference, opts ...remote.Option) (Base, string, error) {
	opts = append(opts[:len(opts):len(opts)], remote.WithContext(ctx))
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("fetching base image %q: %w", ref.String(), err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, "", fmt.Errorf("reading base index %q: %w", ref.String(), err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, "", fmt.Errorf("reading base index %q: %w", ref.String(), err)
		}
		return func(_ context.Context, p v1.Platform) (v1.Image, error) {
			for _, m := range im.Manifests {
				if m.Platform != nil && m.Platform.Satisfies(p) && m.MediaType.IsImage() {
					img, err := idx.Image(m.Digest)
					if err != nil {
						return nil, fmt.Errorf("fetching base image %q for %s: %w", ref.String(), p.String(), err)
					}
					return img, nil
				}
			}
			return nil, fmt.Errorf("base image %q has no %s image", ref.String(), p.String())
		}, desc.Digest.String(), nil
	}
	img, err := desc.Image()
	if err != nil {
		return nil, "", fmt.Errorf("reading base image %q: %w", ref.String(), err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, "", fmt.Errorf("reading base image config %q: %w", ref.String(), err)
	}
	have := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	return func(_ context.Context, p v1.Platform) (v1.Image, error) {
		if !have.Satisfies(p) {
			return nil, fmt.Errorf("base image %q is %s only, not %s: use a multi-platform base", ref.String(), have.String(), p.String())
		}
		return img, nil
	}, desc.Digest.String(), nil
}
