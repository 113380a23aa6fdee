package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/attest"
	"github.com/gitops-actions/gitops-actions/internal/build"
	"github.com/gitops-actions/gitops-actions/internal/bump"
	"github.com/gitops-actions/gitops-actions/internal/diffconfig"
	"github.com/gitops-actions/gitops-actions/internal/render"
	"github.com/gitops-actions/gitops-actions/internal/scan"
	"github.com/gitops-actions/gitops-actions/internal/validate"
)

// Main runs the pipeline and returns its exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	// The validate-config stage renders in processes of this binary.
	if code, ok := render.ServeProcess(args, os.Stdin, stdout, stderr); ok {
		return code
	}
	env := action.Env{Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	return action.Run(ctx, "pipeline", env, ParseConfig, run)
}

// gateSeverity is the scan's fail-on: the lowest severity that stops the
// run. What is below it is listed after the scan, not hidden.
const gateSeverity = "CRITICAL"

type mainFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int

// Stage is one step of the chain as the report records it.
type Stage struct {
	Name    string            `json:"name"`
	Status  string            `json:"status"` // passed, failed, error or skipped
	Reason  string            `json:"reason,omitempty"`
	Outputs map[string]string `json:"outputs,omitempty"`
	// DurationMS is how long the stage ran, in milliseconds.
	DurationMS int64 `json:"duration_ms,omitempty"`
}

type runner struct {
	c      *action.Context
	work   string
	stages []Stage
}

// stage runs one action's Main in-process, as its binary would run, with
// its own report file; the pipeline's INPUT_* and GITHUB_OUTPUT do not
// leak into it.
func (r *runner) stage(ctx context.Context, name string, main mainFunc, args ...string) (Stage, error) {
	reportPath := filepath.Join(r.work, name+"-report.json")
	getenv := func(k string) string {
		if strings.HasPrefix(k, "INPUT_") || k == "GITHUB_OUTPUT" {
			return ""
		}
		return r.c.Getenv(k)
	}
	fmt.Fprintf(r.c.Stdout, "\n== %s\n", name)
	out := &prefixWriter{w: r.c.Stdout, prefix: "   " + name + " | "}
	start := time.Now()
	code := main(ctx, append(append([]string{name}, args...), "--report-file", reportPath), getenv, out, out)
	out.Flush()
	took := time.Since(start)
	var rep struct {
		Status  string            `json:"status"`
		Error   string            `json:"error"`
		Outputs map[string]string `json:"outputs"`
	}
	s := Stage{Name: name, Status: "error", DurationMS: took.Milliseconds()}
	b, err := os.ReadFile(reportPath)
	if err == nil {
		err = json.Unmarshal(b, &rep)
	}
	if err != nil {
		s.Reason = fmt.Sprintf("reading the %s report: %v", name, err)
		r.stages = append(r.stages, s)
		return s, action.External(errors.New(s.Reason))
	}
	s.Status, s.Reason, s.Outputs = rep.Status, rep.Error, rep.Outputs
	// The stage printed its own outputs; the closing table sums them up.
	r.stages = append(r.stages, s)
	if code != action.ExitOK {
		return s, &action.ExitError{Code: code, Err: fmt.Errorf("stage %s ended with exit code %d: %s", name, code, rep.Error)}
	}
	return s, nil
}

func run(ctx context.Context, c *action.Context, cfg Config) error {
	work, err := os.MkdirTemp("", "gitops-pipeline-")
	if err != nil {
		return fmt.Errorf("creating a work directory: %w", err)
	}
	defer os.RemoveAll(work)
	r := &runner{c: c, work: work}
	defer func() { c.SetReportData("stages", r.stages) }()
	defer r.summary()

	image := cfg.Image
	if image == "" {
		host, stop, err := startRegistry()
		if err != nil {
			return err
		}
		defer stop()
		image = host + "/acme/hello"
		fmt.Fprintf(c.Stdout, "== registry: in-process OCI registry at %s (set image to use a real one)\n", host)
	}
	creds := regCreds(cfg)
	base := cfg.BaseImage
	if base == "" {
		if base, err = pushBaseImage(ctx, image, cfg); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "== base image: made and pushed %s\n", base)
	}

	b, err := r.stage(ctx, "build", build.Main, append([]string{
		"--builder", "go", "--context", cfg.CodePath, "--go-main", cfg.GoMain,
		"--base-image", base, "--image", image, "--platforms", "linux/amd64",
		"--tags", "type=raw,value=pipeline", "--lint", "off",
	}, creds...)...)
	if err != nil {
		return err
	}
	imageRef, digest := b.Outputs["image-ref"], b.Outputs["digest"]
	c.SetOutput("image-ref", imageRef)

	scanArgs := append([]string{"--image-ref", imageRef, "--sbom-file", filepath.Join(work, "sbom.spdx.json"), "--attach-sbom",
		"--fail-on", gateSeverity}, creds...)
	db, demo, vulnOK, err := dbArgs(cfg, work)
	if err != nil {
		return err
	}
	scanArgs = append(scanArgs, db...)
	const noDB = "cache-dir holds no vulnerability database (db/trivy.db) and no db-repository is given; the SBOM is still written"
	if demo != "" {
		fmt.Fprintf(c.Stdout, "\n== vulnerabilities: %s (give db-repository or cache-dir for a real one)\n", demo)
	}
	if !vulnOK {
		fmt.Fprintf(c.Stdout, "\n== vulnerabilities: skipped, the reason is at the end\n")
	}
	sc, scanErr := r.stage(ctx, "scan", scan.Main, scanArgs...)
	if scanErr != nil && action.CodeOf(scanErr) != action.ExitFindings {
		return scanErr
	}
	if !vulnOK {
		r.stages = append(r.stages, Stage{Name: "vulnerabilities", Status: "skipped", Reason: noDB})
	} else if scanErr == nil {
		r.belowGate()
	}
	c.SetOutput("sbom-ref", sc.Outputs["sbom-ref"])

	// attest signs with a key made for this run; bump-manifest then writes
	// the digest only if its proofs verify under that key.
	key, err := newRunKey()
	if err != nil {
		return err
	}
	c.Mask(key.password)
	proofs := "signature,sbom"
	attestArgs := append([]string{"--image-ref", imageRef, "--signing", "key", "--key", key.private, "--key-password", key.password,
		"--tlog-upload=false", "--sbom-file", filepath.Join(work, "sbom.spdx.json")}, creds...)
	if vulnOK {
		proofs += ",vulnerabilities"
		attestArgs = append(attestArgs, "--scan-report", filepath.Join(work, "scan-report.json"))
	}
	if c.Getenv("GITHUB_WORKFLOW_REF") != "" {
		proofs += ",provenance" // SLSA provenance is made from the GitHub Actions context
	}
	if _, err := r.stage(ctx, "attest", attest.Main, append(attestArgs, "--attestations", proofs)...); err != nil {
		return err
	}
	if err := r.verify(ctx, imageRef, proofs, key.public, cfg); err != nil {
		return err
	}

	repoURL := cfg.ConfigRepository
	if repoURL == "" {
		if repoURL, err = seedConfigRepo(ctx, c.Getenv, work); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "\n== config repo: a temporary copy of examples/config-repo at %s\n", repoURL)
	}
	bumpArgs := []string{"--repository", repoURL, "--image", cfg.ConfigImage, "--digest", digest,
		"--paths", cfg.ConfigPath, "--mode", "push", "--no-downgrade=false"}
	if cfg.Token != "" {
		bumpArgs = append(bumpArgs, "--token", cfg.Token)
	}
	bu, err := r.stage(ctx, "bump-manifest", bump.Main, bumpArgs...)
	if err != nil {
		return err
	}
	c.SetOutput("commit-sha", bu.Outputs["commit-sha"])

	clone := filepath.Join(work, "config")
	if err := gitRun(ctx, c.Getenv, cfg.Token, "", "clone", "--quiet", repoURL, clone); err != nil {
		return action.External(fmt.Errorf("cloning the config repo %q: %w", redactURL(repoURL), err))
	}
	if diff, err := gitOutput(ctx, c.Getenv, clone, "show", "--format=commit %H%n%n    %s%n", "HEAD"); err == nil {
		fmt.Fprintf(c.Stdout, "\n== config repo diff\n%s", diff)
	}
	// diff-config renders the bump commit against the config repo before
	// it, over every environment beside the bumped one, so that the table
	// shows the bump changed only its own.
	base, head := "HEAD", "HEAD"
	if sha := bu.Outputs["commit-sha"]; sha != "" {
		base, head = sha+"^", sha
	}
	if _, err := r.stage(ctx, "diff-config", diffconfig.Main, "--repo-path", clone, "--path", path.Dir(cfg.ConfigPath),
		"--base-ref", base, "--head-ref", head, "--output-format", "text"); err != nil {
		return err
	}
	if _, err := r.stage(ctx, "validate-config", validate.Main, "--path", clone); err != nil {
		return err
	}
	// A skipped vulnerability step is never reported as passed.
	passed := scanErr == nil && vulnOK
	c.SetOutput("passed", fmt.Sprint(passed))
	return scanErr
}

func regCreds(cfg Config) []string {
	if cfg.RegistryUsername == "" {
		return nil
	}
	return []string{"--registry-username", cfg.RegistryUsername, "--registry-password", cfg.RegistryPassword}
}

// startRegistry serves an in-process OCI registry (with the referrers API)
// on a free loopback port.
func startRegistry() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("starting the in-process registry: %w", err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(discardLogger()), registry.WithReferrersSupport(true))}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}
