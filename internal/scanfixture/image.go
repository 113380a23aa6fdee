package scanfixture

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Deb is an installed Debian package.
type Deb struct{ Name, Version string }

// NPM is a package installed under node_modules.
type NPM struct{ Name, Version string }

// Image describes the test image.
type Image struct {
	Debs []Deb
	// DpkgStatus, when set, is the dpkg status file as is (e.g. a copy of
	// a real one) instead of one rendered from Debs.
	DpkgStatus string
	NPMs       []NPM
	// GoBinaries are paths in the image (e.g. usr/local/bin/app) of a Go
	// binary built by GoBinary; all share its bytes.
	GoBinaries []string
	GoBinary   []byte
}

// OSRelease is Debian 12's /etc/os-release.
const OSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`

// DpkgStatus renders a /var/lib/dpkg/status listing debs as installed.
func DpkgStatus(debs []Deb) string {
	var b strings.Builder
	for _, d := range debs {
		fmt.Fprintf(&b, "Package: %s\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: 100\nMaintainer: Debian <debian@example.org>\nArchitecture: amd64\nVersion: %s\nDescription: %s package\n\n", d.Name, d.Version, d.Name)
	}
	return b.String()
}

// Build makes the image: one layer for the OS, one for the Go binaries,
// one for node_modules.
func (im Image) Build() (v1.Image, error) {
	layers := []map[string][]byte{{
		"etc/os-release":      []byte(OSRelease),
		"etc/debian_version":  []byte("12.5\n"),
		"var/lib/dpkg/status": []byte(DpkgStatus(im.Debs)),
	}}
	if im.DpkgStatus != "" {
		layers[0]["var/lib/dpkg/status"] = []byte(im.DpkgStatus)
	}
	if len(im.GoBinaries) > 0 {
		l := map[string][]byte{}
		for _, p := range im.GoBinaries {
			l[p] = im.GoBinary
		}
		layers = append(layers, l)
	}
	if len(im.NPMs) > 0 {
		l := map[string][]byte{}
		for _, n := range im.NPMs {
			l["usr/lib/node_modules/"+n.Name+"/package.json"] = fmt.Appendf(nil, `{"name": %q, "version": %q, "license": "MIT"}`+"\n", n.Name, n.Version)
		}
		layers = append(layers, l)
	}
	img := empty.Image
	for _, files := range layers {
		l, err := Layer(files)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return nil, fmt.Errorf("appending a layer: %w", err)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Cmd = []string{"/usr/local/bin/app"}
	return mutate.ConfigFile(img, cfg)
}

// Layer is a layer holding files (slash paths), with an entry for each of
// their directories, as image builders write them.
func Layer(files map[string][]byte) (v1.Layer, error) {
	data, err := tarLayer(files)
	if err != nil {
		return nil, err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return nil, fmt.Errorf("making a layer: %w", err)
	}
	return l, nil
}

func tarLayer(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, name := range sortedKeys(files) {
		for d := filepath.Dir(name); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	for _, d := range sortedKeys(dirs) {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(files) {
		mode := int64(0o644)
		if strings.Contains(name, "/bin/") {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(files[name])), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// GoModule is the module the test binary depends on; it must be in the
// module cache (it is a dependency of this repository).
const GoModule = "golang.org/x/text"

// BuildGoBinary compiles a tiny program requiring GoModule at version, from
// the module cache only (GOPROXY=off), so its build info names the module.
// environ is the go command's environment (the caller's os.Environ()).
func BuildGoBinary(ctx context.Context, version string, environ []string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "scanfixture-go-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := map[string]string{
		"go.mod":  fmt.Sprintf("module example.com/app\n\ngo 1.22\n\nrequire %s %s\n", GoModule, version),
		"main.go": "package main\n\nimport \"golang.org/x/text/transform\"\n\nvar _ = transform.Nop\n\nfunc main() {}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	out := filepath.Join(dir, "app")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(slices.Clone(environ), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "CGO_ENABLED=0", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the Go test binary (needs %s@%s in the module cache): %w\n%s", GoModule, version, err, b)
	}
	return os.ReadFile(out)
}
