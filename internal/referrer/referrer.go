package referrer

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// EmptyMediaType is the OCI 1.1 empty config of artifacts.
const EmptyMediaType types.MediaType = "application/vnd.oci.empty.v1+json"

// Subject is the image the artifact refers to.
type Subject struct {
	Repo       name.Repository
	Descriptor v1.Descriptor // media type, digest and size of its manifest
}

// manifest is an OCI image manifest carrying artifactType, which
// go-containerregistry's mutate helpers do not set.
type manifest struct {
	raw []byte
}

func (m manifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m manifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// Push uploads doc as an artifact of artifactType referring to subject and
// returns its digest reference.
func Push(sub Subject, artifactType string, doc []byte, annotations map[string]string, opts ...remote.Option) (name.Digest, error) {
	// The config is the empty blob but carries artifactType as its media
	// type too: registries that list referrers by config media type (as
	// before OCI 1.1's artifactType field) then report the same type.
	return push(sub, artifactType, types.MediaType(artifactType), doc, annotations, opts...)
}

// PushEmptyConfig is Push with the config typed as the OCI empty
// descriptor, the layout cosign writes its Sigstore bundles in.
func PushEmptyConfig(sub Subject, artifactType string, doc []byte, annotations map[string]string, opts ...remote.Option) (name.Digest, error) {
	return push(sub, artifactType, EmptyMediaType, doc, annotations, opts...)
}

func push(sub Subject, artifactType string, configType types.MediaType, doc []byte, annotations map[string]string, opts ...remote.Option) (name.Digest, error) {
	config := static.NewLayer([]byte("{}"), EmptyMediaType)
	layer := static.NewLayer(doc, types.MediaType(artifactType))
	for _, l := range []v1.Layer{config, layer} {
		if err := remote.WriteLayer(sub.Repo, l, opts...); err != nil {
			return name.Digest{}, fmt.Errorf("uploading to %q: %w", sub.Repo.String(), err)
		}
	}
	desc := func(l v1.Layer, mt types.MediaType) (v1.Descriptor, error) {
		d, err := l.Digest()
		if err != nil {
			return v1.Descriptor{}, err
		}
		sz, err := l.Size()
		return v1.Descriptor{MediaType: mt, Digest: d, Size: sz}, err
	}
	cd, err := desc(config, configType)
	if err != nil {
		return name.Digest{}, err
	}
	ld, err := desc(layer, types.MediaType(artifactType))
	if err != nil {
		return name.Digest{}, err
	}
	subj := sub.Descriptor
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  artifactType,
		Config:        cd,
		Layers:        []v1.Descriptor{ld},
		Subject:       &v1.Descriptor{MediaType: subj.MediaType, Digest: subj.Digest, Size: subj.Size},
		Annotations:   annotations,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return name.Digest{}, fmt.Errorf("encoding the artifact manifest: %w", err)
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return name.Digest{}, err
	}
	ref := sub.Repo.Digest(h.String())
	if err := remote.Put(ref, manifest{raw: raw}, opts...); err != nil {
		return name.Digest{}, fmt.Errorf("pushing the artifact to %q: %w", ref.String(), err)
	}
	return ref, nil
}
