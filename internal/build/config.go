package build

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/imagetag"
)

// Config is the build action's parsed inputs.
type Config struct {
	Builder            string
	Context            string
	Dockerfile         string
	Target             string
	BuildArgs          []string
	GoMain             string
	GoLdflags          string
	BaseImage          string
	Platforms          []string
	Image              string
	Images             []string
	Tags               []string
	Flavor             []string
	Annotations        []string
	Labels             []string
	Push               bool
	RegistryUsername   string
	RegistryPassword   string
	Lint               string
	LintOnly           bool
	InsecureRegistries []string
	LocalOutput        string

	// Parsed forms of the inputs above.
	// repos is every repository pushed to, image or images, the first
	// being the one the single-image outputs name.
	repos       []string
	annotations []annotation
	platforms   []v1.Platform
	rules       []imagetag.Rule
	flavor      imagetag.Flavor
	buildArgs   map[string]string
	labels      map[string]string
}

// ParseConfig turns inputs into a Config; it does no I/O.
func ParseConfig(in *action.Inputs) (Config, error) {
	c := Config{
		Builder:            in.OneOf("builder", "auto", "go", "dockerfile"),
		Context:            in.String("context"),
		Dockerfile:         in.String("dockerfile"),
		Target:             in.String("target"),
		BuildArgs:          in.List("build-args"),
		GoMain:             in.String("go-main"),
		GoLdflags:          in.String("go-ldflags"),
		BaseImage:          in.String("base-image"),
		Platforms:          in.List("platforms"),
		Image:              in.String("image"),
		Images:             in.List("images"),
		Tags:               in.Lines("tags"),
		Flavor:             in.Lines("flavor"),
		Annotations:        in.Lines("annotations"),
		Labels:             in.List("labels"),
		Push:               in.Bool("push"),
		RegistryUsername:   in.String("registry-username"),
		RegistryPassword:   in.Secret("registry-password"),
		Lint:               in.OneOf("lint", "error", "warning", "off"),
		LintOnly:           in.Bool("lint-only"),
		InsecureRegistries: in.List("insecure-registries"),
		LocalOutput:        in.String("local-output"),
	}
	switch {
	case c.Image != "" && len(c.Images) > 0:
		in.Fail("images", "set image (one repository) or images (a list), not both")
	case len(c.Images) > 0:
		c.repos = parseRepos(in, c.Images)
		if len(c.repos) > 0 {
			c.Image = c.repos[0]
		}
	case c.Image == "" && !c.LintOnly && (c.Push || c.LocalOutput == ""):
		in.Fail("image", "is required to push (set image or images, or push: false with local-output)")
	case c.Image != "":
		if _, err := name.NewRepository(c.Image); err != nil {
			in.Fail("image", "%q is not an image repository (want e.g. ghcr.io/acme/api, without tag): %v", c.Image, err)
		}
		c.repos = []string{c.Image}
	}
	for _, h := range c.InsecureRegistries {
		if _, err := name.NewRegistry(h, name.StrictValidation); err != nil {
			in.Fail("insecure-registries", "%q is not a registry host[:port]: %v", h, err)
		}
	}
	if c.Context == "" {
		c.Context = "."
	}
	if c.Dockerfile == "" {
		c.Dockerfile = "Dockerfile"
	}
	if len(c.Platforms) == 0 {
		c.Platforms = []string{"linux/amd64"}
	}
	for _, p := range c.Platforms {
		pl, err := v1.ParsePlatform(p)
		if err != nil || pl.OS == "" || pl.Architecture == "" || strings.Count(p, "/") < 1 {
			in.Fail("platforms", "%q is not os/arch[/variant], e.g. linux/arm64", p)
			continue
		}
		c.platforms = append(c.platforms, *pl)
	}
	c.annotations = parseAnnotations(in, c.Annotations, c.platforms, c.LocalOutput != "")
	rules, err := imagetag.ParseRules(c.Tags)
	if err != nil {
		in.Fail("tags", "%v", err)
	}
	c.rules = rules
	if c.flavor, err = imagetag.ParseFlavor(c.Flavor); err != nil {
		in.Fail("flavor", "%v", err)
	}
	c.buildArgs = pairs(in, "build-args", c.BuildArgs)
	c.labels = pairs(in, "labels", c.Labels)
	if c.Builder == "go" && c.GoMain == "" {
		in.Fail("go-main", "is required with builder go (the main package, e.g. ./cmd/server)")
	}
	if (c.RegistryUsername == "") != (c.RegistryPassword == "") {
		in.Fail("registry-password", "registry-username and registry-password go together (give both, or neither to use the Docker config)")
	}
	return c, nil
}

// parseRepos checks the images items: repositories without tag or digest
// (the tags input makes the tags), each listed once.
func parseRepos(in *action.Inputs, items []string) []string {
	var out []string
	seen := map[string]string{}
	for _, it := range items {
		last := it[strings.LastIndex(it, "/")+1:]
		if strings.Contains(it, "@") || strings.Contains(last, ":") {
			in.Fail("images", "%q has a tag or digest: list repositories only (e.g. ghcr.io/acme/api); the tags input makes the tags", it)
			continue
		}
		r, err := name.NewRepository(it)
		if err != nil {
			in.Fail("images", "%q is not an image repository (want e.g. ghcr.io/acme/api): %v", it, err)
			continue
		}
		if prev, dup := seen[r.Name()]; dup {
			in.Fail("images", "%q and %q are the same repository: list each once", prev, it)
			continue
		}
		seen[r.Name()] = it
		out = append(out, it)
	}
	return out
}

// pairs reads K=V items.
func pairs(in *action.Inputs, input string, items []string) map[string]string {
	m := map[string]string{}
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok || strings.TrimSpace(k) == "" {
			in.Fail(input, "%q is not KEY=VALUE", it)
			continue
		}
		m[strings.TrimSpace(k)] = v
	}
	return m
}
