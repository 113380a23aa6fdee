package gitrepo

import (
	"errors"
	"strings"
)

// CheckBranch reports why name cannot be a branch, following the rules of
// git check-ref-format --branch, so a bad name is refused before any git
// process or network call rather than failing as a remote error.
func CheckBranch(name string) error {
	switch {
	case name == "":
		return errors.New("is empty")
	case name == "@" || name == "HEAD":
		return errors.New("is reserved by git")
	case strings.HasPrefix(name, "-"):
		return errors.New("starts with '-'")
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/"):
		return errors.New("starts or ends with '/'")
	case strings.HasSuffix(name, "."):
		return errors.New("ends with '.'")
	case strings.Contains(name, "//"):
		return errors.New("holds '//'")
	case strings.Contains(name, ".."):
		return errors.New("holds '..'")
	case strings.Contains(name, "@{"):
		return errors.New("holds '@{'")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return errors.New("holds a space, a control character or one of ~^:?*[\\")
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return errors.New("has a component starting with '.'")
		}
		if strings.HasSuffix(part, ".lock") {
			return errors.New("has a component ending with '.lock'")
		}
	}
	return nil
}
