package prune

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// overlay is a kustomize overlay that deploys repo by digest.
func overlay(repo, digest string) string {
	return `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  - name: app
    newName: ` + repo + `
    digest: ` + digest + `
`
}

const baseDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  template:
    spec:
      containers:
        - name: app
          image: app
`

// The acceptance case of keep-deployed on Debian's docker-registry (no tag
// delete: a DELETE by digest takes every tag) and a real git remote: an
// old pr- tag, deployed by digest in an overlay, survives and pulls whole;
// once a new commit drops the reference, the next run deletes it.
func TestKeepDeployedProtectsWhatAnOverlayDeploys(t *testing.T) {
	reg := testenv.StartDebianRegistry(t, "pruner", "s3cret-pw")
	opts := reg.Options()
	repo := reg.Ref("team/app")
	old := time.Now().Add(-30 * 24 * time.Hour)
	deployed := push(t, repo+":pr-1", indexAt(t, old), opts...)
	gone := push(t, repo+":pr-2", imageAt(t, old), opts...)
	push(t, repo+":v1.0.0", imageAt(t, old), opts...)

	g := testenv.StartGitServer(t)
	g.NewRepo(t, "acme/config", map[string]string{
		"base/deployment.yaml":                baseDeployment,
		"base/kustomization.yaml":             "resources: [deployment.yaml]\n",
		"overlays/prod/kustomization.yaml":    overlay(repo, deployed),
		"overlays/staging/kustomization.yaml": overlay(repo, gone),
	})
	args := []string{"--repository", repo, "--registry-username", reg.Username, "--registry-password", reg.Password,
		"--tag-filter", "^pr-", "--older-than", "7d",
		"--keep-deployed", g.RepoURL("acme/config") + "@main:overlays/prod"}

	dry := runPrune(t, append(args, "--dry-run")...)
	if dry.code != 0 || !slices.Equal(digestsOf(dry.report.Planned), []string{gone}) {
		t.Fatalf("dry run exit %d planned %v; want exit 0 and only pr-2 %s", dry.code, digestsOf(dry.report.Planned), gone)
	}

	res := runPrune(t, args...)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if got := digestsOf(res.report.Deleted); !slices.Equal(got, []string{gone}) {
		t.Errorf("deleted %v, want only pr-2 %s (overlays/staging is outside the path)", got, gone)
	}
	var prot *Decision
	for i, d := range res.report.Protected {
		if d.Digest == deployed {
			prot = &res.report.Protected[i]
		}
	}
	if prot == nil || len(prot.DeployedBy) != 1 {
		t.Fatalf("pr-1 %s not protected by the config repo: %+v", deployed, res.report.Protected)
	}
	if u := prot.DeployedBy[0]; u.File != "overlays/prod/kustomization.yaml" || u.Line != 6 || u.Digest != deployed || u.Commit != g.Head(t, "acme/config", "main") {
		t.Errorf("protected by %+v, want overlays/prod/kustomization.yaml:6 at the branch head", u)
	}
	if refs := res.report.DeployedRefs; len(refs) != 1 || refs[0].Image != repo || refs[0].Digest != deployed {
		t.Errorf("deployedReferences %+v, want the overlay's one reference to %s@%s", refs, repo, deployed)
	}
	if res.report.Outputs["protected-deployed"] != "1" {
		t.Errorf("outputs %v, want protected-deployed=1", res.report.Outputs)
	}
	if !strings.Contains(res.summary, "protected by `"+g.RepoURL("acme/config")+"@main:overlays/prod overlays/prod/kustomization.yaml:6`") {
		t.Errorf("the summary does not say what deploys pr-1:\n%s", res.summary)
	}
	if tags := listTags(t, repo, opts...); !slices.Equal(tags, []string{"pr-1", "v1.0.0"}) {
		t.Errorf("tags left %v, want pr-1 and v1.0.0", tags)
	}
	pullsCompletely(t, repo+"@"+deployed, opts...)
	pullsCompletely(t, repo+":pr-1", opts...)

	// The overlay moves to v1.0.0 by tag: pr-1 is no longer deployed.
	work := g.Clone(t, "acme/config")
	if err := os.WriteFile(filepath.Join(work, "overlays/prod/kustomization.yaml"),
		[]byte(strings.Replace(overlay(repo, deployed), "digest: "+deployed, "newTag: v1.0.0", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	g.Git(t, work, "commit", "--quiet", "-am", "prod runs v1.0.0")
	g.Git(t, work, "push", "--quiet", "origin", "main")

	res = runPrune(t, args...)
	if res.code != 0 || !slices.Equal(digestsOf(res.report.Deleted), []string{deployed}) {
		t.Errorf("exit %d deleted %v; want pr-1 %s deleted once nothing deploys it", res.code, digestsOf(res.report.Deleted), deployed)
	}
	if tags := listTags(t, repo, opts...); !slices.Equal(tags, []string{"v1.0.0"}) {
		t.Errorf("tags left %v, want v1.0.0", tags)
	}
}

// A tag the config repo names keeps that tag and the digest it points at;
// owner/name resolves against the GitHub server, which alone gets the token.
func TestKeepDeployedByTagOwnerNameAndToken(t *testing.T) {
	reg := testenv.StartRegistry(t, "pruner", "s3cret-pw")
	opts := reg.Options()
	repo := reg.Ref("team/app")
	old := time.Now().Add(-30 * 24 * time.Hour)
	byTag := push(t, repo+":pr-7", imageAt(t, old), opts...)
	push(t, repo+":pr-8", imageAt(t, old), opts...)
	latest := push(t, repo+":latest", imageAt(t, old), opts...)
	const token = "ghs_configreadtoken"
	g := testenv.StartGitServer(t, testenv.WithBasicAuth("x-access-token", token))
	g.NewRepo(t, "acme/config", map[string]string{
		"apps/values.yaml": "image:\n  repository: " + repo + "\n  tag: pr-7\n",
		// No tag, no digest: the kubelet pulls latest.
		"apps/job.yaml": "kind: Job\nspec:\n  template:\n    spec:\n      containers:\n        - image: " + repo + "\n",
	})
	env := map[string]string{"GITHUB_SERVER_URL": g.URL}
	args := []string{"--repository", repo, "--registry-username", reg.Username, "--registry-password", reg.Password,
		"--tag-filter", "^(pr-|latest)", "--token", token, "--keep-deployed", "acme/config"}
	res := runPruneEnv(t, quickRetries, env, args...)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if tags := listTags(t, repo, opts...); !slices.Equal(tags, []string{"latest", "pr-7"}) {
		t.Errorf("tags left %v, want latest (job.yaml deploys it) and pr-7 (values.yaml does)", tags)
	}
	if p := protectedBy(res.report.Protected); p[byTag] != "acme/config apps/values.yaml:2" || p[latest] != "acme/config apps/job.yaml:6" {
		t.Errorf("protected %v, want %s by acme/config apps/values.yaml:2 and %s by apps/job.yaml:6", p, byTag, latest)
	}
	if strings.Contains(res.stdout+res.stderr+res.summary, token) {
		t.Error("the token shows in the output")
	}

	// The same server under another host name is another host: no token,
	// so the clone is refused and nothing is deleted.
	other := strings.Replace(g.URL, "127.0.0.1", "localhost", 1) + "/acme/config.git"
	push(t, repo+":pr-9", imageAt(t, old), opts...)
	res = runPruneEnv(t, quickRetries, env, append(args[:len(args)-1], other)...)
	if res.code != 3 || !slices.Contains(listTags(t, repo, opts...), "pr-9") || !strings.Contains(res.stderr, "refused the credentials") {
		t.Errorf("exit %d, tags %v; want exit 3 and pr-9 still there", res.code, listTags(t, repo, opts...))
	}
}

// A config repo that cannot be read in full stops the run with exit 3
// before any registry write, dry run or not.
func TestKeepDeployedPartialPictureDeletesNothing(t *testing.T) {
	reg := testenv.StartRegistry(t, "pruner", "s3cret-pw")
	opts := reg.Options()
	repo := reg.Ref("team/app")
	old := time.Now().Add(-30 * 24 * time.Hour)
	push(t, repo+":pr-1", imageAt(t, old), opts...)
	g := testenv.StartGitServer(t)
	g.NewRepo(t, "acme/config", map[string]string{"apps/app.yaml": "image: " + repo + ":v1\n"})
	g.NewRepo(t, "acme/broken", map[string]string{"apps/app.yaml": "image: " + repo + ":v1\n", "apps/bad.yaml": "a: b\n  c: [d\n"})
	for name, kd := range map[string]string{
		"unreachable": "http://" + closedAddr(t) + "/acme/config.git",
		"missing":     g.RepoURL("acme/nothing"),
		"unknown ref": g.RepoURL("acme/config") + "@no-such-branch",
		"broken yaml": g.RepoURL("acme/broken") + ":apps",
	} {
		for _, dry := range []bool{false, true} {
			args := []string{"--repository", repo, "--registry-username", reg.Username, "--registry-password", reg.Password,
				"--tag-filter", "^pr-", "--keep-deployed", g.RepoURL("acme/config") + "," + kd}
			if dry {
				args = append(args, "--dry-run")
			}
			reg.ResetRequests()
			var res result
			testenv.Within(t, 60*time.Second, func() { res = runPrune(t, args...) })
			if res.code != 3 || !strings.Contains(res.stderr, "keep-deployed") || res.report.Status != "error" {
				t.Errorf("%s (dry run %v): exit %d, stderr %q; want exit 3 naming keep-deployed", name, dry, res.code, res.stderr)
			}
			if n := len(reg.RequestLog()); n != 0 {
				t.Errorf("%s: %d registry requests before the config repos were read:\n%s", name, n, strings.Join(reg.RequestLog(), "\n"))
			}
		}
	}
	if tags := listTags(t, repo, opts...); !slices.Equal(tags, []string{"pr-1"}) {
		t.Errorf("tags %v, want pr-1 untouched", tags)
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestKeepDeployedBadInputExits2(t *testing.T) {
	for _, kd := range []string{
		"foo",
		"a/b/c",
		"acme/config@",
		"acme/config@bad..ref",
		"acme/config:",
		"acme/config:../etc",
		"acme/config:/abs",
		"https://user:pw@github.com/acme/config.git",
		"https://ghp_token@github.com/acme/config.git",
		"ftp://example.com/acme/config.git",
		"https://github.com",
	} {
		res := runPrune(t, "--repository", "example.com/app", "--tag-filter", "^pr-", "--keep-deployed", kd)
		if res.code != 2 || !strings.Contains(res.stderr, `input "keep-deployed"`) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 naming keep-deployed", kd, res.code, res.stderr)
		}
		if strings.Contains(res.stderr, "pw@") || strings.Contains(res.stderr, "ghp_token") {
			t.Errorf("%q: the credentials show: %s", kd, res.stderr)
		}
	}
}

func TestParseConfigRepo(t *testing.T) {
	for spec, want := range map[string]ConfigRepo{
		"acme/config":                                          {Repository: "acme/config", Path: "."},
		"acme/config@main:clusters/prod":                       {Repository: "acme/config", Ref: "main", Path: "clusters/prod"},
		"acme/config:./clusters/prod/":                         {Repository: "acme/config", Path: "clusters/prod"},
		"https://git.example.com:8443/a/c.git":                 {Repository: "https://git.example.com:8443/a/c.git", Path: "."},
		"http://127.0.0.1:3000/acme/config.git@release/1:apps": {Repository: "http://127.0.0.1:3000/acme/config.git", Ref: "release/1", Path: "apps"},
		"ssh://git@github.com/acme/config.git@v1.2":            {Repository: "ssh://git@github.com/acme/config.git", Ref: "v1.2", Path: "."},
	} {
		got, err := parseConfigRepo(spec)
		want.Spec = spec
		if err != nil || got != want {
			t.Errorf("parseConfigRepo(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
}
