package build

import (
	"context"
	"io"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// Main runs the build action and returns its exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	env := action.Env{Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	return action.Run(ctx, "build", env, ParseConfig, run)
}

func run(ctx context.Context, c *action.Context, cfg Config) error {
	c.Logf("build: builder=%s context=%s image=%s platforms=%v", cfg.Builder, cfg.Context, cfg.Image, cfg.Platforms)
	c.SetOutput("image", cfg.Image)
	return nil
}
