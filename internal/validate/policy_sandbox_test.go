package validate

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// runValidate runs the action in-process on files written under a new
// directory, its working directory (the map's keys are paths in it;
// "@URL@" and "@DIR@" in a value are replaced), and returns its exit code
// and output.
func runValidate(t *testing.T, files map[string]string, url string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		content = strings.ReplaceAll(content, "@URL@", url)
		content = strings.ReplaceAll(content, "@DIR@", filepath.ToSlash(dir))
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Paths in the output are as given: relative to the repo, as in CI.
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), append([]string{"validate-config"}, args...), func(k string) string { return env[k] }, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// gkTemplate is a ConstraintTemplate for kind (its name in lower case)
// with rego and libs.
func gkTemplate(kind, rego string, libs ...string) string {
	indent := func(s, by string) string { return by + strings.ReplaceAll(s, "\n", "\n"+by) + "\n" }
	t := fmt.Sprintf("apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata: {name: %s}\n"+
		"spec:\n  crd: {spec: {names: {kind: %s}}}\n  targets:\n    - target: admission.k8s.gatekeeper.sh\n      rego: |\n",
		strings.ToLower(kind), kind) + indent(rego, "        ")
	if len(libs) > 0 {
		t += "      libs:\n"
		for _, l := range libs {
			t += "        - |\n" + indent(l, "          ")
		}
	}
	return t
}

// gkConstraint is a constraint of kind matching everything.
func gkConstraint(kind string) string {
	return fmt.Sprintf("apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: %s\nmetadata: {name: %s}\n", kind, strings.ToLower(kind))
}

const configMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: web}
data: {a: b}
`

// A policy that calls out of the sandbox is refused before any
// evaluation: no request reaches the server, nothing of the environment
// or of a file outside the repo is printed, and the error names the
// policy file and the builtin.
func TestPolicyCannotReachOut(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"type": "object", "required": ["served-marker-5f1c"]}`))
	}))
	defer srv.Close()
	const marker = "env-marker-9d3a"
	t.Setenv("GA_TEST_SECRET", marker)

	for _, tc := range []struct {
		name    string
		policy  map[string]string
		builtin string
		names   []string // what the error must name besides the builtin
	}{
		{"conftest http.send", map[string]string{"policy/net.rego": `package main

deny contains msg if {
	resp := http.send({"method": "GET", "url": "@URL@/conftest"})
	msg := sprintf("got %v", [resp.status_code])
}
`}, "http.send", []string{"net.rego:4"}},
		{"gatekeeper http.send", map[string]string{
			"policy/template.yaml": gkTemplate("K8sPhoneHome", `package k8sphonehome
violation[{"msg": msg}] {
  resp := http.send({"method": "GET", "url": "@URL@/gatekeeper"})
  msg := sprintf("got %v", [resp.status_code])
}`),
			"policy/constraint.yaml": gkConstraint("K8sPhoneHome"),
		}, "http.send", []string{"template.yaml", `"k8sphonehome"`}},
		{"gatekeeper lib http.send", map[string]string{
			"policy/template.yaml": gkTemplate("K8sLib", `package k8slib
import data.lib.fetch
violation[{"msg": fetch.msg}] { true }`, `package lib.fetch
msg := sprintf("%v", [http.send({"method": "GET", "url": "@URL@/lib"}).status_code])`),
			"policy/constraint.yaml": gkConstraint("K8sLib"),
		}, "http.send", []string{"template.yaml", `"k8slib"`}},
		{"opa.runtime env", map[string]string{"policy/env.rego": `package main

deny contains msg if {
	msg := sprintf("env %v", [opa.runtime().env.GA_TEST_SECRET])
}
`}, "opa.runtime", []string{"env.rego:4"}},
		{"DNS", map[string]string{"policy/dns.rego": `package main

deny contains "resolved" if net.lookup_ip_addr("localhost")
`}, "net.lookup_ip_addr", []string{"dns.rego:3"}},
		{"schema $ref to a file and a URL", map[string]string{"policy/schema.rego": `package main

deny contains msg if {
	[ok, errs] := json.match_schema(input, {"$ref": "file://@DIR@/outside/secret.json"})
	not ok
	msg := sprintf("file %v", [errs])
}

deny contains msg if {
	[ok, errs] := json.match_schema(input, {"$ref": "@URL@/schema.json"})
	not ok
	msg := sprintf("url %v", [errs])
}
`, "outside/secret.json": `{"type": "object", "required": ["file-marker-77b2"]}`}, "json.match_schema", []string{"schema.rego:4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requests.Store(0)
			files := map[string]string{"manifests/cm.yaml": configMap}
			for k, v := range tc.policy {
				files[k] = v
			}
			code, stdout, stderr := runValidate(t, files, srv.URL, nil,
				"--path", "manifests", "--policy", "policy", "--builtin-policies=false")
			out := stdout + stderr
			if code != 2 {
				t.Errorf("exit %d, want 2 (bad input)\n%s", code, out)
			}
			if n := requests.Load(); n != 0 {
				t.Errorf("the policy made %d requests", n)
			}
			for _, leak := range []string{marker, "served-marker-5f1c", "file-marker-77b2"} {
				if strings.Contains(out, leak) {
					t.Errorf("output shows %q:\n%s", leak, out)
				}
			}
			for _, want := range append(tc.names, tc.builtin+" is not allowed") {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not name %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// print is compiled out: a policy cannot write to the log.
func TestPolicyPrintIsSilent(t *testing.T) {
	code, stdout, stderr := runValidate(t, map[string]string{"manifests/cm.yaml": configMap, "policy/p.rego": `package main

warn contains "checked" if {
	print("print-marker-31e0", input.metadata.name)
}
`}, "", nil, "--path", "manifests", "--policy", "policy", "--builtin-policies=false")
	if code != 0 || !strings.Contains(stdout, "warning main.warn") || strings.Contains(stdout+stderr, "print-marker-31e0") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// A policy that runs away (a huge numbers.range, a loop that does not
// end) is stopped by the time or memory limit: a GA-POLICY-LIMIT error
// naming the policy, once in each unit, while every other policy and
// object is still checked.
func TestPolicyLimits(t *testing.T) {
	files := map[string]string{
		"manifests/plain.yaml":             configMap + "---\n" + strings.ReplaceAll(configMap, "settings", "other"),
		"manifests/app/kustomization.yaml": "resources: [cm.yaml]\n",
		"manifests/app/cm.yaml":            strings.ReplaceAll(configMap, "settings", "third"),
		"policy/bomb.rego": `package bomb

deny contains "never" if count(numbers.range(1, 3e8)) > 0
`,
		"policy/spin.rego": `package spin

deny contains "never" if {
	every i in numbers.range(1, 100000) {
		every j in numbers.range(1, 100000) {
			i + j > 0
		}
	}
}
`,
		"policy/ok.rego": `package ok

deny contains sprintf("checked %s", [input.metadata.name])
`,
		"policy/gk/template.yaml": gkTemplate("K8sSpin", `package k8sspin
violation[{"msg": "never"}] {
  n := count([x | i := numbers.range(1, 100000)[_]; j := numbers.range(1, 100000)[_]; x := i * j])
  n < 0
}`),
		"policy/gk/constraint.yaml": gkConstraint("K8sSpin"),
	}
	start := time.Now()
	code, stdout, stderr := runValidate(t, files, "", nil,
		"--path", "manifests", "--policy", "policy", "--builtin-policies=false",
		"--policy-namespace", "bomb,spin,ok", "--policy-timeout", "2s")
	took := time.Since(start)
	if code != 1 {
		t.Errorf("exit %d, want 1 (findings)\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if took > 90*time.Second {
		t.Errorf("took %s", took)
	}
	for _, name := range []string{"settings", "other", "third"} {
		if want := "error ok.deny: web/ConfigMap/" + name + ": checked " + name; !strings.Contains(stdout, want) {
			t.Errorf("no %q in\n%s", want, stdout)
		}
	}
	for _, want := range []string{
		"policy namespace bomb (policy/bomb.rego) was stopped: ",
		"policy namespace spin (policy/spin.rego) was stopped: it ran longer than policy-timeout (2s)",
		`constraint K8sSpin "k8sspin" of ConstraintTemplate "k8sspin" (policy/gk/template.yaml) was stopped: `,
	} {
		// One finding in each unit: the plain files and the kustomization.
		if n := strings.Count(stdout, "error GA-POLICY-LIMIT: "); n != 6 {
			t.Errorf("%d GA-POLICY-LIMIT findings, want 6\n%s", n, stdout)
		}
		if n := strings.Count(stdout, want); n != 2 {
			t.Errorf("%q %d times, want 2\n%s", want, n, stdout)
		}
	}
}
