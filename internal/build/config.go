package build

import (
	"github.com/gitops-actions/gitops-actions/internal/action"
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
	Tags               []string
	Labels             []string
	Push               bool
	RegistryUsername   string
	RegistryPassword   string
	Lint               string
	LintOnly           bool
	InsecureRegistries []string
	LocalOutput        string
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
		Tags:               in.Lines("tags"),
		Labels:             in.List("labels"),
		Push:               in.Bool("push"),
		RegistryUsername:   in.String("registry-username"),
		RegistryPassword:   in.Secret("registry-password"),
		Lint:               in.OneOf("lint", "error", "warning", "off"),
		LintOnly:           in.Bool("lint-only"),
		InsecureRegistries: in.List("insecure-registries"),
		LocalOutput:        in.String("local-output"),
	}
	if c.Image == "" && !c.LintOnly && (c.Push || c.LocalOutput == "") {
		in.Fail("image", "is required to push (set image, or push: false with local-output)")
	}
	return c, nil
}
