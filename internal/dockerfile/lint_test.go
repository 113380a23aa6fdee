package dockerfile

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/report"
)

var update = flag.Bool("update", false, "rewrite testdata/lint/*.golden")

// ruleOf maps a testdata file name like root-user-explicit-fires to its rule.
func ruleOf(t *testing.T, name string) string {
	for _, r := range Rules {
		if strings.HasPrefix(name, strings.ToLower(strings.TrimPrefix(r.ID, "GA-DF-"))+"-") {
			return r.ID
		}
	}
	t.Fatalf("%s: file name starts with no rule name", name)
	return ""
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/lint/*.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][2]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".Dockerfile")
		t.Run(name, func(t *testing.T) {
			rule := ruleOf(t, name)
			fs, err := LintFile("testdata/lint", filepath.Base(f), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			fired := false
			for _, x := range fs {
				if x.Source != report.SourceLint || x.Line < 1 || x.File != filepath.Base(f) {
					t.Errorf("finding lacks source lint, file or line: %+v", x)
				}
				fired = fired || x.Rule == rule
				b.WriteString(x.String() + "\n")
			}
			s := seen[rule]
			switch {
			case strings.HasSuffix(name, "-fires"):
				s[0] = true
				if !fired {
					t.Errorf("%s did not fire:\n%s", rule, b.String())
				}
			case strings.HasSuffix(name, "-ok"):
				s[1] = true
				if fired {
					t.Errorf("%s fired:\n%s", rule, b.String())
				}
			default:
				t.Fatalf("%s: name must end in -fires or -ok", name)
			}
			seen[rule] = s
			golden := strings.TrimSuffix(f, ".Dockerfile") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(want) {
				t.Errorf("findings differ from %s\ngot:\n%s\nwant:\n%s", golden, b.String(), want)
			}
		})
	}
	for _, r := range Rules {
		if s := seen[r.ID]; !s[0] || !s[1] {
			t.Errorf("%s needs a -fires and an -ok Dockerfile in testdata/lint (have %v)", r.ID, s)
		}
	}
}

func TestTarget(t *testing.T) {
	src := []byte("FROM golang:1.26 AS build\nUSER 1000\nFROM scratch\n")
	fs, err := Lint("Dockerfile", src, Options{Target: "build"})
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, f := range fs {
		rules = append(rules, f.Rule)
	}
	got := strings.Join(rules, ",")
	// The build stage is the final one: toolchain and not-minimal fire, root-user does not.
	if !strings.Contains(got, RuleSingleStageToolchain) || !strings.Contains(got, RuleFinalNotMinimal) || strings.Contains(got, RuleRootUser) {
		t.Errorf("target build: rules %s", got)
	}
	if _, err := Lint("Dockerfile", src, Options{Target: "nope"}); !errors.Is(err, ErrNoTarget) {
		t.Errorf("unknown target: err %v, want ErrNoTarget", err)
	}
}

func TestBuildArgOverridesFrom(t *testing.T) {
	src := []byte("ARG BASE=golang:1.26\nFROM ${BASE}\nUSER 1\n")
	fs, err := Lint("Dockerfile", src, Options{BuildArgs: map[string]string{"BASE": "scratch"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 0 {
		t.Errorf("with BASE=scratch want no findings, got %v", fs)
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "RUN echo hi\n"} {
		if _, err := Lint("Dockerfile", []byte(src), Options{}); err == nil {
			t.Errorf("%q: want an error", src)
		}
	}
}

func TestImages(t *testing.T) {
	src := []byte(`ARG REG=registry.example:5000
FROM ${REG}/base/builder:1 AS build
RUN --mount=type=bind,from=localhost:5000/tools/cache:2,target=/cache true
FROM build AS test
FROM ${UNSET}/x:1
FROM scratch
COPY --from=build /a /a
COPY --from=0 /b /b
COPY --from=gcr.io/distroless/static-debian12:nonroot /etc/passwd /etc/passwd
`)
	got, err := Images("Dockerfile", src, Options{BuildArgs: map[string]string{"REG": "127.0.0.1:5000"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "127.0.0.1:5000/base/builder:1 localhost:5000/tools/cache:2 gcr.io/distroless/static-debian12:nonroot"
	if strings.Join(got, " ") != want {
		t.Errorf("Images = %q, want %q", got, want)
	}
}

// A URL's password is not repeated in the finding.
func TestAddRemoteHidesPassword(t *testing.T) {
	fs, err := Lint("Dockerfile", []byte("FROM scratch\nADD https://ci:hunter2@example.com/x.tgz /x\nUSER 1\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Rule != RuleAddRemote || strings.Contains(fs[0].Message, "hunter2") {
		t.Errorf("findings %v: want one %s without the password", fs, RuleAddRemote)
	}
}

// docs/build.md lists every rule.
func TestRulesDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/build.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules {
		if !strings.Contains(string(b), "`"+r.ID+"`") {
			t.Errorf("docs/build.md does not list %s", r.ID)
		}
	}
}

// The entrypoint script is looked up in the context only: a link to a
// script outside it is not read, so the PID rule still fires.
func TestEntrypointLinkOutsideContextNotRead(t *testing.T) {
	dir := t.TempDir()
	ctx, outside := filepath.Join(dir, "repo"), filepath.Join(dir, "outside")
	os.MkdirAll(filepath.Join(ctx, "bin"), 0o755)
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "entrypoint"), []byte("#!/bin/sh\nrm -f tmp/pids/server.pid\nexec \"$@\"\n"), 0o755)
	os.Symlink(filepath.Join(outside, "entrypoint"), filepath.Join(ctx, "bin", "docker-entrypoint"))
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM ruby:3.4-slim\nWORKDIR /rails\nCOPY . .\nUSER 1000\n"+
		"ENTRYPOINT [\"/rails/bin/docker-entrypoint\"]\nCMD [\"./bin/rails\", \"server\"]\n"), 0o644)
	fs, err := LintFile(ctx, "Dockerfile", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(fs, func(f report.Finding) bool { return f.Rule == RuleRailsServerPID }) {
		t.Errorf("the entrypoint outside the context was read: no %s in %v", RuleRailsServerPID, fs)
	}
	os.Symlink("../outside/entrypoint", filepath.Join(ctx, "Dockerfile.link"))
	if _, err := LintFile(ctx, "Dockerfile.link", Options{}); err == nil {
		t.Error("a Dockerfile linked from outside the context was read")
	}
}
