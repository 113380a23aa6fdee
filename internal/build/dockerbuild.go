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
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/dockerfile"
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
// annotated says the builder has put cfg's annotations on already.
func dockerfileBuild(ctx context.Context, c *action.Context, cfg Config, ra *registryAccess, labels map[string]string, tmp string) (out string, annotated bool, err error) {
	out = filepath.Join(tmp, "layout")
	authDir, err := writeAuthFile(cfg, ra, tmp)
	if err != nil {
		return "", false, err
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
		// BuildKit annotates before it writes its attestations, whose
		// subjects name the manifest digests: changing a manifest
		// afterwards would leave them pointing at nothing.
		args = append(args, buildxAnnotations(cfg.annotations)...)
		args = append(args, cfg.Context)
		var env []string
		if authDir != "" {
			env = []string{"DOCKER_CONFIG=" + authDir}
		}
		return out, true, runTool(ctx, c, "docker", args, env)
	}
	if _, err := exec.LookPath("buildah"); err != nil {
		return "", false, errNoBuilder
	}
	// A private store per run: no state shared with other builds, and vfs
	// works without overlay support in containers.
	store := []string{"--root", filepath.Join(tmp, "storage"), "--runroot", filepath.Join(tmp, "run"), "--storage-driver", "vfs"}
	bud := append(append([]string{}, store...), "bud", "--isolation", "chroot", "--pull")
	if authDir != "" {
		bud = append(bud, "--authfile", filepath.Join(authDir, "config.json"))
	}
	var budEnv []string
	conf, err := ra.registriesConf(cfg, df, tmp)
	if err != nil {
		return "", false, err
	}
	if conf != "" {
		budEnv = []string{"CONTAINERS_REGISTRIES_CONF=" + conf}
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
	if err := runTool(ctx, c, "buildah", bud, budEnv); err != nil {
		return "", false, err
	}
	digestFile := filepath.Join(tmp, "digest")
	push = append(push, "--digestfile", digestFile, local, "oci:"+out+":latest")
	if err := runTool(ctx, c, "buildah", push, nil); err != nil {
		return "", false, err
	}
	want, err := os.ReadFile(digestFile)
	if err != nil {
		return "", false, fmt.Errorf("reading buildah's digest file: %w", err)
	}
	// buildah's digest must be what the layout holds, which is what we push.
	p, err := layout.FromPath(out)
	if err != nil {
		return "", false, fmt.Errorf("reading the built layout: %w", err)
	}
	im, err := p.ImageIndex()
	if err != nil {
		return "", false, err
	}
	m, err := im.IndexManifest()
	if err != nil || len(m.Manifests) == 0 {
		return "", false, fmt.Errorf("the built layout has no image: %v", err)
	}
	if got := m.Manifests[0].Digest.String(); got != strings.TrimSpace(string(want)) {
		return "", false, fmt.Errorf("buildah reported digest %s but wrote %s", strings.TrimSpace(string(want)), got)
	}
	return out, false, nil
}

// writeAuthFile puts explicit credentials in a private config.json so no
// password ever appears in a command line.
func writeAuthFile(cfg Config, ra *registryAccess, tmp string) (string, error) {
	if cfg.RegistryUsername == "" {
		return ra.getenv("DOCKER_CONFIG"), nil
	}
	hosts := map[string]bool{}
	for _, s := range append([]string{cfg.BaseImage}, cfg.repos...) {
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

// registriesConf writes a registries.conf for buildah in which only the
// insecure registries this build pulls from may use plain HTTP or
// unverified TLS: buildah's --tls-verify=false would drop verification for
// every host. It starts from the file buildah would read otherwise, so
// mirrors and search registries still apply. "" means none is needed.
func (ra *registryAccess) registriesConf(cfg Config, df, tmp string) (string, error) {
	src, err := os.ReadFile(df)
	if err != nil {
		return "", action.Usage("dockerfile", "reading %q: %v", cfg.Dockerfile, err)
	}
	images, err := dockerfile.Images(cfg.Dockerfile, src, dockerfile.Options{BuildArgs: cfg.buildArgs})
	if err != nil {
		return "", action.UsageErr("dockerfile", err)
	}
	hosts := slices.Clone(ra.insecure)
	for _, img := range images {
		if r, err := name.ParseReference(img); err == nil && ra.isInsecure(r.Context().RegistryStr()) {
			hosts = append(hosts, r.Context().RegistryStr())
		}
	}
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	if len(hosts) == 0 {
		return "", nil
	}
	conf := map[string]any{}
	if from := ra.registriesConfPath(); from != "" {
		if _, err := toml.DecodeFile(from, &conf); err != nil {
			return "", fmt.Errorf("reading the registries configuration %q: %w", from, err)
		}
	}
	markInsecure(conf, hosts)
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(conf); err != nil {
		return "", err
	}
	p := filepath.Join(tmp, "registries.conf")
	return p, os.WriteFile(p, b.Bytes(), 0o600)
}

// registriesConfPath is the registries.conf buildah would read, or "".
func (ra *registryAccess) registriesConfPath() string {
	candidates := []string{ra.getenv("CONTAINERS_REGISTRIES_CONF")}
	if home := ra.getenv("HOME"); home != "" {
		candidates = append(candidates, filepath.Join(home, ".config", "containers", "registries.conf"))
	}
	for _, p := range append(candidates, "/etc/containers/registries.conf") {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// markInsecure sets insecure for hosts in a decoded registries.conf, in
// its v2 [[registry]] tables or in a v1 file's [registries.insecure] list.
func markInsecure(conf map[string]any, hosts []string) {
	if v1, ok := conf["registries"].(map[string]any); ok {
		ins, _ := v1["insecure"].(map[string]any)
		if ins == nil {
			ins = map[string]any{}
			v1["insecure"] = ins
		}
		list, _ := ins["registries"].([]any)
		for _, h := range hosts {
			list = append(list, h)
		}
		ins["registries"] = list
		return
	}
	regs, _ := conf["registry"].([]map[string]any)
	for _, h := range hosts {
		i := slices.IndexFunc(regs, func(r map[string]any) bool {
			p, _ := r["prefix"].(string)
			if p == "" {
				p, _ = r["location"].(string)
			}
			return p == h
		})
		if i >= 0 {
			regs[i]["insecure"] = true
			continue
		}
		regs = append(regs, map[string]any{"location": h, "insecure": true})
	}
	conf["registry"] = regs
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

// buildxAnnotations are the --annotation flags for buildx, whose syntax
// the annotations input shares.
func buildxAnnotations(anns []annotation) []string {
	var args []string
	for _, a := range anns {
		args = append(args, "--annotation", a.String())
	}
	return args
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
