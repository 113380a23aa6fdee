package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// githubEnv is the context a GitHub Actions job of acme/api gives.
var githubEnv = map[string]string{
	"GITHUB_ACTIONS":       "true",
	"GITHUB_REPOSITORY":    "acme/api",
	"GITHUB_REPOSITORY_ID": "123",
	"GITHUB_SHA":           "0123456789abcdef0123456789abcdef01234567",
	"GITHUB_REF":           "refs/heads/main",
	"GITHUB_WORKFLOW_REF":  "acme/api/.github/workflows/ci.yml@refs/heads/main",
	"GITHUB_RUN_ID":        "4242",
	"GITHUB_RUN_ATTEMPT":   "1",
	"GITHUB_EVENT_NAME":    "push",
	"GITHUB_SERVER_URL":    "https://github.com",
}

type attestRun struct {
	code           int
	stdout, stderr string
	report         map[string]any
	outputs        map[string]string
}

func (r attestRun) String() string { return "stdout:\n" + r.stdout + "\nstderr:\n" + r.stderr }

// pushed is the attestations output.
func (r attestRun) pushed(t *testing.T) []Pushed {
	t.Helper()
	var ps []Pushed
	if err := json.Unmarshal([]byte(r.outputs["attestations"]), &ps); err != nil {
		t.Fatalf("attestations output %q: %v", r.outputs["attestations"], err)
	}
	return ps
}

// runAttest runs the action's Main in-process with env on top of nothing
// else from this process, and reads its JSON report.
func runAttest(t *testing.T, env map[string]string, args ...string) attestRun {
	t.Helper()
	ctx := transport.WithOptions(context.Background(), transport.Tight(2e9, 2))
	return runAttestCtx(t, ctx, env, args...)
}

func runAttestCtx(t *testing.T, ctx context.Context, env map[string]string, args ...string) attestRun {
	t.Helper()
	dir := t.TempDir()
	reportFile := filepath.Join(dir, "report.json")
	summary := filepath.Join(dir, "summary.md")
	full := map[string]string{"GITHUB_STEP_SUMMARY": summary}
	for k, v := range env {
		full[k] = v
	}
	var stdout, stderr bytes.Buffer
	code := Main(ctx, append([]string{"attest", "--report-file", reportFile}, args...), func(k string) string { return full[k] }, &stdout, &stderr)
	r := attestRun{code: code, stdout: stdout.String(), stderr: stderr.String(), outputs: map[string]string{}}
	data, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatalf("no report written (exit %d): %v\n%s", code, err, r)
	}
	if err := json.Unmarshal(data, &r.report); err != nil {
		t.Fatalf("report: %v\n%s", err, data)
	}
	if outs, ok := r.report["outputs"].(map[string]any); ok {
		for k, v := range outs {
			r.outputs[k], _ = v.(string)
		}
	}
	return r
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// spdxSBOM and cycloneDXSBOM are SBOMs in the shape the scan action writes.
func spdxSBOM(pkg string) string {
	return `{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"app","documentNamespace":"https://example.com/app","creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: scan"]},"packages":[{"name":"` + pkg + `","SPDXID":"SPDXRef-Package-1","versionInfo":"1.2.3","downloadLocation":"NOASSERTION"}]}`
}

func cycloneDXSBOM(pkg string) string {
	return `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"type":"library","name":"` + pkg + `","version":"1.2.3","purl":"pkg:golang/` + pkg + `@1.2.3"}]}`
}

// scanReportJSON is a scan action report: one HIGH vulnerability, gate at
// CRITICAL passed unless passed is false.
func scanReportJSON(passed bool) string {
	status := "passed"
	if !passed {
		status = "failed"
	}
	return `{"action":"scan","version":"v1.0.0","status":"` + status + `",
"outputs":{"critical":"` + map[bool]string{true: "0", false: "1"}[passed] + `","high":"1","medium":"0","low":"0","unknown":"0","fixable":"1","passed":"` + map[bool]string{true: "true", false: "false"}[passed] + `","db-updated-at":"2026-11-30T06:00:00Z"},
"findings":[],
"db":{"updated-at":"2026-11-30T06:00:00Z","downloaded":false,"source":"ghcr.io/aquasecurity/trivy-db:2","stale":false},
"vulnerabilities":[{"id":"CVE-2026-0001","severity":"HIGH","package":"openssl","purl":"pkg:deb/debian/openssl@3.0.1","installed":"3.0.1","fixed":"3.0.2"}]}`
}

// dockerConfig writes a Docker config with credentials for host and
// returns its directory (for DOCKER_CONFIG).
func dockerConfig(t *testing.T, host, user, password string) string {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	writeFile(t, dir, "config.json", `{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`)
	return dir
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// unmasked is log without its ::add-mask:: commands, which carry the
// secrets to the runner by design.
func unmasked(log string) string {
	var keep []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
