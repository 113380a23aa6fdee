package bump

import (
	"context"
	"io"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// Main runs the bump-manifest action and returns its exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	env := action.Env{Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	return action.Run(ctx, "bump-manifest", env, ParseConfig, run)
}

func run(ctx context.Context, c *action.Context, cfg Config) error {
	c.Logf("bump-manifest: repository=%s image=%s tag=%s mode=%s", cfg.Repository, cfg.Image, cfg.Tag, cfg.Mode)
	c.SetOutput("changed", "false")
	return nil
}
