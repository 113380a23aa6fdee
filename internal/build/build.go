package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/dockerfile"
	"github.com/gitops-actions/gitops-actions/internal/gobuild"
	"github.com/gitops-actions/gitops-actions/internal/imagetag"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// Main runs the build action and returns its exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	env := action.Env{Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	return action.Run(ctx, "build", env, ParseConfig, run)
}

// Metadata is the metadata output: what was built and where it went.
type Metadata struct {
	Image   string            `json:"image"`
	Digest  string            `json:"digest"`
	Tags    []string          `json:"tags"`
	Labels  map[string]string `json:"labels"`
	Digests map[string]string `json:"digests"` // per platform
}

func run(ctx context.Context, c *action.Context, cfg Config) error {
	if st, err := os.Stat(cfg.Context); err != nil || !st.IsDir() {
		return action.Usage("context", "%q is not a directory", cfg.Context)
	}
	df := cfg.Dockerfile
	if !filepath.IsAbs(df) {
		df = filepath.Join(cfg.Context, df)
	}
	_, dfErr := os.Stat(df)
	hasDF := dfErr == nil
	builder := cfg.Builder
	if builder == "auto" {
		switch {
		case hasDF:
			builder = "dockerfile"
		case cfg.GoMain != "":
			builder = "go"
		default:
			return action.Usage("builder", "auto found no Dockerfile at %q and go-main is not set: add a Dockerfile or set go-main", df)
		}
	}
	if (builder == "dockerfile" || cfg.LintOnly) && !hasDF {
		return action.Usage("dockerfile", "%q not found", df)
	}
	root, err := contextRoot(cfg)
	if err != nil {
		return err
	}
	if builder == "dockerfile" || cfg.LintOnly {
		if err := checkDockerfile(cfg, root, df); err != nil {
			return err
		}
	} else if err := checkGoContext(cfg, root); err != nil {
		return err
	}

	if hasDF && (builder == "dockerfile" || cfg.LintOnly) && (cfg.Lint != "off" || cfg.LintOnly) {
		findings, err := dockerfile.LintFile(cfg.Context, cfg.Dockerfile, dockerfile.Options{Target: cfg.Target, BuildArgs: cfg.buildArgs})
		switch {
		case errors.Is(err, dockerfile.ErrNoTarget):
			return action.UsageErr("target", err)
		case err != nil:
			return action.UsageErr("dockerfile", err)
		}
		c.AddFindings(findings...)
		n := report.Count(findings)
		c.Logf("lint %s: %d error(s), %d warning(s), %d notice(s)", cfg.Dockerfile, n.Errors, n.Warnings, n.Notices)
		blocked := cfg.Lint != "off" && report.AtOrAbove(findings, report.Severity(cfg.Lint))
		if blocked {
			if !cfg.LintOnly {
				c.Logf("lint gate %q: not building", cfg.Lint)
			}
			return action.ErrFindings
		}
		if cfg.LintOnly {
			return nil
		}
	}
	if cfg.LintOnly {
		return nil
	}

	created, err := createdTime(ctx, c.Getenv, cfg.Context)
	if err != nil {
		return err
	}
	ev, err := imagetag.FromEnv(c.Getenv, time.Now())
	if err != nil {
		return action.External(err)
	}
	if ev.SHA == "" {
		ev.SHA = gitOutput(ctx, cfg.Context, "rev-parse", "HEAD")
	}
	tags, err := imagetag.Tags(cfg.rules, cfg.flavor, ev)
	if err != nil {
		return action.UsageErr("tags", err)
	}
	labels := imagetag.Labels(ev, tags, cfg.Image, created)
	maps.Copy(labels, cfg.labels)

	ra := newRegistryAccess(cfg, c.Getenv)
	tmp, err := os.MkdirTemp("", "gitops-build-")
	if err != nil {
		return fmt.Errorf("creating a work directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	var artifact taggable
	switch builder {
	case "go":
		artifact, err = buildGo(ctx, c, cfg, ra, labels, created)
	default:
		artifact, err = buildDockerfile(ctx, c, cfg, ra, labels, tmp)
	}
	if err != nil {
		return err
	}
	return publish(ctx, c, cfg, ra, artifact, tags, labels)
}

// taggable is what gets pushed: an image or an index.
type taggable interface {
	Digest() (v1.Hash, error)
	MediaType() (types.MediaType, error)
	RawManifest() ([]byte, error)
}

func buildGo(ctx context.Context, c *action.Context, cfg Config, ra *registryAccess, labels map[string]string, created time.Time) (taggable, error) {
	base := gobuild.Base(gobuild.ScratchBase)
	var baseDigest string
	if cfg.BaseImage != "" && cfg.BaseImage != "scratch" {
		ref, err := ra.reference(cfg.BaseImage)
		if err != nil {
			return nil, action.Usage("base-image", "%q is not an image reference: %v", cfg.BaseImage, err)
		}
		base, baseDigest, err = gobuild.RemoteBase(ctx, ref, ra.remoteOpts(ctx)...)
		if err != nil {
			return nil, action.External(registryErr("pulling base-image", err))
		}
	}
	start := time.Now()
	res, err := gobuild.Build(ctx, gobuild.Options{
		Dir: cfg.Context, Main: cfg.GoMain, Ldflags: cfg.GoLdflags, Platforms: cfg.platforms,
		Base: base, BaseName: cfg.BaseImage, BaseDigest: baseDigest, Labels: labels, Created: created,
		Log: c.Logf,
	})
	if err != nil {
		return nil, action.External(err)
	}
	c.Logf("built %s for %s in %s", cfg.GoMain, strings.Join(cfg.Platforms, ","), time.Since(start).Round(time.Millisecond))
	if res.Index != nil {
		return res.Index, nil
	}
	return res.Image, nil
}

func buildDockerfile(ctx context.Context, c *action.Context, cfg Config, ra *registryAccess, labels map[string]string, tmp string) (taggable, error) {
	out, err := dockerfileBuild(ctx, c, cfg, ra, labels, tmp)
	if errors.Is(err, errNoBuilder) {
		return nil, action.External(err)
	}
	if err != nil {
		return nil, err
	}
	p, err := layout.FromPath(out)
	if err != nil {
		return nil, fmt.Errorf("reading the built layout: %w", err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	// The creation time (the commit time, as in the labels) goes on the
	// manifest the tags name, so that prune-images reads an image's age
	// without fetching its config. Docker manifests carry no annotations;
	// an epoch time says nothing.
	created := labels[imagetag.LabelCreated]
	annotate := created != "" && !strings.HasPrefix(created, "1970-")
	d := m.Manifests[0]
	if d.MediaType.IsIndex() {
		ii, err := idx.ImageIndex(d.Digest)
		if err != nil || !annotate || d.MediaType != types.OCIImageIndex {
			return ii, err
		}
		return mutate.Annotations(ii, map[string]string{imagetag.LabelCreated: created}).(v1.ImageIndex), nil
	}
	img, err := idx.Image(d.Digest)
	if err != nil || !annotate || d.MediaType != types.OCIManifestSchema1 {
		return img, err
	}
	return mutate.Annotations(img, map[string]string{imagetag.LabelCreated: created}).(v1.Image), nil
}

// publish writes the local layout, pushes by digest, then each tag, reads
// the digest back from the registry and sets the outputs.
func publish(ctx context.Context, c *action.Context, cfg Config, ra *registryAccess, art taggable, tags []string, labels map[string]string) error {
	dg, err := art.Digest()
	if err != nil {
		return err
	}
	md := Metadata{Image: cfg.Image, Digest: dg.String(), Labels: labels, Digests: platformDigests(art, cfg)}
	if cfg.LocalOutput != "" {
		if err := writeLayout(cfg.LocalOutput, art, cfg.Image, tags); err != nil {
			return err
		}
		c.Logf("wrote OCI layout %s", cfg.LocalOutput)
	}
	if cfg.Push {
		repo, err := ra.repository(cfg.Image)
		if err != nil {
			return action.Usage("image", "%q: %v", cfg.Image, err)
		}
		opts := ra.remoteOpts(ctx)
		pusher, err := remote.NewPusher(opts...)
		if err != nil {
			return action.External(err)
		}
		start := time.Now()
		byDigest := repo.Digest(dg.String())
		if err := pusher.Push(ctx, byDigest, art.(remoteTaggable)); err != nil {
			return action.External(registryErr(fmt.Sprintf("pushing %s", byDigest), err))
		}
		for _, t := range tags {
			if err := pusher.Push(ctx, repo.Tag(t), art.(remoteTaggable)); err != nil {
				return action.External(registryErr(fmt.Sprintf("tagging %s:%s", cfg.Image, t), err))
			}
			md.Tags = append(md.Tags, repo.Tag(t).String())
		}
		// The digest output is what the registry serves, not what we computed.
		desc, err := remote.Head(byDigest, opts...)
		if err != nil {
			return action.External(registryErr("reading back "+byDigest.String(), err))
		}
		if desc.Digest != dg {
			return action.External(fmt.Errorf("registry serves %s for %s, built %s", desc.Digest, byDigest, dg))
		}
		c.Logf("pushed %s and %d tag(s) in %s", byDigest, len(tags), time.Since(start).Round(time.Millisecond))
	}
	if md.Tags == nil {
		md.Tags = []string{}
	}
	mdJSON, err := json.Marshal(md)
	if err != nil {
		return err
	}
	c.SetOutput("image", cfg.Image)
	c.SetOutput("digest", dg.String())
	if cfg.Image != "" {
		c.SetOutput("image-ref", cfg.Image+"@"+dg.String())
	}
	c.SetOutput("tags", strings.Join(tags, ","))
	c.SetOutput("platforms", strings.Join(cfg.Platforms, ","))
	c.SetOutput("metadata", string(mdJSON))
	c.SetReportData("image", md)
	c.AddSummary(fmt.Sprintf("### Image\n\n`%s@%s`\n\nTags: %s\n", cfg.Image, dg, strings.Join(tags, ", ")))
	return nil
}

func platformDigests(art taggable, cfg Config) map[string]string {
	out := map[string]string{}
	if idx, ok := art.(v1.ImageIndex); ok {
		if im, err := idx.IndexManifest(); err == nil {
			for _, m := range im.Manifests {
				if m.Platform != nil {
					out[m.Platform.String()] = m.Digest.String()
				}
			}
		}
		return out
	}
	if d, err := art.Digest(); err == nil && len(cfg.Platforms) == 1 {
		out[cfg.Platforms[0]] = d.String()
	}
	return out
}

func writeLayout(dir string, art taggable, image string, tags []string) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("creating OCI layout %q: %w", dir, err)
		}
	}
	ref := image
	if len(tags) > 0 {
		ref = image + ":" + tags[0]
	}
	opt := layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})
	switch a := art.(type) {
	case v1.ImageIndex:
		err = p.AppendIndex(a, opt)
	case v1.Image:
		err = p.AppendImage(a, opt)
	}
	if err != nil {
		return fmt.Errorf("writing OCI layout %q: %w", dir, err)
	}
	return nil
}

// createdTime is SOURCE_DATE_EPOCH, else the commit time of the context,
// else the Unix epoch: never the clock, so rebuilds match.
func createdTime(ctx context.Context, getenv func(string) string, dir string) (time.Time, error) {
	if s := getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, action.Usage("SOURCE_DATE_EPOCH", "%q is not Unix seconds", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if s := gitOutput(ctx, dir, "log", "-1", "--format=%ct"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC(), nil
		}
	}
	return time.Unix(0, 0).UTC(), nil
}

func gitOutput(ctx context.Context, dir string, args ...string) string {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// remoteTaggable is what remote.Pusher takes.
type remoteTaggable = remote.Taggable
