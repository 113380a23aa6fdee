package scan

import (
	"context"
	"io"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// Main runs the scan action and returns its exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	env := action.Env{Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	return action.Run(ctx, "scan", env, ParseConfig, run)
}

func run(ctx context.Context, c *action.Context, cfg Config) error {
	c.Logf("scan: image-ref=%s input=%s path=%s", cfg.ImageRef, cfg.Input, cfg.Path)
	c.SetOutput("sbom-file", cfg.SBOMFile)
	return nil
}
