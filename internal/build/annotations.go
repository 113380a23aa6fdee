package build

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// Annotation levels, as build-push-action's annotations input names them.
const (
	levelManifest           = "manifest"
	levelIndex              = "index"
	levelManifestDescriptor = "manifest-descriptor"
	levelIndexDescriptor    = "index-descriptor"
)

// annotation is one key=value for one level; platforms narrows a manifest
// or manifest-descriptor annotation to those platforms (nil: every one).
type annotation struct {
	level      string
	platforms  []v1.Platform
	key, value string
}

// String is the annotation in build-push-action's input syntax.
func (a annotation) String() string {
	p := ""
	if len(a.platforms) > 0 {
		ps := make([]string, len(a.platforms))
		for i, pl := range a.platforms {
			ps[i] = pl.String()
		}
		p = "[" + strings.Join(ps, ",") + "]"
	}
	return a.level + p + ":" + a.key + "=" + a.value
}

// parseAnnotations reads [level[,level...]:]key=value items. A key without
// a level goes on every image manifest and, when more than one platform is
// built, on the index too: what a tag names then carries it either way.
func parseAnnotations(in *action.Inputs, items []string, built []v1.Platform, localOutput bool) []annotation {
	var out []annotation
	for _, it := range items {
		spec, value, ok := strings.Cut(it, "=")
		if !ok {
			in.Fail("annotations", "%q is not [level:]KEY=VALUE", it)
			continue
		}
		levels, key := "", spec
		if i := strings.LastIndex(spec, ":"); i >= 0 && !strings.Contains(spec[i:], "]") {
			levels, key = spec[:i], spec[i+1:]
		}
		if key == "" || strings.ContainsFunc(key, unicode.IsSpace) {
			in.Fail("annotations", "%q: the key %q is empty or holds white space", it, key)
			continue
		}
		if levels == "" {
			out = append(out, annotation{level: levelManifest, key: key, value: value})
			if len(built) > 1 {
				out = append(out, annotation{level: levelIndex, key: key, value: value})
			}
			continue
		}
		for _, lv := range splitLevels(levels) {
			a, err := parseLevel(lv, built, localOutput)
			if err != nil {
				in.Fail("annotations", "%q: %v", it, err)
				continue
			}
			a.key, a.value = key, value
			out = append(out, a)
		}
	}
	return out
}

// splitLevels splits "manifest[linux/amd64,linux/arm64],index" on the
// commas outside brackets.
func splitLevels(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func parseLevel(lv string, built []v1.Platform, localOutput bool) (annotation, error) {
	name, plats, hasPlats := strings.Cut(lv, "[")
	a := annotation{level: strings.TrimSpace(name)}
	switch a.level {
	case levelManifest, levelManifestDescriptor:
	case levelIndex:
		if len(built) < 2 {
			return a, fmt.Errorf("an index annotation needs an index, and one platform builds a single image manifest (use manifest:, or build several platforms)")
		}
	case levelIndexDescriptor:
		if len(built) < 2 || !localOutput {
			return a, fmt.Errorf("an index-descriptor annotation goes on the index's entry in local-output's index.json: it needs several platforms and local-output")
		}
	default:
		return a, fmt.Errorf("unknown level %q (want manifest, index, manifest-descriptor or index-descriptor)", a.level)
	}
	if a.level == levelManifestDescriptor && len(built) < 2 && !localOutput {
		return a, fmt.Errorf("a manifest-descriptor annotation of a single-platform image goes on its entry in local-output's index.json: set local-output, or use manifest:")
	}
	if !hasPlats {
		return a, nil
	}
	if a.level != levelManifest && a.level != levelManifestDescriptor {
		return a, fmt.Errorf("only manifest and manifest-descriptor annotations take [platforms]")
	}
	plats, ok := strings.CutSuffix(plats, "]")
	if !ok {
		return a, fmt.Errorf("%q: unclosed [", lv)
	}
	for _, p := range strings.Split(plats, ",") {
		pl, err := v1.ParsePlatform(strings.TrimSpace(p))
		if err != nil || !slices.ContainsFunc(built, pl.Equals) {
			return a, fmt.Errorf("platform %q is not one of the platforms built", p)
		}
		a.platforms = append(a.platforms, *pl)
	}
	return a, nil
}

// pick is the key/values of the annotations at level that apply to
// platform p (nil p: the annotation must name no platform).
func pick(anns []annotation, level string, p *v1.Platform) map[string]string {
	m := map[string]string{}
	for _, a := range anns {
		if a.level != level {
			continue
		}
		if len(a.platforms) > 0 && (p == nil || !slices.ContainsFunc(a.platforms, func(q v1.Platform) bool { return p.Satisfies(q) })) {
			continue
		}
		m[a.key] = a.value
	}
	return m
}

// annotate puts the annotations on the built image or index. Docker
// manifests have no annotations field, so annotating one is refused rather
// than written where readers do not look.
func annotate(art taggable, anns []annotation, platform v1.Platform) (taggable, error) {
	if len(anns) == 0 {
		return art, nil
	}
	switch a := art.(type) {
	case v1.ImageIndex:
		return annotateIndex(a, anns)
	case v1.Image:
		return annotateImage(a, pick(anns, levelManifest, &platform))
	}
	return art, nil
}

func annotateImage(img v1.Image, m map[string]string) (v1.Image, error) {
	if len(m) == 0 {
		return img, nil
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	if mt != types.OCIManifestSchema1 {
		return nil, action.Usage("annotations", "the image is a %s, which has no annotations: use an OCI base image", mt)
	}
	return mutate.Annotations(img, m).(v1.Image), nil
}

func annotateIndex(idx v1.ImageIndex, anns []annotation) (v1.ImageIndex, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	top := pick(anns, levelIndex, nil)
	if len(top) > 0 && im.MediaType != types.OCIImageIndex {
		return nil, action.Usage("annotations", "the index is a %s, which has no annotations: use an OCI base image", im.MediaType)
	}
	out := idx
	if slices.ContainsFunc(anns, func(a annotation) bool { return a.level == levelManifest || a.level == levelManifestDescriptor }) {
		// The children change digest, so the index is rebuilt in order
		// around them; anything that is not an image is carried over.
		out = mutate.IndexMediaType(empty.Index, im.MediaType)
		for _, d := range im.Manifests {
			add := mutate.IndexAddendum{Descriptor: v1.Descriptor{Platform: d.Platform, URLs: d.URLs, ArtifactType: d.ArtifactType}}
			descAnns := maps.Clone(d.Annotations)
			if d.MediaType.IsImage() {
				child, err := idx.Image(d.Digest)
				if err != nil {
					return nil, err
				}
				if d.Platform != nil {
					if child, err = annotateImage(child, pick(anns, levelManifest, d.Platform)); err != nil {
						return nil, err
					}
					if da := pick(anns, levelManifestDescriptor, d.Platform); len(da) > 0 {
						descAnns = merged(descAnns, da)
					}
				}
				add.Add = child
			} else if d.MediaType.IsIndex() {
				child, err := idx.ImageIndex(d.Digest)
				if err != nil {
					return nil, err
				}
				add.Add = child
			} else {
				return nil, fmt.Errorf("the built index holds a %s, which cannot be annotated", d.MediaType)
			}
			add.Annotations = descAnns
			out = mutate.AppendManifests(out, add)
		}
		top = merged(maps.Clone(im.Annotations), top)
	}
	if len(top) > 0 {
		out = mutate.Annotations(out, top).(v1.ImageIndex)
	}
	return out, nil
}

func merged(dst, src map[string]string) map[string]string {
	if dst == nil {
		dst = map[string]string{}
	}
	maps.Copy(dst, src)
	return dst
}

// annotationLines lists the annotations the pushed objects carry, in the
// annotations input's syntax, so the output can be read back as input: an
// image annotation every platform has is written once, without platforms.
func annotationLines(art taggable) []string {
	var lines []string
	add := func(level string, m map[string]string) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			lines = append(lines, level+":"+k+"="+m[k])
		}
	}
	switch a := art.(type) {
	case v1.Image:
		if m, err := a.Manifest(); err == nil {
			add(levelManifest, m.Annotations)
		}
	case v1.ImageIndex:
		im, err := a.IndexManifest()
		if err != nil {
			return nil
		}
		add(levelIndex, im.Annotations)
		var perPlatform []map[string]string
		var plats []string
		descs := map[string]map[string]string{}
		for _, d := range im.Manifests {
			if !d.MediaType.IsImage() || d.Platform == nil {
				continue
			}
			img, err := a.Image(d.Digest)
			if err != nil {
				continue
			}
			m, err := img.Manifest()
			if err != nil {
				continue
			}
			perPlatform = append(perPlatform, m.Annotations)
			plats = append(plats, d.Platform.String())
			descs[d.Platform.String()] = d.Annotations
		}
		common := map[string]string{}
		if len(perPlatform) > 0 {
			for k, v := range perPlatform[0] {
				if !slices.ContainsFunc(perPlatform, func(m map[string]string) bool { return m[k] != v }) {
					common[k] = v
				}
			}
		}
		add(levelManifest, common)
		for i, m := range perPlatform {
			rest := map[string]string{}
			for k, v := range m {
				if _, ok := common[k]; !ok {
					rest[k] = v
				}
			}
			add(levelManifest+"["+plats[i]+"]", rest)
		}
		for _, p := range plats {
			add(levelManifestDescriptor+"["+p+"]", descs[p])
		}
	}
	return lines
}
