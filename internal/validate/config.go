package validate

import (
	"time"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/report"
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
	}
	if c.AllowRemote && c.RemoteTimeout == 0 {
		in.Fail("remote-timeout", "must be above 0 when allow-remote is on")
	}
	// 0 would mean no limit: a hostile policy could then run forever.
	if d, err := action.ParseDuration(in.String("policy-timeout")); err == nil && d <= 0 {
		in.Fail("policy-timeout", "must be longer than 0")
	}
	if len(c.Paths) == 0 {
		c.Paths = []string{"."}
	}
	return c, nil
}
