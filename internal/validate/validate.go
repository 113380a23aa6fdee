package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/k8sschema"
	"github.com/gitops-actions/gitops-actions/internal/render"
	"github.com/gitops-actions/gitops-actions/internal/report"
	"github.com/gitops-actions/gitops-actions/internal/version"
)

// Main runs the validate-config action and returns its exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if code, ok := render.ServeProcess(args, os.Stdin, stdout, stderr); ok {
		return code
	}
	env := action.Env{Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	return action.Run(ctx, "validate-config", env, ParseConfig, run)
}

func usageErr(input, format string, args ...any) error {
	return action.UsageErr(input, fmt.Errorf(format, args...))
}

func run(ctx context.Context, c *action.Context, cfg Config) error {
	k8sVersion := cfg.KubernetesVersion
	if k8sVersion == "" {
		k8sVersion = k8sschema.Newest() + ".0"
	}
	minor, err := k8sschema.ParseMinor(k8sVersion)
	if err != nil {
		return usageErr("kubernetes-version", "%w", err)
	}
	// The deprecation table starts at 1.16; schemas at the oldest embedded.
	if minorNumber(minor) < 16 {
		return usageErr("kubernetes-version", "%q is older than 1.16, the oldest version checked", k8sVersion)
	}
	schemaMinor := k8sschema.Embedded(minor)
	if schemaMinor != minor {
		c.Warnf("no schemas embedded for Kubernetes %s: using those of %s", minor, schemaMinor)
	}
	// Every document of the repo is held at once (cross-resource rules
	// need them all); a soft limit makes the collector work harder
	// instead of letting garbage double the peak. GOMEMLIMIT overrides.
	if c.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(120 << 20)
	}
	if err := checkInputFiles(cfg); err != nil {
		return err
	}
	if cfg.OutputFormat != "text" {
		c.SetQuiet(true)
	}

	// Inputs that name trees outside the current directory (the
	// repository) are roots of their own.
	roots, err := render.NewRoots(slices.Concat(cfg.Paths, cfg.HelmValues, cfg.CRDPaths, cfg.Policies, cfg.Data)...)
	if err != nil {
		return action.External(err)
	}
	p, err := discover(cfg, roots)
	if err != nil {
		return err
	}
	fromPath, err := readCRDPaths(cfg, roots)
	if err != nil {
		return err
	}
	in := load(ctx, cfg, roots, p, k8sVersion, fromPath)
	in.findings = append(in.findings, p.outside...)

	objs, skipped, notObjects := expandDocs(in.docs)
	skipped += p.skippedFiles
	in.findings = append(in.findings, notObjects...)
	crds, scope, crdFindings, err := collectCRDs(cfg, fromPath, objs)
	if err != nil {
		return err
	}
	in.findings = append(in.findings, crdFindings...)
	// The policy package reads these trees itself: they are checked
	// first, and not loaded at all when a link leads out.
	if out := outsideLinks(roots, slices.Concat(cfg.Policies, cfg.Data)); len(out) > 0 {
		in.findings = append(in.findings, out...)
		cfg.Policies, cfg.Data = nil, nil
	}

	var resources []*Doc
	for _, d := range objs {
		// What a kustomization or chart renders is applied, so only plain
		// files can be a tool's config file.
		if r := d.Resource(); d.plain() && isConfigFile(r.APIVersion, r.Kind, crds) {
			skipped++
			continue
		}
		resources = append(resources, d)
	}

	checks, err := newCheckers(ctx, cfg, minor, schemaMinor, resources, crds, scope)
	if err != nil {
		return err
	}
	defer checks.close()
	findings := append(in.findings, checks.run(ctx, resources)...)
	if cfg.VerifyImages {
		vf, err := verifyImages(ctx, c, cfg, resources)
		if err != nil {
			return err
		}
		findings = append(findings, vf...)
	}
	findings = filterRules(findings, cfg.DisableRules)
	findings = dedupe(findings)
	report.Sort(findings)
	suppressed := checks.suppressed.result(cfg.DisableRules)

	c.AddFindings(findings...)
	counts := report.Count(findings)
	c.SetOutput("resources", strconv.Itoa(len(resources)))
	c.SetOutput("errors", strconv.Itoa(counts.Errors))
	c.SetOutput("warnings", strconv.Itoa(counts.Warnings))
	c.SetOutput("notices", strconv.Itoa(counts.Notices))
	c.SetReportData("kubernetesVersion", minor)
	c.SetReportData("skipped", skipped)
	c.SetOutput("suppressed", strconv.Itoa(len(suppressed)))
	c.SetReportData("suppressed", suppressed)
	if n := len(suppressed); n > 0 {
		c.Logf("validate-config: %d finding(s) suppressed by %s annotations", n, AnnotationIgnore)
		c.AddSummary(fmt.Sprintf("%d finding(s) suppressed by `%s` annotations (listed under `suppressed` in the JSON report).\n", n, AnnotationIgnore))
	}
	c.Logf("validate-config: %d resource(s) in %d file(s), %d kustomization(s), %d chart(s); %d skipped; Kubernetes %s",
		len(resources), len(p.files), len(p.kustomizations), len(p.charts), skipped, minor)

	if legend := ruleLegend(findings); legend != "" {
		c.Logf("%s", legend)
		c.AddSummary("#### Rules\n\n" + legend)
	}
	rules := ruleMetadata()
	if cfg.SARIFFile != "" {
		b, err := report.SARIF(sarifTool(c, cfg), rules, findings, "")
		if err != nil {
			return err
		}
		if err := writeFile(cfg.SARIFFile, c.RedactJSON(b)); err != nil {
			return action.External(fmt.Errorf("writing sarif-file %q: %w", cfg.SARIFFile, err))
		}
		c.SetOutput("sarif-file", cfg.SARIFFile)
	}
	failed := report.AtOrAbove(findings, cfg.FailOn)
	if err := printFormat(c, cfg, findings, rules, failed); err != nil {
		return err
	}
	if failed {
		return action.ErrFindings
	}
	return nil
}

// sarifTool names the tool; locations are relative to the repository
// the first path is in, which code scanning maps to its files.
func sarifTool(c *action.Context, cfg Config) report.Tool {
	t := report.Tool{Name: "validate-config", Version: version.String(), InformationURI: "https://github.com/gitops-actions/gitops-actions"}
	if len(cfg.Paths) > 0 {
		t.SourceRoot = report.SourceRoot(c.Getenv, cfg.Paths[0])
	}
	return t
}

// printFormat writes the json, sarif or junit form of the result on
// stdout; text is printed by the runtime.
func printFormat(c *action.Context, cfg Config, fs []report.Finding, rules map[string]report.Rule, failed bool) error {
	var b []byte
	var err error
	switch cfg.OutputFormat {
	case "json":
		status := report.StatusPassed
		if failed {
			status = report.StatusFailed
		}
		r := &report.Report{Action: "validate-config", Version: version.String(), Status: status, Outputs: c.Outputs(), Findings: fs}
		b, err = json.MarshalIndent(r, "", "  ")
	case "sarif":
		b, err = report.SARIF(sarifTool(c, cfg), rules, fs, "")
	case "junit":
		b, err = report.JUnit("validate-config", fs, cfg.FailOn)
	default:
		return nil
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.Stdout, "%s\n", c.Redact(string(b)))
	return err
}

func writeFile(path string, b []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b, 0o644)
}

// checkInputFiles fails early, before any work, on inputs that name
// files or directories that are not there.
func checkInputFiles(cfg Config) error {
	var errs []error
	for _, group := range []struct {
		input string
		paths []string
	}{{"helm-values", cfg.HelmValues}, {"crd-path", cfg.CRDPaths}, {"policy", cfg.Policies}, {"data", cfg.Data}} {
		for _, p := range group.paths {
			if _, err := os.Stat(p); err != nil {
				errs = append(errs, usageErr(group.input, "%q: %w", p, err))
			}
		}
	}
	for _, id := range cfg.DisableRules {
		if strings.HasPrefix(id, "GA-") {
			if _, ok := ruleMetadata()[id]; !ok {
				errs = append(errs, usageErr("disable-rules", "%q is not a built-in rule ID", id))
			}
		}
	}
	return errors.Join(errs...)
}

// loaded is every document of the input, rendered where needed.
type loaded struct {
	docs     []*Doc
	findings []report.Finding
}

// load reads plain files and renders kustomizations and charts, in
// parallel; the result is in a stable order. Charts come last, so that
// their .Capabilities hold the CRDs of everything else (kustomize
// helmCharts see those of plain files and crd-path).
func load(ctx context.Context, cfg Config, roots *render.Roots, p *plan, k8sVersion string, fromPath *crdPath) *loaded {
	type job struct {
		kind, path string
	}
	var jobs []job
	for _, f := range p.files {
		jobs = append(jobs, job{"file", f})
	}
	for _, k := range p.kustomizations {
		jobs = append(jobs, job{"kustomize", k})
	}
	for _, c := range p.components {
		jobs = append(jobs, job{"component", c})
	}
	for _, ch := range p.charts {
		jobs = append(jobs, job{"helm", ch})
	}
	results := make([]loaded, len(jobs))
	origins := newSourceCache(roots)
	renderer := render.NewRunner(render.Limits{MaxBytes: cfg.RenderMaxBytes, Timeout: cfg.RenderTimeout},
		render.KustomizeOptions{Roots: roots, AllowRemote: cfg.AllowRemote, RemoteTimeout: cfg.RemoteTimeout})
	// A base's objects come with every overlay over it; after the first
	// they cross from the render process as their hashes.
	renderer.SkipKnown(origins.known)
	defer renderer.Close()
	var cluster render.Cluster
	var clusterErr error
	clusterFor := func(docs []loaded) {
		if len(p.charts) == 0 && len(p.kustomizations) == 0 {
			return
		}
		cluster, clusterErr = targetCluster(k8sVersion, fromPath, docs)
	}
	run := func(i int, session *render.Session) {
		j := jobs[i]
		var docs []*Doc
		var fs []report.Finding
		switch j.kind {
		case "file":
			b, err := roots.ReadFile(j.path)
			if o := outsideFindings(err); o != nil {
				fs = o
				break
			}
			if err != nil {
				fs = []report.Finding{{Source: report.SourceSyntax, Severity: report.Error, File: j.path, Message: fmt.Sprintf("reading file: %v", err)}}
				break
			}
			docs, fs = parseDocs(j.path, b, 0)
			// Lines are found again only for documents with findings, so
			// the parsed nodes of a large repo are not all kept.
			for i, d := range docs {
				d.Node = nil
				d.trace = origins.tracer(d.File, i, d.Line)
				d.Unit = plainUnit(j.path)
			}
		case "kustomize":
			docs, fs = renderKustomization(ctx, session, j.path, origins, cluster)
		case "component":
			docs, fs = renderUnusedComponent(ctx, session, j.path, origins, cluster)
		case "helm":
			docs, fs = renderChart(ctx, session, j.path, cfg.HelmValues, cluster)
		}
		if j.kind != "file" {
			for _, d := range docs {
				d.Unit = strings.Replace(j.kind, "component", "kustomize", 1) + ":" + j.path
			}
		}
		results[i] = loaded{docs: docs, findings: fs}
	}
	files := len(p.files)
	clusterFor(nil)
	if clusterErr != nil {
		return &loaded{findings: []report.Finding{{Source: report.SourceSyntax, Rule: RuleRender, Severity: report.Error, Message: "reading the built-in APIs of the target Kubernetes version: " + clusterErr.Error()}}}
	}
	parallel(ctx, files, func(i int) { run(i, nil) })
	clusterFor(results[:files])
	// Each group renders in one session, one unit after another; the
	// groups in parallel.
	byGroup := func(from int, groups [][]int) {
		parallel(ctx, len(groups), func(g int) {
			session := renderer.Session()
			defer session.Close()
			for _, i := range groups[g] {
				if ctx.Err() != nil {
					return
				}
				run(from+i, session)
			}
		})
	}
	kustomized := files + len(p.kustomizations) + len(p.components)
	byGroup(files, renderGroups(roots, slices.Concat(p.kustomizations, p.components)))
	clusterFor(results[:kustomized])
	charts := make([][]int, len(p.charts))
	for i := range charts {
		charts[i] = []int{i}
	}
	byGroup(kustomized, charts)
	out := &loaded{}
	for _, r := range results {
		out.docs = append(out.docs, r.docs...)
		out.findings = append(out.findings, r.findings...)
	}
	return out
}

// targetCluster is the cluster charts render against: the target
// version, its built-in APIs and those of every CRD read so far.
func targetCluster(k8sVersion string, fromPath *crdPath, read []loaded) (render.Cluster, error) {
	minor, err := k8sschema.ParseMinor(k8sVersion)
	if err != nil {
		return render.Cluster{}, err
	}
	apis, err := k8sschema.BuiltinAPIs(minor)
	if err != nil {
		return render.Cluster{}, err
	}
	for _, d := range fromPath.crds {
		apis = append(apis, crdAPIs(d)...)
	}
	for _, r := range read {
		for _, d := range r.docs {
			apis = append(apis, crdAPIs(d)...)
		}
	}
	return render.Cluster{KubeVersion: k8sVersion, APIs: apis}, nil
}

// parallel runs fn for 0..n-1 on as many goroutines as there are CPUs.
func parallel(ctx context.Context, n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
}

// filterRules drops findings of disabled rules.
func filterRules(fs []report.Finding, disabled []string) []report.Finding {
	if len(disabled) == 0 {
		return fs
	}
	return slices.DeleteFunc(fs, func(f report.Finding) bool { return slices.Contains(disabled, f.Rule) })
}

// dedupe drops repeated findings: a base rendered by two overlays is
// reported once at its own line.
func dedupe(fs []report.Finding) []report.Finding {
	seen := map[string]bool{}
	out := fs[:0]
	for _, f := range fs {
		k := f.String() + "\x00" + f.Source
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, f)
	}
	return out
}

func minorNumber(minor string) int {
	_, m, _ := strings.Cut(minor, ".")
	n, _ := strconv.Atoi(m)
	return n
}
