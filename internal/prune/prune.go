package prune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/google"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// Main runs the prune-images action and returns its exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	env := action.Env{Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	return action.Run(ctx, "prune-images", env, ParseConfig, run)
}

// target is one repository with the provider that prunes it.
type target struct {
	ref  name.Repository
	kind string
}

// providerFor picks the provider from the registry host.
func providerFor(host string) string {
	switch {
	case host == "ghcr.io":
		return "ghcr"
	case host == "gcr.io" || strings.HasSuffix(host, ".gcr.io") || strings.HasSuffix(host, "-docker.pkg.dev"):
		return "google"
	case host == "quay.io":
		return "quay"
	}
	return "registry"
}

// targets checks every repository and credential before any request, so
// bad input stops the run with nothing done.
func targets(cfg Config) ([]target, error) {
	if (cfg.RegistryUsername == "") != (cfg.RegistryPassword == "") {
		missing := "registry-password"
		if cfg.RegistryUsername == "" {
			missing = "registry-username"
		}
		return nil, action.Usage(missing, "registry-username and registry-password go together; %s is missing", missing)
	}
	var out []target
	for _, r := range cfg.Repositories {
		ref, err := name.NewRepository(r, name.StrictValidation)
		if err != nil {
			return nil, action.UsageErr("repository", fmt.Errorf("%q is not an image repository: %w", r, err))
		}
		kind := cfg.Provider
		if kind == "auto" || kind == "" {
			kind = providerFor(ref.RegistryStr())
		}
		switch kind {
		case "ghcr":
			if cfg.Token == "" {
				return nil, action.Usage("token", "the ghcr provider (for %q) needs a GitHub token with read:packages and delete:packages", r)
			}
			if !strings.Contains(ref.RepositoryStr(), "/") {
				return nil, action.Usage("repository", "%q: a ghcr repository is HOST/OWNER/PACKAGE", r)
			}
		case "quay":
			if cfg.Token == "" {
				return nil, action.Usage("token", "the quay provider (for %q) needs a Quay OAuth token with repo:admin scope", r)
			}
			if !strings.Contains(ref.RepositoryStr(), "/") {
				return nil, action.Usage("repository", "%q: a quay repository is HOST/NAMESPACE/REPOSITORY", r)
			}
		}
		out = append(out, target{ref: ref, kind: kind})
	}
	return out, nil
}

// outcome is one repository's plan and what came of it.
type outcome struct {
	target
	plan    *Plan
	errs    []error // errs[i] for plan.Steps[i]; nil in a dry run
	listErr error
}

func run(ctx context.Context, c *action.Context, cfg Config) error {
	ts, err := targets(cfg)
	if err != nil {
		return err
	}
	rt := transport.For(ctx).WithLogf(c.Logf)
	rules := Rules{Untagged: cfg.Untagged, TagFilter: cfg.TagFilter, ExcludeTags: cfg.ExcludeTags, Keep: cfg.Keep, OlderThan: cfg.OlderThan, Now: time.Now()}
	var ages *ageCache
	if cfg.AgeCache != "" {
		var err error
		if ages, err = loadAgeCache(cfg.AgeCache); err != nil {
			c.Warnf("%v", err)
		}
	}
	deployed, err := readDeployed(ctx, c, cfg, ts)
	if err != nil {
		return err
	}
	var outs []outcome
	for _, t := range ts {
		o := outcome{target: t}
		r := rules
		r.Deployed = deployed[t.ref.String()]
		o.plan, o.errs, o.listErr = prune(ctx, c, cfg, r, t, rt, ages)
		outs = append(outs, o)
	}
	if err := ages.save(deletedDigests(outs)); err != nil {
		c.Warnf("the next run reads every age again: %v", err)
	}
	return finish(c, cfg, outs)
}

// deletedDigests are the manifests the run deleted.
func deletedDigests(outs []outcome) []string {
	var ds []string
	for _, o := range outs {
		if o.plan == nil || o.errs == nil {
			continue
		}
		for i, s := range o.plan.Steps {
			if s.Manifest && o.errs[i] == nil {
				ds = append(ds, s.Version.Digest)
			}
		}
	}
	return ds
}

// prune plans one repository and, unless dry-run, carries the plan out.
func prune(ctx context.Context, c *action.Context, cfg Config, rules Rules, t target, rt *transport.Transport, ages *ageCache) (*Plan, []error, error) {
	p, g, err := open(ctx, cfg, rules, t, rt, ages)
	if err != nil {
		return nil, nil, err
	}
	versions, err := p.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	plan, err := MakePlan(ctx, t.ref.String(), p, versions, rules, g, readConcurrency(cfg))
	if err != nil {
		return nil, nil, err
	}
	printPlan(c, t, plan, cfg.DryRun)
	if cfg.DryRun {
		return plan, nil, nil
	}
	afterPlan(t.ref.String())
	return plan, execute(ctx, p, g, plan, cfg.Concurrency, readConcurrency(cfg)), nil
}

// afterPlan runs between planning and the deletes; tests change the
// repository there, as a push during a run would.
var afterPlan = func(repo string) {}

// readConcurrency bounds the manifest reads of listing and planning.
// concurrency is about deletes, which registries pay for dearly; reads are
// cheap, and a run's planning time is its overhead over the deletes.
func readConcurrency(cfg Config) int { return max(4*cfg.Concurrency, 16) }

// open makes the provider and the registry reader for one repository.
func open(ctx context.Context, cfg Config, rules Rules, t target, rt *transport.Transport, ages *ageCache) (Provider, Graph, error) {
	auth, err := registryAuth(cfg, t)
	if err != nil {
		return nil, nil, err
	}
	rc, err := newRegistryClient(ctx, t.ref, auth, rt, readConcurrency(cfg))
	if err != nil {
		return nil, nil, err
	}
	rc.ages = ages
	switch t.kind {
	case "ghcr":
		p, err := newGHCR(cfg.GitHubAPIURL, cfg.Token, t.ref.RepositoryStr(), rt)
		return p, rc, err
	case "google":
		return &googleProvider{c: rc}, rc, nil
	case "quay":
		p, err := newQuay(cfg.QuayAPIURL, cfg.Token, t.ref.RepositoryStr(), rt)
		return p, rc, err
	}
	wantAge := func(tag string) bool {
		return (rules.Keep > 0 || rules.OlderThan > 0) && rules.Candidate(tag)
	}
	return &registryProvider{c: rc, concurrency: readConcurrency(cfg), wantAge: wantAge}, rc, nil
}

// registryAuth: the given user and password, a GitHub token for ghcr, else
// the Docker config keychain (and Google's for the google provider).
func registryAuth(cfg Config, t target) (authn.Authenticator, error) {
	if cfg.RegistryUsername != "" {
		return authn.FromConfig(authn.AuthConfig{Username: cfg.RegistryUsername, Password: cfg.RegistryPassword}), nil
	}
	if t.kind == "ghcr" && cfg.Token != "" {
		return authn.FromConfig(authn.AuthConfig{Username: "token", Password: cfg.Token}), nil
	}
	var kc authn.Keychain = authn.DefaultKeychain
	if t.kind == "google" {
		// gcloud's credentials or the workload identity of the runner.
		kc = authn.NewMultiKeychain(authn.DefaultKeychain, google.Keychain)
	}
	a, err := kc.Resolve(t.ref)
	if err != nil {
		return nil, fmt.Errorf("reading Docker credentials for %q: %w", t.ref, err)
	}
	return a, nil
}

func stepDecision(repo string, s Step) Decision {
	d := decision(repo, s.Version, "")
	d.RemovedTags = s.Tags
	d.ManifestDeleted = s.Manifest
	if s.Manifest {
		d.Reason = "not reachable from any kept tag"
	} else {
		d.Reason = "tags removed; the manifest stays for its other tags"
	}
	return d
}

func printPlan(c *action.Context, t target, plan *Plan, dry bool) {
	w := c.Stdout
	mode := ""
	if dry {
		mode = " (dry run: nothing is deleted)"
	}
	fmt.Fprintf(w, "%s [%s]: %d candidates, %d to delete, %d kept, %d protected%s\n",
		t.ref, t.kind, plan.Candidates, len(plan.Steps), len(plan.Kept), len(plan.Protected), mode)
	for _, s := range plan.Steps {
		what := "delete "
		if !s.Manifest {
			what = "untag  "
		}
		fmt.Fprintf(w, "  %s %s@%s tags=%s created=%s\n", what, t.ref, s.Version.Digest, strings.Join(s.Tags, ","), when(s.Version.Created))
	}
	for _, d := range plan.Protected {
		by := fmt.Sprintf("tag %q", d.ProtectedBy)
		if len(d.DeployedBy) > 0 {
			by = "deployed: " + d.ProtectedBy
		}
		fmt.Fprintf(w, "  protect %s@%s tags=%s by %s: %s\n", t.ref, d.Digest, strings.Join(d.Tags, ","), by, d.Reason)
	}
	for _, d := range plan.Kept {
		fmt.Fprintf(w, "  keep    %s@%s tags=%s: %s\n", t.ref, d.Digest, strings.Join(d.Tags, ","), d.Reason)
	}
}

func when(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

func finish(c *action.Context, cfg Config, outs []outcome) error {
	var planned, deleted, failed, kept, protected, retagged []Decision
	candidates := 0
	var errs []error
	for _, o := range outs {
		repo := o.ref.String()
		if o.listErr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", repo, o.listErr))
			failed = append(failed, Decision{Repository: repo, Reason: "planning failed; nothing deleted", Error: c.Redact(o.listErr.Error())})
			continue
		}
		candidates += o.plan.Candidates
		kept = append(kept, o.plan.Kept...)
		protected = append(protected, o.plan.Protected...)
		for i, s := range o.plan.Steps {
			d := stepDecision(repo, s)
			planned = append(planned, d)
			if o.errs == nil {
				continue
			}
			var moved *movedError
			if errors.As(o.errs[i], &moved) {
				d.RemovedTags, d.ManifestDeleted = nil, false
				d.ProtectedBy = moved.Tag
				d.Reason = fmt.Sprintf("not deleted: tag %q was pushed or moved onto it (or onto what reaches it) during the run", moved.Tag)
				retagged = append(retagged, d)
				continue
			}
			if err := o.errs[i]; err != nil {
				d.Error = c.Redact(err.Error())
				failed = append(failed, d)
				errs = append(errs, err)
				continue
			}
			deleted = append(deleted, d)
		}
	}
	dj, _ := json.Marshal(append([]string{}, deletedDigests(outs)...))
	c.SetOutput("deleted", fmt.Sprint(len(deleted)))
	c.SetOutput("kept", fmt.Sprint(len(kept)))
	c.SetOutput("candidates", fmt.Sprint(candidates))
	c.SetOutput("protected", fmt.Sprint(len(protected)))
	c.SetOutput("protected-deployed", fmt.Sprint(countDeployed(protected)))
	c.SetOutput("deleted-digests", string(dj))
	c.SetOutput("skipped-retagged", fmt.Sprint(len(retagged)))
	c.SetReportData("dryRun", cfg.DryRun)
	c.SetReportData("planned", nonNil(planned))
	c.SetReportData("deleted", nonNil(deleted))
	c.SetReportData("kept", nonNil(kept))
	c.SetReportData("protected", nonNil(protected))
	c.SetReportData("failed", nonNil(failed))
	c.SetReportData("skippedRetagged", nonNil(retagged))
	c.AddSummary(summary(cfg.DryRun, planned, deleted, failed, kept, protected, retagged))
	for _, d := range retagged {
		c.Warnf("%s@%s %s", d.Repository, d.Digest, d.Reason)
	}
	for _, f := range failed {
		c.Logf("failed: %s %s: %s", f.Repository, f.Digest, f.Error)
	}
	if len(errs) > 0 {
		return action.External(fmt.Errorf("%d of the planned deletes or listings failed: %w", len(errs), errors.Join(errs...)))
	}
	return nil
}

// countDeployed counts the decisions a config repo's reference made.
func countDeployed(ds []Decision) int {
	n := 0
	for _, d := range ds {
		if len(d.DeployedBy) > 0 {
			n++
		}
	}
	return n
}

func nonNil(d []Decision) []Decision {
	if d == nil {
		return []Decision{}
	}
	return d
}

func summary(dry bool, planned, deleted, failed, kept, protected, retagged []Decision) string {
	var b strings.Builder
	b.WriteString("### prune-images\n\n")
	if dry {
		fmt.Fprintf(&b, "Dry run: %d would be deleted, %d kept, %d protected.\n\n", len(planned), len(kept), len(protected))
	} else {
		fmt.Fprintf(&b, "%d deleted, %d failed, %d kept, %d protected, %d skipped (retagged during the run).\n\n", len(deleted), len(failed), len(kept), len(protected), len(retagged))
	}
	b.WriteString("| action | repository | digest | tags | why |\n|---|---|---|---|---|\n")
	row := func(act string, d Decision) {
		why := d.Reason
		if d.ProtectedBy != "" {
			why = fmt.Sprintf("protected by `%s`: %s", d.ProtectedBy, d.Reason)
		}
		if d.Error != "" {
			why = d.Error
		}
		fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %s |\n", act, d.Repository, short(d.Digest), strings.Join(d.Tags, ", "), strings.ReplaceAll(why, "|", "\\|"))
	}
	if dry {
		for _, d := range planned {
			row("would delete", d)
		}
	} else {
		for _, d := range deleted {
			row("deleted", d)
		}
		for _, d := range failed {
			row("failed", d)
		}
		for _, d := range retagged {
			row("skipped", d)
		}
	}
	for _, d := range protected {
		row("protected", d)
	}
	for _, d := range kept {
		row("kept", d)
	}
	return b.String()
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
