// Package start supervises a command from its init: cmd/*/main.go import
// it for that alone. Go initialises packages in import-path order as
// their imports allow, and this one needs only light standard packages,
// so the child starts before the command's heavy dependencies (trivy,
// Helm, OPA) initialise, and the waiting parent never pays for them.
package start

import (
	"os"

	"github.com/gitops-actions/gitops-actions/internal/supervisor"
)

// init returns only in the supervised child, the crash reporter or a
// render process, or when no child could be started; otherwise it ends
// the process with the child's exit code, or exit 3 after a crash.
func init() {
	if supervisor.Supervised(os.Args, os.Environ()) {
		return
	}
	code, crash, ok := supervisor.Run(os.Args, os.Environ())
	if !ok {
		return // run unsupervised in this process
	}
	if crash != "" {
		code = supervisor.Report(os.Args, os.Environ(), crash)
	}
	os.Exit(code)
}
