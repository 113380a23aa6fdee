package scripts

import (
	"context"
	"io"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/attest"
	"github.com/gitops-actions/gitops-actions/internal/build"
	"github.com/gitops-actions/gitops-actions/internal/bump"
	"github.com/gitops-actions/gitops-actions/internal/diffconfig"
	"github.com/gitops-actions/gitops-actions/internal/pipeline"
	"github.com/gitops-actions/gitops-actions/internal/prune"
	"github.com/gitops-actions/gitops-actions/internal/scan"
	"github.com/gitops-actions/gitops-actions/internal/validate"
)

// MainFunc is the entry point every cmd/<name> calls.
type MainFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int

// Action ties an action name to its entry point, config parser and package.
type Action struct {
	Main    MainFunc
	Parse   func(*action.Inputs) error
	Package string // internal/<Package>
}

func configParser[C any](f func(*action.Inputs) (C, error)) func(*action.Inputs) error {
	return func(in *action.Inputs) error { _, err := f(in); return err }
}

// Actions is every action of the toolkit by name.
var Actions = map[string]Action{
	"build":           {build.Main, configParser(build.ParseConfig), "build"},
	"scan":            {scan.Main, configParser(scan.ParseConfig), "scan"},
	"attest":          {attest.Main, configParser(attest.ParseConfig), "attest"},
	"bump-manifest":   {bump.Main, configParser(bump.ParseConfig), "bump"},
	"validate-config": {validate.Main, configParser(validate.ParseConfig), "validate"},
	"diff-config":     {diffconfig.Main, configParser(diffconfig.ParseConfig), "diffconfig"},
	"prune-images":    {prune.Main, configParser(prune.ParseConfig), "prune"},
	"pipeline":        {pipeline.Main, configParser(pipeline.ParseConfig), "pipeline"},
}
