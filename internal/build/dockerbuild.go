package build

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// errNoBuilder: neither a Docker daemon nor buildah is there.
var errNoBuilder = errors.New("no Dockerfile builder: no Docker daemon answers `docker info` and buildah is not installed (Debian package buildah)")

// dockerAnswers reports whether a Docker daemon answers.
func dockerAnswers(ctx context.Context) bool {
	if _, err := exec.LookPath("docker"); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").Run() == nil
}

// dockerfileBuild builds with buildx or buildah into an OCI layout under
// tmp and returns the layout path; pushing is done from there with
// go-containerregistry, so both builders push the same way, by digest first.
func dockerfileBuild(ctx context.Context, c *action.Context, cfg Config, ra *registryAccess, labels map[string]string, tmp string) (string, error) {
	out := filepath.Join(tmp, "layout")
	authDir, err := writeAuthFile(cfg, ra, tmp)
	if err != nil {
		return "", err
	}
	df := cfg.Dockerfile
	if !filepath.IsAbs(df) {
		df = filepath.Join(cfg.Context, df)
	}
	var common []string
	common = append(common, "-f", df)
	if cfg.Target != "" {
		common = append(common, "--target", cfg.Target)
	}
	for _, k := range sortedKeys(cfg.buildArgs) {
		common = append(common, "--build-arg", k+"="+cfg.buildArgs[k])
	}
	for _, k := range sortedKeys(labels) {
		common = append(common, "--label", k+"="+labels[k])
	}
	platforms := strings.Join(cfg.Platforms, ",")

	if dockerAnswers(ctx) {
		args := append([]string{"buildx", "build", "--platform", platforms, "--output", "type=oci,dest=" + out + ",tar=false"}, common...)
		args = append(args, cfg.Context)
		var env []string
		if authDir != "" {
			env = []string{"DOCKER_CONFIG=" + authDir}
		}
		return out, runTool(ctx, c, "docker", args, env)
	}
	if _, err := exec.LookPath("buildah"); err != nil {
		return "", errNoBuilder
	}
	// A private store per run: no state shared with other builds, and vfs
	// works without overlay support in containers.
	store := []string{"--root", filepath.Join(tmp, "storage"), "--runroot", filepath.Join(tmp, "run"), "--storage-driver", "vfs"}
	bud := append(append([]string{}, store...), "bud", "--isolation", "chroot", "--pull")
	if authDir != "" {
		bud = append(bud, "--authfile", filepath.Join(authDir, "config.json"))
	}
	if ra.anyInsecureIn(cfg, c.Getenv) {
		bud = append(bud, "--tls-verify=false")
	}
	local := "localhost/gitops-actions-build:" + fmt.Sprint(time.Now().UnixNano())
	var push []string
	if len(cfg.platforms) > 1 {
		bud = append(bud, "--platform", platforms, "--manifest", local)
		push = append(append([]string{}, store...), "manifest", "push", "--all")
	} else {
		bud = append(bud, "--platform", platforms, "-t", local)
		push = append(append([]string{}, store...), "push")
	}
	bud = append(append(bud, common...), cfg.Context)
	if err := runTool(ctx, c, "buildah", bud, nil); err != nil {
		return "", err
	}
	digestFile := filepath.Join(tmp, "digest")
	push = append(push, "--digestfile", digestFile, local, "oci:"+out+":latest")
	if err := runTool(ctx, c, "buildah", push, nil); err != nil {
		return "", err
	}
	want, err := os.ReadFile(digestFile)
	if err != nil {
		return "", fmt.Errorf("reading buildah's digest file: %w", err)
	}
	// buildah's digest must be what the layout holds, which is what we push.
	p, err := layout.FromPath(out)
	if err != nil {
		return "", fmt.Errorf("reading the built layout: %w", err)
	}
	im, err := p.ImageIndex()
	if err != nil {
		return "", err
	}
	m, err := im.IndexManifest()
	if err != nil || len(m.Manifests) == 0 {
		return "", fmt.Errorf("the built layout has no image: %v", err)
	}
	if got := m.Manifests[0].Digest.String(); got != strings.TrimSpace(string(want)) {
		return "", fmt.Errorf("buildah reported digest %s but wrote %s", strings.TrimSpace(string(want)), got)
	}
	return out, nil
}

// writeAuthFile puts explicit credentials in a private config.json so no
// password ever appears in a command line.
func writeAuthFile(cfg Config, ra *registryAccess, tmp string) (string, error) {
	if cfg.RegistryUsername == "" {
		return ra.getenv("DOCKER_CONFIG"), nil
	}
	hosts := map[string]bool{}
	for _, s := range []string{cfg.Image, cfg.BaseImage} {
		if s == "" {
			continue
		}
		if r, err := name.ParseReference(s); err == nil {
			hosts[r.Context().RegistryStr()] = true
		}
	}
	auth := base64.StdEncoding.EncodeToString([]byte(cfg.RegistryUsername + ":" + cfg.RegistryPassword))
	auths := map[string]any{}
	for h := range hosts {
		if h == name.DefaultRegistry {
			h = authn.DefaultAuthKey
		}
		auths[h] = map[string]string{"auth": auth}
	}
	b, err := json.Marshal(map[string]any{"auths": auths})
	if err != nil {
		return "", err
	}
	dir := filepath.Join(tmp, "auth")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600)
}

// anyInsecureIn: does the build talk to an insecure registry (its image or
// a FROM of the Dockerfile is on one)? buildah's TLS switch is global.
func (ra *registryAccess) anyInsecureIn(cfg Config, _ func(string) string) bool {
	if len(ra.insecure) > 0 {
		return true
	}
	if r, err := name.NewRepository(cfg.Image); err == nil && ra.isInsecure(r.RegistryStr()) {
		return true
	}
	df := cfg.Dockerfile
	if !filepath.IsAbs(df) {
		df = filepath.Join(cfg.Context, df)
	}
	b, _ := os.ReadFile(df)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.EqualFold(f[0], "FROM") {
			img := f[1]
			if strings.HasPrefix(img, "--") && len(f) >= 3 {
				img = f[2]
			}
			if i := strings.IndexByte(img, '/'); i > 0 && ra.isInsecure(img[:i]) {
				return true
			}
		}
	}
	return false
}

// runTool runs a builder with the inherited environment plus env, streaming its output to stderr; secrets are
// redacted from what it prints and from the error.
func runTool(ctx context.Context, c *action.Context, tool string, args, env []string) error {
	cmd := exec.CommandContext(ctx, tool, args...)
	if len(env) > 0 {
		cmd.Env = append(cmd.Environ(), env...)
	}
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	c.Logf("$ %s %s", tool, strings.Join(args, " "))
	err := cmd.Run()
	c.Logf("%s", strings.TrimRight(buf.String(), "\n"))
	if err != nil {
		tail := buf.String()
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return action.External(fmt.Errorf("%s %s: %w\n%s", tool, args[0], err, c.Redact(strings.TrimSpace(tail))))
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
