package render

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// OutsideError is a path that leaves every root it may be read from,
// most often through a symlink. It names the link and where it points,
// never what is there: the target is not read.
type OutsideError struct {
	// Path is the link (or the path itself when no link is involved),
	// relative to the current directory where it is below it.
	Path string
	// Target is what the link points at, as written in the link.
	Target string
}

func (e *OutsideError) Error() string {
	if e.Target != "" {
		return fmt.Sprintf("%s is a symlink to %s, outside the repository; it is not read", e.Path, e.Target)
	}
	return fmt.Sprintf("%s is outside the repository; it is not read", e.Path)
}

// Outside returns every OutsideError in err's tree.
func Outside(err error) []*OutsideError { return allOf[*OutsideError](err) }

// allOf returns every error of type T in err's tree; errors.As stops at
// the first, and a refused build holds one per link or URL.
func allOf[T error](err error) []T {
	var out []T
	var walk func(error)
	walk = func(err error) {
		if t, ok := err.(T); ok {
			out = append(out, t)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// Roots are the directory trees files may be read from. A path belongs
// to the root it is lexically below; it may be read when it still is
// after its symlinks are resolved.
type Roots struct {
	roots []root
	wd    string
}

type root struct {
	abs  string // as named, made absolute
	real string // with symlinks resolved
}

// NewRoots makes roots of the current directory and of each of dirs
// that is not below it. dirs that do not exist are left out (reading
// them fails on its own).
func NewRoots(dirs ...string) (*Roots, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("finding the current directory: %w", err)
	}
	r := &Roots{wd: wd}
	if err := r.add(wd); err != nil {
		return nil, err
	}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		if r.rootOf(abs) != nil {
			continue
		}
		// A file named as an input is its directory's root.
		if info, err := os.Lstat(abs); err == nil && !info.IsDir() {
			abs = filepath.Dir(abs)
		}
		if err := r.add(abs); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	return r, nil
}

// Dirs are the roots besides the current directory, so that a render
// process (which shares the current directory) makes the same Roots.
func (r *Roots) Dirs() []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, rt := range r.roots {
		if rt.abs != r.wd {
			out = append(out, rt.abs)
		}
	}
	return out
}

func (r *Roots) add(abs string) error {
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	r.roots = append(r.roots, root{abs: abs, real: real})
	return nil
}

func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator)) || dir == string(filepath.Separator)
}

func (r *Roots) rootOf(abs string) *root {
	for i := range r.roots {
		if within(abs, r.roots[i].abs) || within(abs, r.roots[i].real) {
			return &r.roots[i]
		}
	}
	return nil
}

// Resolve returns p with its symlinks resolved, or an *OutsideError when
// it, or a link on its way, leaves its root. A path that does not exist
// resolves as far as it does, so reading it fails as it would have.
func (r *Roots) Resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rt := r.rootOf(abs)
	if rt == nil {
		return "", &OutsideError{Path: r.rel(abs)}
	}
	real, err := evalExisting(abs, 0)
	if err != nil {
		return "", err
	}
	if within(real, rt.real) {
		return real, nil
	}
	return "", r.blame(abs, rt)
}

// blame finds the first link on the way from the root to abs that
// resolves outside it.
func (r *Roots) blame(abs string, rt *root) error {
	base := rt.abs
	if !within(abs, base) {
		base = rt.real
	}
	rest, _ := filepath.Rel(base, abs)
	cur := base
	for _, part := range strings.Split(rest, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		info, err := os.Lstat(cur)
		if err != nil {
			break
		}
		if info.Mode()&os.ModeSymlink == 0 {
			continue
		}
		if real, err := evalExisting(cur, 0); err == nil && within(real, rt.real) {
			continue
		}
		target, _ := os.Readlink(cur)
		return &OutsideError{Path: r.rel(cur), Target: target}
	}
	return &OutsideError{Path: r.rel(abs)}
}

// evalExisting resolves the symlinks of the longest existing prefix of
// abs and keeps the rest as written.
func evalExisting(abs string, depth int) (string, error) {
	real, err := filepath.EvalSymlinks(abs)
	if err == nil {
		return real, nil
	}
	dir := filepath.Dir(abs)
	if dir == abs || depth > 40 {
		return abs, nil
	}
	// A dangling link is judged by where it points.
	if info, lerr := os.Lstat(abs); lerr == nil && info.Mode()&os.ModeSymlink != 0 {
		target, rerr := os.Readlink(abs)
		if rerr != nil {
			return "", rerr
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		return evalExisting(filepath.Clean(target), depth+1)
	}
	parent, perr := evalExisting(dir, depth+1)
	if perr != nil {
		return "", perr
	}
	return filepath.Join(parent, filepath.Base(abs)), nil
}

func (r *Roots) rel(abs string) string {
	if rel, err := filepath.Rel(r.wd, abs); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(abs)
}

// ReadFile reads p when it resolves inside its root.
func (r *Roots) ReadFile(p string) ([]byte, error) {
	real, err := r.Resolve(p)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(real)
}
