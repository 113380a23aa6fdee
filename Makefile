# trivy builds only with the jsonv2 experiment; set it here so nobody has
# to set it in their own environment.
export GOEXPERIMENT := jsonv2
export CGO_ENABLED ?= 0
GO ?= go

.PHONY: demo test vet lint generate build release-binaries release-sboms release-archives
# The main job: the local pipeline on the bundled examples, embedded defaults.
demo:
	$(GO) run ./cmd/pipeline

# Every test, including actionlint and the real registry/git/buildah parts.
test:
	$(GO) test -count=1 -timeout 80m ./...

# go vet needs the same GOEXPERIMENT as the build (trivy's code).
vet:
	$(GO) vet ./...

# staticcheck, pinned, fetched by the go command.
STATICCHECK_VERSION ?= v0.8.2
lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

generate:
	$(GO) generate ./...

build:
	mkdir -p bin
	$(GO) build -trimpath -o bin/ ./cmd/...

# Release assets: <command>_<os>_<arch> for PLATFORM (e.g. linux/arm64),
# named as the action start script downloads them.
PLATFORM ?= linux/amd64
VERSION ?= devel
release-binaries:
	mkdir -p dist
	set -e; for d in cmd/*/; do n=$$(basename $$d); \
	  GOOS=$(word 1,$(subst /, ,$(PLATFORM))) GOARCH=$(word 2,$(subst /, ,$(PLATFORM))) \
	  $(GO) build -trimpath -ldflags "-s -w -X github.com/gitops-actions/gitops-actions/internal/version.Version=$(VERSION)" \
	    -o dist/$${n}_$(word 1,$(subst /, ,$(PLATFORM)))_$(word 2,$(subst /, ,$(PLATFORM))) ./$$d; done

# One SPDX SBOM per release binary, made by this toolkit's own scan code.
release-sboms:
	$(GO) build -trimpath -o bin/scan ./cmd/scan
	set -e; for f in dist/*_$(word 1,$(subst /, ,$(PLATFORM)))_$(word 2,$(subst /, ,$(PLATFORM))); do \
	  d=$$(mktemp -d); cp $$f $$d/; \
	  bin/scan --path $$d --sbom-format spdx-json --sbom-file $$f.spdx.json --vulnerabilities=false; \
	  rm -rf $$d; done

# Release archives: <command>_<os>_<arch>.tar.gz holding the binary of that
# name, which the start script downloads, verifies and unpacks; run after
# release-sboms (the SBOMs describe the binaries inside).
release-archives:
	set -e; for f in dist/*_$(word 1,$(subst /, ,$(PLATFORM)))_$(word 2,$(subst /, ,$(PLATFORM))); do \
	  tar --owner=0 --group=0 --numeric-owner --mtime=@0 -czf $$f.tar.gz -C dist $$(basename $$f); rm $$f; done
