package diffconfig

import (
	"fmt"
	"html"
	"strings"
)

// marker finds this action's pull request comment again.
const marker = "<!-- gitops-actions:diff-config -->"

// commentLimit is the most characters GitHub takes in a comment body.
const commentLimit = 65536

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// markdownDoc is the report as markdown sections: a head that is always
// shown and one collapsible section per unit.
func markdownDoc(res *result) (head string, sections []string) {
	var b strings.Builder
	b.WriteString(marker + "\n")
	if len(res.Units) == 0 {
		fmt.Fprintf(&b, "### diff-config: no changes\n\nNo rendered resource differs between `%s` (base) and `%s` (head).\n", short(res.Base), short(res.Head))
		return b.String(), nil
	}
	added, removed, changed := 0, 0, 0
	for _, u := range res.Units {
		added, removed, changed = added+u.Added, removed+u.Removed, changed+u.Changed
	}
	fmt.Fprintf(&b, "### diff-config: %d unit(s) changed\n\n`%s` (base) → `%s` (head): %d added, %d removed, %d changed resource(s).\n\n",
		len(res.Units), short(res.Base), short(res.Head), added, removed, changed)
	b.WriteString("| unit | + | − | ~ | images changed |\n|---|---:|---:|---:|---:|\n")
	var images []imageChange
	for _, u := range res.Units {
		name := cell(u.Name)
		if u.Error != "" {
			name += " ⚠️"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d |\n", name, u.Added, u.Removed, u.Changed, len(u.Images))
		images = append(images, u.Images...)
	}
	if len(images) > 0 {
		b.WriteString("\n**Images changed**\n\n")
		for _, im := range images {
			fmt.Fprintf(&b, "- %s, %s: `%s` → `%s`\n", cell(im.Unit), cell(im.Resource), tick(im.Old), tick(im.New))
		}
	}
	if len(res.Findings) > 0 {
		b.WriteString("\n**New validate-config errors on changed resources**\n\n")
		for _, f := range res.Findings {
			fmt.Fprintf(&b, "- `%s` %s\n", f.Rule, cell(f.Message))
		}
	}
	for _, u := range res.Units {
		sections = append(sections, unitSection(u))
	}
	return b.String(), sections
}

func unitSection(u *unitDiff) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n<details><summary><b>%s</b> (%s) +%d −%d ~%d</summary>\n\n", html.EscapeString(u.Name), html.EscapeString(u.Kind), u.Added, u.Removed, u.Changed)
	if u.Error != "" {
		fmt.Fprintf(&b, "⚠️ %s\n\n", cell(u.Error))
	}
	for _, c := range u.Changes {
		sign := map[string]string{changeAdded: "+", changeRemoved: "−", changeChanged: "~"}[c.Change]
		fmt.Fprintf(&b, "**%s %s** (%s)\n", sign, cell(c.Resource), c.Change)
		if len(c.SecretKeys) > 0 {
			fmt.Fprintf(&b, "\nSecret value changed: %s (values are never shown)\n", cell(strings.Join(c.SecretKeys, ", ")))
		}
		fence := "```"
		for strings.Contains(c.Diff, fence) {
			fence += "`"
		}
		fmt.Fprintf(&b, "\n%sdiff\n%s%s\n\n", fence, c.Diff, fence)
	}
	b.WriteString("</details>\n")
	return b.String()
}

// cell keeps text from breaking a table or a list item.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\n", " ")
	return html.EscapeString(s)
}

func tick(s string) string { return strings.ReplaceAll(s, "`", "'") }

// fit joins the head and as many sections as fit in limit characters;
// what is left out is said at the end.
func fit(head string, sections []string, limit int, where string) string {
	var b strings.Builder
	b.WriteString(head)
	for i, s := range sections {
		note := fmt.Sprintf("\n> **Cut:** %d more unit(s) do not fit in %d characters; the full diff is in %s.\n", len(sections)-i, limit, where)
		if b.Len()+len(s)+len(note) > limit {
			b.WriteString(note)
			return b.String()
		}
		b.WriteString(s)
	}
	return b.String()
}

// textDoc is the plain text report.
func textDoc(res *result) string {
	var b strings.Builder
	if len(res.Units) == 0 {
		fmt.Fprintf(&b, "diff-config: no changes between %s and %s\n", short(res.Base), short(res.Head))
		return b.String()
	}
	for _, u := range res.Units {
		fmt.Fprintf(&b, "=== %s (%s) +%d -%d ~%d\n", u.Name, u.Kind, u.Added, u.Removed, u.Changed)
		if u.Error != "" {
			fmt.Fprintf(&b, "error: %s\n", u.Error)
		}
		for _, c := range u.Changes {
			fmt.Fprintf(&b, "--- %s %s\n", c.Change, c.Resource)
			if len(c.SecretKeys) > 0 {
				fmt.Fprintf(&b, "secret value changed: %s\n", strings.Join(c.SecretKeys, ", "))
			}
			b.WriteString(c.Diff)
		}
	}
	for _, u := range res.Units {
		for _, im := range u.Images {
			fmt.Fprintf(&b, "image %s %s: %s -> %s\n", im.Unit, im.Resource, im.Old, im.New)
		}
	}
	// Findings are printed by the runtime, with the outputs.
	return b.String()
}
