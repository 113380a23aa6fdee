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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
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
	Image       string            `json:"image"`
	Images      []string          `json:"images"`
	Digest      string            `json:"digest"`
	Refs        []string          `json:"refs"` // repository@digest, per repository
	Tags        []string          `json:"tags"` // repository:tag, as pushed
	Labels      map[string]string `json:"labels"`
	Annotations []string          `json:"annotations"`
	Digests     map[string]string `json:"digests"` // per platform
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
		return annotate(res.Index, cfg.annotations, cfg.platforms[0])
	}
	return annotate(res.Image, cfg.annotations, cfg.platforms[0])
}

func buildDockerfile(ctx context.Context, c *action.Context, cfg Config, ra *registryAccess, labels map[string]string, tmp string) (taggable, error) {
	out, annotated, err := dockerfileBuild(ctx, c, cfg, ra, labels, tmp)
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
	stamp := created != "" && !strings.HasPrefix(created, "1970-")
	var art taggable
	d := m.Manifests[0]
	if d.MediaType.IsIndex() {
		ii, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		if stamp && d.MediaType == types.OCIImageIndex {
			ii = mutate.Annotations(ii, map[string]string{imagetag.LabelCreated: created}).(v1.ImageIndex)
		}
		art = ii
	} else {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		if stamp && d.MediaType == types.OCIManifestSchema1 {
			img = mutate.Annotations(img, map[string]string{imagetag.LabelCreated: created}).(v1.Image)
		}
		art = img
	}
	if annotated {
		return art, nil
	}
	return annotate(art, cfg.annotations, cfg.platforms[0])
}

// publish writes the local layout, pushes to every repository by digest,
// then each tag, reads the digest back from each registry and sets the
// outputs.
func publish(ctx context.Context, c *action.Context, cfg Config, ra *registryAccess, art taggable, tags []string, labels map[string]string) error {
	dg, err := art.Digest()
	if err != nil {
		return err
	}
	md := Metadata{
		Image: cfg.Image, Images: slices.Clone(cfg.repos), Digest: dg.String(), Labels: labels,
		Digests: platformDigests(art, cfg), Annotations: annotationLines(art),
	}
	if md.Images == nil {
		md.Images = []string{}
	}
	if cfg.LocalOutput != "" {
		if err := writeLayout(cfg.LocalOutput, art, cfg, tags); err != nil {
			return err
		}
		c.Logf("wrote OCI layout %s", cfg.LocalOutput)
	}
	var refs []string
	for _, r := range cfg.repos {
		refs = append(refs, r+"@"+dg.String())
	}
	if cfg.Push {
		pushed, err := pushAll(ctx, c, cfg, ra, art, dg, tags)
		if err != nil {
			// Never read as success: the report names what did land, so
			// a rerun or a cleanup knows where to look.
			c.SetReportData("pushed", pushed)
			return err
		}
		md.Tags = pushed.Tags
	}
	if md.Tags == nil {
		md.Tags = []string{}
	}
	md.Refs = refs
	if md.Refs == nil {
		md.Refs = []string{}
	}
	mdJSON, err := json.Marshal(md)
	if err != nil {
		return err
	}
	c.SetOutput("image", cfg.Image)
	c.SetOutput("images", strings.Join(cfg.repos, "\n"))
	c.SetOutput("digest", dg.String())
	if cfg.Image != "" {
		c.SetOutput("image-ref", cfg.Image+"@"+dg.String())
	}
	c.SetOutput("image-refs", strings.Join(refs, "\n"))
	c.SetOutput("tags", strings.Join(tags, ","))
	c.SetOutput("tag-refs", strings.Join(tagRefs(cfg.repos, tags), "\n"))
	c.SetOutput("annotations", strings.Join(md.Annotations, "\n"))
	c.SetOutput("platforms", strings.Join(cfg.Platforms, ","))
	c.SetOutput("metadata", string(mdJSON))
	c.SetReportData("image", md)
	c.AddSummary(fmt.Sprintf("### Image\n\n`%s`\n\nTags: %s\n", strings.Join(refs, "`, `"), strings.Join(tags, ", ")))
	return nil
}

// Pushed is what reached the registries: by digest and by tag.
type Pushed struct {
	Refs []string `json:"refs"`
	Tags []string `json:"tags"`
}

func tagRefs(repos, tags []string) []string {
	var out []string
	for _, r := range repos {
		for _, t := range tags {
			out = append(out, r+":"+t)
		}
	}
	return out
}

// pushAll uploads the artifact once per registry: a further repository on
// a registry already pushed to gets the image from there, so its blobs are
// mounted across repositories instead of uploaded again.
func pushAll(ctx context.Context, c *action.Context, cfg Config, ra *registryAccess, art taggable, dg v1.Hash, tags []string) (Pushed, error) {
	pushed := Pushed{Refs: []string{}, Tags: []string{}}
	opts := ra.remoteOpts(ctx)
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return pushed, action.External(err)
	}
	fail := func(err error) (Pushed, error) {
		if len(pushed.Refs) > 0 {
			err = fmt.Errorf("%w\nalready pushed: %s", err, strings.Join(append(slices.Clone(pushed.Refs), pushed.Tags...), ", "))
		}
		return pushed, action.External(err)
	}
	onRegistry := map[string]name.Digest{}
	for _, image := range cfg.repos {
		repo, err := ra.repository(image)
		if err != nil {
			return pushed, action.Usage("images", "%q: %v", image, err)
		}
		start := time.Now()
		src := remoteTaggable(art)
		byDigest := repo.Digest(dg.String())
		if from, ok := onRegistry[repo.RegistryStr()]; ok {
			if src, err = remoteArtifact(from, opts); err != nil {
				return fail(registryErr("reading back "+from.String(), err))
			}
		}
		if err := pusher.Push(ctx, byDigest, src); err != nil {
			return fail(registryErr(fmt.Sprintf("pushing %s", byDigest), err))
		}
		// The digest output is what the registry serves, not what we computed.
		desc, err := remote.Head(byDigest, opts...)
		if err != nil {
			return fail(registryErr("reading back "+byDigest.String(), err))
		}
		if desc.Digest != dg {
			return fail(fmt.Errorf("registry serves %s for %s, built %s", desc.Digest, byDigest, dg))
		}
		pushed.Refs = append(pushed.Refs, image+"@"+dg.String())
		onRegistry[repo.RegistryStr()] = byDigest
		for _, t := range tags {
			if err := pusher.Push(ctx, repo.Tag(t), src); err != nil {
				return fail(registryErr(fmt.Sprintf("tagging %s:%s", image, t), err))
			}
			pushed.Tags = append(pushed.Tags, repo.Tag(t).String())
		}
		c.Logf("pushed %s and %d tag(s) in %s", byDigest, len(tags), time.Since(start).Round(time.Millisecond))
	}
	return pushed, nil
}

// remoteArtifact is the image or index a registry serves at ref.
func remoteArtifact(ref name.Digest, opts []remote.Option) (remote.Taggable, error) {
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, err
	}
	if desc.MediaType.IsIndex() {
		return desc.ImageIndex()
	}
	return desc.Image()
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

func writeLayout(dir string, art taggable, cfg Config, tags []string) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("creating OCI layout %q: %w", dir, err)
		}
	}
	ref := cfg.Image
	if len(tags) > 0 {
		ref = cfg.Image + ":" + tags[0]
	}
	// The layout's entry is the descriptor of what was built: of the index
	// when there is one, else of the single image.
	level := levelManifestDescriptor
	if _, ok := art.(v1.ImageIndex); ok {
		level = levelIndexDescriptor
	}
	anns := pick(cfg.annotations, level, &cfg.platforms[0])
	anns["org.opencontainers.image.ref.name"] = ref
	opt := layout.WithAnnotations(anns)
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
