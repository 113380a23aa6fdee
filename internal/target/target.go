package target

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
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
	// Outside are the symlinks in Dir that resolve outside it; the
	// catalogers must not follow them.
	Outside []Link

	// For a Registry target: the reference, the digest it resolved to and
	// the options that reach the registry (auth, context).
	Ref        name.Reference
	Digest     v1.Hash
	Descriptor v1.Descriptor // of what Ref resolved to (image or index)
	Options    []remote.Option

	// Index are the platform images of an Archive holding an index of
	// several; Image is then its linux/amd64 one (else the first).
	Index []IndexImage

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
		img, index, err := readLayout(path, nil)
		if err != nil {
			return nil, fmt.Errorf("reading OCI layout %q: %w", path, err)
		}
		return &Target{Kind: Archive, Name: path, Image: img, Index: index}, nil
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
	checked, err := untar(path, dir)
	if err == nil {
		if _, err = os.Stat(filepath.Join(dir, "index.json")); err != nil {
			err = fmt.Errorf("is neither a docker nor an OCI image tarball: %w", err)
		}
	}
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("unpacking input %q: %w", path, err)
	}
	img, index, err := readLayout(dir, checked)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("reading the OCI layout in input %q: %w", path, err)
	}
	return &Target{Kind: Archive, Name: path, Image: img, Index: index, cleanup: cleanup}, nil
}

// Link is a symlink of a scanned directory.
type Link struct {
	Path   string // slash path relative to the directory
	Target string // what it resolves to
}

// OpenDir checks path is a directory and lists its links that leave it.
func OpenDir(path string) (*Target, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("opening path %q: %w", path, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("path %q is not a directory", path)
	}
	out, err := linksOut(path)
	if err != nil {
		return nil, fmt.Errorf("reading path %q: %w", path, err)
	}
	return &Target{Kind: Directory, Name: path, Dir: path, Outside: out}, nil
}

// linksOut walks dir without following links and returns those whose
// target, all links resolved, is not inside dir. A dangling link leads
// nowhere and is left alone; an unreadable directory is skipped, as the
// catalogers skip it.
func linksOut(dir string) ([]Link, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	var out []Link
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() && p != dir {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil
		}
		if rel, err := filepath.Rel(root, target); err == nil && filepath.IsLocal(rel) || target == root {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, Link{Path: filepath.ToSlash(rel), Target: target})
		return nil
	})
	return out, err
}

// untar unpacks the tarball src into dst, refusing entries that would
// land or point outside it, and returns the blobs (blobs/<alg>/<hex>)
// whose content was hashed against their name on the way.
func untar(src, dst string) (map[string]bool, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	root, err := os.OpenRoot(dst)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	checked := map[string]bool{}
	seen := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return checked, nil
		}
		if err != nil {
			return nil, err
		}
		name, ok := entryName(h.Name)
		if !ok {
			return nil, fmt.Errorf("entry %q leaves the archive", h.Name)
		}
		if name == "." {
			if h.Typeflag != tar.TypeDir {
				return nil, fmt.Errorf("entry %q is the archive's root but not a directory", h.Name)
			}
			continue
		}
		if h.Typeflag != tar.TypeDir {
			if seen[name] {
				return nil, fmt.Errorf("entry %q appears twice", h.Name)
			}
			seen[name] = true
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = root.MkdirAll(name, 0o755)
		case tar.TypeReg:
			var ok bool
			if ok, err = writeEntry(root, name, tr); ok {
				checked[name] = true
			}
		case tar.TypeSymlink:
			// Relative to the link's directory, as the kernel resolves it.
			if path.IsAbs(h.Linkname) {
				return nil, fmt.Errorf("entry %q links to %q, outside the archive", h.Name, h.Linkname)
			}
			if _, ok := entryName(path.Join(path.Dir(name), h.Linkname)); !ok {
				return nil, fmt.Errorf("entry %q links to %q, outside the archive", h.Name, h.Linkname)
			}
			if err = root.MkdirAll(path.Dir(name), 0o755); err == nil {
				err = root.Symlink(h.Linkname, name)
			}
		case tar.TypeLink:
			target, ok := entryName(h.Linkname)
			if !ok || target == "." {
				return nil, fmt.Errorf("entry %q links to %q, outside the archive", h.Name, h.Linkname)
			}
			if err = root.MkdirAll(path.Dir(name), 0o755); err == nil {
				err = root.Link(target, name)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", h.Name, err)
		}
	}
}

// entryName cleans a tar entry name ("./blobs/sha256/…" as `tar -C dir
// -cf x.tar .` writes them) to a slash path inside the archive; "." is the
// archive's root. ok is false for a name that is absolute or climbs out.
func entryName(n string) (string, bool) {
	if n == "" || path.IsAbs(n) || strings.Contains(n, "\\") {
		return "", false
	}
	c := path.Clean(n)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	return c, true
}

// writeEntry writes a regular file. A blob named by its digest is hashed
// as it is written; ok says it matched, and a mismatch is an error.
func writeEntry(root *os.Root, name string, r io.Reader) (ok bool, err error) {
	if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
		return false, err
	}
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return false, err
	}
	var want v1.Hash
	var hasher hash.Hash
	if alg, hex, isBlob := strings.Cut(strings.TrimPrefix(name, "blobs/"), "/"); isBlob && strings.HasPrefix(name, "blobs/") {
		if h, err := v1.NewHash(alg + ":" + hex); err == nil {
			if hasher, err = v1.Hasher(h.Algorithm); err == nil {
				want = h
				r = io.TeeReader(r, hasher)
			}
		}
	}
	_, err = io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil || hasher == nil {
		return false, err
	}
	if got := fmt.Sprintf("%x", hasher.Sum(nil)); got != want.Hex {
		return false, fmt.Errorf("its content hashes to %s:%s, not the digest it is named by (damaged or tampered with)", want.Algorithm, got)
	}
	return true, nil
}
