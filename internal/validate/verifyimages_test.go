package validate

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/attest"
	"github.com/gitops-actions/gitops-actions/internal/testenv"
	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// verify-images: a signed digest passes, an unsigned digest and a tag
// without a digest are GA-IMAGE-UNVERIFIED at their lines.
func TestVerifyImages(t *testing.T) {
	reg := testenv.StartRegistry(t, "ci", "ci-pass")
	priv, pub, err := attest.GenerateKey("pw")
	if err != nil {
		t.Fatal(err)
	}

	good := reg.Ref("good") + "@" + testenv.PushRandomImage(t, reg, "good:v1").String()
	unsigned := reg.Ref("unsigned") + "@" + testenv.PushRandomImage(t, reg, "unsigned:v1").String()
	env := map[string]string{"INPUT_KEY": priv, "INPUT_KEY-PASSWORD": "pw", "GITHUB_STEP_SUMMARY": filepath.Join(t.TempDir(), "s.md")}
	var out bytes.Buffer
	ctx := transport.WithOptions(context.Background(), transport.Tight(2e9, 2))
	if code := attest.Main(ctx, []string{"attest", "--image-ref", good, "--signing", "key", "--tlog-upload=false", "--attestations", "signature",
		"--registry-username", "ci", "--registry-password", "ci-pass"}, func(k string) string { return env[k] }, &out, &out); code != 0 {
		t.Fatalf("attest exit %d\n%s", code, out.String())
	}
	cfgDir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("ci:ci-pass"))
	os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+auth+`"}}}`), 0o600)
	t.Setenv("DOCKER_CONFIG", cfgDir)

	deploy := `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec:
      containers:
        - name: good
          image: ` + good + `
        - name: unsigned
          image: ` + unsigned + `
        - name: tagged
          image: ` + reg.Ref("good") + `:v1
`
	dir := writeRepo(t, map[string]string{"deploy.yaml": deploy, "key.pub": pub})
	code, log := runIn(t, dir, "--builtin-policies=false", "--verify-images", "--key", "key.pub")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, log)
	}
	var lines []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "GA-IMAGE-UNVERIFIED") && strings.Contains(l, "deploy.yaml") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 || !strings.Contains(lines[0], "deploy.yaml:13") || !strings.Contains(lines[0], "no Sigstore bundles") ||
		!strings.Contains(lines[1], "deploy.yaml:15") || !strings.Contains(lines[1], "not pinned by digest") {
		t.Errorf("want findings at lines 13 (unsigned) and 15 (tag only):\n%s", log)
	}
	// Off by default: nothing is read from the registry.
	if code, log := runIn(t, dir, "--builtin-policies=false"); code != 0 || strings.Contains(log, "GA-IMAGE-UNVERIFIED") {
		t.Errorf("without verify-images: exit %d\n%s", code, log)
	}
	// A bad key is exit 2 naming it.
	os.WriteFile(filepath.Join(dir, "bad.pub"), []byte("nope"), 0o600)
	if code, log := runIn(t, dir, "--builtin-policies=false", "--verify-images", "--key", "bad.pub"); code != 2 || !strings.Contains(log, "key") {
		t.Errorf("bad key: exit %d\n%s", code, log)
	}
}
