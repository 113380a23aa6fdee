package bump

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// imageRef is an image reference as written: name[:tag][@digest].
type imageRef struct {
	Name, Tag, Digest string
}

func (r imageRef) String() string {
	s := r.Name
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// parseImageRef splits and validates a written reference.
func parseImageRef(s string) (imageRef, error) {
	var r imageRef
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
		if err := checkDigest(r.Digest); err != nil {
			return r, err
		}
	}
	// A colon after the last slash starts the tag (a registry port has a slash after it).
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if err := checkTag(r.Tag); err != nil {
			return r, err
		}
	}
	r.Name = rest
	if _, err := name.NewRepository(rest); err != nil {
		return r, fmt.Errorf("image name %q: %w", rest, err)
	}
	return r, nil
}

func checkTag(t string) error {
	if _, err := name.NewTag("example.invalid/x:" + t); err != nil || t == "" {
		return fmt.Errorf("tag %q is not a valid tag", t)
	}
	return nil
}

func checkDigest(d string) error {
	if _, err := name.NewDigest("example.invalid/x@" + d); err != nil {
		return fmt.Errorf("digest %q is not a valid digest (want sha256:<64 hex>)", d)
	}
	return nil
}

// repoKey normalizes an image name for comparison: nginx and
// docker.io/library/nginx are one repository.
func repoKey(s string) (string, bool) {
	r, err := name.NewRepository(s)
	if err != nil {
		return "", false
	}
	return r.Name(), true
}

// lastElem is the last path element of a repository: api for ghcr.io/acme/api.
func lastElem(repo string) string {
	return repo[strings.LastIndexByte(repo, '/')+1:]
}
