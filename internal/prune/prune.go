package prune

import (
	"context"
	"io"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// Main runs the prune-images action and returns its exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	env := action.Env{Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	return action.Run(ctx, "prune-images", env, ParseConfig, run)
}

func run(ctx context.Context, c *action.Context, cfg Config) error {
	c.Logf("prune-images: repositories=%v provider=%s dry-run=%t", cfg.Repositories, cfg.Provider, cfg.DryRun)
	c.SetOutput("deleted", "0")
	return nil
}
