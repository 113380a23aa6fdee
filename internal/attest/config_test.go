package attest

import (
	"slices"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/manifest"
)

func parse(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	m, err := manifest.Load()
	if err != nil {
		t.Fatal(err)
	}
	in, err := action.ParseInputs(m.Action("attest"), args, func(k string) string { return env[k] })
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(in)
	if err == nil {
		err = in.Err()
	}
	return c, err
}

const testRef = "ghcr.io/acme/api@sha256:0123456789012345678901234567890123456789012345678901234567890123"

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		check func(Config) bool
		fail  string // input named by the error, "" when valid
	}{
		{"defaults", []string{"--image-ref", testRef}, nil, func(c Config) bool {
			return c.Signing == "keyless" && slices.Equal(c.Attestations, []string{"signature", "provenance"}) &&
				c.Recursive && c.TlogUpload && c.FulcioURL == "https://fulcio.sigstore.dev" && c.RekorURL == "https://rekor.sigstore.dev" &&
				c.ImageRef.DigestStr() == testRef[strings.Index(testRef, "@")+1:]
		}, ""},
		{"from INPUT_ env, list deduplicated", nil, map[string]string{"INPUT_IMAGE-REF": testRef, "INPUT_ATTESTATIONS": "signature\nsbom,signature", "INPUT_SBOM-FILE": "sbom-{platform}.json"}, func(c Config) bool {
			return slices.Equal(c.Attestations, []string{"signature", "sbom"}) && c.SBOMFile == "sbom-{platform}.json"
		}, ""},
		{"key offline", []string{"--image-ref", testRef, "--signing", "key", "--tlog-upload=false", "--rekor-url", ""}, map[string]string{"INPUT_KEY": "k"}, func(c Config) bool {
			return c.Signing == "key" && c.Key == "k" && !c.TlogUpload
		}, ""},
		{"trailing slash of a URL", []string{"--image-ref", testRef, "--fulcio-url", "https://fulcio.example.com/"}, nil, func(c Config) bool {
			return c.FulcioURL == "https://fulcio.example.com"
		}, ""},
		{"tag", []string{"--image-ref", "ghcr.io/acme/api:v1"}, nil, nil, "image-ref"},
		{"no image", nil, nil, nil, "image-ref"},
		{"unknown signing", []string{"--image-ref", testRef, "--signing", "kms"}, nil, nil, "signing"},
		{"key under keyless", []string{"--image-ref", testRef}, map[string]string{"INPUT_KEY": "k"}, nil, "key"},
		{"tlog off under keyless", []string{"--image-ref", testRef, "--tlog-upload=false"}, nil, nil, "tlog-upload"},
		{"tlog without rekor", []string{"--image-ref", testRef, "--signing", "key", "--rekor-url", ""}, map[string]string{"INPUT_KEY": "k"}, nil, "rekor-url"},
		{"empty attestations", []string{"--image-ref", testRef, "--attestations", ","}, nil, nil, "attestations"},
		{"user without password", []string{"--image-ref", testRef, "--registry-username", "ci"}, nil, nil, "registry-password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(t, tc.args, tc.env)
			if tc.fail != "" {
				if err == nil || action.CodeOf(err) != 2 || !strings.Contains(err.Error(), `"`+tc.fail+`"`) {
					t.Fatalf("err %v, want exit 2 naming %q", err, tc.fail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("config %+v", c)
			}
		})
	}
}
