package dockerfile

import (
	"path"
	"strings"
)

// imageRef is a FROM reference split into repository, tag and digest.
type imageRef struct{ repo, tag, digest string }

func parseRef(s string) imageRef {
	var r imageRef
	s, r.digest, _ = strings.Cut(s, "@")
	r.repo = s
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		r.repo, r.tag = s[:i], s[i+1:]
	}
	return r
}

// name is the repository without a registry host or library/ prefix.
func (r imageRef) name() string {
	n := strings.TrimPrefix(r.repo, "docker.io/")
	return strings.TrimPrefix(n, "library/")
}

func (r imageRef) scratch() bool { return r.repo == "scratch" }

func (r imageRef) distroless() bool {
	return strings.Contains(r.repo, "/distroless/") || strings.HasPrefix(r.repo, "distroless/")
}

func (r imageRef) chainguardStatic() bool {
	return strings.HasSuffix(r.repo, "chainguard/static") || strings.HasSuffix(r.repo, "wolfi-base/static")
}

func (r imageRef) minimal() bool { return r.scratch() || r.distroless() || r.chainguardStatic() }

// shellless: distroless :debug images carry busybox, the others no shell.
func (r imageRef) shellless() bool {
	if r.distroless() {
		return !strings.Contains(r.tag, "debug")
	}
	return r.scratch() || r.chainguardStatic()
}

// nonrootByDefault: images whose config already sets an unprivileged user.
func (r imageRef) nonrootByDefault() bool {
	if r.distroless() {
		return strings.Contains(r.tag, "nonroot")
	}
	return strings.HasPrefix(r.repo, "cgr.dev/chainguard/") && !strings.Contains(r.tag, "dev")
}

// toolchain names the language toolchain an image ships, or "".
func (r imageRef) toolchain() string {
	switch path.Base(r.name()) {
	case "golang", "go":
		return "Go"
	case "rust":
		return "Rust"
	case "gcc", "buildpack-deps":
		return "C"
	case "maven", "gradle":
		return "Java build"
	case "openjdk", "eclipse-temurin":
		if r.name() == "eclipse-temurin" && !strings.Contains(r.tag, "jdk") {
			return ""
		}
		return "JDK"
	}
	return ""
}
