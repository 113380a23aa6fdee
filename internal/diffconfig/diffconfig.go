package diffconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/k8sschema"
	"github.com/gitops-actions/gitops-actions/internal/render"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// Main runs the diff-config action and returns its exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if code, ok := render.ServeProcess(args, os.Stdin, stdout, stderr); ok {
		return code
	}
	env := action.Env{Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	return action.Run(ctx, "diff-config", env, ParseConfig, run)
}

// result is the whole diff.
type result struct {
	Base, Head string
	Units      []*unitDiff // units with changes, most changed first
	Rendered   int         // units rendered (at either side)
	Findings   []report.Finding
}

func run(ctx context.Context, c *action.Context, cfg Config) error {
	if cfg.OutputFormat == "json" {
		c.SetQuiet(true)
	}
	r, err := openRepo(ctx, c.Getenv, cfg.RepoPath)
	if err != nil {
		return err
	}
	paths, err := repoPaths(r, cfg.RepoPath, cfg.Paths)
	if err != nil {
		return err
	}
	ev := readEvent(c.Getenv)
	baseRef := cfg.BaseRef
	if baseRef == "" {
		baseRef = ev.baseSHA
	}
	if baseRef == "" {
		baseRef = "HEAD~1"
	}
	base, err := r.commit(ctx, "base-ref", baseRef)
	if err != nil {
		return err
	}
	head, err := r.commit(ctx, "head-ref", cfg.HeadRef)
	if err != nil {
		return err
	}
	res, err := diffCommits(ctx, c, cfg, r, paths, base, head)
	if err != nil {
		return err
	}
	return publish(ctx, c, cfg, ev, res)
}

// repoPaths turns the path inputs, relative to dir (repo-path), into
// paths relative to the top of the repository; one outside it is a usage
// error.
func repoPaths(r repo, dir string, in []string) ([]string, error) {
	var out []string
	for _, p := range in {
		in := p
		if !filepath.IsAbs(p) {
			in = filepath.Join(dir, p)
		}
		abs, err := filepath.Abs(in)
		if err != nil {
			return nil, action.Usage("path", "%q: %v", p, err)
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		rel, err := filepath.Rel(r.top, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, action.Usage("path", "%q is outside the repository %s", p, filepath.Base(r.top))
		}
		out = append(out, filepath.ToSlash(rel))
	}
	return out, nil
}

func diffCommits(ctx context.Context, c *action.Context, cfg Config, r repo, paths []string, base, head string) (*result, error) {
	res := &result{Base: base, Head: head}
	changed, err := r.changedFiles(ctx, base, head)
	if err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return res, nil
	}
	work, err := os.MkdirTemp("", "diff-config-")
	if err != nil {
		return nil, action.External(err)
	}
	defer os.RemoveAll(work)
	trees := []tree{{name: "base", top: filepath.Join(work, "base")}, {name: "head", top: filepath.Join(work, "head")}}
	scratch := filepath.Join(work, "values")
	var errs [2]error
	var wg sync.WaitGroup
	for i, sha := range []string{base, head} {
		if err := os.MkdirAll(trees[i].top, 0o755); err != nil {
			return nil, action.External(err)
		}
		wg.Go(func() { errs[i] = r.extract(ctx, sha, trees[i].top) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return nil, action.External(err)
	}
	roots, err := render.NewRoots(trees[0].top, trees[1].top, scratch)
	if err != nil {
		return nil, action.External(err)
	}
	if len(slices.DeleteFunc(slices.Clone(paths), func(p string) bool { return !trees[0].exists(p) && !trees[1].exists(p) })) == 0 {
		return nil, action.Usage("path", "%s: in neither commit", strings.Join(cfg.Paths, ", "))
	}
	cluster, err := targetCluster(cfg, trees[1], roots)
	if err != nil {
		return nil, err
	}

	// The units of both sides, by name; a unit is rendered only when a
	// changed file reaches it on either side.
	var sides [2]map[string]*unit
	var names []string
	for i, t := range trees {
		units, err := discoverUnits(cfg, t, paths, roots)
		if err != nil {
			return nil, err
		}
		sides[i] = map[string]*unit{}
		for _, u := range units {
			sides[i][u.Name] = u
			if i == 0 || sides[0][u.Name] == nil {
				names = append(names, u.Name)
			}
		}
	}
	type job struct {
		name       string
		base, head *unit
	}
	var jobs []job
	for _, n := range names {
		b, h := sides[0][n], sides[1][n]
		var deps []string
		for _, u := range []*unit{b, h} {
			if u != nil {
				deps = append(deps, u.deps...)
			}
		}
		if slices.ContainsFunc(changed, func(f string) bool { return reaches(deps, f) }) {
			jobs = append(jobs, job{n, b, h})
		}
	}
	c.Logf("diff-config: %d changed file(s) reach %d of %d unit(s)", len(changed), len(jobs), len(names))

	rn := &renderer{roots: roots, cluster: cluster, scratch: scratch,
		runner: render.NewRunner(render.Limits{}, render.KustomizeOptions{Roots: roots})}
	defer rn.runner.Close()
	type rendered struct {
		objs []map[string]any
		err  error
	}
	out := make([][2]rendered, len(jobs))
	parallel(ctx, 2*len(jobs), func(i int) {
		j, s := jobs[i/2], i%2
		u := j.base
		if s == 1 {
			u = j.head
		}
		if u == nil {
			return
		}
		objs, err := rn.renderUnit(ctx, trees[s], u)
		out[i/2][s] = rendered{objs, err}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	norm := normalizer{ignore: cfg.IgnoreFields}
	var heads, bases [][]map[string]any
	for i, j := range jobs {
		u := j.head
		if u == nil {
			u = j.base
		}
		b, h := out[i][0], out[i][1]
		res.Rendered++
		if h.err != nil {
			d := &unitDiff{unit: *u, Error: "head: " + h.err.Error()}
			heads, bases = append(heads, nil), append(bases, nil)
			if j.base != nil && b.err != nil {
				// Broken before this change too: not news, and nothing to diff.
				d.Error += " (it does not render at base either)"
				res.Units = append(res.Units, d)
				continue
			}
			// The change breaks the unit: a finding, and nothing to diff.
			res.Units = append(res.Units, d)
			res.Findings = append(res.Findings, report.Finding{Source: report.SourceSyntax, Rule: "GA-RENDER", Severity: report.Error, File: u.Dir,
				Message: fmt.Sprintf("%s does not render at head: %v", u.Name, h.err)})
			continue
		}
		d := norm.diffUnit(*u, b.objs, h.objs, cfg.MaxDiffLines)
		if b.err != nil {
			d.Error = "base: " + b.err.Error() + " (head shown whole)"
		}
		if d.total() > 0 || d.Error != "" {
			res.Units = append(res.Units, d)
			heads, bases = append(heads, h.objs), append(bases, b.objs)
		}
	}
	if cfg.Validate {
		fs, err := newFindings(ctx, c, cfg, work, res.Units, bases, heads)
		if err != nil {
			return nil, err
		}
		res.Findings = append(res.Findings, fs...)
	}
	slices.SortStableFunc(res.Units, func(a, b *unitDiff) int {
		if a.total() != b.total() {
			return b.total() - a.total()
		}
		return strings.Compare(a.Name, b.Name)
	})
	return res, nil
}

// targetCluster is what charts see: the target version's built-in APIs
// and those of crd-path's CRDs at head.
func targetCluster(cfg Config, head tree, roots *render.Roots) (render.Cluster, error) {
	v := cfg.KubernetesVersion
	if v == "" {
		v = k8sschema.Newest() + ".0"
	}
	minor, err := k8sschema.ParseMinor(v)
	if err != nil {
		return render.Cluster{}, action.Usage("kubernetes-version", "%v", err)
	}
	apis, err := k8sschema.BuiltinAPIs(k8sschema.Embedded(minor))
	if err != nil {
		return render.Cluster{}, action.Usage("kubernetes-version", "%v", err)
	}
	var crdRoots []string
	for _, p := range cfg.CRDPaths {
		if !head.exists(p) {
			return render.Cluster{}, action.Usage("crd-path", "%q is not in the head commit", p)
		}
		crdRoots = append(crdRoots, head.abs(p))
	}
	files, err := yamlFiles(crdRoots, nil)
	if err != nil {
		return render.Cluster{}, action.UsageErr("crd-path", err)
	}
	for _, f := range files {
		b, err := roots.ReadFile(f)
		if err != nil {
			return render.Cluster{}, action.UsageErr("crd-path", relErr(head, err))
		}
		docs, _ := decodeDocs(b)
		for _, d := range docs {
			if str(d, "kind") != "CustomResourceDefinition" {
				continue
			}
			spec, _ := d["spec"].(map[string]any)
			for _, ver := range asList(spec["versions"]) {
				apis = append(apis, str(spec, "group")+"/"+str(ver, "name")+"/"+str(spec, "names", "kind"))
			}
		}
	}
	return render.Cluster{KubeVersion: v, APIs: apis}, nil
}

// parallel runs fn for 0..n-1 on as many goroutines as there are CPUs.
func parallel(ctx context.Context, n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
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

// event is what the pull request event says.
type event struct {
	number  int
	baseSHA string
}

func readEvent(getenv func(string) string) event {
	var ev struct {
		Number      int `json:"number"`
		PullRequest struct {
			Number int `json:"number"`
			Base   struct {
				SHA string `json:"sha"`
			} `json:"base"`
		} `json:"pull_request"`
	}
	p := getenv("GITHUB_EVENT_PATH")
	if p == "" {
		return event{}
	}
	b, err := os.ReadFile(p)
	if err != nil || json.Unmarshal(b, &ev) != nil {
		return event{}
	}
	n := ev.PullRequest.Number
	if n == 0 {
		n = ev.Number
	}
	return event{number: n, baseSHA: ev.PullRequest.Base.SHA}
}

// counts are the outputs.
func setOutputs(c *action.Context, res *result) {
	var added, removed, changed int
	images := []imageChange{}
	for _, u := range res.Units {
		added += u.Added
		removed += u.Removed
		changed += u.Changed
		images = append(images, u.Images...)
	}
	b, _ := json.Marshal(images)
	c.SetOutput("changed-units", strconv.Itoa(len(res.Units)))
	c.SetOutput("changed-resources", strconv.Itoa(changed))
	c.SetOutput("added", strconv.Itoa(added))
	c.SetOutput("removed", strconv.Itoa(removed))
	c.SetOutput("images-changed", string(b))
	c.SetOutput("has-changes", strconv.FormatBool(len(res.Units) > 0))
}
