package target

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxManifestSize caps an index, manifest or config read into memory; it
// is the limit registries put on manifests.
const maxManifestSize = 4 << 20

// maxIndexDepth bounds indexes nested in indexes; real layouts nest one.
const maxIndexDepth = 8

// ociLayout reads an OCI image layout. Every path goes through an os.Root, so
// none resolves outside the layout, and every blob is checked against the
// digest and size of the descriptor that names it before it is used.
type ociLayout struct {
	root *os.Root
	// checked are blob paths whose content was already hashed against
	// their name (by untar); they are only size-checked again.
	checked map[string]bool
}

// readLayout reads the OCI layout in dir: the images of its index (the
// first index it lists is followed, else index.json itself), each with its
// manifest, config and layers checked. It returns the image a single-image
// scan takes (the only one, else linux/amd64, else the first) and, when the
// index lists several platform images, every one of them.
func readLayout(dir string, checked map[string]bool) (v1.Image, []IndexImage, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	l := &ociLayout{root: root, checked: checked}
	raw, err := l.readFile("index.json")
	if err != nil {
		return nil, nil, err
	}
	descs, err := l.images(raw, "index.json", 0, map[v1.Hash]bool{})
	if err != nil {
		return nil, nil, err
	}
	var imgs []IndexImage
	var picked v1.Image
	for _, d := range descs {
		img, err := l.image(d)
		if err != nil {
			return nil, nil, fmt.Errorf("image %s: %w", d.Digest, err)
		}
		if picked == nil || d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == "amd64" {
			picked = img
		}
		imgs = append(imgs, IndexImage{Descriptor: d, Image: img})
	}
	if len(imgs) < 2 {
		imgs = nil
	}
	return picked, imgs, nil
}

// IndexImage is one platform image of an index in a layout.
type IndexImage struct {
	Descriptor v1.Descriptor
	Image      v1.Image
}

// readFile reads a file of the layout that no descriptor vouches for.
func (l *ociLayout) readFile(name string) ([]byte, error) {
	f, err := l.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxManifestSize)
	}
	return b, nil
}

func blobPath(h v1.Hash) string { return path.Join("blobs", h.Algorithm, h.Hex) }

// open opens the blob d names and checks it holds d.Size bytes.
func (l *ociLayout) open(d v1.Descriptor) (*os.File, error) {
	if d.Digest.Algorithm == "" {
		return nil, errors.New("a descriptor has no digest")
	}
	if d.Size < 0 {
		return nil, fmt.Errorf("blob %s: negative size %d", d.Digest, d.Size)
	}
	f, err := l.root.Open(blobPath(d.Digest))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	} else if err == nil && fi.Size() != d.Size {
		err = fmt.Errorf("%d bytes where its descriptor says %d", fi.Size(), d.Size)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	return f, nil
}

// verify checks the content of r, d.Size bytes, hashes to d.Digest.
func verify(r io.Reader, d v1.Descriptor) error {
	h, err := v1.Hasher(d.Digest.Algorithm)
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	n, err := io.Copy(h, io.LimitReader(r, d.Size+1))
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if n != d.Size {
		return fmt.Errorf("blob %s: %d bytes where its descriptor says %d", d.Digest, n, d.Size)
	}
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != d.Digest.Hex {
		return fmt.Errorf("blob %s: its content hashes to %s:%s (damaged or tampered with)", d.Digest, d.Digest.Algorithm, got)
	}
	return nil
}

// readBlob reads a small blob (index, manifest, config) and checks it.
func (l *ociLayout) readBlob(d v1.Descriptor) ([]byte, error) {
	if d.Size > maxManifestSize {
		return nil, fmt.Errorf("blob %s: %d bytes, more than the %d a manifest or config may have", d.Digest, d.Size, maxManifestSize)
	}
	f, err := l.open(d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, d.Size+1))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if err := verify(bytes.NewReader(b), d); err != nil {
		return nil, err
	}
	return b, nil
}

// checkBlob checks a blob too big to hold in memory (a layer).
func (l *ociLayout) checkBlob(d v1.Descriptor) error {
	f, err := l.open(d)
	if err != nil {
		return err
	}
	defer f.Close()
	if l.checked[blobPath(d.Digest)] {
		return nil
	}
	return verify(f, d)
}

// images returns the image descriptors of an index (raw, named what): the
// first index it lists is followed, else its images are listed, leaving
// out what names no platform among several (buildx's attestation
// manifests, unknown/unknown). A single image without a platform is kept.
// seen holds the indexes on the way here, so an index that lists itself or
// an ancestor is an error, not a loop.
func (l *ociLayout) images(raw []byte, what string, depth int, seen map[v1.Hash]bool) ([]v1.Descriptor, error) {
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", what, err)
	}
	var all, platforms []v1.Descriptor
	for i := range idx.Manifests {
		d := idx.Manifests[i]
		if d.MediaType.IsIndex() {
			if seen[d.Digest] {
				return nil, fmt.Errorf("%s lists index %s, which is already on the way to it (a cycle)", what, d.Digest)
			}
			if depth+1 >= maxIndexDepth {
				return nil, fmt.Errorf("indexes nest more than %d deep at %s", maxIndexDepth, d.Digest)
			}
			child, err := l.readBlob(d)
			if err != nil {
				return nil, err
			}
			seen[d.Digest] = true
			return l.images(child, "index "+d.Digest.String(), depth+1, seen)
		}
		if !d.MediaType.IsImage() {
			continue
		}
		all = append(all, d)
		if d.Platform != nil && d.Platform.OS != "" && d.Platform.OS != "unknown" {
			platforms = append(platforms, d)
		}
	}
	switch {
	case len(platforms) > 0:
		return platforms, nil
	case len(all) > 0:
		return all[:1], nil
	}
	return nil, fmt.Errorf("no image manifest in %s", what)
}

// image reads and checks the manifest d names, its config and its layers.
func (l *ociLayout) image(d v1.Descriptor) (v1.Image, error) {
	raw, err := l.readBlob(d)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing the manifest: %w", err)
	}
	cfg, err := l.readBlob(m.Config)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	img := &layoutImage{dir: l.root.Name(), mediaType: d.MediaType, manifest: raw, layers: m.Layers, config: cfg}
	if m.MediaType != "" {
		img.mediaType = m.MediaType
	}
	for _, ld := range m.Layers {
		if err := l.checkBlob(ld); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
	}
	return partial.CompressedToImage(img)
}

// layoutImage is an image of a layout whose blobs were checked.
type layoutImage struct {
	dir       string
	mediaType types.MediaType
	manifest  []byte
	config    []byte
	layers    []v1.Descriptor
}

func (i *layoutImage) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *layoutImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *layoutImage) RawManifest() ([]byte, error)        { return i.manifest, nil }
func (i *layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, d := range i.layers {
		if d.Digest == h {
			return &layoutLayer{dir: i.dir, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("blob %s is not a layer of this image", h)
}

type layoutLayer struct {
	dir  string
	desc v1.Descriptor
}

func (l *layoutLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *layoutLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *layoutLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *layoutLayer) Descriptor() (*v1.Descriptor, error) { return &l.desc, nil }

// Compressed opens the layer through a root of its own, as readLayout's is
// closed by the time the layer is read.
func (l *layoutLayer) Compressed() (io.ReadCloser, error) {
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.Open(blobPath(l.desc.Digest))
}
