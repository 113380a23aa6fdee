// Command gen writes the embedded schema data of package k8sschema: for
// each Kubernetes minor, the OpenAPI v2 definitions of the k8s.io/kubernetes
// module (api/openapi-spec/swagger.json) that some kind uses, without
// descriptions; and, as schemas, the served versions of the CRDs of the
// projects in crdSources, one file per group and kind so that a run
// decodes only the kinds it meets. Modules come from the Go module cache
// (go mod download); none is added to go.mod.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/k8sschema"
)

// kubernetes is the newest patch release of each minor that is embedded.
var kubernetes = []string{"v1.30.14", "v1.31.14", "v1.32.10", "v1.33.6", "v1.34.2", "v1.35.4", "v1.36.3", "v1.37.2"}

// crdSources are the CRDs embedded beside Kubernetes' own kinds: the
// GitOps agents' objects and the operators' a config repo holds. Each
// is the newest release whose module the Go module proxy serves; where a
// project's own module is not served, a module that vendors its
// released CRD YAML stands in (named in from).
var crdSources = []k8sschema.CRDSource{
	// flux-operator vendors each Flux distribution's released manifests.
	{Project: "Flux", Version: "v2.9.5", Module: "github.com/controlplaneio-fluxcd/flux-operator", ModuleVersion: "v0.59.0", Globs: []string{"config/data/flux/v2.9.5/*-controller.yaml", "config/data/flux/v2.9.5/source-watcher.yaml"}},
	{Project: "Flux Operator", Version: "v0.59.0", Module: "github.com/controlplaneio-fluxcd/flux-operator", ModuleVersion: "v0.59.0", Globs: []string{"config/crd/bases/*.yaml"}},
	{Project: "Argo CD", Version: "v3.6.1", Module: "github.com/argoproj/argo-cd/v3", ModuleVersion: "v3.6.1", Globs: []string{"manifests/crds/*-crd.yaml"}},
	{Project: "Argo Workflows", Version: "v4.0.5", Module: "github.com/argoproj/argo-workflows/v4", ModuleVersion: "v4.0.5", Globs: []string{"manifests/base/crds/full/*.yaml"}},
	{Project: "Argo Rollouts", Version: "v1.10.2", Module: "github.com/argoproj/argo-rollouts", ModuleVersion: "v1.10.2", Globs: []string{"manifests/crds/*-crd.yaml"}},
	{Project: "External Secrets", Version: "v1.3.2", Module: "github.com/external-secrets/external-secrets", ModuleVersion: "v1.3.2", Globs: []string{"config/crds/bases/*.yaml"}},
	{Project: "cert-manager", Version: "v1.21.2", Module: "github.com/cert-manager/cert-manager", ModuleVersion: "v1.21.2", Globs: []string{"deploy/crds/*.yaml"}},
	{Project: "Prometheus Operator", Version: "v0.94.1", Module: "github.com/prometheus-operator/prometheus-operator", ModuleVersion: "v0.94.1", Globs: []string{"example/prometheus-operator-crd-full/*.yaml"}},
	// The experimental channel is a superset of the standard one.
	{Project: "Gateway API", Version: "v1.7.0", Module: "sigs.k8s.io/gateway-api", ModuleVersion: "v1.7.0", Globs: []string{"config/crd/experimental/*.yaml"}},
	{Project: "KEDA", Version: "v2.21.0", Module: "github.com/kedacore/keda/v2", ModuleVersion: "v2.21.0", Globs: []string{"config/crd/bases/*.yaml"}},
	{Project: "CloudNativePG", Version: "v1.30.1", Module: "github.com/cloudnative-pg/cloudnative-pg", ModuleVersion: "v1.30.1", Globs: []string{"config/crd/bases/*.yaml"}},
	{Project: "Istio", Version: "v1.32.0", Module: "istio.io/api", ModuleVersion: "v1.32.0", Globs: []string{"kubernetes/customresourcedefinitions.gen.yaml"}},
}

// enumAdditions are values Flux Operator adds to the enums of Flux's
// CRDs when it installs Flux (its notification patches), so that alerts
// and receivers can name its kinds: group/Kind → property path → values.
var enumAdditions = map[string]map[string][]string{
	"notification.toolkit.fluxcd.io/Alert":    {"spec/eventSources/kind": fluxOperatorKinds},
	"notification.toolkit.fluxcd.io/Receiver": {"spec/resources/kind": fluxOperatorKinds},
}

var fluxOperatorKinds = []string{"FluxInstance", "ResourceSet", "ResourceSetInputProvider"}

// addEnums appends values to the enum at path (object properties, with
// array items stepped through) of schema; a path that is not there is an
// error, so a renamed field does not go unnoticed.
func addEnums(schema map[string]any, path string, values []string) error {
	node := schema
	for _, name := range strings.Split(path, "/") {
		props, _ := node["properties"].(map[string]any)
		next, ok := props[name].(map[string]any)
		if !ok {
			return fmt.Errorf("no property %q on the way to %s", name, path)
		}
		if items, ok := next["items"].(map[string]any); ok && next["type"] == "array" {
			next = items
		}
		node = next
	}
	enum, ok := node["enum"].([]any)
	if !ok {
		return fmt.Errorf("%s has no enum", path)
	}
	for _, v := range values {
		if !slices.Contains(enum, any(v)) {
			enum = append(enum, v)
		}
	}
	node["enum"] = enum
	return nil
}

// downloadToolchain is the go command that downloads the modules.
const downloadToolchain = "go1.27.3"

func main() {
	out := flag.String("out", "data", "output directory")
	flag.Parse()
	if err := run(*out); err != nil {
		log.Fatal(err)
	}
}

func run(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(out, "*.json.gz"))
	for _, f := range old {
		os.Remove(f)
	}
	for _, v := range kubernetes {
		dir, err := moduleDir("k8s.io/kubernetes", v)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(dir, "api", "openapi-spec", "swagger.json"))
		if err != nil {
			return fmt.Errorf("reading the OpenAPI spec of Kubernetes %s: %w", v, err)
		}
		data, err := definitions(b)
		if err != nil {
			return fmt.Errorf("reading the OpenAPI definitions of Kubernetes %s: %w", v, err)
		}
		minor := strings.Join(strings.Split(strings.TrimPrefix(v, "v"), ".")[:2], ".")
		if err := writeGz(filepath.Join(out, "kubernetes-"+minor+".json.gz"), data); err != nil {
			return err
		}
	}
	crdDir := filepath.Join(out, "crds")
	if err := os.RemoveAll(crdDir); err != nil {
		return err
	}
	if err := os.MkdirAll(crdDir, 0o755); err != nil {
		return err
	}
	// group/Kind → version → schema
	byKind := map[string]map[string]any{}
	var notServed []k8sschema.CRDVersion
	for _, src := range crdSources {
		dir, err := moduleDir(src.Module, src.ModuleVersion)
		if err != nil {
			return err
		}
		var files []string
		for _, g := range src.Globs {
			fs, _ := filepath.Glob(filepath.Join(dir, g))
			files = append(files, fs...)
		}
		if len(files) == 0 {
			return fmt.Errorf("no CRDs at %v in %s@%s", src.Globs, src.Module, src.ModuleVersion)
		}
		n := 0
		for _, f := range files {
			c, ns, err := crdFile(f, src.Project, byKind)
			if err != nil {
				return err
			}
			n += c
			notServed = append(notServed, ns...)
		}
		if n == 0 {
			return fmt.Errorf("no CustomResourceDefinition in %v of %s@%s", src.Globs, src.Module, src.ModuleVersion)
		}
	}
	for gk, paths := range enumAdditions {
		if len(byKind[gk]) == 0 {
			return fmt.Errorf("enum additions for %s, which no source holds", gk)
		}
		for version, schema := range byKind[gk] {
			for path, values := range paths {
				if err := addEnums(schema.(map[string]any), path, values); err != nil {
					return fmt.Errorf("%s %s: %w", gk, version, err)
				}
			}
		}
	}
	for gk, versions := range byKind {
		if err := writeGz(filepath.Join(crdDir, k8sschema.CRDFile(gk)), versions); err != nil {
			return err
		}
	}
	slices.SortFunc(notServed, func(a, b k8sschema.CRDVersion) int { return strings.Compare(a.APIVersion+a.Kind, b.APIVersion+b.Kind) })
	idx, err := json.MarshalIndent(k8sschema.CRDIndex{Sources: crdSources, Versions: notServed}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(crdDir, "index.json"), append(idx, '\n'), 0o644)
}

func moduleDir(path, version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", path+"@"+version)
	cmd.Stderr = os.Stderr
	// Some releases declare a newer go than the project's; only their
	// files are read, so the newer toolchain is needed just to download.
	if os.Getenv("GOTOOLCHAIN") == "" {
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN="+downloadToolchain)
	}
	b, err := cmd.Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(b, &m); jerr != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s", path, version, err, m.Error)
	}
	return m.Dir, nil
}

// definitions keeps the definitions reachable from a kind and the index
// from group/version/kind to definition name.
func definitions(spec []byte) (map[string]any, error) {
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, err
	}
	kinds := map[string]string{}
	for name, d := range doc.Definitions {
		gvks, _ := d["x-kubernetes-group-version-kind"].([]any)
		// DeleteOptions and WatchEvent claim every group: they are not objects.
		if len(gvks) != 1 {
			continue
		}
		g := gvks[0].(map[string]any)
		apiVersion := g["version"].(string)
		if grp, _ := g["group"].(string); grp != "" {
			apiVersion = grp + "/" + apiVersion
		}
		kinds[k8sschema.Key(apiVersion, g["kind"].(string))] = name
	}
	keep := map[string]any{}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if ref, ok := t["$ref"].(string); ok {
				name := strings.TrimPrefix(ref, "#/definitions/")
				if _, seen := keep[name]; !seen {
					if d, ok := doc.Definitions[name]; ok {
						keep[name] = d
						walk(d)
					}
				}
			}
			for _, e := range t {
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	for _, name := range kinds {
		walk(map[string]any{"$ref": "#/definitions/" + name})
	}
	for name, d := range keep {
		m := d.(map[string]any)
		delete(m, "x-kubernetes-group-version-kind")
		delete(m, "x-kubernetes-unions")
		k8sschema.StripDocs(m)
		// A quantity is written as 100m or as a bare number.
		if strings.HasSuffix(name, ".api.resource.Quantity") {
			m["type"] = []any{"string", "number"}
		}
	}
	return map[string]any{"kinds": kinds, "definitions": keep}, nil
}

// crdFile adds the served versions of the CRDs in path to into, and
// returns how many CRDs it read and the versions that are deprecated or
// no longer served.
func crdFile(path, project string, into map[string]map[string]any) (int, []k8sschema.CRDVersion, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	n := 0
	var flagged []k8sschema.CRDVersion
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err == io.EOF {
			return n, flagged, nil
		} else if err != nil {
			return 0, nil, fmt.Errorf("reading %q: %w", path, err)
		}
		if doc["kind"] != "CustomResourceDefinition" {
			continue
		}
		n++
		s, err := k8sschema.CRDSchemas(doc)
		if err != nil {
			return 0, nil, fmt.Errorf("%q: %w", path, err)
		}
		spec, _ := doc["spec"].(map[string]any)
		group, _ := spec["group"].(string)
		names, _ := spec["names"].(map[string]any)
		kind, _ := names["kind"].(string)
		versions, _ := spec["versions"].([]any)
		for _, v := range versions {
			vm, _ := v.(map[string]any)
			name, _ := vm["name"].(string)
			served, _ := vm["served"].(bool)
			deprecated, _ := vm["deprecated"].(bool)
			key := k8sschema.Key(group+"/"+name, kind)
			if !served {
				// The API server refuses it: no schema, and a removed API.
				delete(s, key)
			}
			if !served || deprecated {
				flagged = append(flagged, k8sschema.CRDVersion{Project: project, APIVersion: group + "/" + name, Kind: kind, Served: served, Deprecated: deprecated})
			}
		}
		gk := group + "/" + kind
		if into[gk] == nil {
			into[gk] = map[string]any{}
		}
		for key, schema := range s {
			version := strings.TrimSuffix(strings.TrimPrefix(key, group+"/"), "/"+kind)
			into[gk][version] = schema
		}
	}
}

func writeGz(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
