// Command pipeline is the pipeline action; see actions/pipeline/action.yml.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/pipeline"
	_ "github.com/gitops-actions/gitops-actions/internal/supervisor/start"
)

func main() {
	os.Exit(action.Supervise("pipeline", os.Args, os.Environ(), func() int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return pipeline.Main(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	}))
}
