package scripts

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/gitops-actions/gitops-actions/internal/scanfixture"
)

func TestMain(m *testing.M) {
	cmds := map[string]func(){}
	for name, a := range Actions {
		cmds[name] = func() {
			os.Exit(a.Main(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr))
		}
	}
	cmds["write-trivy-db"] = writeTrivyDB
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

// writeTrivyDB is `write-trivy-db <dir> <advisories.json>`: a trivy
// database in dir, written with trivy-db's own API from a JSON list of
// scanfixture.Advisory, so scan scripts match offline.
func writeTrivyDB() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: write-trivy-db <dir> <advisories.json>")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var advisories []scanfixture.Advisory
	if err := json.Unmarshal(data, &advisories); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := scanfixture.WriteDB(os.Args[1], advisories, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
