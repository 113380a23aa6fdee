// Command prune-images is the prune-images action; see actions/prune-images/action.yml.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/prune"
	_ "github.com/gitops-actions/gitops-actions/internal/supervisor/start"
)

func main() {
	os.Exit(action.Supervise("prune-images", os.Args, os.Environ(), func() int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return prune.Main(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	}))
}
