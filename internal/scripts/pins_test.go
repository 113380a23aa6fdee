package scripts

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const pinsTable = ".github/action-pins.tsv"

// toolkitRepo is this toolkit on GitHub: the examples and docs show callers
// referring to it, the repository's own workflows use ./ paths instead.
const toolkitRepo = "gitops-actions/gitops-actions/"

// toolkitPlaceholder is the one way examples and docs may show a release
// pin of this toolkit without naming a real release (README, "Quick start").
const toolkitPlaceholder = "<release commit SHA> # vX.Y.Z"

var (
	fullSHA   = regexp.MustCompile(`^[0-9a-f]{40}$`)
	semverTag = regexp.MustCompile(`^v\d+\.\d+\.\d+$`)
	nodeRun   = regexp.MustCompile(`^node(\d+)$`)
	// A uses: line of a workflow, an action.yml or a YAML block in a doc.
	usesLine = regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*(.*?)\s*$`)
)

// minNode is the oldest JavaScript runtime GitHub-hosted runners still run.
const minNode = 24

type pin struct {
	sha, tag, using string
}

// loadPins reads the committed table; any row it cannot read is an error,
// so a damaged table never passes as an empty one.
func loadPins(path string) (map[string]pin, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pins := map[string]pin{}
	sc := bufio.NewScanner(f)
	header := false
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			return nil, fmt.Errorf("%s:%d: want 4 tab-separated columns, got %d", path, n, len(cols))
		}
		if !header {
			if strings.Join(cols, " ") != "action sha tag runs-using" {
				return nil, fmt.Errorf("%s:%d: want the header action, sha, tag, runs-using; got %q", path, n, line)
			}
			header = true
			continue
		}
		name, p := cols[0], pin{sha: cols[1], tag: cols[2], using: cols[3]}
		switch {
		case strings.Count(name, "/") < 1 || strings.ContainsAny(name, "@ "):
			return nil, fmt.Errorf("%s:%d: action %q is not owner/repo[/path]", path, n, name)
		case !fullSHA.MatchString(p.sha):
			return nil, fmt.Errorf("%s:%d: %s: %q is not a full commit SHA", path, n, name, p.sha)
		case !semverTag.MatchString(p.tag):
			return nil, fmt.Errorf("%s:%d: %s: tag %q is not a release tag vX.Y.Z", path, n, name, p.tag)
		}
		if _, dup := pins[name]; dup {
			return nil, fmt.Errorf("%s:%d: %s is listed twice", path, n, name)
		}
		pins[name] = p
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(pins) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return pins, nil
}

// oldRuntime says why a runs.using value will not run on today's runners.
func oldRuntime(using string) string {
	m := nodeRun.FindStringSubmatch(using)
	if m == nil {
		return fmt.Sprintf("runs.using %q is not a JavaScript runtime this table knows", using)
	}
	if v, _ := strconv.Atoi(m[1]); v < minNode {
		return fmt.Sprintf("runs.using %s is older than node%d, which GitHub-hosted runners no longer run", using, minNode)
	}
	return ""
}

type usesRef struct {
	file string
	line int
	text string // what follows "uses:", comment included
}

// pinnedFiles lists every file whose uses: lines the table governs.
func pinnedFiles(t *testing.T, root string) (yamls, docs []string) {
	t.Helper()
	for _, pattern := range []string{".github/workflows/*.y*ml", "actions/*/action.y*ml", "docs/*.md", "README.md", "examples/*.md"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			if strings.HasSuffix(p, ".md") {
				docs = append(docs, p)
			} else {
				yamls = append(yamls, p)
			}
		}
	}
	// Example repositories may nest (examples/<team>/<repo>/...).
	err := filepath.WalkDir(filepath.Join(root, "examples"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(p))
		switch {
		case strings.HasSuffix(dir, "/.github/workflows") && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")):
			yamls = append(yamls, p)
		case strings.HasSuffix(p, ".md") && filepath.Dir(p) != filepath.Join(root, "examples"):
			docs = append(docs, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return yamls, docs
}

// collectUses returns every uses: line of the files. For YAML files it
// also parses the document and fails when a uses: value is not on a line
// of its own, so a flow-style or quoted entry cannot slip past the table.
func collectUses(t *testing.T, root string, yamls, docs []string) []usesRef {
	t.Helper()
	var refs []usesRef
	scan := func(p string) (string, []usesRef) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		var out []usesRef
		for i, l := range strings.Split(string(b), "\n") {
			if m := usesLine.FindStringSubmatch(l); m != nil {
				out = append(out, usesRef{file: filepath.ToSlash(rel), line: i + 1, text: m[1]})
			}
		}
		return string(b), out
	}
	for _, p := range yamls {
		raw, lines := scan(p)
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(raw), &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		steps, jobs := stepsOf(doc)
		var parsed []string
		for _, s := range steps {
			if u, ok := s["uses"].(string); ok {
				parsed = append(parsed, u)
			}
		}
		for _, j := range jobs {
			if u, ok := j["uses"].(string); ok {
				parsed = append(parsed, u)
			}
		}
		if len(parsed) != len(lines) {
			t.Errorf("%s: %d uses: in the document but %d uses: lines; write each as `uses: <ref> # <tag>` on its own line", p, len(parsed), len(lines))
		}
		for _, u := range parsed {
			if !slices.ContainsFunc(lines, func(r usesRef) bool { return strings.HasPrefix(r.text, u) }) {
				t.Errorf("%s: uses: %s is not written as `uses: <ref> # <tag>` on a line of its own", p, u)
			}
		}
		refs = append(refs, lines...)
	}
	for _, p := range docs {
		_, lines := scan(p)
		refs = append(refs, lines...)
	}
	return refs
}

// checkUses returns one problem per uses: that does not match the table,
// and the table rows that some uses: named.
func checkUses(refs []usesRef, pins map[string]pin) (problems []string, used map[string]bool) {
	used = map[string]bool{}
	for _, r := range refs {
		where := fmt.Sprintf("%s:%d", r.file, r.line)
		ref, comment, _ := strings.Cut(r.text, "#")
		ref, comment = strings.Trim(strings.TrimSpace(ref), `"'`), strings.TrimSpace(comment)
		switch {
		case strings.HasPrefix(ref, "./"):
			// This toolkit's own actions at the checked-out commit (TestWorkflowHygiene).
			continue
		case strings.HasPrefix(ref, toolkitRepo):
			// A caller of this toolkit: a real release, or the README's placeholder.
			_, at, _ := strings.Cut(r.text, "@")
			sha, _, _ := strings.Cut(at, " ")
			switch {
			case strings.HasPrefix(r.file, ".github/") || strings.HasPrefix(r.file, "actions/"):
				problems = append(problems, fmt.Sprintf("%s: %s: this repository uses its own actions by ./ path, not through GitHub", where, r.text))
			case at == toolkitPlaceholder:
			case fullSHA.MatchString(sha) && semverTag.MatchString(comment) && strings.HasPrefix(comment, "v1."):
			default:
				problems = append(problems, fmt.Sprintf("%s: %s: show this toolkit as @%s (or a real release SHA with its # v1.x.y), never a tag or branch", where, r.text, toolkitPlaceholder))
			}
			continue
		case strings.HasPrefix(ref, "docker://"):
			problems = append(problems, fmt.Sprintf("%s: %s: docker:// actions are not in %s", where, ref, pinsTable))
			continue
		}
		name, sha, ok := strings.Cut(ref, "@")
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: %s has no @ref", where, ref))
			continue
		}
		p, known := pins[name]
		switch {
		case !fullSHA.MatchString(sha):
			problems = append(problems, fmt.Sprintf("%s: %s is not pinned to a full commit SHA", where, ref))
		case !known:
			problems = append(problems, fmt.Sprintf("%s: %s is not in %s; add a row for it and run .github/refresh-action-pins.sh", where, name, pinsTable))
		case sha != p.sha || comment != p.tag:
			problems = append(problems, fmt.Sprintf("%s: %s@%s # %s, but %s pins %s # %s", where, name, sha, comment, pinsTable, p.sha, p.tag))
		}
		if known {
			used[name] = true
		}
	}
	return problems, used
}

// Every third-party action is pinned to the SHA of a release whose runtime
// GitHub-hosted runners still run, and the committed table says which; this
// toolkit itself is shown pinned to a release commit, never to @v1.
func TestActionPins(t *testing.T) {
	pins, err := loadPins(filepath.Join(repoRoot, pinsTable))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(pins))
	for name := range pins {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if why := oldRuntime(pins[name].using); why != "" {
			t.Errorf("%s: %s %s: %s; move it to a release on node%d or later", pinsTable, name, pins[name].tag, why, minNode)
		}
	}

	yamls, docs := pinnedFiles(t, repoRoot)
	if len(yamls) < 8 || len(docs) < 3 {
		t.Fatalf("found only %d workflow/action files and %d docs", len(yamls), len(docs))
	}
	refs := collectUses(t, repoRoot, yamls, docs)
	problems, used := checkUses(refs, pins)
	for _, p := range problems {
		t.Error(p)
	}
	for _, name := range names {
		if !used[name] {
			t.Errorf("%s: %s is pinned but nothing uses it; drop the row", pinsTable, name)
		}
	}
}

// The checks above reject what they should: each case is a uses: line that
// must be refused and the text the refusal names.
func TestActionPinsRefuse(t *testing.T) {
	sha := strings.Repeat("a", 40)
	other := strings.Repeat("b", 40)
	pins := map[string]pin{"actions/checkout": {sha: sha, tag: "v7.0.1", using: "node24"}}
	for _, tc := range []struct{ file, text, want string }{
		{"w.yml", "actions/checkout@v7", "not pinned to a full commit SHA"},
		{"w.yml", "actions/checkout@" + sha[:12] + " # v7.0.1", "not pinned to a full commit SHA"},
		{"w.yml", "actions/checkout@" + other + " # v7.0.1", "pins " + sha},
		{"w.yml", "actions/checkout@" + sha + " # v7.0.0", "pins " + sha + " # v7.0.1"},
		{"w.yml", "actions/checkout@" + sha, "pins " + sha},
		{"w.yml", "actions/setup-go@" + sha + " # v7.0.0", "not in " + pinsTable},
		{"w.yml", "docker://alpine:3", "docker://"},
		{"examples/a/.github/workflows/ci.yml", toolkitRepo + ".github/workflows/gitops-code.yml@v1", "never a tag or branch"},
		{"docs/x.md", toolkitRepo + "actions/scan@main", "never a tag or branch"},
		{"docs/x.md", toolkitRepo + "actions/scan@<sha> # vX.Y.Z", "never a tag or branch"},
		{"docs/x.md", toolkitRepo + "actions/scan@" + sha + " # v2.0.0", "never a tag or branch"},
		{".github/workflows/x.yml", toolkitRepo + "actions/scan@" + toolkitPlaceholder, "by ./ path"},
	} {
		problems, _ := checkUses([]usesRef{{file: tc.file, line: 1, text: tc.text}}, pins)
		if len(problems) != 1 || !strings.Contains(problems[0], tc.want) {
			t.Errorf("uses: %s in %s: got %q, want one problem naming %q", tc.text, tc.file, problems, tc.want)
		}
	}
	for _, ok := range []string{
		"actions/checkout@" + sha + " # v7.0.1",
		"./actions/scan",
		toolkitRepo + "actions/scan@" + toolkitPlaceholder,
		toolkitRepo + "actions/scan@" + other + " # v1.4.2",
	} {
		if problems, _ := checkUses([]usesRef{{file: "docs/x.md", line: 1, text: ok}}, pins); len(problems) != 0 {
			t.Errorf("uses: %s: want no problem, got %q", ok, problems)
		}
	}
	for _, tc := range []struct{ using, want string }{
		{"node20", "older than node24"},
		{"node16", "older than node24"},
		{"node12", "older than node24"},
		{"composite", "not a JavaScript runtime"},
		{"node24", ""},
	} {
		if got := oldRuntime(tc.using); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("oldRuntime(%q) = %q, want %q", tc.using, got, tc.want)
		}
	}
}

// A damaged table is an error, never an empty table that pins nothing.
func TestActionPinsTableDamaged(t *testing.T) {
	sha := strings.Repeat("c", 40)
	head := "action\tsha\ttag\truns-using\n"
	for _, tc := range []struct{ body, want string }{
		{"", "no rows"},
		{head, "no rows"},
		{"actions/checkout\t" + sha + "\tv7.0.1\tnode24\n", "header"},
		{head + "actions/checkout " + sha + " v7.0.1 node24\n", "4 tab-separated columns"},
		{head + "actions/checkout\t" + sha[:7] + "\tv7.0.1\tnode24\n", "full commit SHA"},
		{head + "actions/checkout\t" + sha + "\tv7\tnode24\n", "release tag"},
		{head + "checkout\t" + sha + "\tv7.0.1\tnode24\n", "owner/repo"},
		{head + "actions/checkout\t" + sha + "\tv7.0.1\tnode24\nactions/checkout\t" + sha + "\tv7.0.1\tnode24\n", "listed twice"},
	} {
		p := filepath.Join(t.TempDir(), "pins.tsv")
		if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := loadPins(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("table %q: got %v, want an error naming %q", tc.body, err, tc.want)
		}
	}
	if _, err := loadPins(filepath.Join(t.TempDir(), "missing.tsv")); err == nil {
		t.Error("a missing table must be an error")
	}
}

// The refresh script is not run by CI, so nothing else would notice it rot.
func TestRefreshScriptShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("shellcheck is not installed (Debian package shellcheck); .ci/run installs it")
		}
		t.Skip("shellcheck is not installed (Debian package shellcheck)")
	}
	out, err := exec.Command(sc, filepath.Join(repoRoot, ".github", "refresh-action-pins.sh")).CombinedOutput()
	if err != nil {
		t.Errorf("shellcheck .github/refresh-action-pins.sh: %v\n%s", err, out)
	}
}
