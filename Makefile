# trivy builds only with the jsonv2 experiment; set it here so nobody has
# to set it in their own environment.
export GOEXPERIMENT := jsonv2
export CGO_ENABLED ?= 0
GO ?= go

.PHONY: demo test generate build
# The main job: the local pipeline on the bundled examples, embedded defaults.
demo:
	$(GO) run ./cmd/pipeline

# Every test, including actionlint and the real registry/git/buildah parts.
test:
	$(GO) test -count=1 -timeout 80m ./...

generate:
	$(GO) generate ./...

build:
	mkdir -p bin
	$(GO) build -trimpath -o bin/ ./cmd/...
