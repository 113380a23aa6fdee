// Command scanfixture writes the benchmark image of bench/scan.sh (a
// docker tarball: Debian 12 with the given dpkg status, Go binaries, npm
// packages), its OCI layout, and a trivy and a grype database in the
// scan action's cache layout, without network.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gitops-actions/gitops-actions/internal/scanfixture"
)

func main() {
	out := flag.String("out", "", "output directory (image.tar, cache/db)")
	status := flag.String("dpkg-status", "", "dpkg status file to copy; default a generated one")
	goText := flag.String("go-text-version", "v0.43.0", "golang.org/x/text version in the module cache")
	flag.Parse()
	if err := run(*out, *status, *goText); err != nil {
		fmt.Fprintln(os.Stderr, "scanfixture:", err)
		os.Exit(1)
	}
}

func run(out, statusFile, goText string) error {
	if out == "" {
		return fmt.Errorf("-out is required")
	}
	var status string
	var advisories []scanfixture.Advisory
	if statusFile != "" {
		b, err := os.ReadFile(statusFile)
		if err != nil {
			return err
		}
		status = string(b)
	} else {
		var debs []scanfixture.Deb
		for i := range 700 {
			debs = append(debs, scanfixture.Deb{Name: fmt.Sprintf("libbench%d", i), Version: fmt.Sprintf("1.%d.0-1", i)})
		}
		status = scanfixture.DpkgStatus(debs)
	}
	// An advisory for every tenth package, so matching has work to do.
	n := 0
	for _, block := range strings.Split(status, "\n\n") {
		for _, line := range strings.Split(block, "\n") {
			if pkg, ok := strings.CutPrefix(line, "Package: "); ok {
				if n%10 == 0 {
					advisories = append(advisories, scanfixture.Advisory{ID: fmt.Sprintf("CVE-2099-%05d", n), Severity: []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"}[n%4], Ecosystem: "debian", Package: pkg, Fixed: "999:1"})
				}
				n++
			}
		}
	}
	advisories = append(advisories,
		scanfixture.Advisory{ID: "GHSA-bench-go01", Severity: "HIGH", Ecosystem: "go", Package: "golang.org/x/text", Vulnerable: "<99.0.0", Fixed: "99.0.0"},
		scanfixture.Advisory{ID: "GHSA-bench-npm1", Severity: "CRITICAL", Ecosystem: "npm", Package: "lodash", Vulnerable: "<4.17.21", Fixed: "4.17.21"})
	bin, err := scanfixture.BuildGoBinary(context.Background(), goText, os.Environ())
	if err != nil {
		return err
	}
	image := func(status string) (v1.Image, error) {
		return scanfixture.Image{
			DpkgStatus: status,
			GoBinaries: []string{"usr/local/bin/api", "usr/local/bin/worker"},
			GoBinary:   bin,
			NPMs:       []scanfixture.NPM{{Name: "lodash", Version: "4.17.20"}, {Name: "express", Version: "4.18.2"}, {Name: "left-pad", Version: "1.3.0"}},
		}.Build()
	}
	img, err := image(status)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tag, _ := name.NewTag("bench.local/scan:latest")
	if err := tarball.WriteToFile(filepath.Join(out, "image.tar"), tag, img); err != nil {
		return err
	}
	if err := scanfixture.WriteDB(filepath.Join(out, "cache", "db"), advisories, time.Now()); err != nil {
		return err
	}
	if err := scanfixture.WriteGrypeDB(filepath.Join(out, "cache", "grype-db"), advisories); err != nil {
		return err
	}
	lp, err := layout.Write(filepath.Join(out, "oci"), empty.Index)
	if err != nil {
		return err
	}
	if err := lp.AppendImage(img); err != nil {
		return err
	}
	// A two-platform index: arm64's OS layer has one package more, so the
	// platforms differ there and share the Go and npm layers, as a
	// multi-platform build copying the same files does.
	arm, err := image(strings.TrimRight(status, "\n") + "\n\nPackage: arm-only\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: arm64\n")
	if err != nil {
		return err
	}
	cf, err := arm.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.Architecture = "arm64"
	if arm, err = mutate.ConfigFile(arm, cf); err != nil {
		return err
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	if lp, err = layout.Write(filepath.Join(out, "oci-index"), empty.Index); err != nil {
		return err
	}
	if err := lp.AppendIndex(idx); err != nil {
		return err
	}
	fmt.Printf("wrote %s/image.tar (%d dpkg packages, 2 Go binaries, 3 npm packages), its OCI layout %s/oci, a linux/amd64+arm64 index %s/oci-index, and %s/cache/db and %s/cache/grype-db (%d advisories)\n", out, n, out, out, out, out, len(advisories))
	return nil
}
