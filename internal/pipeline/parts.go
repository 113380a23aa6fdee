package pipeline

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// exampleConfigRepo is seeded into a temporary git remote when no
// config-repository is given.
const exampleConfigRepo = "examples/config-repo"

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// prefixWriter indents a stage's output under the pipeline's.
type prefixWriter struct {
	w      io.Writer
	prefix string
	buf    bytes.Buffer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf.Write(b)
	for {
		line, err := p.buf.ReadString('\n')
		if err != nil {
			p.buf.WriteString(line)
			break
		}
		fmt.Fprint(p.w, p.prefix+line)
	}
	return len(b), nil
}

func (p *prefixWriter) Flush() {
	if p.buf.Len() > 0 {
		fmt.Fprintln(p.w, p.prefix+p.buf.String())
		p.buf.Reset()
	}
}

// baseFiles make a distroless-like base: an os-release, a nonroot user,
// and nothing that runs.
var baseFiles = []struct {
	name, body string
	mode       int64
}{
	{"etc/", "", 0o755},
	{"etc/os-release", "PRETTY_NAME=\"gitops-actions pipeline base (Debian GNU/Linux 12)\"\nNAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\n", 0o644},
	{"etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n", 0o644},
	{"etc/group", "root:x:0:\nnonroot:x:65532:\n", 0o644},
	{"home/", "", 0o755},
	{"home/nonroot/", "", 0o700},
	{"tmp/", "", 0o1777},
}

// pushBaseImage makes the pipeline's own base image and pushes it next to
// image, returning it by digest.
func pushBaseImage(ctx context.Context, image string, cfg Config) (string, error) {
	repo, err := name.NewRepository(image)
	if err != nil {
		return "", action.Usage("image", "%q is not an image repository: %v", image, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, f := range baseFiles {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: epoch, Typeflag: tar.TypeReg, Size: int64(len(f.body))}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if f.name == "home/nonroot/" {
			h.Uid, h.Gid = 65532, 65532
		}
		if err := tw.WriteHeader(h); err != nil {
			return "", err
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return "", fmt.Errorf("making the base layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return "", err
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: "amd64", OS: "linux", Created: v1.Time{Time: epoch},
		Config: v1.Config{User: "65532:65532", WorkingDir: "/home/nonroot", Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}},
		RootFS: mustConfig(img).RootFS,
	})
	if err != nil {
		return "", err
	}
	ref := repo.Registry.Repo(strings.TrimSuffix(repo.RepositoryStr(), "/"+lastPart(repo.RepositoryStr())) + "/pipeline-base")
	tag := ref.Tag("latest")
	auth := authn.Anonymous
	if cfg.RegistryUsername != "" {
		auth = &authn.Basic{Username: cfg.RegistryUsername, Password: cfg.RegistryPassword}
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx), remote.WithAuth(auth)); err != nil {
		return "", action.External(fmt.Errorf("pushing the pipeline base image to %s: %w", tag, err))
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return ref.Digest(d.String()).String(), nil
}

func mustConfig(img v1.Image) *v1.ConfigFile {
	cf, err := img.ConfigFile()
	if err != nil || cf == nil {
		return &v1.ConfigFile{}
	}
	return cf
}

func lastPart(repo string) string {
	if i := strings.LastIndex(repo, "/"); i >= 0 {
		return repo[i+1:]
	}
	return repo
}

// dbArgs points the scan at the vulnerability DB: the given repositories,
// else whatever is in the given cache-dir, with no download attempted.
// With neither input, the demo database is written into the work dir and
// demo says so. With an empty cache-dir, the scan writes the SBOM only;
// ok reports which.
func dbArgs(cfg Config, work string) (args []string, demo string, ok bool, err error) {
	cache := cfg.CacheDir
	if cache == "" {
		cache = filepath.Join(work, "vuln-cache")
	}
	if len(cfg.DBRepository) > 0 {
		return []string{"--cache-dir", cache, "--db-repository", strings.Join(cfg.DBRepository, ",")}, "", true, nil
	}
	skip := []string{"--cache-dir", cache, "--skip-db-update"}
	if cfg.CacheDir == "" {
		n, built, err := writeDemoDB(cache)
		if err != nil {
			return nil, "", false, err
		}
		return skip, fmt.Sprintf("demo DB, %d advisories, built %s", n, built.UTC().Format(time.DateOnly)), true, nil
	}
	if _, err := os.Stat(filepath.Join(cache, "db", "trivy.db")); err == nil {
		return skip, "", true, nil
	}
	return []string{"--vulnerabilities=false"}, "", false, nil
}

// seedConfigRepo copies examples/config-repo into a new bare repository
// and returns its file:// URL.
func seedConfigRepo(ctx context.Context, getenv func(string) string, work string) (string, error) {
	if _, err := os.Stat(exampleConfigRepo); err != nil {
		return "", action.Usage("config-repository", "is empty and %s is not in the working directory: run from the toolkit's checkout or give a config repo URL", exampleConfigRepo)
	}
	bare := filepath.Join(work, "config-remote.git")
	seed := filepath.Join(work, "config-seed")
	if err := gitRun(ctx, getenv, "", "", "init", "--quiet", "--bare", "--initial-branch=main", bare); err != nil {
		return "", fmt.Errorf("creating the temporary config remote: %w", err)
	}
	if err := os.CopyFS(seed, os.DirFS(exampleConfigRepo)); err != nil {
		return "", fmt.Errorf("copying %s: %w", exampleConfigRepo, err)
	}
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"},
		{"add", "--all"},
		{"-c", "user.name=gitops-actions", "-c", "user.email=pipeline@gitops-actions.invalid", "commit", "--quiet", "-m", "Seed the example config repo"},
		{"push", "--quiet", bare, "main"},
	} {
		if err := gitRun(ctx, getenv, "", seed, args...); err != nil {
			return "", fmt.Errorf("seeding the temporary config remote: %w", err)
		}
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(bare)}).String(), nil
}

// gitEnv keeps the machine's git config out and passes a token as an
// HTTP header through env, never argv.
func gitEnv(getenv func(string) string, token string) []string {
	env := []string{"GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"} {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	if token != "" {
		h := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
		env = append(env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: Basic "+h)
	}
	return env
}

func gitRun(ctx context.Context, getenv func(string) string, token, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(getenv, token)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return nil
}

func gitOutput(ctx context.Context, getenv func(string) string, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(getenv, "")
	out, err := cmd.Output()
	return string(out), err
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User("***")
	return u.String()
}
