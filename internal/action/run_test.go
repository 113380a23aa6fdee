package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/report"
)

type runResult struct {
	code            int
	stdout, stderr  string
	output, summary string
	report          map[string]any
}

func runTest(t *testing.T, args []string, env map[string]string, exec func(context.Context, *Context, parsed) error) runResult {
	t.Helper()
	dir := t.TempDir()
	full := map[string]string{
		"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		"INPUT_REPORT-FILE":   filepath.Join(dir, "report.json"),
		"INPUT_NEED":          "x",
	}
	for k, v := range env {
		full[k] = v
	}
	var stdout, stderr bytes.Buffer
	code := RunSpec(context.Background(), testSpec, Env{Args: append([]string{"t"}, args...), Getenv: envOf(full), Stdout: &stdout, Stderr: &stderr},
		func(in *Inputs) (parsed, error) { return parseTest(in), nil }, exec)
	r := runResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
	b, _ := os.ReadFile(full["GITHUB_OUTPUT"])
	r.output = string(b)
	b, _ = os.ReadFile(full["GITHUB_STEP_SUMMARY"])
	r.summary = string(b)
	if b, err := os.ReadFile(full["INPUT_REPORT-FILE"]); err == nil {
		if err := json.Unmarshal(b, &r.report); err != nil {
			t.Fatalf("report is not JSON: %v\n%s", err, b)
		}
	}
	return r
}

var finding = report.Finding{Source: report.SourcePolicy, Rule: "GA-PDB-MISSING", Severity: report.Warning, File: "base/deploy.yaml", Line: 4,
	Resource: &report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web", Name: "api"}, Message: "no PodDisruptionBudget"}

func TestRunOnActions(t *testing.T) {
	r := runTest(t, []string{"--token", "hunter2"}, map[string]string{"GITHUB_ACTIONS": "true"}, func(ctx context.Context, c *Context, p parsed) error {
		c.AddFindings(finding)
		c.SetOutput("out", "v1 with hunter2")
		c.SetReportData("extra", []int{1, 2})
		c.Logf("using %s", p.Token)
		return nil
	})
	if r.code != ExitOK {
		t.Fatalf("code %d, stderr %s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "::add-mask::hunter2\n") {
		t.Errorf("the mask is not the first thing printed:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "::warning file=base/deploy.yaml,line=4,title=GA-PDB-MISSING::Deployment/web/api: no PodDisruptionBudget") &&
		!strings.Contains(r.stdout, "::warning") {
		t.Errorf("no warning annotation:\n%s", r.stdout)
	}
	for _, want := range []string{"file=base/deploy.yaml", "line=4", "title=GA-PDB-MISSING"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("annotation lacks %s:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "out=v1 with ***\n") {
		t.Errorf("stdout lacks the redacted output line:\n%s", r.stdout)
	}
	if !strings.Contains(r.output, "out<<") || !strings.Contains(r.output, "v1 with ***") || strings.Contains(r.output, "hunter2") {
		t.Errorf("GITHUB_OUTPUT = %q", r.output)
	}
	if !strings.Contains(r.summary, "| warning | GA-PDB-MISSING | base/deploy.yaml:4 |") {
		t.Errorf("summary = %q", r.summary)
	}
	if strings.Contains(r.stderr, "hunter2") {
		t.Errorf("secret in stderr: %s", r.stderr)
	}
	if r.report["status"] != "passed" || r.report["action"] != "t" {
		t.Errorf("report = %v", r.report)
	}
	if out := r.report["outputs"].(map[string]any)["out"]; out != "v1 with ***" {
		t.Errorf("report output = %v", out)
	}
	fs := r.report["findings"].([]any)
	if len(fs) != 1 || fs[0].(map[string]any)["rule"] != "GA-PDB-MISSING" || fs[0].(map[string]any)["line"] != float64(4) {
		t.Errorf("report findings = %v", fs)
	}
	if _, ok := r.report["extra"]; !ok {
		t.Errorf("report lacks the extra key: %v", r.report)
	}
}

func TestRunOffActions(t *testing.T) {
	r := runTest(t, []string{"--token", "hunter2"}, nil, func(ctx context.Context, c *Context, p parsed) error {
		c.AddFindings(finding)
		c.SetOutput("out", "v")
		return nil
	})
	if strings.Contains(r.stdout, "hunter2") || strings.Contains(r.stdout, "::") {
		t.Errorf("off Actions stdout must carry no commands or secrets:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "base/deploy.yaml:4: warning GA-PDB-MISSING: web/Deployment/api: no PodDisruptionBudget\n") {
		t.Errorf("stdout lacks the text finding:\n%s", r.stdout)
	}
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   int
		status string
	}{
		{"done", nil, ExitOK, "passed"},
		{"findings", ErrFindings, ExitFindings, "failed"},
		{"usage", Usage("mode", "%q is not push", "x"), ExitUsage, "error"},
		{"external", External(errors.New("registry down")), ExitExternal, "error"},
		{"untyped", errors.New("boom"), ExitExternal, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTest(t, nil, nil, func(context.Context, *Context, parsed) error { return tt.err })
			if r.code != tt.code || r.report["status"] != tt.status {
				t.Errorf("code %d status %v, want %d %s", r.code, r.report["status"], tt.code, tt.status)
			}
		})
	}
}

func TestRunBadInputWritesErrorReport(t *testing.T) {
	called := false
	r := runTest(t, []string{"--keep", "many", "--token", "hunter2"}, nil, func(context.Context, *Context, parsed) error { called = true; return nil })
	if called || r.code != ExitUsage || !strings.Contains(r.stderr, `"keep"`) {
		t.Errorf("called=%v code=%d stderr=%s", called, r.code, r.stderr)
	}
	if r.report["status"] != "error" || !strings.Contains(r.report["error"].(string), "keep") {
		t.Errorf("report = %v", r.report)
	}
}

func TestRunUndeclaredOutputFails(t *testing.T) {
	r := runTest(t, nil, nil, func(_ context.Context, c *Context, _ parsed) error { c.SetOutput("nope", "1"); return nil })
	if r.code != ExitExternal || !strings.Contains(r.stderr, "nope") {
		t.Errorf("code %d stderr %s", r.code, r.stderr)
	}
}

func TestRunPanicIsAnError(t *testing.T) {
	r := runTest(t, nil, nil, func(context.Context, *Context, parsed) error { panic("bug") })
	if r.code != ExitExternal || r.report["status"] != "error" {
		t.Errorf("code %d report %v", r.code, r.report)
	}
}

func TestHelpAndVersion(t *testing.T) {
	r := runTest(t, []string{"--help"}, nil, nil)
	if r.code != 0 {
		t.Fatalf("--help exit %d", r.code)
	}
	for _, in := range testSpec.Inputs {
		if !strings.Contains(r.stdout, "--"+in.Name+" (") || !strings.Contains(r.stdout, in.Description) {
			t.Errorf("help lacks %s:\n%s", in.Name, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "default dflt") {
		t.Errorf("help lacks defaults:\n%s", r.stdout)
	}
	r = runTest(t, []string{"--version"}, nil, nil)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "t ") {
		t.Errorf("--version: %d %q", r.code, r.stdout)
	}
}

// A password inside a URL input, echoed into every place a run writes,
// reaches none of them, however it is split or escaped.
func TestRunRedactsURLCredentials(t *testing.T) {
	const pass = `s3&"cr3t`
	r := runTest(t, []string{"--items", "a,https://ci:" + pass + "@git.example/x.git", "--name", "https://tok-only@host/y"}, map[string]string{"GITHUB_ACTIONS": "true"}, func(ctx context.Context, c *Context, p parsed) error {
		c.SetOutput("out", p.Items[1])
		c.SetReportData("image", map[string]any{"labels": map[string]string{"source": p.Items[1], p.Name: "key"}})
		c.AddSummary("from " + p.Items[1])
		fmt.Fprint(c.Stdout, "split s3&")
		fmt.Fprint(c.Stdout, "\"cr3t across writes\n")
		fmt.Fprint(c.Stderr, "no newline "+pass)
		sarif := c.RedactJSON([]byte(`{"message": {"text": "s3\u0026\"cr3t"}, "n": true}`))
		if bytes.Contains(sarif, []byte(`s3\u0026\"cr3t`)) || !json.Valid(sarif) {
			t.Errorf("RedactJSON = %s", sarif)
		}
		return External(fmt.Errorf("cloning %s: refused", p.Items[1]))
	})
	if r.code != ExitExternal {
		t.Fatalf("code %d", r.code)
	}
	var stdout []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			stdout = append(stdout, l)
		}
	}
	if !strings.Contains(r.stdout, "::add-mask::"+strings.ReplaceAll(pass, "%", "%25")+"\n") || !strings.Contains(r.stdout, "::add-mask::tok-only\n") {
		t.Errorf("the URL credentials are not masked for the runner:\n%s", r.stdout)
	}
	b, _ := json.Marshal(r.report)
	for name, text := range map[string]string{"stdout": strings.Join(stdout, "\n"), "stderr": r.stderr, "GITHUB_OUTPUT": r.output, "summary": r.summary, "report": string(b)} {
		for _, s := range []string{pass, "cr3t", "tok-only"} {
			if strings.Contains(text, s) {
				t.Errorf("%s holds %q:\n%s", name, s, text)
			}
		}
		if name != "stdout" && !strings.Contains(text, "git.example") {
			t.Errorf("%s lost the rest of the URL:\n%s", name, text)
		}
	}
}

func TestRedactJSONFallsBackOnSyntax(t *testing.T) {
	var r Redactor
	r.add("true")
	got := r.JSON([]byte(`{"ok": true, "msg": "is true"}`))
	if !json.Valid(got) || strings.Contains(string(got), `"is true"`) {
		t.Errorf("JSON = %s", got)
	}
}

// Arguments that do not parse still have their secrets masked.
func TestRunMasksSecretsOfBadArguments(t *testing.T) {
	r := runTest(t, []string{"--token", "hunter2", "--token=hunter3", "--name", "https://u:pw-77@h/x", "stray https://u:pw-88@h"}, nil, nil)
	if r.code != ExitUsage {
		t.Fatalf("code %d", r.code)
	}
	for _, s := range []string{"hunter2", "hunter3", "pw-77", "pw-88"} {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("%s printed:\n%s%s", s, r.stdout, r.stderr)
		}
	}
}

// The runner masks a log line by line, so a multi-line secret (a JSON
// credential, a PEM key) is masked per line as well; its short lines and
// armor are not, or every brace in the log would become ***.
func TestRunMasksMultiLineSecretPerLine(t *testing.T) {
	cred := "{\n  \"private_key_id\": \"4f1c9a77d2\",\n  \"client_email\": \"ci@acme.iam\"\n}"
	pem := "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBl8w0Q2s9\n-----END EC PRIVATE KEY-----"
	r := runTest(t, []string{"--token", cred + "\n" + pem}, map[string]string{"GITHUB_ACTIONS": "true"}, func(ctx context.Context, c *Context, p parsed) error {
		c.SetOutput("out", `{"id": "4f1c9a77d2"}`)
		fmt.Fprintln(c.Stdout, `line: "client_email": "ci@acme.iam"`)
		fmt.Fprintln(c.Stdout, "key: MHcCAQEEIBl8w0Q2s9 in {braces}")
		fmt.Fprintln(c.Stdout, "-----BEGIN EC PRIVATE KEY----- is armor")
		return nil
	})
	if r.code != ExitOK {
		t.Fatalf("code %d, stderr %s", r.code, r.stderr)
	}
	var masks, rest []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if m, ok := strings.CutPrefix(l, "::add-mask::"); ok {
			masks = append(masks, m)
		} else {
			rest = append(rest, l)
		}
	}
	for _, want := range []string{`"private_key_id": "4f1c9a77d2",`, `"client_email": "ci@acme.iam"`, "MHcCAQEEIBl8w0Q2s9"} {
		if !slices.Contains(masks, want) {
			t.Errorf("no ::add-mask:: for the line %q; masks:\n%s", want, strings.Join(masks, "\n"))
		}
	}
	for _, m := range masks {
		if m == "{" || m == "}" || strings.HasPrefix(m, "-----BEGIN") {
			t.Errorf("masked a line that is no secret: %q", m)
		}
	}
	out := strings.Join(rest, "\n")
	for _, leak := range []string{"ci@acme.iam", "MHcCAQEEIBl8w0Q2s9"} {
		if strings.Contains(out, leak) {
			t.Errorf("stdout holds %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "in {braces}") || !strings.Contains(out, "-----BEGIN EC PRIVATE KEY----- is armor") {
		t.Errorf("short lines or armor of the secret were redacted:\n%s", out)
	}
}
