package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// summary ends the run: first the stages a user must act on, with their
// reasons, then one table row per stage.
func (r *runner) summary() {
	w := r.c.Stdout
	var act []string
	for _, s := range r.stages {
		if s.Status != "passed" {
			line := s.Name + " " + s.Status
			if s.Reason != "" {
				line += ": " + s.Reason
			}
			act = append(act, line)
		}
	}
	if len(act) > 0 {
		fmt.Fprintln(w, "\n== act on")
		for _, l := range act {
			fmt.Fprintln(w, "   "+r.c.Redact(l))
		}
	}
	fmt.Fprintln(w, "\n== summary")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   stage\tstatus\tduration\tkey output")
	for _, s := range r.stages {
		d := "-"
		if s.DurationMS > 0 {
			d = (time.Duration(s.DurationMS) * time.Millisecond).Round(100 * time.Millisecond).String()
		}
		fmt.Fprintln(tw, "   "+r.c.Redact(strings.Join([]string{s.Name, s.Status, d, keyOutput(s)}, "\t")))
	}
	tw.Flush()
}

// belowGate lists the vulnerabilities of a scan that passed, which the
// gate let through, so that a HIGH under a CRITICAL gate is not taken for
// none; a demo advisory's note says why the demo image has it.
func (r *runner) belowGate() {
	var rep struct {
		Vulnerabilities []struct {
			ID, Severity, Package, Installed, Fixed string
		} `json:"vulnerabilities"`
	}
	b, err := os.ReadFile(filepath.Join(r.work, "scan-report.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil || len(rep.Vulnerabilities) == 0 {
		return
	}
	w := r.c.Stdout
	fmt.Fprintf(w, "\n== vulnerabilities: %s below the gate (fail-on %s), so the scan passed\n", count(fmt.Sprint(len(rep.Vulnerabilities)), "finding"), gateSeverity)
	notes := demoNotes()
	for _, v := range rep.Vulnerabilities {
		line := fmt.Sprintf("   %s %s in %s %s", v.Severity, v.ID, v.Package, v.Installed)
		if v.Fixed != "" {
			line += ", fixed in " + v.Fixed
		}
		fmt.Fprintln(w, r.c.Redact(line))
		if n := notes[v.ID]; n != "" {
			fmt.Fprintln(w, "     "+n)
		}
	}
}

// keyOutput is the one output of a stage a user looks for first.
func keyOutput(s Stage) string {
	o := s.Outputs
	out := ""
	switch s.Name {
	case "build":
		out = short(o["digest"], len("sha256:")+12)
	case "scan":
		if o["passed"] == "" {
			out = "vulnerabilities skipped"
		} else {
			out = fmt.Sprintf("critical=%s high=%s medium=%s low=%s passed=%s", o["critical"], o["high"], o["medium"], o["low"], o["passed"])
		}
	case "attest":
		var bundles []json.RawMessage
		if json.Unmarshal([]byte(o["attestations"]), &bundles) == nil && len(bundles) > 0 {
			out = fmt.Sprintf("%d bundle(s), %s", len(bundles), o["identity"])
		}
	case "verify":
		if o["verified"] == "true" {
			out = "verified " + o["proofs"]
		}
	case "bump-manifest":
		if sha := o["commit-sha"]; sha != "" {
			out = "commit " + short(sha, 7)
		} else if o["changed"] == "false" {
			out = "no change"
		}
	case "diff-config":
		var images []json.RawMessage
		if o["changed-units"] != "" && json.Unmarshal([]byte(o["images-changed"]), &images) == nil {
			out = fmt.Sprintf("%s changed, %s", count(o["changed-units"], "unit"), count(fmt.Sprint(len(images)), "image"))
		}
	case "validate-config":
		if o["errors"] != "" {
			out = fmt.Sprintf("errors=%s warnings=%s", o["errors"], o["warnings"])
		}
	}
	if out == "" {
		return "-"
	}
	return out
}

// count is "1 unit" or "2 units".
func count(n, noun string) string {
	if n != "1" {
		noun += "s"
	}
	return n + " " + noun
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
