// Command scan is the scan action; see actions/scan/action.yml.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/scan"
	_ "github.com/gitops-actions/gitops-actions/internal/supervisor/start"
)

func main() {
	os.Exit(action.Supervise("scan", os.Args, os.Environ(), func() int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return scan.Main(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	}))
}
