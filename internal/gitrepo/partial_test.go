package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// A clone fetches the blobs of the files read and no others where the
// server takes filters, and every blob where it does not; either way the
// branch moving under a push is mended by Reset and the edit lands on the
// new tip, keeping the other change.
func TestPartialClone(t *testing.T) {
	for _, filters := range []bool{true, false} {
		t.Run(fmt.Sprintf("filters=%v", filters), func(t *testing.T) {
			var opts []testenv.GitServerOption
			if filters {
				opts = append(opts, testenv.WithFilters())
			}
			g := testenv.StartGitServer(t, opts...)
			files := map[string]string{}
			for i := range 4 {
				files[fmt.Sprintf("apps/api/f%d.yaml", i)] = fmt.Sprintf("api: %d\n", i)
			}
			for i := range 36 {
				files[fmt.Sprintf("other/f%d.yaml", i)] = fmt.Sprintf("other: %d\n", i)
			}
			url := g.NewRepo(t, "config", files)
			ctx := context.Background()
			r, err := Clone(ctx, url, filepath.Join(t.TempDir(), "c"), Options{Getenv: getenv})
			if err != nil {
				t.Fatal(err)
			}
			// orig keeps the first tip for comparing what was read there.
			other := g.Clone(t, "config")
			g.Git(t, other, "push", "--quiet", "origin", "HEAD:orig")
			read := func(branch string) map[string]File {
				t.Helper()
				tree, err := r.Files(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var api []File
				byPath := map[string]File{}
				for _, f := range tree {
					if strings.HasPrefix(f.Path, "apps/api/") {
						api = append(api, f)
						byPath[f.Path] = f
					}
				}
				contents, err := r.Read(ctx, api)
				if err != nil {
					t.Fatal(err)
				}
				for i, f := range api {
					if want := g.ReadFile(t, "config", branch, f.Path); string(contents[i]) != want {
						t.Errorf("%s = %q, want %q", f.Path, contents[i], want)
					}
				}
				return byPath
			}
			// missing is what the clone lacks: every blob outside apps/api
			// where the server filters, nothing where it does not.
			missing := func() {
				t.Helper()
				tree := map[string]string{}
				for _, line := range strings.Split(g.Git(t, r.Dir, "ls-tree", "-r", "HEAD"), "\n") {
					meta, path, _ := strings.Cut(line, "\t")
					tree[strings.Fields(meta)[2]] = path
				}
				lacks := 0
				for _, line := range strings.Split(g.Git(t, r.Dir, "rev-list", "--objects", "--missing=print", "HEAD"), "\n") {
					if oid, ok := strings.CutPrefix(line, "?"); ok {
						lacks++
						if p := tree[oid]; !strings.HasPrefix(p, "other/") {
							t.Errorf("the clone lacks %s (%q), a file it read", oid, p)
						}
					}
				}
				if want := map[bool]int{true: 36, false: 0}[filters]; lacks != want {
					t.Errorf("the clone lacks %d blobs, want %d", lacks, want)
				}
			}
			read("orig")
			missing()

			// Another pipeline changes a file read and one not read.
			for _, p := range []string{"apps/api/f0.yaml", "other/f0.yaml"} {
				if err := os.WriteFile(filepath.Join(other, p), []byte("moved: "+p+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			g.Git(t, other, "commit", "--quiet", "-am", "other pipeline")
			g.Git(t, other, "push", "--quiet", "origin", "HEAD:main")

			bump := func(byPath map[string]File) error {
				ids, err := r.WriteBlobs(ctx, [][]byte{[]byte("api: bumped\n")})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := r.Commit(ctx, []File{byPath["apps/api/f1.yaml"]}, ids, "bump", "bot", "bot@example.invalid"); err != nil {
					t.Fatal(err)
				}
				return r.Push(ctx, r.Branch)
			}
			if err := bump(read("orig")); !errors.Is(err, ErrRejected) {
				t.Fatalf("push over a moved branch: %v, want ErrRejected", err)
			}
			if err := r.Reset(ctx, r.Branch); err != nil {
				t.Fatal(err)
			}
			if err := bump(read("main")); err != nil {
				t.Fatalf("push after Reset: %v", err)
			}
			missing()
			for path, want := range map[string]string{
				"apps/api/f0.yaml": "moved: apps/api/f0.yaml\n",
				"apps/api/f1.yaml": "api: bumped\n",
				"other/f0.yaml":    "moved: other/f0.yaml\n",
				"other/f1.yaml":    "other: 1\n",
			} {
				if got := g.ReadFile(t, "config", "main", path); got != want {
					t.Errorf("main:%s = %q, want %q", path, got, want)
				}
			}
		})
	}
}
