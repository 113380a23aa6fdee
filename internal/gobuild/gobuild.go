package gobuild

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// NonRoot is the user set when the base image names none: distroless's
// nonroot user, which exists without an /etc/passwd entry.
const NonRoot = "65532:65532"

// AppDir is where the binary lands in the image.
const AppDir = "/app"

// Base gives the base image for a platform.
type Base func(ctx context.Context, p v1.Platform) (v1.Image, error)

// Options describe one build.
type Options struct {
	Dir       string // module directory the build runs in (the context)
	Main      string // main package, e.g. ./cmd/server
	Ldflags   string
	Platforms []v1.Platform
	Base      Base
	// BaseName and BaseDigest are recorded as the OCI base annotations
	// when set.
	BaseName, BaseDigest string
	Labels               map[string]string
	// Created stamps the config, history and file times, so the same
	// sources give the same digest.
	Created time.Time
	// Env is the environment of go build; nil means the inherited one.
	Env []string
	Log func(format string, args ...any)
}

// Result is a built image: Index when several platforms were built, else
// Image.
type Result struct {
	Image  v1.Image
	Index  v1.ImageIndex
	Images map[string]v1.Image // by platform string
}

// Digest of the index, or of the image for one platform.
func (r Result) Digest() (v1.Hash, error) {
	if r.Index != nil {
		return r.Index.Digest()
	}
	return r.Image.Digest()
}

// BinaryName is the name the binary gets: the main package's directory,
// or the module directory's for ".".
func BinaryName(dir, main string) string {
	n := path.Base(filepath.ToSlash(main))
	if n == "." || n == "/" || n == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "app"
		}
		n = filepath.Base(abs)
	}
	return n
}

// Build compiles and assembles the image for every platform.
func Build(ctx context.Context, o Options) (Result, error) {
	if len(o.Platforms) == 0 {
		return Result{}, errors.New("no platforms to build")
	}
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	tmp, err := os.MkdirTemp("", "gobuild-")
	if err != nil {
		return Result{}, fmt.Errorf("creating a build directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	name := BinaryName(o.Dir, o.Main)
	images := make([]v1.Image, len(o.Platforms))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range o.Platforms {
		g.Go(func() error {
			out := filepath.Join(tmp, fmt.Sprintf("%d", i), name)
			start := time.Now()
			if err := compile(gctx, o, p, out); err != nil {
				return err
			}
			mu.Lock()
			logf("compiled %s for %s in %s", o.Main, p.String(), time.Since(start).Round(time.Millisecond))
			mu.Unlock()
			base, err := o.Base(gctx, p)
			if err != nil {
				return err
			}
			img, err := assemble(base, p, out, name, o)
			if err != nil {
				return fmt.Errorf("assembling the image for %s: %w", p.String(), err)
			}
			images[i] = img
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Result{}, err
	}
	res := Result{Images: map[string]v1.Image{}}
	for i, p := range o.Platforms {
		res.Images[p.String()] = images[i]
	}
	if len(images) == 1 {
		res.Image = images[0]
		return res, nil
	}
	idxType := types.OCIImageIndex
	if mt, err := images[0].MediaType(); err == nil && mt == types.DockerManifestSchema2 {
		idxType = types.DockerManifestList
	}
	idx := mutate.IndexMediaType(empty.Index, idxType)
	for i, p := range o.Platforms {
		p := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: images[i], Descriptor: v1.Descriptor{Platform: &p}})
	}
	if anns := annotations(o); len(anns) > 0 && idxType == types.OCIImageIndex {
		idx = mutate.Annotations(idx, anns).(v1.ImageIndex)
	}
	res.Index = idx
	return res, nil
}

func compile(ctx context.Context, o Options, p v1.Platform, out string) error {
	args := []string{"build", "-trimpath", "-o", out}
	// -buildid= keeps the binary identical whatever path the module is at.
	ld := strings.TrimSpace("-buildid= " + o.Ldflags)
	args = append(args, "-ldflags="+ld, o.Main)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = o.Dir
	env := o.Env
	if env == nil {
		// The caller's environment (GOCACHE, GOFLAGS, GOPROXY...), as exec would pass it.
		env = cmd.Environ()
	}
	env = append(env[:len(env):len(env)], "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	if p.Architecture == "arm" && p.Variant != "" {
		env = append(env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	if p.Architecture == "amd64" && p.Variant != "" {
		env = append(env, "GOAMD64="+p.Variant)
	}
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", o.Main, p.String(), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// annotations are the OCI annotations of the index and of each image:
// the base image, and the creation time (so that a pruner reads an
// image's age from its manifest, without fetching its config). A time
// pinned to the epoch says nothing and is left out.
func annotations(o Options) map[string]string {
	anns := map[string]string{}
	if o.Created.After(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)) {
		anns["org.opencontainers.image.created"] = o.Created.UTC().Format(time.RFC3339)
	}
	if o.BaseName != "" {
		anns["org.opencontainers.image.base.name"] = o.BaseName
	}
	if o.BaseDigest != "" {
		anns["org.opencontainers.image.base.digest"] = o.BaseDigest
	}
	return anns
}

func assemble(base v1.Image, p v1.Platform, bin, name string, o Options) (v1.Image, error) {
	mt, err := base.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading the base media type: %w", err)
	}
	layerType := types.OCILayer
	if mt == types.DockerManifestSchema2 {
		layerType = types.DockerLayer
	}
	layerTar, err := binaryTar(bin, name, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressionLevel(gzip.BestSpeed), tarball.WithMediaType(layerType), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("making the binary layer: %w", err)
	}
	created := v1.Time{Time: o.Created.UTC()}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: layerType,
		History:   v1.History{Author: "gitops-actions", CreatedBy: "gobuild " + o.Main, Created: created, Comment: "go build -trimpath, CGO_ENABLED=0"},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the base config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = created
	cfg := &cf.Config
	cfg.Entrypoint = []string{path.Join(AppDir, name)}
	cfg.Cmd = nil
	if cfg.User == "" {
		cfg.User = NonRoot
	}
	if len(cfg.Env) == 0 {
		cfg.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	for k, v := range o.Labels {
		cfg.Labels[k] = v
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	if anns := annotations(o); len(anns) > 0 && mt != types.DockerManifestSchema2 {
		img = mutate.Annotations(img, anns).(v1.Image)
	}
	return img, nil
}

// binaryTar is the layer: /app and /app/<name>, owned by root, with fixed
// times and modes so the bytes depend only on the binary.
func binaryTar(bin, name string, mtime time.Time) ([]byte, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("reading the built binary: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime = mtime.UTC()
	dir := strings.TrimPrefix(AppDir, "/")
	hdrs := []*tar.Header{
		{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX},
		{Typeflag: tar.TypeReg, Name: dir + "/" + name, Mode: 0o755, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX},
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ScratchBase is an empty base whose config names the platform, for
// static binaries that need nothing else.
func ScratchBase(_ context.Context, p v1.Platform) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.RootFS.Type = "layers"
	return mutate.ConfigFile(img, cf)
}
