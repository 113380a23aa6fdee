package pipeline

import (
	"github.com/gitops-actions/gitops-actions/internal/action"
)

// Config is the pipeline action's parsed inputs.
type Config struct {
	CodePath         string
	GoMain           string
	Image            string
	RegistryUsername string
	RegistryPassword string
	BaseImage        string
	ConfigRepository string
	ConfigPath       string
	ConfigImage      string
	Token            string
	DBRepository     []string
	CacheDir         string
}

// ParseConfig turns inputs into a Config; it does no I/O.
func ParseConfig(in *action.Inputs) (Config, error) {
	c := Config{
		CodePath:         in.String("code-path"),
		GoMain:           in.String("go-main"),
		Image:            in.String("image"),
		RegistryUsername: in.String("registry-username"),
		RegistryPassword: in.Secret("registry-password"),
		BaseImage:        in.String("base-image"),
		ConfigRepository: in.String("config-repository"),
		ConfigPath:       in.String("config-path"),
		ConfigImage:      in.String("config-image"),
		Token:            in.Secret("token"),
		DBRepository:     in.List("db-repository"),
		CacheDir:         in.String("cache-dir"),
	}
	if c.CodePath == "" {
		in.Fail("code-path", "is required")
	}
	if c.ConfigImage == "" {
		in.Fail("config-image", "is required")
	}
	return c, nil
}
