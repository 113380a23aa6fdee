package scripts

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	cmds := map[string]func(){}
	for name, a := range Actions {
		cmds[name] = func() {
			os.Exit(a.Main(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr))
		}
	}
	testscript.Main(m, cmds)
}

// TestScripts runs testdata/*.txtar: each action as a command, with
// GITHUB_OUTPUT and GITHUB_STEP_SUMMARY inside the work dir.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(e *testscript.Env) error {
			e.Setenv("GITHUB_OUTPUT", e.WorkDir+"/github_output")
			e.Setenv("GITHUB_STEP_SUMMARY", e.WorkDir+"/step_summary")
			e.Setenv("GOEXPERIMENT", "jsonv2")
			return nil
		},
		RequireExplicitExec: false,
	})
}
