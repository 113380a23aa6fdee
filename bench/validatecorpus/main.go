// Command validatecorpus writes the benchmark corpus of bench/validate.sh:
// files of Kubernetes manifests (five resources each) and, for
// kubeconform, the same embedded schemas validate-config uses, laid out
// under kubeconform's default file names.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitops-actions/gitops-actions/internal/k8sschema"
)

const digest = "sha256:0a6d1ba4e1c4a36f6b2f8e7a52b3c4d9e8f70123456789abcdef0123456789ab"

func main() {
	out := flag.String("out", "corpus", "directory for the manifests")
	schemas := flag.String("schemas", "schemas", "directory for kubeconform's schemas")
	files := flag.Int("files", 2000, "number of files (5 resources each)")
	version := flag.String("kubernetes-version", k8sschema.Newest(), "Kubernetes minor of the schemas")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for i := range *files {
		if err := os.WriteFile(filepath.Join(*out, fmt.Sprintf("app-%04d.yaml", i)), []byte(manifest(i)), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	store := k8sschema.NewStore(*version, true)
	if err := os.MkdirAll(*schemas, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, gvk := range [][2]string{{"apps/v1", "Deployment"}, {"v1", "Service"}, {"policy/v1", "PodDisruptionBudget"}, {"v1", "ConfigMap"}, {"autoscaling/v2", "HorizontalPodAutoscaler"}} {
		b, err := store.Schema(gvk[0], gvk[1])
		if err != nil || b == nil {
			log.Fatalf("schema of %v: %v", gvk, err)
		}
		// kubeconform's {{ .ResourceKind }}{{ .KindSuffix }}: kind-group-version,
		// the group cut at its first dot.
		group, version, ok := strings.Cut(gvk[0], "/")
		suffix := "-" + group
		if ok {
			suffix = "-" + strings.Split(group, ".")[0] + "-" + version
		}
		name := strings.ToLower(gvk[1]) + suffix + ".json"
		if err := os.WriteFile(filepath.Join(*schemas, name), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// manifest is one app: Deployment, Service, PDB, ConfigMap and HPA in
// their own namespace. Every tenth uses :latest and lacks a preStop, so
// both tools have findings to report.
func manifest(i int) string {
	image := fmt.Sprintf("registry.example.com/app-%d:1.%d.0@%s", i, i%7, digest)
	lifecycle := "\n          lifecycle:\n            preStop:\n              sleep:\n                seconds: 5"
	if i%10 == 0 {
		image = fmt.Sprintf("registry.example.com/app-%d:latest", i)
		lifecycle = ""
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%[1]d
  namespace: ns-%[1]d
  labels: {app: app-%[1]d, team: team-%[2]d}
spec:
  replicas: 2
  selector:
    matchLabels: {app: app-%[1]d}
  template:
    metadata:
      labels: {app: app-%[1]d}
    spec:
      terminationGracePeriodSeconds: 30
      securityContext:
        runAsNonRoot: true
      containers:
        - name: app
          image: %[3]s
          ports:
            - containerPort: 8080
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {memory: 256Mi}%[4]s
---
apiVersion: v1
kind: Service
metadata:
  name: app-%[1]d
  namespace: ns-%[1]d
spec:
  selector: {app: app-%[1]d}
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: app-%[1]d
  namespace: ns-%[1]d
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {app: app-%[1]d}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-%[1]d
  namespace: ns-%[1]d
data:
  LOG_LEVEL: info
  FEATURE_X: "true"
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: app-%[1]d
  namespace: ns-%[1]d
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: app-%[1]d}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: 70}
`, i, i%13, image, lifecycle)
}
