package build

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// contextRoot is the context directory with its symbolic links resolved:
// what the build may read lies under it.
func contextRoot(cfg Config) (string, error) {
	root, err := filepath.EvalSymlinks(cfg.Context)
	if err == nil {
		root, err = filepath.Abs(root)
	}
	if err != nil {
		return "", action.Usage("context", "resolving %q: %v", cfg.Context, err)
	}
	return root, nil
}

// inside reports whether the resolved path p lies under root.
func inside(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// checkDockerfile refuses a Dockerfile that resolves outside the context:
// it is repo input, and a link could point it at any file of the runner.
func checkDockerfile(cfg Config, root, df string) error {
	p, err := filepath.EvalSymlinks(df)
	if err == nil {
		p, err = filepath.Abs(p)
	}
	if err != nil {
		return action.Usage("dockerfile", "resolving %q: %v", cfg.Dockerfile, err)
	}
	if !inside(root, p) {
		return action.Usage("dockerfile", "%q resolves to a file outside context %q; it is not read", cfg.Dockerfile, cfg.Context)
	}
	// The builders read the ignore files with the host's view of links.
	for _, f := range []string{filepath.Join(root, ".dockerignore"), filepath.Join(root, ".containerignore"), df + ".dockerignore", df + ".containerignore"} {
		if _, err := os.Lstat(f); err != nil {
			continue
		}
		p, err := filepath.EvalSymlinks(f)
		if err == nil && !inside(root, p) {
			return action.Usage("context", "%s resolves to a file outside context %q; it is not read", filepath.Base(f), cfg.Context)
		}
	}
	return nil
}

// linkOutside returns the first symbolic link under root (.git aside) whose
// target resolves outside root, relative to root, or "". go build follows
// such links and would compile the files they point to; the Dockerfile
// builders resolve links inside the context themselves.
func linkOutside(root string) (string, error) {
	var found string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		t, err := filepath.EvalSymlinks(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a dangling link has nothing to read
		}
		if err != nil {
			return err
		}
		if !inside(root, t) {
			found, _ = filepath.Rel(root, p)
			return fs.SkipAll
		}
		return nil
	})
	return found, err
}

// checkGoContext refuses a context holding a link out of it.
func checkGoContext(cfg Config, root string) error {
	link, err := linkOutside(root)
	if err != nil {
		return action.Usage("context", "reading %q: %v", cfg.Context, err)
	}
	if link != "" {
		return action.Usage("context", "%s in %q is a symbolic link to outside the context, which go build would read: replace it with the file, or a link inside the context", filepath.ToSlash(link), cfg.Context)
	}
	return nil
}
