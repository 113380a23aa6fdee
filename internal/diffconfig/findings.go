package diffconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/report"
	"github.com/gitops-actions/gitops-actions/internal/validate"
)

// newFindings are the errors validate-config raises on the head render
// of the added and changed resources that it did not raise on their base
// render: what this change brings in.
func newFindings(ctx context.Context, c *action.Context, cfg Config, work string, units []*unitDiff, bases, heads [][]map[string]any) ([]report.Finding, error) {
	if len(units) == 0 {
		return nil, nil
	}
	headFs, err := validateRender(ctx, c, cfg, filepath.Join(work, "validate-head"), heads)
	if err != nil {
		return nil, err
	}
	// The base is checked only for the units whose head has errors to
	// tell apart from old ones: most changes bring in none.
	baseUnits := make([][]map[string]any, len(bases))
	for i, fs := range headFs {
		if slices.ContainsFunc(fs, func(f report.Finding) bool { return f.Severity == report.Error }) {
			baseUnits[i] = bases[i]
		}
	}
	baseFs, err := validateRender(ctx, c, cfg, filepath.Join(work, "validate-base"), baseUnits)
	if err != nil {
		return nil, err
	}
	old := map[string]bool{}
	for i, fs := range baseFs {
		for _, f := range fs {
			old[findingKey(i, f)] = true
		}
	}
	var out []report.Finding
	for i, fs := range headFs {
		touched := map[resKey]bool{}
		for _, ch := range units[i].Changes {
			if ch.Change != changeRemoved {
				touched[ch.key] = true
			}
		}
		for _, f := range fs {
			if f.Severity != report.Error || f.Resource == nil || old[findingKey(i, f)] {
				continue
			}
			k := keyOf(map[string]any{"apiVersion": f.Resource.APIVersion, "kind": f.Resource.Kind,
				"metadata": map[string]any{"namespace": f.Resource.Namespace, "name": f.Resource.Name}})
			if !touched[k] {
				continue
			}
			f.File = units[i].Dir
			f.Line = 0
			if units[i].Name != units[i].Dir {
				f.Message = units[i].Name + ": " + f.Message
			}
			out = append(out, f)
		}
	}
	return out, nil
}

func findingKey(unit int, f report.Finding) string {
	r := ""
	if f.Resource != nil {
		r = f.Resource.APIVersion + "/" + f.Resource.Kind + "/" + f.Resource.Namespace + "/" + f.Resource.Name
	}
	return strconv.Itoa(unit) + "\x00" + f.Rule + "\x00" + r + "\x00" + f.Message
}

// validateRender runs validate-config, offline and in this process, on
// each unit's rendered objects written as one plain file, and returns
// its findings by unit.
func validateRender(ctx context.Context, c *action.Context, cfg Config, dir string, units [][]map[string]any) ([][]report.Finding, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, action.External(err)
	}
	any := false
	for i, objs := range units {
		if len(objs) == 0 {
			continue
		}
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		for _, o := range objs {
			if err := enc.Encode(o); err != nil {
				return nil, action.External(fmt.Errorf("encoding rendered objects: %w", err))
			}
		}
		enc.Close()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("unit-%d.yaml", i)), buf.Bytes(), 0o600); err != nil {
			return nil, action.External(err)
		}
		any = true
	}
	out := make([][]report.Finding, len(units))
	if !any {
		return out, nil
	}
	args := []string{"validate-config", "--path", dir, "--render", "none", "--output-format", "json", "--ignore-missing-schemas"}
	if cfg.KubernetesVersion != "" {
		args = append(args, "--kubernetes-version", cfg.KubernetesVersion)
	}
	getenv := func(k string) string {
		switch k {
		case "GOMEMLIMIT":
			return "off" // validate-config's own limit is for a whole repository
		case "PATH", "HOME", "TMPDIR":
			return c.Getenv(k)
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	code := validate.Main(ctx, args, getenv, &stdout, &stderr)
	if code != action.ExitOK && code != action.ExitFindings {
		return nil, action.External(fmt.Errorf("validate-config on the rendered units: exit %d: %s", code, strings.TrimSpace(stderr.String())))
	}
	var rep report.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return nil, action.External(fmt.Errorf("reading validate-config's report: %w", err))
	}
	for _, f := range rep.Findings {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f.File), "unit-"), ".yaml")
		if i, err := strconv.Atoi(name); err == nil && i >= 0 && i < len(out) {
			out[i] = append(out[i], f)
		}
	}
	return out, nil
}
