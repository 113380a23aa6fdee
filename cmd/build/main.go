// Command build is the build action; see actions/build/action.yml.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/build"
	_ "github.com/gitops-actions/gitops-actions/internal/supervisor/start"
)

func main() {
	os.Exit(action.Supervise("build", os.Args, os.Environ(), func() int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return build.Main(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	}))
}
