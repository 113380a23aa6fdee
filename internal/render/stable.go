package render

import (
	"regexp"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
)

// Sprig's random functions read crypto/rand and Helm's engine takes no
// functions of ours, so a chart naming its test pods
// "{{ .Release.Name }}-test-{{ randAlphaNum 5 | lower }}" would give
// findings under a new name on every run. Before rendering, calls with a
// literal length become that many fixed characters, and uuidv4 a fixed
// UUID: the output is the same each run and still a valid name. Lines
// are unchanged, so locations stay right.
var (
	randCall = regexp.MustCompile(`\b(randAlphaNum|randAlpha|randNumeric|randAscii)\s+([0-9]+)\b`)
	uuidCall = regexp.MustCompile(`\buuidv4\b`)
)

const stableRandom = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

func stabiliseRandom(ch *chart.Chart) {
	for _, t := range ch.Templates {
		s := string(t.Data)
		if !strings.Contains(s, "rand") && !strings.Contains(s, "uuidv4") {
			continue
		}
		s = randCall.ReplaceAllStringFunc(s, func(m string) string {
			sub := randCall.FindStringSubmatch(m)
			fill := stableRandom
			if sub[1] == "randNumeric" {
				fill = strings.Repeat("0", len(stableRandom))
			}
			return `(trunc ` + sub[2] + ` "` + fill + `")`
		})
		s = uuidCall.ReplaceAllString(s, `(print "00000000-0000-4000-8000-000000000000")`)
		t.Data = []byte(s)
	}
	for _, dep := range ch.Dependencies() {
		stabiliseRandom(dep)
	}
}
