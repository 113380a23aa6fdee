package validate

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/report"
	"github.com/gitops-actions/gitops-actions/internal/verify"
)

// Config is the validate-config action's parsed inputs.
type Config struct {
	Paths                []string
	KubernetesVersion    string
	Render               string
	HelmValues           []string
	Ignore               []string
	Strict               bool
	SchemaLocations      []string
	CRDPaths             []string
	IgnoreMissingSchemas bool
	Policies             []string
	PolicyNamespaces     []string
	Data                 []string
	RegoVersion          string
	BuiltinPolicies      bool
	PolicyTimeout        time.Duration
	DisableRules         []string
	FailOn               report.Severity
	OutputFormat         string
	SARIFFile            string
	AllowRemote          bool
	RemoteTimeout        time.Duration
	RenderMaxBytes       int64
	RenderTimeout        time.Duration
	DeprecationsFile     string
	// VerifyImages checks each image reference's proofs against Verify.
	VerifyImages bool
	Verify       verify.Inputs
}

// ParseConfig turns inputs into a Config; it does no I/O.
func ParseConfig(in *action.Inputs) (Config, error) {
	c := Config{
		Paths:                in.List("path"),
		KubernetesVersion:    in.String("kubernetes-version"),
		Render:               in.OneOf("render", "auto", "none"),
		HelmValues:           in.List("helm-values"),
		Ignore:               in.List("ignore"),
		Strict:               in.Bool("strict"),
		SchemaLocations:      in.List("schema-location"),
		CRDPaths:             in.List("crd-path"),
		IgnoreMissingSchemas: in.Bool("ignore-missing-schemas"),
		Policies:             in.List("policy"),
		PolicyNamespaces:     in.List("policy-namespace"),
		Data:                 in.List("data"),
		RegoVersion:          in.OneOf("rego-version", "v1", "v0"),
		BuiltinPolicies:      in.Bool("builtin-policies"),
		PolicyTimeout:        in.Duration("policy-timeout"),
		DisableRules:         in.List("disable-rules"),
		FailOn:               report.Severity(in.OneOf("fail-on", "error", "warning", "notice")),
		OutputFormat:         in.OneOf("output-format", "text", "json", "sarif", "junit"),
		SARIFFile:            in.String("sarif-file"),
		AllowRemote:          in.Bool("allow-remote"),
		RemoteTimeout:        in.Duration("remote-timeout"),
		RenderTimeout:        in.Duration("render-timeout"),
		DeprecationsFile:     in.String("deprecations-file"),
		VerifyImages:         in.Bool("verify-images"),
		Verify:               verify.ReadInputs(in),
	}
	if !c.VerifyImages {
		c.Verify = verify.Inputs{}
	}
	if c.AllowRemote && c.RemoteTimeout == 0 {
		in.Fail("remote-timeout", "must be above 0 when allow-remote is on")
	}
	// 0 would mean no limit: a hostile policy could then run forever.
	if d, err := action.ParseDuration(in.String("policy-timeout")); err == nil && d <= 0 {
		in.Fail("policy-timeout", "must be longer than 0")
	}
	if n, err := parseSize(in.String("render-max-bytes")); err != nil {
		in.Fail("render-max-bytes", "%v", err)
	} else {
		c.RenderMaxBytes = n
	}
	if _, err := action.ParseDuration(in.String("render-timeout")); err == nil && c.RenderTimeout <= 0 {
		in.Fail("render-timeout", "%q: must be longer than 0", in.String("render-timeout"))
	}
	if len(c.Paths) == 0 {
		c.Paths = []string{"."}
	}
	return c, nil
}

// maxRenderBytes keeps the render process's memory (8 × the output)
// within what a machine can have.
const maxRenderBytes = 16 << 30

// parseSize reads a byte count, whole or with a Kubernetes-style suffix:
// Ki, Mi, Gi (powers of 1024) or k, M, G (of 1000).
func parseSize(v string) (int64, error) {
	num, unit := v, int64(1)
	for _, s := range []struct {
		suffix string
		unit   int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}} {
		if n, ok := strings.CutSuffix(v, s.suffix); ok {
			num, unit = n, s.unit
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > maxRenderBytes/unit {
		return 0, fmt.Errorf("%q is not a size from 1 to 16Gi, like 64Mi or 1000000", v)
	}
	return n * unit, nil
}
