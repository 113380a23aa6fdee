// Command crdcorpus writes the config repo of bench/validate-crds.sh: one
// kustomize base holding CustomResourceDefinitions built from the embedded
// CRD catalog (at least -min-bytes of YAML) plus workloads, and overlays
// over it. For kubeconform it writes the same schemas validate-config
// uses, as schemas/<group>/<kind>_<version>.json.
//
// CRDs are taken in the catalog's order until -min-bytes is reached (or
// all of one API group's with -group, for a project's CRD set); past
// the end of the catalog it is written again under groups prefixed r1.,
// r2., ..., each a distinct CRD as another project's would be.
package main

import (
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/gitops-actions/gitops-actions/internal/k8sschema"
)

const digest = "sha256:0a6d1ba4e1c4a36f6b2f8e7a52b3c4d9e8f70123456789abcdef0123456789ab"

type entry struct {
	group, kind string
	versions    map[string]map[string]any
}

func main() {
	out := flag.String("out", "repo", "directory for the config repo")
	schemas := flag.String("schemas", "schemas", "directory for kubeconform's schemas")
	catalog := flag.String("catalog", "internal/k8sschema/data/crds", "directory of the embedded CRD catalog")
	minBytes := flag.Int("min-bytes", 12<<20, "least CRD YAML in the base")
	overlays := flag.Int("overlays", 7, "number of overlays")
	apps := flag.Int("apps", 10, "number of apps (5 workload resources each)")
	version := flag.String("kubernetes-version", k8sschema.Newest(), "Kubernetes minor of the schemas")
	only := flag.String("group", "", "write only this API group's CRDs (one project's), whatever -min-bytes says")
	flag.Parse()

	entries := readCatalog(*catalog)
	if *only != "" {
		entries = slices.DeleteFunc(entries, func(e entry) bool { return e.group != *only })
		if len(entries) == 0 {
			log.Fatalf("no CRDs of group %s in %s", *only, *catalog)
		}
		*minBytes = 1
	}
	base := filepath.Join(*out, "base")
	must(os.MkdirAll(filepath.Join(base, "crds"), 0o755))
	var resources []string
	total := 0
	for round := 0; total < *minBytes; round++ {
		prefix := ""
		if round > 0 {
			prefix = fmt.Sprintf("r%d.", round)
		}
		files := map[string][]string{}
		for _, e := range entries {
			if total >= *minBytes && *only == "" {
				break
			}
			group := prefix + e.group
			crd := wrap(group, e.kind, e.versions)
			b, err := yaml.Marshal(crd)
			must(err)
			files[group] = append(files[group], string(b))
			total += len(b)
			crdSchemas(*schemas, crd)
		}
		for _, group := range sortedKeys(files) {
			name := "crds/" + group + ".yaml"
			must(os.WriteFile(filepath.Join(base, name), []byte(strings.Join(files[group], "---\n")), 0o644))
			resources = append(resources, name)
		}
	}
	for i := range *apps {
		name := fmt.Sprintf("app-%02d.yaml", i)
		must(os.WriteFile(filepath.Join(base, name), []byte(app(i)), 0o644))
		resources = append(resources, name)
	}
	must(os.WriteFile(filepath.Join(base, "kustomization.yaml"), []byte(kustomization(resources, "", "")), 0o644))
	for i := 1; i <= *overlays; i++ {
		dir := filepath.Join(*out, "overlays", fmt.Sprintf("env-%d", i))
		must(os.MkdirAll(dir, 0o755))
		must(os.WriteFile(filepath.Join(dir, "replicas.yaml"), fmt.Appendf(nil, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%02d
spec:
  replicas: %d
`, i%*apps, 2+i), 0o644))
		must(os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization([]string{"../../base"}, fmt.Sprintf("env-%d-", i), "replicas.yaml")), 0o644))
	}
	builtinSchemas(*schemas, *version)
	fmt.Printf("crd_yaml_bytes=%d crd_files=%d\n", total, len(resources)-*apps)
}

// readCatalog reads every group_Kind.json.gz of the catalog: the schemas
// of each version.
func readCatalog(dir string) []entry {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json.gz"))
	must(err)
	if len(paths) == 0 {
		log.Fatalf("no CRD schemas in %s", dir)
	}
	var out []entry
	for _, p := range paths {
		group, kind, ok := strings.Cut(strings.TrimSuffix(filepath.Base(p), ".json.gz"), "_")
		if !ok {
			log.Fatalf("%s: not named group_Kind.json.gz", p)
		}
		f, err := os.Open(p)
		must(err)
		z, err := gzip.NewReader(f)
		must(err)
		e := entry{group: group, kind: kind}
		must(json.NewDecoder(z).Decode(&e.versions))
		must(f.Close())
		if len(e.versions) == 0 {
			log.Fatalf("%s: no versions", p)
		}
		out = append(out, e)
	}
	return out
}

// wrap makes a CustomResourceDefinition of one group and kind, every
// version served with its catalog schema; the first one stored.
func wrap(group, kind string, versions map[string]map[string]any) map[string]any {
	plural := strings.ToLower(kind)
	switch {
	case strings.HasSuffix(plural, "y"):
		plural = strings.TrimSuffix(plural, "y") + "ies"
	case strings.HasSuffix(plural, "s"):
		plural += "es"
	default:
		plural += "s"
	}
	var vs []any
	for i, v := range sortedKeys(versions) {
		vs = append(vs, map[string]any{
			"name":    v,
			"served":  true,
			"storage": i == 0,
			"schema":  map[string]any{"openAPIV3Schema": versions[v]},
		})
	}
	return map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": plural + "." + group},
		"spec": map[string]any{
			"group": group,
			"names": map[string]any{
				"kind":     kind,
				"listKind": kind + "List",
				"plural":   plural,
				"singular": strings.ToLower(kind),
			},
			"scope":    "Namespaced",
			"versions": vs,
		},
	}
}

// crdSchemas writes kubeconform's strict schemas of a CRD's versions.
func crdSchemas(dir string, crd map[string]any) {
	got, err := k8sschema.FromCRD(crd, true)
	must(err)
	for key, s := range got {
		parts := strings.Split(key, "/")
		writeSchema(dir, parts[0], parts[1], parts[2], s)
	}
}

// builtinSchemas writes the embedded schemas of the built-in kinds the
// repo holds.
func builtinSchemas(dir, version string) {
	store := k8sschema.NewStore(version, true)
	for _, gvk := range [][2]string{{"apps/v1", "Deployment"}, {"v1", "Service"}, {"policy/v1", "PodDisruptionBudget"}, {"v1", "ConfigMap"}, {"v1", "ServiceAccount"}, {"apiextensions.k8s.io/v1", "CustomResourceDefinition"}} {
		b, err := store.Schema(gvk[0], gvk[1])
		if err != nil || b == nil {
			log.Fatalf("schema of %v: %v", gvk, err)
		}
		var s map[string]any
		must(json.Unmarshal(b, &s))
		// kubeconform's Group of a core kind is its version.
		group, version, ok := strings.Cut(gvk[0], "/")
		if !ok {
			group, version = gvk[0], gvk[0]
		}
		writeSchema(dir, group, version, gvk[1], s)
	}
}

// writeSchema lays a schema out for kubeconform's
// "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json".
func writeSchema(dir, group, version, kind string, s map[string]any) {
	b, err := json.Marshal(s)
	must(err)
	d := filepath.Join(dir, group)
	must(os.MkdirAll(d, 0o755))
	must(os.WriteFile(filepath.Join(d, strings.ToLower(kind)+"_"+version+".json"), b, 0o644))
}

func kustomization(resources []string, prefix, patch string) string {
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
	if prefix != "" {
		fmt.Fprintf(&b, "namePrefix: %s\n", prefix)
	}
	b.WriteString("resources:\n")
	for _, r := range resources {
		fmt.Fprintf(&b, "- %s\n", r)
	}
	if patch != "" {
		fmt.Fprintf(&b, "patches:\n- path: %s\n", patch)
	}
	return b.String()
}

// app is one workload: ServiceAccount, ConfigMap, Deployment, Service and
// PodDisruptionBudget, valid for both tools.
func app(i int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: app-%02[1]d
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-%02[1]d
data:
  LOG_LEVEL: info
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%02[1]d
  labels:
    app: app-%02[1]d
spec:
  replicas: 2
  selector:
    matchLabels:
      app: app-%02[1]d
  template:
    metadata:
      labels:
        app: app-%02[1]d
    spec:
      serviceAccountName: app-%02[1]d
      securityContext:
        runAsNonRoot: true
      containers:
        - name: app
          image: registry.example.com/app-%[1]d:1.%[1]d.0@%[2]s
          ports:
            - containerPort: 8080
          envFrom:
            - configMapRef:
                name: app-%02[1]d
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              memory: 128Mi
          readinessProbe:
            httpGet:
              path: /healthz
              port: 8080
          livenessProbe:
            httpGet:
              path: /healthz
              port: 8080
          lifecycle:
            preStop:
              sleep:
                seconds: 5
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
---
apiVersion: v1
kind: Service
metadata:
  name: app-%02[1]d
spec:
  selector:
    app: app-%02[1]d
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: app-%02[1]d
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app: app-%02[1]d
`, i, digest)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
