package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// Object is one rendered manifest and where it came from.
type Object struct {
	YAML []byte
	// Source is the file the object was read from, relative to the
	// current directory with forward slashes; empty when unknown.
	Source string
	// Generated is set when the object was made by a generator (Source is
	// then the kustomization that configured it) or by helmCharts (Source
	// is then the chart's template).
	Generated bool
	// Line is where in Source a helmCharts object's kind is written; 0
	// when not known.
	Line int
	// Sum is the SHA-256 of YAML, set by a Runner; YAML is nil when the
	// Runner's caller said it holds this content (Runner.SkipKnown).
	Sum [32]byte
}

// KustomizationFiles are the names kustomize looks for in a directory.
var KustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// KustomizeOptions bound what a kustomize build may read.
type KustomizeOptions struct {
	// Roots are the trees local files may be read from.
	Roots *Roots
	// AllowRemote lets kustomize fetch remote bases (git) and files
	// (http); otherwise a kustomization that names one is refused before
	// anything is fetched.
	AllowRemote bool
	// RemoteTimeout bounds a build that may fetch; kustomize's own HTTP
	// client has no timeout, and its git runs allow what the URL says.
	RemoteTimeout time.Duration
	// Cluster is what helmCharts see in .Capabilities.
	Cluster Cluster
}

// RemoteError is a remote base or file a kustomization names while
// remote loading is off.
type RemoteError struct {
	File string // the kustomization, relative to the current directory
	Line int
	URL  string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%s:%d: remote %q is not fetched: remote loading is off", e.File, e.Line, e.URL)
}

// Remote returns every RemoteError in err's tree.
func Remote(err error) []*RemoteError { return allOf[*RemoteError](err) }

// Kustomize builds the kustomization in dir, as `kustomize build` does,
// with origin annotations turned on so every object names its file.
// Reads that leave the roots fail the build with *OutsideError, remote
// references with *RemoteError unless allowed.
func Kustomize(ctx context.Context, dir string, o KustomizeOptions) ([]Object, error) {
	if o.Roots == nil {
		return nil, errors.New("kustomize: no roots given")
	}
	fs := &confinedFS{FileSystem: filesys.MakeFsOnDisk(), top: filepath.Clean(dir), opts: o}
	if o.AllowRemote {
		fs.tmp, _ = filepath.EvalSymlinks(os.TempDir())
	}
	fs.shellable = shellPlan(dir, o.Roots.ReadFile)
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := runBounded(ctx, o, func() (resmap.ResMap, error) { return k.Run(fs, dir) })
	if refused := fs.refused(); refused != nil {
		// What was refused explains the failure better than the
		// follow-on error kustomize makes of it.
		return nil, refused
	}
	if err != nil {
		return nil, err
	}
	var out []Object
	for _, r := range m.Resources() {
		o := Object{}
		if origin, err := r.GetOrigin(); err == nil && origin != nil {
			switch {
			case origin.Repo != "":
				// Remote bases cannot be traced to a local line.
			case origin.Path != "":
				o.Source = filepath.ToSlash(filepath.Join(dir, origin.Path))
				if v, ok := fs.virtualAt(filepath.Join(dir, origin.Path)); ok {
					// Rendered from a helmCharts template: not YAML to
					// trace fields in, but the kind's line is found.
					o.Source, o.Generated, o.Line = v.source, true, kindLine(v.text, r.GetKind())
				}
			case origin.ConfiguredIn != "":
				o.Source = filepath.ToSlash(filepath.Join(dir, origin.ConfiguredIn))
				o.Generated = true
			}
		}
		out = append(out, o)
	}
	if err := m.RemoveOriginAnnotations(); err != nil {
		return nil, fmt.Errorf("removing origin annotations: %w", err)
	}
	shelled := fs.shelledFiles()
	// Shelled objects are put back a file at a time, so that one file's
	// parsed schemas are held at once.
	byFile := map[string][]int{}
	resources := m.Resources()
	for i, r := range resources {
		b, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", r.CurId(), err)
		}
		out[i].YAML = b
		if file := shellFileOf(b, shelled); file != "" {
			byFile[file] = append(byFile[file], i)
		}
	}
	for _, file := range slices.Sorted(maps.Keys(byFile)) {
		group := byFile[file]
		slices.SortStableFunc(group, func(a, b int) int {
			_, da := shellDoc(out[a].YAML)
			_, db := shellDoc(out[b].YAML)
			return da - db
		})
		src := newDocStream(shelled[file], fs.FileSystem.ReadFile)
		for _, i := range group {
			b, err := unshell(resources[i], out[i].YAML, src)
			if err != nil {
				return nil, fmt.Errorf("encoding %s: %w", resources[i].CurId(), err)
			}
			out[i].YAML = b
		}
	}
	return out, nil
}

// runBounded runs an offline build as it is; one that may fetch ends at
// the timeout or with ctx. kustomize cannot be interrupted, so the
// abandoned build is left to end with the process.
func runBounded(ctx context.Context, o KustomizeOptions, run func() (resmap.ResMap, error)) (resmap.ResMap, error) {
	if !o.AllowRemote || o.RemoteTimeout <= 0 {
		return run()
	}
	type result struct {
		m   resmap.ResMap
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := run()
		done <- result{m, err}
	}()
	timer := time.NewTimer(o.RemoteTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.m, r.err
	case <-timer.C:
		return nil, fmt.Errorf("kustomize build did not finish within %s (remote loads)", o.RemoteTimeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// confinedFS keeps kustomize's reads inside the roots, refuses remote
// references before kustomize fetches them, and adds buildMetadata:
// [originAnnotations] to the top kustomization as it is read, leaving
// the file on disk alone.
type confinedFS struct {
	filesys.FileSystem
	top  string
	opts KustomizeOptions
	// tmp is where kustomize clones remote bases, readable when remote
	// loading is on.
	tmp string

	mu   sync.Mutex
	errs []error
	// virtual are the rendered helmCharts templates by absolute path,
	// with the template file each came from.
	virtual map[string]virtualFile
	// shellable are the resource files whose CRD schemas may be shelled
	// (crdshells.go), shelled those that were, by content hash.
	shellable map[string]bool
	shelled   map[string]shellFile
}

func (f *confinedFS) shelledFiles() map[string]shellFile {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.shelled
}

type virtualFile struct {
	data   []byte
	source string
	text   string
}

func (f *confinedFS) addVirtual(p string, v virtualFile) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.virtual == nil {
		f.virtual = map[string]virtualFile{}
	}
	f.virtual[absOr(p)] = v
}

func (f *confinedFS) virtualAt(p string) (virtualFile, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.virtual[absOr(filepath.Clean(p))]
	return v, ok
}

func (f *confinedFS) refuse(err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, err)
	return err
}

func (f *confinedFS) refused() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return errors.Join(f.errs...)
}

// resolve returns path with its links resolved when it may be read.
func (f *confinedFS) resolve(path string) (string, error) {
	if f.tmp != "" {
		if clone := cloneDir(f.tmp, path); clone != "" {
			real, err := evalExisting(path, 0)
			if err == nil && within(real, clone) {
				return real, nil
			}
			return "", f.refuse(&OutsideError{Path: path})
		}
	}
	real, err := f.opts.Roots.Resolve(path)
	var o *OutsideError
	if errors.As(err, &o) {
		return "", f.refuse(err)
	}
	return real, err
}

// cloneDir is the kustomize clone directory below tmp holding path, or "".
func cloneDir(tmp, path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	rel, err := filepath.Rel(tmp, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return ""
	}
	first, _, _ := strings.Cut(rel, string(filepath.Separator))
	if !strings.HasPrefix(first, "kustomize-") {
		return ""
	}
	return filepath.Join(tmp, first)
}

func (f *confinedFS) Open(path string) (filesys.File, error) {
	real, err := f.resolve(path)
	if err != nil {
		return nil, err
	}
	return f.FileSystem.Open(real)
}

func (f *confinedFS) IsDir(path string) bool {
	if _, ok := f.virtualAt(path); ok {
		return false
	}
	real, err := f.resolve(path)
	return err == nil && f.FileSystem.IsDir(real)
}

func (f *confinedFS) Exists(path string) bool {
	if _, ok := f.virtualAt(path); ok {
		return true
	}
	real, err := f.resolve(path)
	return err == nil && f.FileSystem.Exists(real)
}

func (f *confinedFS) ReadDir(path string) ([]string, error) {
	real, err := f.resolve(path)
	if err != nil {
		return nil, err
	}
	return f.FileSystem.ReadDir(real)
}

func (f *confinedFS) CleanedAbs(path string) (filesys.ConfirmedDir, string, error) {
	if _, ok := f.virtualAt(path); ok {
		abs := absOr(filepath.Clean(path))
		return filesys.ConfirmedDir(filepath.Dir(abs)), filepath.Base(abs), nil
	}
	if _, err := f.resolve(path); err != nil {
		return "", "", err
	}
	return f.FileSystem.CleanedAbs(path)
}

func (f *confinedFS) Glob(pattern string) ([]string, error) {
	matches, err := f.FileSystem.Glob(pattern)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(matches, func(m string) bool {
		_, err := f.resolve(m)
		return err != nil
	}), nil
}

func (f *confinedFS) Walk(path string, walkFn filepath.WalkFunc) error {
	if _, err := f.resolve(path); err != nil {
		return err
	}
	return f.FileSystem.Walk(path, walkFn)
}

func (f *confinedFS) ReadFile(path string) ([]byte, error) {
	if v, ok := f.virtualAt(path); ok {
		return v.data, nil
	}
	real, err := f.resolve(path)
	if err != nil {
		return nil, err
	}
	b, err := f.FileSystem.ReadFile(real)
	if err == nil && f.shellable[absOr(filepath.Clean(path))] {
		if s := shellOf(b); len(s) != len(b) || !bytes.Equal(s, b) {
			key := contentKey(b)
			f.mu.Lock()
			if f.shelled == nil {
				f.shelled = map[string]shellFile{}
			}
			f.shelled[key] = shellFile{real: real, sum: key}
			f.mu.Unlock()
			return s, nil
		}
	}
	if err != nil || !slices.Contains(KustomizationFiles, filepath.Base(path)) {
		return b, err
	}
	if !f.opts.AllowRemote {
		if refs := remoteRefs(relToWd(path), b); len(refs) > 0 {
			errs := make([]error, len(refs))
			for i, r := range refs {
				errs[i] = f.refuse(r)
			}
			return nil, errors.Join(errs...)
		}
	}
	if b, err = f.inflateHelmCharts(path, b); err != nil {
		return nil, f.refuse(err)
	}
	if d := filepath.Dir(filepath.Clean(path)); d != f.top && d != absOr(f.top) {
		return b, nil
	}
	return withOrigins(b), nil
}

func withOrigins(b []byte) []byte {
	var k map[string]any
	if err := yaml.Unmarshal(b, &k); err != nil || k == nil {
		// Let kustomize report the syntax error itself.
		return b
	}
	meta, _ := k["buildMetadata"].([]any)
	if slices.Contains(meta, any(types.OriginAnnotations)) {
		return b
	}
	k["buildMetadata"] = append(meta, types.OriginAnnotations)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(k); err != nil {
		return b
	}
	return buf.Bytes()
}

func absOr(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func relToWd(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, absOr(p)); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(p)
}

// remoteRefs lists the entries of a kustomization that kustomize would
// fetch: git bases and http(s) files, wherever it takes a path, and the
// legacy Helm generator's chart repositories. helmCharts are rendered
// from their vendored copy, never pulled, whatever their repo says.
func remoteRefs(file string, b []byte) []*RemoteError {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	m := yamledit.Deref(doc.Content[0])
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var out []*RemoteError
	add := func(n *yaml.Node) {
		n = yamledit.Deref(n)
		if n == nil || n.Kind != yaml.ScalarNode || strings.Contains(n.Value, "\n") {
			return
		}
		// Generator file sources may be key=path.
		v := n.Value
		if i := strings.Index(v, "="); i >= 0 && !strings.Contains(v[:i], "/") {
			v = v[i+1:]
		}
		if IsRemote(v) {
			out = append(out, &RemoteError{File: file, Line: n.Line, URL: withoutPassword(v)})
		}
	}
	each := func(n *yaml.Node, fn func(*yaml.Node)) {
		if n = yamledit.Deref(n); n != nil && n.Kind == yaml.SequenceNode {
			for _, e := range n.Content {
				fn(e)
			}
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		v := m.Content[i+1]
		switch m.Content[i].Value {
		case "resources", "bases", "components", "crds", "configurations", "generators", "transformers", "validators", "patchesStrategicMerge":
			each(v, add)
		case "patches", "patchesJson6902", "replacements":
			each(v, func(e *yaml.Node) { add(yamledit.Lookup(e, "path")) })
		case "configMapGenerator", "secretGenerator":
			each(v, func(e *yaml.Node) {
				each(yamledit.Lookup(e, "files"), add)
				each(yamledit.Lookup(e, "envs"), add)
				add(yamledit.Lookup(e, "env"))
			})
		case "openapi":
			add(yamledit.Lookup(v, "path"))
		case "helmChartInflationGenerator":
			each(v, func(e *yaml.Node) { add(yamledit.Lookup(e, "chartRepoUrl")) })
		}
	}
	return out
}

// withoutPassword masks credentials in a URL: the finding names the
// URL, not the credentials someone wrote into it.
func withoutPassword(ref string) string {
	i := strings.Index(ref, "://")
	if i < 0 {
		return ref
	}
	rest := ref[i+3:]
	at, end := strings.Index(rest, "@"), strings.IndexAny(rest, "/?#")
	if at < 0 || end >= 0 && at > end {
		return ref
	}
	// ssh://git@host names a user, not a secret; over HTTP a token is
	// often written as the user name.
	scheme := strings.ToLower(ref[:i])
	if !strings.Contains(rest[:at], ":") && scheme != "http" && scheme != "https" {
		return ref
	}
	return ref[:i+3] + "***" + rest[at:]
}

var scpURL = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@[^/:]+:`)

// IsRemote reports whether kustomize would fetch ref rather than read
// it from disk: any URL with a scheme, git:: and SCP-style git URLs, and
// github.com paths, which kustomize clones without a scheme.
func IsRemote(ref string) bool {
	l := strings.ToLower(strings.TrimSpace(ref))
	return strings.Contains(l, "://") || strings.HasPrefix(l, "git::") || scpURL.MatchString(l) ||
		strings.HasPrefix(l, "github.com/") || strings.HasPrefix(l, "github.com:")
}
