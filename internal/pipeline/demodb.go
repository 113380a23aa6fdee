package pipeline

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/scanfixture"
)

// demoAdvisories are real advisories of what the demo image really
// contains, the Go standard library and the example's one module (see
// demodb/README.md).
//
//go:embed demodb/advisories.json
var demoAdvisories []byte

type demoList struct {
	Built      time.Time `json:"built"`
	Advisories []struct {
		ID         string   `json:"id"`
		GoID       string   `json:"go_id"`
		Package    string   `json:"package"`
		Vulnerable string   `json:"vulnerable"`
		Fixed      string   `json:"fixed"`
		Severity   string   `json:"severity"`
		Title      string   `json:"title"`
		References []string `json:"references"`
		// Note says why the demo image has it, printed under the finding.
		Note string `json:"note"`
	} `json:"advisories"`
}

// demoNotes are the demo advisories' notes by ID.
func demoNotes() map[string]string {
	var l demoList
	notes := map[string]string{}
	if json.Unmarshal(demoAdvisories, &l) == nil {
		for _, a := range l.Advisories {
			if a.Note != "" {
				notes[a.ID] = a.Note
			}
		}
	}
	return notes
}

// writeDemoDB writes the demo database into <cache>/db and returns how
// many advisories it holds and when the list was built.
func writeDemoDB(cache string) (int, time.Time, error) {
	var l demoList
	if err := json.Unmarshal(demoAdvisories, &l); err != nil {
		return 0, time.Time{}, fmt.Errorf("reading the demo advisories: %w", err)
	}
	advs := make([]scanfixture.Advisory, 0, len(l.Advisories))
	for _, a := range l.Advisories {
		advs = append(advs, scanfixture.Advisory{
			ID: a.ID, Severity: a.Severity, Ecosystem: "go", Package: a.Package,
			Vulnerable: a.Vulnerable, Fixed: a.Fixed,
			Title: a.Title, Description: a.GoID + ": " + a.Title, References: a.References,
		})
	}
	if err := scanfixture.WriteDB(filepath.Join(cache, "db"), advs, l.Built); err != nil {
		return 0, time.Time{}, fmt.Errorf("writing the demo vulnerability database: %w", err)
	}
	return len(advs), l.Built, nil
}
