package bump

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/gitrepo"
	"github.com/gitops-actions/gitops-actions/internal/report"
	"github.com/gitops-actions/gitops-actions/internal/verify"
	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// Main runs the bump-manifest action and returns its exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	env := action.Env{Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	return action.Run(ctx, "bump-manifest", env, ParseConfig, runSettled)
}

// Backoff between push attempts: full jitter over an exponential window,
// so that many pipelines racing for one branch spread out.
var (
	backoffBase = 100 * time.Millisecond
	backoffCap  = 20 * time.Second
)

func backoff(ctx context.Context, attempt int) error {
	window := min(backoffCap, backoffBase<<min(attempt, 16))
	d := window/2 + rand.N(window/2+1)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// edit is the outcome of editing the working tree once.
type edit struct {
	staged  []gitrepo.File // the files changed, for Commit with blobs
	blobs   []string
	files   []string
	changes []Change
	skips   []Skip
	images  []imageEdit // by cfg.Images index
}

// imageEdit is what one image's editor found and changed.
type imageEdit struct {
	found   int
	files   []string
	changes []Change
}

// newEditors prepares one editor per image; they are applied in turn to
// each file, so several images in one file end up in one edit.
func newEditors(cfg Config) ([]*Editor, error) {
	editors := make([]*Editor, len(cfg.Images))
	for i, t := range cfg.Images {
		e, err := NewEditor(Editor{Image: t.Image, Tag: t.Tag, Digest: t.Digest, Strategy: cfg.Strategy, HelmKeys: cfg.HelmKeys, NoDowngrade: cfg.NoDowngrade, KustomizeAdd: kustomizeAdd(cfg)})
		if err != nil {
			return nil, action.UsageErr(cfg.imageInput(), err)
		}
		editors[i] = e
	}
	return editors, nil
}

func run(ctx context.Context, c *action.Context, cfg Config) error {
	url, err := gitrepo.ResolveURL(cfg.Repository, c.Getenv("GITHUB_SERVER_URL"))
	if err != nil {
		return action.UsageErr("repository", err)
	}
	editors, err := newEditors(cfg)
	if err != nil {
		return err
	}
	var policy *verify.Policy
	if cfg.Verify.Enabled() {
		if policy, err = verify.NewPolicy(cfg.Verify); err != nil {
			return err
		}
	}
	var gh *github
	if cfg.SignCommits {
		if err := checkSignRepository(cfg.Repository, c.Getenv("GITHUB_SERVER_URL")); err != nil {
			return err
		}
	}
	if cfg.Mode == "pull-request" || cfg.SignCommits {
		if gh, err = newGitHub(ctx, cfg, c); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "bump-manifest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	c.Logf("cloning %s", url)
	repo, err := gitrepo.Clone(ctx, url, filepath.Join(dir, "repo"), gitrepo.Options{Token: cfg.Token, Branch: cfg.Branch, Getenv: c.Getenv, Timeout: cfg.GitTimeout})
	if err != nil {
		return action.External(fmt.Errorf("clone %q: %w", url, err))
	}
	if cfg.Mode == "pull-request" && prBranch(cfg) == repo.Branch {
		return action.Usage("pr-branch", "%q is the base branch (the remote's default): the pull request needs a branch of its own", repo.Branch)
	}
	c.SetOutput("pull-request-operation", "none")
	if cfg.PromoteFrom != "" {
		if cfg.Tag, cfg.Digest, err = readPromoted(ctx, c, repo, cfg); err != nil {
			return err
		}
		cfg.Images = []Target{{Image: cfg.Image, Tag: cfg.Tag, Digest: cfg.Digest}}
		if editors, err = newEditors(cfg); err != nil {
			return err
		}
	}
	verified, err := verifyImages(ctx, c, policy, cfg.Images)
	if err != nil {
		return err
	}
	cache := edits{}
	for attempt := 1; ; attempt++ {
		ed, err := applyEdit(ctx, c, repo, cfg, editors, cache)
		if err != nil {
			return err
		}
		c.SetReportData("changes", ed.changes)
		c.SetReportData("skipped", ed.skips)
		c.SetReportData("images", imageReports(cfg, ed))
		if missing := missingImages(cfg, ed); missing != "" {
			// Checked for every image before any commit: several images
			// land together or not at all.
			if !cfg.AllowMissing {
				return action.Blocking(fmt.Errorf("%s not found under paths %q (set allow-missing to accept%s)", missing, strings.Join(cfg.Paths, ","), kustomizeAddHint(cfg)))
			}
			c.Warnf("%s not found under paths %q", missing, strings.Join(cfg.Paths, ","))
		}
		if err := setChangeOutputs(c, cfg, ed); err != nil {
			return err
		}
		if len(ed.changes) == 0 {
			c.Logf("nothing to change: %s already at the wanted tag and digest", imageNames(cfg))
			return nil
		}
		for _, ch := range ed.changes {
			c.Logf("%s:%d: %s → %s", ch.File, ch.Line, ch.Old, ch.New)
		}
		msg := newMessage(c, cfg, ed)
		msg.Verification = verificationText(verified)
		if cfg.DryRun {
			c.Logf("dry run: not committing")
			return nil
		}
		text, err := render(cfg.commitTmpl, msg)
		if err != nil {
			return action.UsageErr("commit-message", err)
		}
		if cfg.Mode == "pull-request" {
			if text, err = repo.WithTrailer(ctx, text, branchTrailer, prBranch(cfg)); err != nil {
				return action.External(fmt.Errorf("commit message: %w", err))
			}
		}
		sha, err := repo.Commit(ctx, ed.staged, ed.blobs, text, cfg.AuthorName, cfg.AuthorEmail)
		if err != nil {
			return action.External(fmt.Errorf("commit: %w", err))
		}
		if cfg.Mode == "pull-request" {
			return openPullRequest(ctx, c, cfg, gh, repo, msg, sha)
		}
		sha, err = pushCommit(ctx, cfg, gh, repo, sha, ed.files)
		if err == nil {
			c.SetOutput("commit-sha", sha)
			c.SetReportData("attempts", attempt)
			c.Logf("pushed %s to %s", sha, repo.Branch)
			return nil
		}
		if errors.Is(err, gitrepo.ErrAuth) {
			return action.External(fmt.Errorf("push to %q: %w", url, err))
		}
		if errors.Is(err, gitrepo.ErrRefused) {
			return action.External(fmt.Errorf("push to %q branch %q: %w (if the branch is protected, set mode: pull-request)", url, repo.Branch, err))
		}
		var exit *action.ExitError
		if errors.As(err, &exit) {
			return err // not a moved branch: another try cannot help
		}
		if attempt >= cfg.MaxAttempts {
			return action.External(fmt.Errorf("push to %q branch %q failed after %d attempts: %w", url, repo.Branch, attempt, err))
		}
		c.Logf("push attempt %d: %v; retrying on the new tip", attempt, err)
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
		// Re-apply the edit on the new tip rather than rebase the old diff:
		// the other pipeline may have changed the same lines.
		if err := repo.Reset(ctx, repo.Branch); err != nil {
			return action.External(fmt.Errorf("fetch %q branch %q: %w", url, repo.Branch, err))
		}
	}
}

// edits keeps each file's edit across push attempts, by path and blob:
// after the remote moved, only the files whose content changed are read,
// edited and written again, and the new tip gets the same edit as the old
// wherever a file is the same.
type edits map[string]*fileEdited

type fileEdited struct {
	res     []*Result // by image; nil where the file does not hold it
	out     []byte    // the content after every image's edit
	changed bool
	blob    string // the edited content's blob once written, "" before
}

func editKey(f gitrepo.File) string { return f.Path + "\x00" + f.Blob() }

// applyEdit edits every YAML file under paths in HEAD's tree and, only
// when every edit succeeded, writes the results as blobs for Commit.
func applyEdit(ctx context.Context, c *action.Context, repo *gitrepo.Repo, cfg Config, editors []*Editor, cache edits) (*edit, error) {
	files, err := selectTree(ctx, c, repo, "paths", cfg.Paths)
	if err != nil {
		return nil, err
	}
	var todo []gitrepo.File
	for _, f := range files {
		if cache[editKey(f)] == nil {
			todo = append(todo, f)
		}
	}
	contents, err := readFiles(ctx, repo, todo)
	if err != nil {
		return nil, err
	}
	done := editFiles(editors, todo, contents)
	ed := &edit{images: make([]imageEdit, len(editors))}
	var stage []gitrepo.File
	var unwritten []*fileEdited
	var bad []error
	next := 0
	for _, f := range files {
		fe := cache[editKey(f)]
		if fe == nil {
			r := done[next]
			next++
			if fe, err = r.fe, r.err; err != nil {
				if r.finding != nil {
					c.AddFindings(*r.finding)
				}
				var ferr *FileError
				if !errors.As(err, &ferr) {
					return nil, err
				}
				bad = append(bad, err)
				continue
			}
			cache[editKey(f)] = fe
		}
		for i, res := range fe.res {
			if res == nil {
				continue
			}
			im := &ed.images[i]
			im.found += res.Found
			im.changes = append(im.changes, res.Changes...)
			if len(res.Changes) > 0 {
				im.files = append(im.files, f.Path)
			}
			ed.changes = append(ed.changes, res.Changes...)
			ed.skips = append(ed.skips, res.Skips...)
		}
		if fe.changed {
			ed.files = append(ed.files, f.Path)
			stage = append(stage, f)
			if fe.blob == "" {
				unwritten = append(unwritten, fe)
			}
		}
	}
	for _, s := range ed.skips {
		c.Warnf("%s:%d: skipped: %s", s.File, s.Line, s.Reason)
	}
	if len(bad) > 0 {
		return nil, action.Blocking(fmt.Errorf("cannot edit %d file(s), nothing was pushed: %w", len(bad), errors.Join(bad...)))
	}
	if cfg.DryRun || len(stage) == 0 {
		return ed, nil
	}
	outs := make([][]byte, len(unwritten))
	for i, fe := range unwritten {
		outs[i] = fe.out
	}
	ids, err := repo.WriteBlobs(ctx, outs)
	if err != nil {
		return nil, action.External(fmt.Errorf("write %d edited file(s): %w", len(outs), err))
	}
	for i, fe := range unwritten {
		fe.blob = ids[i]
	}
	ed.staged = stage
	ed.blobs = make([]string, len(stage))
	for i, f := range stage {
		ed.blobs[i] = cache[editKey(f)].blob
	}
	return ed, nil
}

// fileResult is one file's edit, or why it failed (with the finding to
// report for it).
type fileResult struct {
	fe      *fileEdited
	finding *report.Finding
	err     error
}

// editFiles edits files on every CPU: parsing and checking each result
// is most of a wide change's time (5,000 files: 0.6 s on one core), and
// editors keep no state between files. Results come back in files' order.
func editFiles(editors []*Editor, files []gitrepo.File, contents [][]byte) []fileResult {
	done := make([]fileResult, len(files))
	workers := min(runtime.GOMAXPROCS(0), len(files))
	if workers <= 1 {
		for i, f := range files {
			done[i].fe, done[i].finding, done[i].err = editFile(editors, f, contents[i])
		}
		return done
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				done[i].fe, done[i].finding, done[i].err = editFile(editors, files[i], contents[i])
			}
		})
	}
	wg.Wait()
	return done
}

// editFile edits one file with each image's editor in turn, each on the
// previous one's output; a syntax error in a Helm template is no error
// (the file is not YAML), any other comes with its finding.
func editFile(editors []*Editor, f gitrepo.File, src []byte) (*fileEdited, *report.Finding, error) {
	out := &fileEdited{res: make([]*Result, len(editors)), out: src}
	for i, e := range editors {
		if !e.Candidate(out.out) {
			continue
		}
		res, err := e.Edit(f.Path, out.out)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				return nil, nil, err
			}
			var se *yamledit.SyntaxError
			if errors.As(err, &se) && strings.Contains(string(src), "{{") {
				return &fileEdited{res: make([]*Result, len(editors))}, nil, nil // a Helm template, not YAML
			}
			return nil, &report.Finding{Source: report.SourceSyntax, Severity: report.Error, File: fe.File, Line: fe.Line, Message: fe.Err.Error()}, err
		}
		out.res[i] = res
		if len(res.Changes) > 0 {
			out.out, out.changed = res.Out, true
		}
	}
	return out, nil, nil
}

// readTree reads the YAML files that paths (the value of input) select in
// HEAD's tree.
func readTree(ctx context.Context, c *action.Context, repo *gitrepo.Repo, input string, paths []string) ([]gitrepo.File, [][]byte, error) {
	files, err := selectTree(ctx, c, repo, input, paths)
	if err != nil {
		return nil, nil, err
	}
	contents, err := readFiles(ctx, repo, files)
	return files, contents, err
}

func readFiles(ctx context.Context, repo *gitrepo.Repo, files []gitrepo.File) ([][]byte, error) {
	if len(files) == 0 {
		return nil, nil
	}
	contents, err := repo.Read(ctx, files)
	if err != nil {
		return nil, action.External(fmt.Errorf("read files: %w", err))
	}
	return contents, nil
}

// selectTree lists the YAML files that paths (the value of input) select
// in HEAD's tree.
func selectTree(ctx context.Context, c *action.Context, repo *gitrepo.Repo, input string, paths []string) ([]gitrepo.File, error) {
	tree, err := repo.Files(ctx)
	if err != nil {
		return nil, action.External(fmt.Errorf("list files: %w", err))
	}
	byPath := map[string]gitrepo.File{}
	all := make([]string, 0, len(tree))
	var links []gitrepo.File
	for _, f := range tree {
		if f.IsLink() {
			links = append(links, f)
			continue
		}
		byPath[f.Path] = f
		all = append(all, f.Path)
	}
	if len(links) > 0 {
		if err := checkLinks(ctx, c, repo, input, paths, links); err != nil {
			return nil, err
		}
	}
	slices.Sort(all)
	names, err := selectFiles(all, paths)
	if err != nil {
		return nil, action.UsageErr(input, err)
	}
	files := make([]gitrepo.File, len(names))
	for i, n := range names {
		files[i] = byPath[n]
	}
	return files, nil
}

// checkLinks refuses the symbolic links paths would read through that
// resolve outside the repo: the repo is untrusted, and a link out of it
// would have the action read or write a file of the runner. The clone has
// no work tree, so nothing is ever read through a link; this makes such a
// repo an error instead of a silent skip. Links that stay inside are left
// alone: their targets are edited where paths select them.
func checkLinks(ctx context.Context, c *action.Context, repo *gitrepo.Repo, input string, paths []string, links []gitrepo.File) error {
	names := make([]string, len(links))
	for i, l := range links {
		names[i] = l.Path
	}
	selected := selectedLinks(names, paths)
	if len(selected) == 0 {
		return nil
	}
	targets, err := repo.Read(ctx, links)
	if err != nil {
		return action.External(fmt.Errorf("read symbolic links: %w", err))
	}
	byPath := make(map[string]string, len(links))
	for i, l := range links {
		byPath[l.Path] = string(targets[i])
	}
	var out []string
	for _, l := range selected {
		if leavesRepo(l, byPath) {
			out = append(out, l)
			c.AddFindings(report.Finding{Source: report.SourceSyntax, Rule: "GA-PATH-OUTSIDE", Severity: report.Error, File: l,
				Message: "symbolic link that resolves outside the repository; it is not read or written"})
		}
	}
	if len(out) == 0 {
		return nil
	}
	what := fmt.Sprintf("%q is a symbolic link", out[0])
	if len(out) > 1 {
		what = fmt.Sprintf("%q and %d more are symbolic links", out[0], len(out)-1)
	}
	return action.Usage(input, "%s resolving outside the repository: not read or written, nothing was pushed", what)
}

// readPromoted finds the image under promote-from with the editor's own
// strategies (an editor with nothing to set only reads) and returns the
// one tag and digest it holds there.
func readPromoted(ctx context.Context, c *action.Context, repo *gitrepo.Repo, cfg Config) (tag, digest string, err error) {
	files, contents, err := readTree(ctx, c, repo, "promote-from", []string{cfg.PromoteFrom})
	if err != nil {
		return "", "", err
	}
	reader, err := NewEditor(Editor{Image: cfg.Image, Strategy: cfg.Strategy, HelmKeys: cfg.HelmKeys})
	if err != nil {
		return "", "", action.UsageErr("image", err)
	}
	var refs []Ref
	for i, f := range files {
		if !reader.Candidate(contents[i]) {
			continue
		}
		res, err := reader.Edit(f.Path, contents[i])
		if err != nil {
			var se *yamledit.SyntaxError
			if errors.As(err, &se) && strings.Contains(string(contents[i]), "{{") {
				continue // a Helm template, not YAML
			}
			return "", "", action.Blocking(fmt.Errorf("read promote-from %q: %w", cfg.PromoteFrom, err))
		}
		refs = append(refs, res.Refs...)
	}
	if len(refs) == 0 {
		return "", "", action.Blocking(fmt.Errorf("image %q not found under promote-from %q", cfg.Image, cfg.PromoteFrom))
	}
	if tag, err = onlyValue(cfg, refs, "tag", func(r Ref) string { return r.Tag }, checkTag); err != nil {
		return "", "", err
	}
	if digest, err = onlyValue(cfg, refs, "digest", func(r Ref) string { return r.Digest }, checkDigest); err != nil {
		return "", "", err
	}
	if tag == "" && digest == "" {
		return "", "", action.Blocking(fmt.Errorf("image %q under promote-from %q has neither a tag nor a digest (%s:%d)", cfg.Image, cfg.PromoteFrom, refs[0].File, refs[0].Line))
	}
	c.SetReportData("promoted", map[string]any{"from": cfg.PromoteFrom, "tag": tag, "digest": digest, "refs": refs})
	c.Logf("promoting %s from %s: tag %q digest %q", cfg.Image, cfg.PromoteFrom, tag, digest)
	return tag, digest, nil
}

// onlyValue returns the one non-empty value of field the refs hold, "" for
// none; two different ones are ambiguous, an invalid one is refused.
func onlyValue(cfg Config, refs []Ref, field string, get func(Ref) string, check func(string) error) (string, error) {
	var value string
	var at Ref
	for _, r := range refs {
		v := get(r)
		switch {
		case v == "":
			continue
		case value != "" && v != value:
			return "", action.Blocking(fmt.Errorf("promote-from %q holds image %q with two %ss: %q at %s:%d and %q at %s:%d",
				cfg.PromoteFrom, cfg.Image, field, value, at.File, at.Line, v, r.File, r.Line))
		}
		if err := check(v); err != nil {
			return "", action.Blocking(fmt.Errorf("promote-from %q: %s:%d: %w", cfg.PromoteFrom, r.File, r.Line, err))
		}
		value, at = v, r
	}
	return value, nil
}

// imageOutcome is one image's line of the images output.
type imageOutcome struct {
	Image   string   `json:"image"`
	Tag     string   `json:"tag,omitempty"`
	Digest  string   `json:"digest,omitempty"`
	Changed bool     `json:"changed"`
	Files   []string `json:"files"`
}

// imageReport is one image's entry in the report: the outcome and how.
type imageReport struct {
	imageOutcome
	Found   int      `json:"found"`
	Changes []Change `json:"changes"`
}

func imageReports(cfg Config, ed *edit) []imageReport {
	out := make([]imageReport, len(cfg.Images))
	for i, t := range cfg.Images {
		im := ed.images[i]
		out[i] = imageReport{imageOutcome{t.Image, t.Tag, t.Digest, len(im.changes) > 0, cmpOrNil(im.files)}, im.found, cmpOrNil(im.changes)}
	}
	return out
}

// cmpOrNil makes a nil slice empty, for [] rather than null in JSON.
func cmpOrNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// missingImages names the images found nowhere, "" when every one was.
func missingImages(cfg Config, ed *edit) string {
	var missing []string
	for i, t := range cfg.Images {
		if ed.images[i].found == 0 {
			missing = append(missing, fmt.Sprintf("%q", t.Image))
		}
	}
	switch len(missing) {
	case 0:
		return ""
	case 1:
		return "image " + missing[0]
	}
	return "images " + strings.Join(missing, ", ")
}

func imageNames(cfg Config) string {
	names := make([]string, len(cfg.Images))
	for i, t := range cfg.Images {
		names[i] = t.Image
	}
	return strings.Join(names, ", ")
}

// setChangeOutputs sets changed and files for the whole run, images per
// image, and old-tag and new-tag only for one image: with several there
// is no one tag.
func setChangeOutputs(c *action.Context, cfg Config, ed *edit) error {
	c.SetOutput("changed", fmt.Sprint(len(ed.changes) > 0))
	c.SetOutput("files", strings.Join(ed.files, ","))
	outcomes := make([]imageOutcome, len(cfg.Images))
	for i, r := range imageReports(cfg, ed) {
		outcomes[i] = r.imageOutcome
	}
	js, err := json.Marshal(outcomes)
	if err != nil {
		return err
	}
	c.SetOutput("images", string(js))
	old, nw := "", ""
	if len(cfg.Images) == 1 {
		for _, ch := range ed.changes {
			old, nw = cmpOr(old, ch.OldTag), cmpOr(nw, ch.NewTag)
		}
	}
	c.SetOutput("old-tag", old)
	c.SetOutput("new-tag", nw)
	return nil
}

func newMessage(c *action.Context, cfg Config, ed *edit) message {
	m := message{Image: imageNames(cfg), Files: ed.files, Changes: ed.changes,
		SourceRepository: c.Getenv("GITHUB_REPOSITORY"), SourceSHA: c.Getenv("GITHUB_SHA")}
	for i, t := range cfg.Images {
		im := imageMessage{Image: t.Image, NewTag: t.Tag, NewDigest: t.Digest, Files: ed.images[i].files, Changes: ed.images[i].changes}
		for _, ch := range im.Changes {
			im.OldTag = cmpOr(im.OldTag, ch.OldTag)
			im.OldDigest = cmpOr(im.OldDigest, ch.OldDigest)
		}
		m.Images = append(m.Images, im)
	}
	// The top-level tag and digest fields hold what every image shares:
	// one image's own, or the one version a monorepo released together.
	first := m.Images[0]
	m.OldTag, m.NewTag, m.OldDigest, m.NewDigest = first.OldTag, first.NewTag, first.OldDigest, first.NewDigest
	for _, im := range m.Images[1:] {
		m.OldTag = sameOr(m.OldTag, im.OldTag)
		m.NewTag = sameOr(m.NewTag, im.NewTag)
		m.OldDigest = sameOr(m.OldDigest, im.OldDigest)
		m.NewDigest = sameOr(m.NewDigest, im.NewDigest)
	}
	if m.SourceRepository != "" && m.SourceSHA != "" {
		server := cmpOr(c.Getenv("GITHUB_SERVER_URL"), "https://github.com")
		m.SourceURL = strings.TrimRight(server, "/") + "/" + m.SourceRepository + "/commit/" + m.SourceSHA
	}
	return m
}

func sameOr(a, b string) string {
	if a == b {
		return a
	}
	return ""
}
