package verify_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-actions/gitops-actions/internal/referrer"
	"github.com/gitops-actions/gitops-actions/internal/testenv"
	"github.com/gitops-actions/gitops-actions/internal/verify"
)

func exec(bin string, args ...string) *osexec.Cmd { return osexec.Command(bin, args...) }

// dockerConfig holds the registry's credentials for the cosign CLI.
func dockerConfig(t *testing.T, reg *testenv.Registry) string {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(reg.Username + ":" + reg.Password))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyImage copies the manifest of src into repo: the same digest, with
// none of src's referrers.
func copyImage(t *testing.T, reg *testenv.Registry, src name.Digest, repo string) name.Digest {
	t.Helper()
	img, err := remote.Image(src, reg.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	dst := mustDigest(t, reg.Ref(repo)+"@"+src.DigestStr())
	if err := remote.Write(dst, img, reg.Options()...); err != nil {
		t.Fatal(err)
	}
	return dst
}

// copyBundles attaches every bundle of src to dst, each changed by edit
// when it is not nil.
func copyBundles(t *testing.T, reg *testenv.Registry, src, dst name.Digest, edit func([]byte) []byte) {
	t.Helper()
	opts := reg.Options()
	idx, err := remote.Referrers(src, opts...)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(dst, opts...)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range im.Manifests {
		if d.ArtifactType != verify.BundleMediaType {
			continue
		}
		img, err := remote.Image(src.Context().Digest(d.Digest.String()), opts...)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := img.Manifest()
		layers, _ := img.Layers()
		rc, err := layers[0].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(rc)
		rc.Close()
		if edit != nil {
			raw = edit(raw)
		}
		if _, err := referrer.PushEmptyConfig(referrer.Subject{Repo: dst.Context(), Descriptor: desc.Descriptor}, verify.BundleMediaType, raw, m.Annotations, opts...); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("%s has no bundles to copy", src)
	}
}

// tamper adds a field to the predicate of a bundle's DSSE statement,
// keeping the signature.
func tamper(t *testing.T, raw []byte) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	env := b["dsseEnvelope"].(map[string]any)
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	pred, _ := st["predicate"].(map[string]any)
	if pred == nil {
		pred = map[string]any{}
	}
	pred["builtBy"] = "someone else"
	st["predicate"] = pred
	changed, _ := json.Marshal(st)
	env["payload"] = base64.StdEncoding.EncodeToString(changed)
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
