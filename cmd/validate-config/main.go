// Command validate-config is the validate-config action; see actions/validate-config/action.yml.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gitops-actions/gitops-actions/internal/action"
	_ "github.com/gitops-actions/gitops-actions/internal/supervisor/start"
	"github.com/gitops-actions/gitops-actions/internal/validate"
)

func main() {
	os.Exit(action.Supervise("validate-config", os.Args, os.Environ(), func() int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return validate.Main(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	}))
}
