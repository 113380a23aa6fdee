package target

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// Kind says what a Target is.
type Kind int

// Kinds of target.
const (
	Registry Kind = iota + 1
	Archive       // an OCI layout directory or an image tarball
	Directory
)

// Target is an opened scan target.
type Target struct {
	Kind  Kind
	Name  string   // what the user gave
	Image v1.Image // nil for a Directory
	Dir   string   // the directory, for a Directory

	// For a Registry target: the reference, the digest it resolved to and
	// the options that reach the registry (auth, context).
	Ref        name.Reference
	Digest     v1.Hash
	Descriptor v1.Descriptor // of what Ref resolved to (image or index)
	Options    []remote.Option

	cleanup func()
}

// Close removes what Open unpacked.
func (t *Target) Close() {
	if t.cleanup != nil {
		t.cleanup()
	}
}

// Auth is registry credentials; empty means the Docker config keychain.
type Auth struct {
	Username, Password string
}

// RemoteOptions are the go-containerregistry options for a registry with
// auth, through the shared transport: bounded waits, bounded retries.
func RemoteOptions(ctx context.Context, a Auth) []remote.Option {
	opts := append(transport.For(ctx).Remote(), remote.WithContext(ctx), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	if a.Username != "" || a.Password != "" {
		return append(opts, remote.WithAuth(&authn.Basic{Username: a.Username, Password: a.Password}))
	}
	return append(opts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
}

// OpenRemote resolves ref in its registry. Only the manifest is fetched
// here; layers are fetched when read.
func OpenRemote(ctx context.Context, ref string, a Auth) (*Target, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parsing image-ref %q: %w", ref, err)
	}
	opts := RemoteOptions(ctx, a)
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return nil, fmt.Errorf("fetching %q: %w", ref, err)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("reading image %q: %w", ref, err)
	}
	return &Target{Kind: Registry, Name: ref, Image: img, Ref: r, Digest: desc.Digest, Descriptor: desc.Descriptor, Options: opts}, nil
}

// OpenArchive opens an OCI layout directory, an OCI layout tarball or a
// docker save tarball.
func OpenArchive(path string) (*Target, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("opening input %q: %w", path, err)
	}
	if fi.IsDir() {
		img, err := fromLayout(path)
		if err != nil {
			return nil, fmt.Errorf("reading OCI layout %q: %w", path, err)
		}
		return &Target{Kind: Archive, Name: path, Image: img}, nil
	}
	if img, err := tarball.ImageFromPath(path, nil); err == nil {
		if _, err := img.Manifest(); err == nil {
			return &Target{Kind: Archive, Name: path, Image: img}, nil
		}
	}
	// An OCI layout tarball (docker buildx --output type=oci): unpack it.
	dir, err := os.MkdirTemp("", "scan-oci-")
	if err != nil {
		return nil, fmt.Errorf("unpacking input %q: %w", path, err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := untar(path, dir); err != nil {
		cleanup()
		return nil, fmt.Errorf("input %q is neither a docker nor an OCI image tarball: %w", path, err)
	}
	img, err := fromLayout(dir)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("input %q is neither a docker nor an OCI image tarball: %w", path, err)
	}
	return &Target{Kind: Archive, Name: path, Image: img, cleanup: cleanup}, nil
}

// OpenDir checks path is a directory.
func OpenDir(path string) (*Target, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("opening path %q: %w", path, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("path %q is not a directory", path)
	}
	return &Target{Kind: Directory, Name: path, Dir: path}, nil
}

// fromLayout picks the image of an OCI layout: the only one, or the
// linux/amd64 one of an index.
func fromLayout(dir string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	return pick(idx)
}

func pick(idx v1.ImageIndex) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var first *v1.Descriptor
	for i := range m.Manifests {
		d := &m.Manifests[i]
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			return pick(child)
		}
		if !d.MediaType.IsImage() {
			continue
		}
		if first == nil {
			first = d
		}
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == "amd64" {
			first = d
			break
		}
	}
	if first == nil {
		return nil, errors.New("no image manifest in the index")
	}
	return idx.Image(first.Digest)
}

func untar(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dst, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, filepath.Clean(dst)+string(os.PathSeparator)) {
			return fmt.Errorf("entry %q leaves the archive", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			out, err := os.Create(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}
