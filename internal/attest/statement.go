package attest

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	provenance "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// Predicate types, as cosign names them for verify-attestation --type.
const (
	PredicateSignature  = "https://sigstore.dev/cosign/sign/v1" // cosign v3's signature statement
	PredicateSLSA1      = "https://slsa.dev/provenance/v1"      // --type slsaprovenance1
	PredicateSPDX       = "https://spdx.dev/Document"           // --type spdxjson
	PredicateCycloneDX  = "https://cyclonedx.org/bom"           // --type cyclonedx
	PredicateVuln       = "https://cosign.sigstore.dev/attestation/vuln/v1"
	githubBuildType     = "https://actions.github.io/buildtypes/workflow/v1"
	maxPredicateFileLen = 512 << 20
)

// predicate is one statement's content, before it gets its subject.
type predicate struct {
	Kind string
	Type string
	Body *structpb.Struct
}

// statement is the in-toto statement of p about the manifest digest of repo.
func statement(repo string, digest string, p predicate) ([]byte, error) {
	alg, hex, ok := strings.Cut(digest, ":")
	if !ok {
		return nil, fmt.Errorf("digest %q has no algorithm", digest)
	}
	body := p.Body
	if body == nil {
		body = &structpb.Struct{}
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{{Name: repo, Digest: map[string]string{alg: hex}}},
		PredicateType: p.Type,
		Predicate:     body,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("building the %s statement: %w", p.Kind, err)
	}
	return protojson.Marshal(st)
}

// toStruct turns a proto message or any JSON-encodable value into a Struct.
func toStruct(v any) (*structpb.Struct, error) {
	var raw []byte
	var err error
	if m, ok := v.(proto.Message); ok {
		raw, err = protojson.Marshal(m)
	} else {
		raw, err = json.Marshal(v)
	}
	if err != nil {
		return nil, err
	}
	s := &structpb.Struct{}
	return s, protojson.Unmarshal(raw, s)
}

// provenancePredicate is SLSA provenance v1 of a GitHub Actions run, in the
// shape GitHub's own artifact attestations use.
func provenancePredicate(getenv func(string) string, builderID string) (predicate, error) {
	ctx := map[string]string{}
	for _, k := range []string{"GITHUB_REPOSITORY", "GITHUB_SHA", "GITHUB_WORKFLOW_REF", "GITHUB_RUN_ID"} {
		if ctx[k] = getenv(k); ctx[k] == "" {
			return predicate{}, action.Usage("attestations", "lists provenance but %s is unset: provenance is built from the GitHub Actions context", k)
		}
	}
	repo, sha, workflowRef, runID := ctx["GITHUB_REPOSITORY"], ctx["GITHUB_SHA"], ctx["GITHUB_WORKFLOW_REF"], ctx["GITHUB_RUN_ID"]
	server := getenv("GITHUB_SERVER_URL")
	if server == "" {
		server = "https://github.com"
	}
	attempt := getenv("GITHUB_RUN_ATTEMPT")
	if attempt == "" {
		attempt = "1"
	}
	// GITHUB_WORKFLOW_REF is owner/repo/.github/workflows/x.yml@ref.
	wfPath, ref, _ := strings.Cut(strings.TrimPrefix(workflowRef, repo+"/"), "@")
	if builderID == "" {
		builderID = server + "/" + workflowRef
	}
	ext, err := structpb.NewStruct(map[string]any{
		"workflow": map[string]any{"ref": ref, "repository": server + "/" + repo, "path": wfPath},
	})
	if err != nil {
		return predicate{}, err
	}
	internal := map[string]any{}
	for k, env := range map[string]string{
		"event_name": "GITHUB_EVENT_NAME", "repository_id": "GITHUB_REPOSITORY_ID",
		"repository_owner_id": "GITHUB_REPOSITORY_OWNER_ID", "runner_environment": "RUNNER_ENVIRONMENT",
	} {
		if v := getenv(env); v != "" {
			internal[k] = v
		}
	}
	intl, err := structpb.NewStruct(map[string]any{"github": internal})
	if err != nil {
		return predicate{}, err
	}
	prov := &provenance.Provenance{
		BuildDefinition: &provenance.BuildDefinition{
			BuildType:          githubBuildType,
			ExternalParameters: ext,
			InternalParameters: intl,
			ResolvedDependencies: []*intoto.ResourceDescriptor{{
				Uri:    "git+" + server + "/" + repo + "@" + getenv("GITHUB_REF"),
				Digest: map[string]string{"gitCommit": sha},
			}},
		},
		RunDetails: &provenance.RunDetails{
			Builder: &provenance.Builder{Id: builderID},
			Metadata: &provenance.BuildMetadata{
				InvocationId: fmt.Sprintf("%s/%s/actions/runs/%s/attempts/%s", server, repo, runID, attempt),
				StartedOn:    timestamppb.Now(),
			},
		},
	}
	if err := prov.Validate(); err != nil {
		return predicate{}, fmt.Errorf("building SLSA provenance: %w", err)
	}
	body, err := toStruct(prov)
	return predicate{Kind: KindProvenance, Type: PredicateSLSA1, Body: body}, err
}

// sbomPredicate reads an SPDX or CycloneDX JSON SBOM as a predicate.
func sbomPredicate(file string) (predicate, error) {
	raw, err := readLimited(file)
	if err != nil {
		return predicate{}, action.UsageErr("sbom-file", err)
	}
	var head struct {
		SPDXVersion string `json:"spdxVersion"`
		BOMFormat   string `json:"bomFormat"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return predicate{}, action.Usage("sbom-file", "%q is not JSON: %v", file, err)
	}
	p := predicate{Kind: KindSBOM}
	switch {
	case strings.HasPrefix(head.SPDXVersion, "SPDX-"):
		p.Type = PredicateSPDX
	case head.BOMFormat == "CycloneDX":
		p.Type = PredicateCycloneDX
	default:
		return predicate{}, action.Usage("sbom-file", "%q is neither SPDX JSON (spdxVersion) nor CycloneDX JSON (bomFormat); write it with sbom-format spdx-json or cyclonedx-json", file)
	}
	p.Body = &structpb.Struct{}
	if err := protojson.Unmarshal(raw, p.Body); err != nil {
		return predicate{}, action.Usage("sbom-file", "%q: %v", file, err)
	}
	return p, nil
}

// scanReport is what the attestation needs of the scan action's report.
type scanReport struct {
	Action  string            `json:"action"`
	Version string            `json:"version"`
	Status  string            `json:"status"`
	Outputs map[string]string `json:"outputs"`
	DB      struct {
		UpdatedAt string `json:"updated-at"`
		Source    string `json:"source"`
	} `json:"db"`
	Vulnerabilities json.RawMessage `json:"vulnerabilities"`
}

// vulnPredicate is cosign's vuln predicate of a scan report: the scanner,
// its database time, the counts and whether the gate passed.
func vulnPredicate(file string) (predicate, error) {
	raw, err := readLimited(file)
	if err != nil {
		return predicate{}, action.UsageErr("scan-report", err)
	}
	var r scanReport
	if err := json.Unmarshal(raw, &r); err != nil {
		return predicate{}, action.Usage("scan-report", "%q is not the scan action's JSON report: %v", file, err)
	}
	if r.Action != "scan" {
		return predicate{}, action.Usage("scan-report", "%q is a report of %q, not of the scan action", file, r.Action)
	}
	// A scan that stopped with an error, or matched nothing, proves nothing.
	if r.Status != "passed" && r.Status != "failed" {
		return predicate{}, action.Usage("scan-report", "%q has status %q: only a finished scan (passed or failed) can be attested", file, r.Status)
	}
	if len(r.Vulnerabilities) == 0 || string(r.Vulnerabilities) == `"skipped"` || r.DB.UpdatedAt == "" {
		return predicate{}, action.Usage("scan-report", "%q holds no vulnerability scan (vulnerabilities: false, or no database time)", file)
	}
	dbTime, err := time.Parse(time.RFC3339, r.DB.UpdatedAt)
	if err != nil {
		return predicate{}, action.Usage("scan-report", "%q: db updated-at %q is not a time: %v", file, r.DB.UpdatedAt, err)
	}
	var vulns []any
	if err := json.Unmarshal(r.Vulnerabilities, &vulns); err != nil {
		return predicate{}, action.Usage("scan-report", "%q: vulnerabilities is not a list: %v", file, err)
	}
	counts := map[string]any{}
	for _, k := range []string{"critical", "high", "medium", "low", "unknown", "fixable"} {
		v, ok := r.Outputs[k]
		if !ok {
			return predicate{}, action.Usage("scan-report", "%q has no %s count in its outputs", file, k)
		}
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil {
			return predicate{}, action.Usage("scan-report", "%q: %s count %q is not a number", file, k, v)
		}
		counts[k] = n
	}
	passed := r.Outputs["passed"]
	if passed != "true" && passed != "false" {
		return predicate{}, action.Usage("scan-report", "%q has no passed output", file)
	}
	if (passed == "true") != (r.Status == "passed") {
		return predicate{}, action.Usage("scan-report", "%q says status %q but passed %q", file, r.Status, passed)
	}
	fi, err := os.Stat(file)
	if err != nil {
		return predicate{}, action.UsageErr("scan-report", err)
	}
	finished := fi.ModTime().UTC().Format(time.RFC3339)
	body, err := toStruct(map[string]any{
		"invocation": map[string]any{"parameters": nil, "uri": "", "event_id": "", "builder.id": ""},
		"scanner": map[string]any{
			"uri":     "pkg:github/gitops-actions/gitops-actions",
			"version": r.Version,
			"db":      map[string]any{"uri": r.DB.Source, "version": dbTime.UTC().Format(time.RFC3339)},
			"result": map[string]any{
				"passed":          passed == "true",
				"counts":          counts,
				"dbUpdatedAt":     dbTime.UTC().Format(time.RFC3339),
				"vulnerabilities": vulns,
			},
		},
		"metadata": map[string]any{"scanStartedOn": finished, "scanFinishedOn": finished},
	})
	return predicate{Kind: KindVulnerabilities, Type: PredicateVuln, Body: body}, err
}

func readLimited(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%q is not a regular file", file)
	}
	if fi.Size() > maxPredicateFileLen {
		return nil, fmt.Errorf("%q is %d bytes, over the %d limit", file, fi.Size(), maxPredicateFileLen)
	}
	return os.ReadFile(file)
}
