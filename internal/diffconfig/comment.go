package diffconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	gogithub "github.com/google/go-github/v60/github"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/gitrepo"
	"github.com/gitops-actions/gitops-actions/internal/report"
	"github.com/gitops-actions/gitops-actions/internal/transport"
	"github.com/gitops-actions/gitops-actions/internal/version"
)

// publish writes the outputs, the summary, stdout and the comment.
func publish(ctx context.Context, c *action.Context, cfg Config, ev event, res *result) error {
	setOutputs(c, res)
	c.AddFindings(res.Findings...)
	c.SetReportData("base", res.Base)
	c.SetReportData("head", res.Head)
	c.SetReportData("units", res.Units)
	head, sections := markdownDoc(res)
	// The step summary takes 1 MiB.
	c.AddSummary(fit(head, sections, 1<<20-4096, "the report-file"))
	switch cfg.OutputFormat {
	case "markdown":
		fmt.Fprint(c.Stdout, head+strings.Join(sections, ""))
	case "text":
		fmt.Fprint(c.Stdout, textDoc(res))
	case "json":
		r := &report.Report{Action: "diff-config", Version: version.String(), Status: report.StatusPassed, Outputs: c.Outputs(), Findings: res.Findings,
			Extra: map[string]any{"base": res.Base, "head": res.Head, "units": res.Units}}
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s\n", b)
	}
	c.Logf("diff-config: %d unit(s) rendered, %d changed", res.Rendered, len(res.Units))
	if cfg.Comment {
		body := fit(head, sections, commentLimit-512, "the job's step summary and the report-file")
		if err := postComment(ctx, c, cfg, ev, body); err != nil {
			return err
		}
	}
	return nil
}

// maxCommentPages bounds the listing of a pull request's comments.
const maxCommentPages = 30

// postComment creates the pull request's diff-config comment, or edits
// the one this action made before (found by its marker): never a second.
func postComment(ctx context.Context, c *action.Context, cfg Config, ev event, body string) error {
	repository := cfg.Repository
	if repository == "" {
		repository = c.Getenv("GITHUB_REPOSITORY")
	}
	owner, name, err := gitrepo.OwnerName(repository)
	if err != nil {
		return action.UsageErr("repository", fmt.Errorf("comment needs the GitHub repository: %w", err))
	}
	number := cfg.PullRequest
	if number == 0 {
		number = ev.number
	}
	if number == 0 {
		return action.Usage("pull-request", "comment needs a pull request: run on pull_request or set pull-request")
	}
	base, err := url.Parse(strings.TrimRight(cfg.GitHubAPIURL, "/") + "/")
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") {
		return action.Usage("github-api-url", "%q is not an http(s) URL", cfg.GitHubAPIURL)
	}
	client := gogithub.NewClient(transport.For(ctx).WithLogf(c.Logf).Client()).WithAuthToken(cfg.Token)
	client.BaseURL = base

	var found *gogithub.IssueComment
	opts := &gogithub.IssueListCommentsOptions{ListOptions: gogithub.ListOptions{PerPage: 100}}
	for page := 0; page < maxCommentPages && found == nil; page++ {
		list, resp, err := client.Issues.ListComments(ctx, owner, name, number, opts)
		if err != nil {
			return apiErr("listing the pull request's comments", err)
		}
		for _, cm := range list {
			if strings.HasPrefix(cm.GetBody(), marker) {
				found = cm
				break
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if found != nil {
		cm, _, err := client.Issues.EditComment(ctx, owner, name, found.GetID(), &gogithub.IssueComment{Body: &body})
		if err != nil {
			return apiErr("updating the diff-config comment", err)
		}
		c.Logf("diff-config: updated comment %s", cm.GetHTMLURL())
		return nil
	}
	cm, _, err := client.Issues.CreateComment(ctx, owner, name, number, &gogithub.IssueComment{Body: &body})
	if err != nil {
		return apiErr("creating the diff-config comment", err)
	}
	c.Logf("diff-config: created comment %s", cm.GetHTMLURL())
	return nil
}

func apiErr(what string, err error) error {
	var ge *gogithub.ErrorResponse
	if errors.As(err, &ge) && ge.Response != nil && (ge.Response.StatusCode == 401 || ge.Response.StatusCode == 403) {
		return action.External(fmt.Errorf("%s: %w (the token needs pull-requests: write)", what, err))
	}
	return action.External(fmt.Errorf("%s: %w", what, err))
}
