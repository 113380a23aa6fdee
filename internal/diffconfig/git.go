package diffconfig

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// gitTimeout bounds one local git command: none touches the network.
const gitTimeout = 2 * time.Minute

// repo is the local checkout both trees are read from.
type repo struct {
	top string
	env []string
}

func (r repo) git(ctx context.Context, stdout io.Writer, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", r.top}, args...)...)
	// Never reach for a remote: a partial clone's missing object is an
	// error, not a fetch.
	cmd.Env = append(r.env, "GIT_NO_LAZY_FETCH=1", "GIT_TERMINAL_PROMPT=0")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// openRepo finds the repository holding dir, the working directory
// when dir is "".
func openRepo(ctx context.Context, getenv func(string) string, dir string) (repo, error) {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "XDG_CONFIG_HOME"} {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	input, from := "path", "."
	if dir != "" {
		input, from = "repo-path", dir
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return repo{}, action.Usage(input, "%q is not a directory", dir)
		}
	}
	top, err := repo{top: from, env: env}.git(ctx, nil, "rev-parse", "--show-toplevel")
	if err != nil {
		if dir == "" {
			return repo{}, action.Usage(input, "the current directory is not in a git checkout: %v", err)
		}
		return repo{}, action.Usage(input, "%q is not in a git checkout: %v", dir, err)
	}
	real, err := filepath.EvalSymlinks(top)
	if err != nil {
		return repo{}, action.External(err)
	}
	return repo{top: real, env: env}, nil
}

// commit resolves ref of input to a commit. In a shallow clone a ref
// that cannot be resolved most often lies beyond the fetched history.
func (r repo) commit(ctx context.Context, input, ref string) (string, error) {
	if strings.HasPrefix(ref, "-") {
		return "", action.Usage(input, "%q is not a git revision", ref)
	}
	sha, err := r.git(ctx, nil, "rev-parse", "--verify", "--end-of-options", ref+"^{commit}")
	if err == nil {
		// The commit may be named but absent (a grafted shallow boundary's parent).
		if _, err = r.git(ctx, nil, "cat-file", "-e", sha+"^{tree}"); err == nil {
			return sha, nil
		}
	}
	if shallow, _ := r.git(ctx, nil, "rev-parse", "--is-shallow-repository"); shallow == "true" {
		return "", action.Usage(input, "%q is not in this shallow clone: check out with `fetch-depth: 0` (actions/checkout) so the base commit is there", ref)
	}
	return "", action.Usage(input, "%q is not a commit in this repository", ref)
}

// changedFiles lists the paths, relative to the top, that differ between
// the two commits; a rename counts as both its paths.
func (r repo) changedFiles(ctx context.Context, base, head string) ([]string, error) {
	out, err := r.git(ctx, nil, "diff", "--name-only", "--no-renames", "-z", base, head, "--")
	if err != nil {
		return nil, action.External(err)
	}
	var files []string
	for _, f := range strings.Split(out, "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

// maxTreeBytes bounds what one extracted tree may take on disk.
const maxTreeBytes = 4 << 30

// extract writes the tree of commit into dir with git archive: regular
// files and symlinks only, every name kept inside dir.
func (r repo) extract(ctx context.Context, commit, dir string) error {
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := r.git(ctx, pw, "archive", "--format=tar", commit)
		pw.CloseWithError(err)
		errc <- err
	}()
	err := untar(pr, dir)
	if err == nil {
		// git writes padding after the end of the archive.
		_, err = io.Copy(io.Discard, pr)
	}
	pr.CloseWithError(err)
	if gerr := <-errc; gerr != nil {
		return action.External(fmt.Errorf("reading commit %s: %w", commit, gerr))
	}
	if err != nil {
		return action.External(fmt.Errorf("reading commit %s: %w", commit, err))
	}
	return nil
}

func untar(rd io.Reader, dir string) error {
	tr := tar.NewReader(rd)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return fmt.Errorf("archive entry %q leaves the tree", h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			total += h.Size
			if total > maxTreeBytes {
				return fmt.Errorf("the tree is larger than %d bytes", int64(maxTreeBytes))
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			// Kept as is: the renderers refuse links that leave the tree.
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		}
	}
}
