package pipeline

import (
	"context"
	"io"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// Main runs the pipeline and returns its exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	env := action.Env{Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	return action.Run(ctx, "pipeline", env, ParseConfig, run)
}

func run(ctx context.Context, c *action.Context, cfg Config) error {
	c.Logf("pipeline: code-path=%s config-path=%s (stages arrive with their issues)", cfg.CodePath, cfg.ConfigPath)
	c.SetOutput("passed", "true")
	return nil
}
