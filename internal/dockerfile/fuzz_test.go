package dockerfile

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/gitops-actions/gitops-actions/internal/report"
)

// FuzzLint: any bytes either fail to parse with an error, or lint into
// findings of known rules that point at a line of the file; linting and
// listing the images give the same answer twice.
func FuzzLint(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/lint/*.Dockerfile")
	seeds = append(seeds, "../../examples/code-repo/Dockerfile", "../../examples/rails/Dockerfile", "../../Dockerfile")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "", "")
	}
	f.Add([]byte("# escape=`\nARG B=alpine:3\nFROM ${B} AS a\nFROM a\nCOPY --from=0 `\n  /x /y\n"), "a", "B=scratch")
	f.Add([]byte("FROM scratch\nADD --checksum=sha256:00 git@h:r.git#v1:sub https://x/y.git?ref=main /d/\nENTRYPOINT rails server\n"), "", "")
	f.Add([]byte("FROM x\nRUN <<EOF\napt-get install gcc\nEOF\nHEALTHCHECK CMD [\"a\"]\n"), "nope", "")
	ctx := fstest.MapFS{
		"bin/docker-entrypoint": {Data: []byte("#!/bin/sh\nrm -f tmp/pids/server.pid\nexec \"$@\"\n")},
	}
	known := map[string]bool{}
	for _, r := range Rules {
		known[r.ID] = true
	}
	f.Fuzz(func(t *testing.T, src []byte, target, buildArg string) {
		k, v, _ := bytes.Cut([]byte(buildArg), []byte("="))
		opt := Options{Target: target, BuildArgs: map[string]string{string(k): string(v)}, Context: ctx}
		fs, err := Lint("Dockerfile", src, opt)
		fs2, err2 := Lint("Dockerfile", src, opt)
		if !reflect.DeepEqual(fs, fs2) || (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("linting twice differs: %v %v / %v %v", fs, err, fs2, err2)
		}
		images, ierr := Images("Dockerfile", src, opt)
		images2, _ := Images("Dockerfile", src, opt)
		if !reflect.DeepEqual(images, images2) {
			t.Fatalf("listing images twice differs: %q / %q", images, images2)
		}
		if ierr != nil && err == nil {
			t.Fatalf("Images fails (%v) where Lint parses", ierr)
		}
		lines := bytes.Count(src, []byte("\n")) + 1
		for _, x := range fs {
			if !known[x.Rule] || x.Source != report.SourceLint || x.File != "Dockerfile" || x.Line < 1 || x.Line > lines || x.Message == "" {
				t.Fatalf("finding %+v: unknown rule, or not on a line of the %d-line file", x, lines)
			}
			if !slices.Contains([]report.Severity{report.Error, report.Warning, report.Notice}, x.Severity) {
				t.Fatalf("finding %+v: severity %q", x, x.Severity)
			}
		}
	})
}
