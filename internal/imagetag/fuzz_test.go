package imagetag

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

var validTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// FuzzRules: any tags input either fails to parse with an error, or gives
// rules that yield only valid OCI tags, without duplicates; parsing and
// tagging give the same answer twice.
func FuzzRules(f *testing.F) {
	for _, rules := range []string{
		"type=sha\ntype=ref,event=branch\ntype=ref,event=pr",
		"type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}},prefix=v",
		"type=raw,value=edge,enable={{is_default_branch}}\ntype=raw,value={{branch}}-{{sha}}",
		"type=schedule,pattern={{date 'YYYY,MM,DD'}}\ntype=sha,format=long,prefix=,suffix=-x",
		"type=ref,event=tag,priority=100\nlatest\n\n",
		"type=raw,value=\"a,b\",suffix='}'",
		"type=match,\"pattern=^v(\\d+)\\.(\\d+)\",group=2,prefix={{base_ref}}-\ntype=edge,branch=main",
		"prefix=x-,onlatest=true\nsuffix=-{{sha}},onlatest=true\nlatest=true",
	} {
		f.Add(rules, "push", "refs/heads/main", "0123456789abcdef0123456789abcdef01234567", int64(1700000000))
		f.Add(rules, "push", "refs/tags/v1.2.3-rc.1+build.5", "abc", int64(0))
		f.Add(rules, "pull_request", "refs/pull/42/merge", "", int64(-1))
		f.Add(rules, "schedule", "refs/heads/feature/ÄÖ..x", "deadbeef", int64(253402300799))
	}
	f.Fuzz(func(t *testing.T, text, name, ref, sha string, now int64) {
		rules, err := ParseRules(strings.Split(text, "\n"))
		rules2, err2 := ParseRules(strings.Split(text, "\n"))
		if !reflect.DeepEqual(rules, rules2) || (err == nil) != (err2 == nil) {
			t.Fatalf("parsing twice differs: %v %v / %v %v", rules, err, rules2, err2)
		}
		if err != nil {
			if err.Error() != err2.Error() || !strings.Contains(err.Error(), "tag rule") {
				t.Fatalf("error %q (then %q) does not name the tag rule", err, err2)
			}
			return
		}
		// The same text read as a flavor, when it is one, exercises
		// prefixes, suffixes and latest together with the rules.
		fl, ferr := ParseFlavor(strings.Split(text, "\n"))
		if ferr != nil {
			if !strings.Contains(ferr.Error(), "flavor") {
				t.Fatalf("error %q does not name the flavor", ferr)
			}
			fl = Flavor{}
		}
		ev := Event{Name: name, Ref: ref, SHA: sha, DefaultBranch: "main", Now: time.Unix(now, 0)}
		tags, err := Tags(rules, fl, ev)
		tags2, err2 := Tags(rules, fl, ev)
		if !reflect.DeepEqual(tags, tags2) || (err == nil) != (err2 == nil) {
			t.Fatalf("tagging twice differs: %q %v / %q %v", tags, err, tags2, err2)
		}
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, tag := range tags {
			if !validTag.MatchString(tag) {
				t.Fatalf("rules %q give the invalid tag %q", text, tag)
			}
			if seen[tag] {
				t.Fatalf("rules %q give %q twice", text, tag)
			}
			seen[tag] = true
		}
	})
}
