package prune

import (
	"context"
	"regexp"
	"slices"
	"testing"
	"time"
)

// graphData is a Graph given as data: the planner's logic is tested
// apart from any registry here; the registry tests read real graphs.
type graphData map[string][]string

func (g graphData) Refs(_ context.Context, d string) ([]string, error) { return g[d], nil }

type caps struct{ untagged, untagsAlone bool }

func (c caps) Kind() string                            { return "test" }
func (c caps) ListsUntagged() bool                     { return c.untagged }
func (c caps) UntagsAlone() bool                       { return c.untagsAlone }
func (c caps) List(context.Context) ([]Version, error) { return nil, nil }
func (c caps) Delete(context.Context, Step) error      { return nil }

func dg(c byte) string { return "sha256:" + string(slices.Repeat([]byte{c}, 64)) }

func TestMakePlan(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	versions := []Version{
		{Digest: dg('a'), Tags: []string{"v1.0.0", "pr-3"}, Created: now.Add(-30 * day)}, // index
		{Digest: dg('b'), Created: now.Add(-30 * day)},                                   // child of a
		{Digest: dg('c'), Created: now.Add(-30 * day)},                                   // child of a
		{Digest: dg('d'), Tags: []string{"pr-1"}, Created: now.Add(-20 * day)},
		{Digest: dg('e'), Tags: []string{"pr-2"}, Created: now.Add(-10 * day)},
		{Digest: dg('f'), Tags: []string{"pr-4"}, Created: now.Add(-1 * day)}, // young
		{Digest: dg('g'), Tags: []string{"pr-5"}, Created: now.Add(-9 * day)},
		{Digest: dg('h'), Created: now.Add(-40 * day)},                                                    // dangling
		{Digest: dg('i'), Tags: []string{"sha256-" + dg('a')[7:] + ".sig"}, Created: now.Add(-60 * day)},  // cosign signature of a
		{Digest: dg('9'), Tags: []string{"pr-keep"}, Created: now.Add(-50 * day)},                         // excluded
		{Digest: dg('k'), Tags: []string{"sha256-" + dg('9')[7:] + ".sbom"}, Created: now.Add(-60 * day)}, // attached to excluded tag
		{Digest: dg('l'), Created: now.Add(-50 * day)},                                                    // referrer of f (young pr-4 stays)
	}
	g := graphData{dg('a'): {dg('b'), dg('c')}, dg('f'): {dg('l')}}
	rules := Rules{Untagged: true, TagFilter: regexp.MustCompile(`^pr-|^sha256-`), ExcludeTags: regexp.MustCompile(`keep`), Keep: 1, OlderThan: 7 * day, Now: now}

	for _, tc := range []struct {
		name        string
		p           caps
		wantDeleted []string // digests whose manifest goes
		wantUntag   []string // digests that only lose tags
		wantProt    map[string]string
	}{
		{
			name:        "registry",
			p:           caps{},
			wantDeleted: []string{dg('d'), dg('e'), dg('g')},
			wantProt:    map[string]string{dg('a'): "v1.0.0", dg('i'): "v1.0.0", dg('k'): "pr-keep"},
		},
		{
			name:        "ghcr",
			p:           caps{untagged: true},
			wantDeleted: []string{dg('d'), dg('e'), dg('g'), dg('h')},
			wantProt:    map[string]string{dg('a'): "v1.0.0", dg('b'): "v1.0.0", dg('c'): "v1.0.0", dg('i'): "v1.0.0", dg('k'): "pr-keep", dg('l'): "pr-4"},
		},
		{
			name:        "google",
			p:           caps{untagged: true, untagsAlone: true},
			wantDeleted: []string{dg('d'), dg('e'), dg('g'), dg('h')},
			wantUntag:   []string{dg('a')},
			wantProt:    map[string]string{dg('b'): "v1.0.0", dg('c'): "v1.0.0", dg('i'): "v1.0.0", dg('k'): "pr-keep", dg('l'): "pr-4"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := MakePlan(context.Background(), "r", tc.p, versions, rules, g, 2)
			if err != nil {
				t.Fatal(err)
			}
			var del, untag []string
			for _, s := range plan.Steps {
				if s.Manifest {
					del = append(del, s.Version.Digest)
				} else {
					untag = append(untag, s.Version.Digest)
					if !slices.Equal(s.Tags, []string{"pr-3"}) {
						t.Errorf("untag step removes %v, want only pr-3", s.Tags)
					}
				}
			}
			slices.Sort(del)
			if !slices.Equal(del, tc.wantDeleted) || !slices.Equal(untag, tc.wantUntag) {
				t.Errorf("deleted %v untagged %v, want %v and %v", del, untag, tc.wantDeleted, tc.wantUntag)
			}
			prot := map[string]string{}
			for _, d := range plan.Protected {
				prot[d.Digest] = d.ProtectedBy
			}
			if len(prot) != len(tc.wantProt) {
				t.Errorf("protected %v, want %v", prot, tc.wantProt)
			}
			for d, by := range tc.wantProt {
				if prot[d] != by {
					t.Errorf("%s protected by %q, want %q (all: %v)", d, prot[d], by, prot)
				}
			}
			// keep: 1 keeps the newest candidate, pr-4; pr-5 is old enough to go.
			if len(plan.Kept) != 1 || !slices.Equal(plan.Kept[0].Tags, []string{"pr-4"}) {
				t.Errorf("kept %+v, want only pr-4", plan.Kept)
			}
		})
	}
}
