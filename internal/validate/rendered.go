package validate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/gitops-actions/gitops-actions/internal/render"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// sourceCache parses each file that rendered objects came from once.
type sourceCache struct {
	roots *render.Roots
	mu    sync.Mutex
	files map[string][]*Doc
	// rendered holds the decoded object of each distinct rendered
	// document: a base's objects come once with every overlay over it,
	// and are decoded and held once.
	rendered map[[sha256.Size]byte]map[string]any
}

func newSourceCache(roots *render.Roots) *sourceCache {
	return &sourceCache{roots: roots, files: map[string][]*Doc{}, rendered: map[[sha256.Size]byte]map[string]any{}}
}

// parseRendered is parseDocs of one rendered object, whose YAML has the
// SHA-256 sum. An object decoded before without findings is not decoded
// again (nor sent again: known tells the Runner); its copies share it,
// which the checks only read.
func (c *sourceCache) parseRendered(file string, sum [sha256.Size]byte, b []byte) ([]*Doc, []report.Finding) {
	c.mu.Lock()
	obj, ok := c.rendered[sum]
	c.mu.Unlock()
	if ok {
		return []*Doc{{File: file, Line: 1, Object: obj, sum: sum}}, nil
	}
	if b == nil {
		// The Runner leaves out only what known said is here.
		return nil, []report.Finding{{Source: report.SourceSyntax, Rule: RuleRender, Severity: report.Error, File: file, Line: 1, Message: "internal error: a rendered object came without its content"}}
	}
	ds, fs := parseDocs(file, b, 0)
	if len(ds) == 1 && len(fs) == 0 && ds[0].Object != nil {
		ds[0].sum = sum
		c.mu.Lock()
		c.rendered[sum] = ds[0].Object
		c.mu.Unlock()
	}
	return ds, fs
}

// known says whether the object of this content is held decoded.
func (c *sourceCache) known(sum [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.rendered[sum]
	return ok
}

func (c *sourceCache) docs(file string) []*Doc {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.files[file]; ok {
		return d
	}
	var docs []*Doc
	if b, err := c.roots.ReadFile(file); err == nil {
		docs, _ = parseDocs(file, b, 0)
	}
	c.files[file] = docs
	return docs
}

// tracer maps field paths of the index-th document of file to lines,
// parsing the file on first use.
func (c *sourceCache) tracer(file string, index, line int) func([]string) (string, int) {
	return func(path []string) (string, int) {
		docs := c.docs(file)
		if index >= len(docs) {
			return file, line
		}
		return file, lineOf(docs[index].Node, path, line)
	}
}

// find returns the document of file that holds kind/name: the name as
// written there, before a prefix, suffix or namespace was applied.
func (c *sourceCache) find(file, kind, name string) *Doc {
	var sameKind []*Doc
	for _, d := range c.docs(file) {
		r := d.Resource()
		if r.Kind != kind {
			continue
		}
		if r.Name == name {
			return d
		}
		sameKind = append(sameKind, d)
	}
	for _, d := range sameKind {
		if n := d.Resource().Name; n != "" && strings.Contains(name, n) {
			return d
		}
	}
	if len(sameKind) == 1 {
		return sameKind[0]
	}
	return nil
}

func kustomizationFile(dir string) string {
	for _, k := range render.KustomizationFiles {
		if _, err := os.Stat(filepath.Join(dir, k)); err == nil {
			return slash(filepath.Join(dir, k))
		}
	}
	return slash(filepath.Join(dir, "kustomization.yaml"))
}

// renderKustomization builds dir and traces every object to the line of
// the file it came from; a field a patch set points at the patch.
func renderKustomization(ctx context.Context, r *render.Session, dir string, sources *sourceCache, cluster render.Cluster) ([]*Doc, []report.Finding) {
	kfile := kustomizationFile(dir)
	objs, err := r.Kustomize(ctx, dir, cluster)
	if f, ok := limitFinding(err, kfile, "kustomize build"); ok {
		return nil, []report.Finding{f}
	}
	if fs := refusedFindings(err); fs != nil {
		return nil, fs
	}
	if err != nil {
		if fs := sourceSyntax(sources.roots, dir, err); len(fs) > 0 {
			return nil, fs
		}
		return nil, []report.Finding{{Source: report.SourceSyntax, Rule: RuleRender, Severity: report.Error, File: kfile, Line: 1,
			Message: "kustomize build failed: " + relativeMessage(err.Error())}}
	}
	var docs []*Doc
	fs := kustomizationSyntax(sources.roots, dir)
	var patches []patch
	var patchesOnce sync.Once
	for _, o := range objs {
		ds, pf := sources.parseRendered(kfile, o.Sum, o.YAML)
		fs = append(fs, pf...)
		for _, d := range ds {
			// Not o itself: the closure below would keep its YAML, every
			// overlay's copy of a base.
			src, generated, srcLine := o.Source, o.Generated, max(o.Line, 1)
			d.File, d.Line = kfile, 1
			r := d.Resource()
			obj := d.Object
			d.Node = nil
			// The source is parsed only when a finding asks for a line.
			d.trace = func(path []string) (string, int) {
				if src == "" {
					return kfile, 1
				}
				if !generated {
					if sd := sources.find(src, r.Kind, r.Name); sd != nil {
						patchesOnce.Do(func() { patches = kustomizePatches(sources.roots, dir) })
						return traceKustomized(patches, sd, r.Kind, r.Name, obj, path)
					}
				}
				return src, srcLine
			}
			if src != "" {
				d.File, d.Line = src, srcLine
			}
			docs = append(docs, d)
		}
	}
	return docs, fs
}

// renderUnusedComponent checks a Component that no kustomization under
// the input paths includes on its own when it builds alone (its
// resources); one that patches what an including kustomization holds
// does not, and is a notice, not a render failure.
func renderUnusedComponent(ctx context.Context, r *render.Session, dir string, sources *sourceCache, cluster render.Cluster) ([]*Doc, []report.Finding) {
	docs, fs := renderKustomization(ctx, r, dir, sources, cluster)
	for _, f := range fs {
		if f.Rule == RuleRender {
			return nil, []report.Finding{{Source: report.SourceSyntax, Rule: RuleComponentUnused, Severity: report.Notice, File: f.File, Line: 1,
				Message: "kustomize Component is not included by any kustomization under the input paths (components:) and does not build alone; it is not checked: " + strings.TrimPrefix(f.Message, "kustomize build failed: ")}}
		}
	}
	return docs, fs
}

// renderChart renders a chart; each object points at its template, at
// the line where the template declares its kind.
func renderChart(ctx context.Context, r *render.Session, dir string, values []string, cluster render.Cluster) ([]*Doc, []report.Finding) {
	chartFile := slash(filepath.Join(dir, "Chart.yaml"))
	ts, err := r.Helm(ctx, dir, values, cluster)
	if f, ok := limitFinding(err, chartFile, "helm template"); ok {
		return nil, []report.Finding{f}
	}
	if fs := refusedFindings(err); fs != nil {
		return nil, fs
	}
	if err != nil {
		file, line := chartFile, 1
		// Template errors name the template and line: chart/templates/x.yaml:12:3.
		if m := helmErrAt.FindStringSubmatch(err.Error()); m != nil {
			// The first segment is the chart's name, not its directory.
			if _, rel, ok := strings.Cut(m[1], "/"); ok {
				file = slash(filepath.Join(dir, rel))
			}
			fmt.Sscan(m[2], &line)
		}
		return nil, []report.Finding{{Source: report.SourceSyntax, Rule: RuleRender, Severity: report.Error, File: file, Line: line,
			Message: "helm template failed: " + relativeMessage(err.Error())}}
	}
	var docs []*Doc
	var fs []report.Finding
	for _, t := range ts {
		ds, pf := parseDocs(t.Source, []byte(t.Rendered), 0)
		for i := range pf {
			pf[i].Message = "rendered template: " + pf[i].Message
		}
		fs = append(fs, pf...)
		for _, d := range ds {
			line := kindLine(t.Text, d.Resource().Kind)
			src, lines := t.Source, strings.Split(t.Text, "\n")
			d.File, d.Line, d.Node = src, line, nil
			obj := d.Object
			d.trace = func(path []string) (string, int) { return src, templateLine(lines, line, path, obj) }
			docs = append(docs, d)
		}
	}
	return docs, fs
}

// limitFinding is the finding for a unit a render limit stopped.
func limitFinding(err error, file, what string) (report.Finding, bool) {
	var le *render.LimitError
	if !errors.As(err, &le) {
		return report.Finding{}, false
	}
	return report.Finding{Source: report.SourceSyntax, Rule: RuleRenderLimit, Severity: report.Error, File: file, Line: 1,
		Message: what + " stopped: " + le.Msg}, true
}

var helmErrAt = regexp.MustCompile(`template: ([^:\s]+):(\d+)`)

// templateLine follows a field path through a template's text: each
// key is looked for on a later line than the one before, and a list
// element by its name ("name: <name>" as rendered in obj), so the second
// container's image is not the first's. A template is not YAML until
// rendered, so this is a search, not a parse.
func templateLine(lines []string, start int, path []string, obj any) int {
	line, from := start, start // from: the 0-based index to search from
	for _, p := range path {
		if i, err := strconv.Atoi(p); err == nil {
			obj = index(obj, i)
			name, _ := field(obj, "name").(string)
			if name == "" {
				continue
			}
			// The element starts at its "- ": keys before its name
			// belong to it too.
			if k, ok := templateItem(lines, from, i, name); ok {
				line, from = k+1, k
			}
			continue
		}
		obj = field(obj, p)
		for i := from; i < len(lines); i++ {
			t := strings.TrimLeft(strings.TrimSpace(lines[i]), "- ")
			if strings.HasPrefix(t, p+":") {
				line, from = i+1, i+1
				break
			}
		}
	}
	return line
}

// kindLine finds the line of "kind: <kind>" in a template, 1 if absent.
func kindLine(text, kind string) int {
	if kind == "" {
		return 1
	}
	for i, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "kind: "+kind {
			return i + 1
		}
	}
	return 1
}

// relativeMessage drops the working directory from paths in a message:
// reports speak of files relative to the repository.
func relativeMessage(msg string) string {
	wd, err := os.Getwd()
	if err != nil || wd == "/" {
		return msg
	}
	return strings.ReplaceAll(msg, wd+string(filepath.Separator), "")
}
