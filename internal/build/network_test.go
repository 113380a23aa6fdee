package build

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// A registry that accepts connections and never answers ends the push with
// exit 3 once the tries are spent, naming them: no hang.
func TestPushToSilentRegistryExits3(t *testing.T) {
	ctx := transport.WithOptions(context.Background(), transport.Tight(300*time.Millisecond, 3))
	image := testenv.Silent(t) + "/acme/hello"
	var code int
	var errb bytes.Buffer
	took := testenv.Within(t, 90*time.Second, func() {
		code = Main(ctx, []string{"build", "--builder", "go", "--context", "../../examples/code-repo", "--go-main", ".",
			"--base-image", "scratch", "--image", image, "--registry-username", user, "--registry-password", pass},
			func(k string) string { return pushEnv[k] }, io.Discard, &errb)
	})
	if code != 3 || !strings.Contains(errb.String(), "gave up after 3 attempts") {
		t.Errorf("exit %d after %s, stderr %q; want exit 3 saying it gave up after 3 attempts", code, took, errb.String())
	}
}
