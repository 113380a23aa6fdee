package scripts

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/manifest"
)

// execArgs take each action past parsing to where it uses the URL.
var execArgs = map[string][]string{
	"build":           {"--image", "127.0.0.1:1/acme/app", "--context", "URL", "--registry-username", "ci"},
	"scan":            {"--path", "URL"},
	"attest":          {"--image-ref", "127.0.0.1:1/acme/app@sha256:" + strings.Repeat("0", 64), "--signing", "key", "--rekor-url", "URL", "--registry-username", "ci"},
	"bump-manifest":   {"--repository", "URL", "--image", "ghcr.io/acme/app", "--tag", "v1.2.3"},
	"validate-config": {"--path", "URL"},
	"prune-images":    {"--repository", "127.0.0.1:1/acme/app", "--provider", "ghcr", "--github-api-url", "URL", "--registry-username", "ci"},
	"pipeline":        {"--image", "URL", "--registry-username", "ci"},
}

// Every action, given a password inside a URL in each of its string and
// list inputs and a token in each secret input, keeps both out of
// everything it writes, whatever it echoes.
func TestNoSecretInAnyOutput(t *testing.T) {
	const (
		password = "pa55&W0rd"
		token    = "tok-3f9a1c"
	)
	urlValue := "https://ci-user:" + password + "@127.0.0.1:1/acme/x.git"
	m, err := manifest.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range m.Actions {
		a, ok := Actions[spec.Name]
		if !ok {
			t.Fatalf("action %s has no entry point", spec.Name)
		}
		// Two runs: every input holds the URL (most are refused while
		// parsing, echoing the value), then inputs that take a URL or a
		// path, so the run goes on and echoes it from further in.
		for _, run := range []string{"all", "exec"} {
			t.Run(spec.Name+"/"+run, func(t *testing.T) {
				dir := t.TempDir()
				files := map[string]string{
					"report":  filepath.Join(dir, "report.json"),
					"output":  filepath.Join(dir, "github_output"),
					"summary": filepath.Join(dir, "step_summary"),
				}
				env := map[string]string{
					"GITHUB_ACTIONS":      "true",
					"GITHUB_OUTPUT":       files["output"],
					"GITHUB_STEP_SUMMARY": files["summary"],
					"HOME":                dir,
				}
				args := []string{spec.Name, "--report-file", files["report"]}
				for _, in := range spec.Inputs {
					switch in.Type {
					case manifest.TypeSecret:
						env[action.EnvName(in.Name)] = token
					case manifest.TypeString, manifest.TypeList, manifest.TypeLines:
						if in.Name != "report-file" && run == "all" {
							env[action.EnvName(in.Name)] = urlValue
						}
					}
				}
				if run == "exec" {
					for _, a := range execArgs[spec.Name] {
						args = append(args, strings.NewReplacer("URL", urlValue, "DIR", dir).Replace(a))
					}
				}
				var stdout, stderr bytes.Buffer
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				code := a.Main(ctx, args, func(k string) string { return env[k] }, &stdout, &stderr)
				written := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
				for name, path := range files {
					b, _ := os.ReadFile(path)
					written[name] = string(b)
				}
				if !strings.Contains(written["report"], "127.0.0.1:1") {
					t.Logf("the report does not echo the URL input: %s", written["report"])
				}
				// The runner strips ::add-mask:: lines, which must carry the secret.
				var kept []string
				for _, l := range strings.Split(written["stdout"], "\n") {
					if !strings.HasPrefix(l, "::add-mask::") {
						kept = append(kept, l)
					}
				}
				written["stdout"] = strings.Join(kept, "\n")
				for name, text := range written {
					for _, secret := range []string{password, strings.ReplaceAll(password, "&", "%26"), strings.ReplaceAll(password, "&", `\u0026`), token} {
						if strings.Contains(text, secret) {
							t.Errorf("exit %d: %s holds the secret %q:\n%s", code, name, secret, text)
						}
					}
				}
				t.Logf("exit %d\nstdout: %s\nstderr: %s\nreport: %s", code, written["stdout"], written["stderr"], written["report"])
			})
		}
	}
}
