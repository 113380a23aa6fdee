package build

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// secret is what files outside the context hold; it must never reach the
// output, the report or an image.
const secret = "outside-secret-7f3a9c"

// hostileContext is a context directory next to an outside directory
// holding the secret, as a repo checked out beside runner files.
func hostileContext(t *testing.T) (ctx, outside string) {
	t.Helper()
	dir := t.TempDir()
	ctx, outside = filepath.Join(dir, "repo"), filepath.Join(dir, "outside")
	os.MkdirAll(ctx, 0o755)
	os.MkdirAll(outside, 0o755)
	return ctx, outside
}

func TestDockerfileLinkOutsideContextRefused(t *testing.T) {
	ctx, outside := hostileContext(t)
	// Linted, it would echo the image in a GA-DF-BASE-UNPINNED finding.
	os.WriteFile(filepath.Join(outside, "Dockerfile"), []byte("FROM "+secret+":latest\n"), 0o644)
	os.Symlink(filepath.Join(outside, "Dockerfile"), filepath.Join(ctx, "Dockerfile"))
	os.Symlink("../outside/Dockerfile", filepath.Join(ctx, "relative.Dockerfile"))
	for _, args := range [][]string{
		{"--lint-only"},
		{"--lint-only", "--dockerfile", "relative.Dockerfile"},
		{"--image", "127.0.0.1:1/acme/app"},
		{"--image", "127.0.0.1:1/acme/app", "--lint", "off"},
	} {
		rep := filepath.Join(t.TempDir(), "report.json")
		r := runMain(t, pushEnv, append(args, "--context", ctx, "--report-file", rep)...)
		b, _ := os.ReadFile(rep)
		if r.code != 2 || !strings.Contains(r.stderr, `input "dockerfile"`) || !strings.Contains(r.stderr, "outside context") {
			t.Errorf("%v: exit %d, want 2 naming dockerfile\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr+string(b), secret) {
			t.Errorf("%v: the outside file's content was echoed\n%s%s%s", args, r.stdout, r.stderr, b)
		}
	}
	// The builders' ignore files too.
	os.WriteFile(filepath.Join(ctx, "ok.Dockerfile"), []byte("FROM scratch\nUSER 1\nENTRYPOINT [\"/app\"]\n"), 0o644)
	os.WriteFile(filepath.Join(outside, "ignore"), []byte(secret+"\n"), 0o644)
	os.Symlink(filepath.Join(outside, "ignore"), filepath.Join(ctx, ".dockerignore"))
	r := runMain(t, pushEnv, "--context", ctx, "--dockerfile", "ok.Dockerfile", "--image", "127.0.0.1:1/acme/app")
	if r.code != 2 || !strings.Contains(r.stderr, `input "context"`) || !strings.Contains(r.stderr, ".dockerignore") || strings.Contains(r.stdout+r.stderr, secret) {
		t.Errorf(".dockerignore linked outside: exit %d, want 2 naming context and .dockerignore\n%s%s", r.code, r.stdout, r.stderr)
	}
	os.Remove(filepath.Join(ctx, ".dockerignore"))
	// A link that stays inside the context is read as usual.
	os.WriteFile(filepath.Join(ctx, "real.Dockerfile"), []byte("FROM scratch\nUSER 1\nENTRYPOINT [\"/app\"]\n"), 0o644)
	os.Symlink("real.Dockerfile", filepath.Join(ctx, "inside.Dockerfile"))
	if r := runMain(t, pushEnv, "--lint-only", "--context", ctx, "--dockerfile", "inside.Dockerfile"); r.code != 0 {
		t.Errorf("a Dockerfile linked inside the context: exit %d\n%s", r.code, r.stderr)
	}
}

// go build compiles what a link points to, so the go builder refuses a
// context with a link out of it, before building anything.
func TestGoBuilderRefusesLinkOutsideContext(t *testing.T) {
	ctx, outside := hostileContext(t)
	os.WriteFile(filepath.Join(ctx, "go.mod"), []byte("module example.com/app\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "main.go"), []byte("package main\n\nfunc main() { println(leaked) }\n"), 0o644)
	os.WriteFile(filepath.Join(outside, "leak.go"), []byte("package main\n\nconst leaked = \""+secret+"\"\n"), 0o644)
	os.Symlink(filepath.Join(outside, "leak.go"), filepath.Join(ctx, "leak.go"))
	out := filepath.Join(t.TempDir(), "oci")
	r := runMain(t, pushEnv, "--builder", "go", "--go-main", ".", "--context", ctx, "--base-image", "scratch",
		"--image", "example.com/acme/app", "--push=false", "--local-output", out)
	if r.code != 2 || !strings.Contains(r.stderr, `input "context"`) || !strings.Contains(r.stderr, "leak.go") {
		t.Errorf("exit %d, want 2 naming context and leak.go\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an image was written")
	}
}

// buildah resolves links in the context inside it: a link to an outside
// file or directory never brings the outside content into the image.
func TestBuildahKeepsContextLinksInside(t *testing.T) {
	needBuildah(t)
	ctx, outside := hostileContext(t)
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte(secret+"\n"), 0o644)
	os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(ctx, "file-link"))
	os.Symlink("../outside", filepath.Join(ctx, "dir-link"))
	os.MkdirAll(filepath.Join(ctx, "app"), 0o755)
	os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(ctx, "app", "nested-link"))
	for name, df := range map[string]string{
		"whole context": "FROM scratch\nCOPY . /src/\n",
		"file link":     "FROM scratch\nCOPY file-link /leak\n",
		"dir link":      "FROM scratch\nCOPY dir-link/ /leak/\n",
	} {
		t.Run(name, func(t *testing.T) {
			os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
			out := filepath.Join(t.TempDir(), "oci")
			r := runMain(t, pushEnv, "--context", ctx, "--lint", "off", "--image", "example.com/acme/app", "--push=false", "--local-output", out)
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("the outside file's content is in the output\n%s%s", r.stdout, r.stderr)
			}
			if r.code != 0 {
				t.Logf("exit %d (the builder refused the link)", r.code)
				if r.code != 3 {
					t.Errorf("exit %d, want 0 or 3\n%s", r.code, r.stderr)
				}
				return
			}
			p, err := layout.FromPath(out)
			if err != nil {
				t.Fatal(err)
			}
			idx, _ := p.ImageIndex()
			m, _ := idx.IndexManifest()
			img, err := idx.Image(m.Manifests[0].Digest)
			if err != nil {
				t.Fatal(err)
			}
			layers, _ := img.Layers()
			links := 0
			for _, l := range layers {
				if bytes.Contains(layerBytes(t, l), []byte(secret)) {
					t.Errorf("a layer holds the outside file's content")
				}
				links += symlinks(t, l)
			}
			if name == "whole context" && links != 3 {
				t.Errorf("the image holds %d links, want the context's 3 as links", links)
			}
		})
	}
}

// symlinks counts the symbolic links in the layer.
func symlinks(t *testing.T, l v1.Layer) int {
	n := 0
	for tr := tar.NewReader(bytes.NewReader(layerBytes(t, l))); ; {
		h, err := tr.Next()
		if err != nil {
			return n
		}
		if h.Typeflag == tar.TypeSymlink {
			n++
		}
	}
}
