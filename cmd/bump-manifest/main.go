// Command bump-manifest is the bump-manifest action; see actions/bump-manifest/action.yml.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/bump"
	_ "github.com/gitops-actions/gitops-actions/internal/supervisor/start"
)

func main() {
	os.Exit(action.Supervise("bump-manifest", os.Args, os.Environ(), func() int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return bump.Main(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	}))
}
