package bump

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/gitrepo"
	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// Reference is one place a config repo names an image: what deploys it,
// and so what a cleaner must not delete.
type Reference struct {
	Image    string `json:"image"` // the image asked about, as given
	Tag      string `json:"tag,omitempty"`
	Digest   string `json:"digest,omitempty"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Strategy string `json:"strategy"`
	// Whole is set where the occurrence is a whole reference (name[:tag]
	// [@digest]): there no tag and no digest means the tag latest.
	Whole bool `json:"-"`
}

// Strategies of the readers only References has: text in a Helm template
// (not YAML until rendered), a Flux Kustomization's or OCIRepository's
// fields, an Argo CD source's overrides (also an editor's).
const (
	StrategyTemplate = "template"
	StrategyFlux     = "flux"
	StrategyArgoCD   = "argocd"
)

// ReadReferences reads every occurrence of images in the YAML files that
// paths (the value of input) select at HEAD of repo, with the editors'
// own readers. It only reads.
func ReadReferences(ctx context.Context, c *action.Context, repo *gitrepo.Repo, input string, paths, images []string) ([]Reference, error) {
	files, contents, err := readTree(ctx, c, repo, input, paths)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Path
	}
	return References(names, contents, images)
}

// References finds every occurrence of images in files (contents[i] is
// files[i]'s) the way bump-manifest finds the image it sets: kustomize
// images:, Helm values (any repository/tag/digest mapping, the registry
// split off or not), container image: fields and Flux $imagepolicy
// markers. A file that is not YAML is a *FileError, so that no caller
// acts on a partial picture; a Helm template (unparsable, holding "{{")
// is searched as text instead.
func References(files []string, contents [][]byte, images []string) ([]Reference, error) {
	type reader struct {
		image string
		ed    *Editor
		// registry, for a reader of the name without its registry: the
		// registry the mapping's registry key must name.
		registry string
	}
	var readers []reader
	for _, img := range images {
		r, err := name.NewRepository(img)
		if err != nil {
			return nil, fmt.Errorf("image %q is not a valid repository name: %w", img, err)
		}
		for _, e := range []Editor{
			{Image: img},
			// Charts nest an image's keys under many names (image,
			// controller.image, api): any mapping with a repository key.
			{Image: img, Strategy: StrategyHelm, HelmKeys: []string{"repository", "tag", "digest"}},
		} {
			ed, err := NewEditor(e)
			if err != nil {
				return nil, err
			}
			readers = append(readers, reader{image: img, ed: ed})
		}
		if r.RegistryStr() != name.DefaultRegistry {
			ed, err := NewEditor(Editor{Image: r.RepositoryStr(), Strategy: StrategyHelm, HelmKeys: []string{"repository", "tag", "digest"}})
			if err != nil {
				return nil, err
			}
			readers = append(readers, reader{image: img, ed: ed, registry: r.RegistryStr()})
		}
	}
	var out []Reference
	seen := map[Reference]bool{}
	add := func(r Reference) {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	for i, file := range files {
		src := contents[i]
		parsed := false
		var registries map[int][]string // line of a repository key -> its mapping's registry values
		for _, rd := range readers {
			if !rd.ed.Candidate(src) {
				continue
			}
			res, err := rd.ed.Edit(file, src)
			if err != nil {
				if isTemplate(err, src) {
					break
				}
				return nil, err
			}
			parsed = true
			if rd.registry == "" && rd.ed.Strategy == StrategyAuto {
				res.Refs = append(res.Refs, deployRefs(file, src, rd.ed)...)
			}
			if rd.registry != "" && registries == nil {
				registries = registryKeys(src)
			}
			for _, ref := range res.Refs {
				if rd.registry != "" && !hasRegistry(registries[ref.Line], rd.registry) {
					continue
				}
				whole := ref.Strategy == StrategyManifest || ref.Strategy == StrategyArgoCD || (ref.Strategy == StrategyMarker && ref.Tag == "" && ref.Digest == "")
				add(Reference{Image: rd.image, Tag: ref.Tag, Digest: ref.Digest, File: ref.File, Line: ref.Line, Strategy: ref.Strategy, Whole: whole})
			}
		}
		if parsed {
			continue
		}
		if _, err := yamledit.Parse(src); err != nil {
			if !isTemplate(err, src) {
				return nil, fileError(file, err)
			}
			for _, img := range images {
				for _, r := range templateRefs(file, src, img) {
					add(r)
				}
			}
		}
	}
	return out, nil
}

// isTemplate reports whether a parse failure is a Helm template's, which
// bump-manifest also leaves alone.
func isTemplate(err error, src []byte) bool {
	var se *yamledit.SyntaxError
	return errors.As(err, &se) && strings.Contains(string(src), "{{")
}

func fileError(file string, err error) error {
	var se *yamledit.SyntaxError
	if errors.As(err, &se) {
		return &FileError{File: file, Line: se.Line, Err: err}
	}
	return &FileError{File: file, Err: err}
}

// registryKeys maps the line of every repository key to the registry
// values of the mapping holding it.
func registryKeys(src []byte) map[int][]string {
	out := map[int][]string{}
	f, err := yamledit.Parse(src)
	if err != nil {
		return out
	}
	for _, d := range f.Docs {
		walk(d, func(m *yaml.Node) {
			if m.Kind != yaml.MappingNode {
				return
			}
			repo, reg := yamledit.Lookup(m, "repository"), yamledit.Lookup(m, "registry")
			if v, ok := scalar(reg); ok && repo != nil {
				out[repo.Line] = append(out[repo.Line], v)
			}
		})
	}
	return out
}

func hasRegistry(values []string, registry string) bool {
	for _, v := range values {
		if r, err := name.NewRegistry(strings.TrimSuffix(v, "/")); err == nil && r.RegistryStr() == registry {
			return true
		}
	}
	return false
}

// templateRefs finds image written out whole in a template's text, with a
// literal tag or digest; a templated tag names nothing before rendering.
func templateRefs(file string, src []byte, image string) []Reference {
	re := regexp.MustCompile(`(?:^|[\s"'=:\[,(])` + regexp.QuoteMeta(image) + `(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?(?:$|[\s"',\])])`)
	var out []Reference
	for i, line := range strings.Split(string(src), "\n") {
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			if m[1] == "" && m[2] == "" {
				continue
			}
			out = append(out, Reference{Image: image, Tag: m[1], Digest: m[2], File: file, Line: i + 1, Strategy: StrategyTemplate})
		}
	}
	return out
}

// deployRefs reads the fields by which the deploy agents themselves set
// an image: a Flux Kustomization's spec.images (kustomize's images:
// entries, read by the kustomize editor), a Flux OCIRepository's
// spec.url and spec.ref. Argo CD's source overrides are the argocd
// layout's, which Edit runs.
func deployRefs(file string, src []byte, e *Editor) []Ref {
	f, err := yamledit.Parse(src)
	if err != nil {
		return nil
	}
	res := &Result{Out: src}
	w := &fileEdit{Editor: e, f: f, file: file, res: res, seen: map[*yaml.Node]bool{}}
	for _, d := range f.Docs {
		if len(d.Content) == 0 {
			continue
		}
		root := d.Content[0]
		api, _ := scalar(yamledit.Lookup(root, "apiVersion"))
		kind, _ := scalar(yamledit.Lookup(root, "kind"))
		spec := yamledit.Lookup(root, "spec")
		switch {
		case strings.HasPrefix(api, "kustomize.toolkit.fluxcd.io/") && kind == "Kustomization" && spec != nil:
			before := len(res.Refs)
			w.kustomize(spec)
			for i := before; i < len(res.Refs); i++ {
				res.Refs[i].Strategy = StrategyFlux
			}
		case strings.HasPrefix(api, "source.toolkit.fluxcd.io/") && kind == "OCIRepository" && spec != nil:
			u, ok := scalar(yamledit.Lookup(spec, "url"))
			if !ok || !strings.HasPrefix(u, "oci://") || !w.matches(strings.TrimPrefix(u, "oci://")) {
				continue
			}
			ref := yamledit.Lookup(spec, "ref")
			tag, _ := scalar(yamledit.Lookup(ref, "tag"))
			dig, _ := scalar(yamledit.Lookup(ref, "digest"))
			w.ref(yamledit.Lookup(spec, "url"), StrategyFlux, tag, dig)
		}
	}
	return res.Refs
}
