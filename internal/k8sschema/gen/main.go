// Command gen writes the embedded schema data of package k8sschema: for
// each Kubernetes minor, the OpenAPI v2 definitions of the k8s.io/kubernetes
// module (api/openapi-spec/swagger.json) that some kind uses, without
// descriptions; and, as schemas, the CRDs of the Gateway API, Argo CD and
// Flux's Kustomization. Modules come from the Go module cache (go mod download).
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
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/k8sschema"
)

// kubernetes is the newest patch release of each minor that is embedded.
var kubernetes = []string{"v1.30.14", "v1.31.14", "v1.32.10", "v1.33.6", "v1.34.2", "v1.35.4", "v1.36.3", "v1.37.2"}

// crdSources are the CRDs embedded beside Kubernetes' own kinds: the
// Gateway API (the experimental channel is a superset of the standard
// one) and the GitOps agents' objects a config repo holds.
var crdSources = []struct{ module, version, glob string }{
	{"sigs.k8s.io/gateway-api", "v1.6.3", "config/crd/experimental/*.yaml"},
	{"github.com/argoproj/argo-cd/v3", "v3.0.0", "manifests/crds/*-crd.yaml"},
	{"github.com/fluxcd/kustomize-controller", "v1.6.0", "config/crd/bases/*.yaml"},
}

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
	schemas := map[string]map[string]any{}
	for _, src := range crdSources {
		dir, err := moduleDir(src.module, src.version)
		if err != nil {
			return err
		}
		files, _ := filepath.Glob(filepath.Join(dir, src.glob))
		if len(files) == 0 {
			return fmt.Errorf("no CRDs at %s in %s@%s", src.glob, src.module, src.version)
		}
		for _, f := range files {
			if err := crdFile(f, schemas); err != nil {
				return err
			}
		}
	}
	sources := map[string]string{}
	for _, src := range crdSources {
		sources[src.module] = src.version
	}
	return writeGz(filepath.Join(out, "crds.json.gz"), map[string]any{"sources": sources, "schemas": schemas})
}

func moduleDir(path, version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", path+"@"+version)
	cmd.Stderr = os.Stderr
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

func crdFile(path string, into map[string]map[string]any) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading %q: %w", path, err)
		}
		if doc["kind"] != "CustomResourceDefinition" {
			continue
		}
		s, err := k8sschema.CRDSchemas(doc)
		if err != nil {
			return fmt.Errorf("%q: %w", path, err)
		}
		for k, v := range s {
			into[k] = v
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
	fmt.Printf("%s: %d bytes (%d uncompressed)\n", path, buf.Len(), len(b))
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
