package validate

import "strings"

// templateItem finds the index-th element of the list that starts at
// line from of a template (0-based), the one rendered with the given
// name, and returns the line of its "- ". A name written literally is
// looked for first; an element whose name is templated ("{{ .Chart.Name
// }}") is found by its place in the list, when the list is written out
// in the template rather than produced by toYaml or a range.
func templateItem(lines []string, from, index int, name string) (int, bool) {
	for j := from; j < len(lines); j++ {
		t := strings.TrimLeft(strings.TrimSpace(lines[j]), "- ")
		if v, ok := strings.CutPrefix(t, "name:"); ok && strings.Trim(strings.TrimSpace(v), `"'`) == name {
			return itemStart(lines, from, j), true
		}
	}
	items := templateListItems(lines, from)
	if index >= len(items) {
		return 0, false
	}
	if n, ok := itemName(lines, items[index]); ok && !strings.Contains(n, "{{") {
		// Written as another name: the list is not what was rendered.
		return 0, false
	}
	return items[index], true
}

// itemStart is the line of the "- " that begins the element holding line
// j: the nearest line above it that starts with "-" and is indented less,
// so the items of a list inside the element (a command) are passed over.
func itemStart(lines []string, from, j int) int {
	if strings.HasPrefix(strings.TrimSpace(lines[j]), "-") {
		return j
	}
	in := indent(lines[j])
	for k := j - 1; k >= from; k-- {
		if strings.HasPrefix(strings.TrimSpace(lines[k]), "-") && indent(lines[k]) < in {
			return k
		}
	}
	return j
}

// templateListItems returns the lines of the "- " of each element of the list
// that starts at line from, or nil when what follows is not a list written
// out in the template. Lines of template actions alone (if, with, end,
// comments) are passed over; one that writes content (toYaml, include)
// means the elements are not in the text.
func templateListItems(lines []string, from int) []int {
	var items []int
	col := -1
	for j := from; j < len(lines); j++ {
		t := strings.TrimSpace(lines[j])
		switch {
		case t == "" || strings.HasPrefix(t, "#"):
			continue
		case strings.HasPrefix(t, "{{"):
			if controlAction(t) {
				continue
			}
			if col < 0 {
				return nil
			}
			if indent(lines[j]) <= col {
				return items
			}
			continue
		}
		in := indent(lines[j])
		if col < 0 {
			if !strings.HasPrefix(t, "-") {
				return nil
			}
			col = in
		}
		if in < col || in == col && !strings.HasPrefix(t, "-") {
			return items
		}
		if in == col {
			items = append(items, j)
		}
	}
	return items
}

// itemName is the name an element written at line start gives itself in
// the template, if it has a name key of its own.
func itemName(lines []string, start int) (string, bool) {
	col := indent(lines[start])
	for j := start; j < len(lines); j++ {
		t := strings.TrimSpace(lines[j])
		if j > start && t != "" && !strings.HasPrefix(t, "{{") && indent(lines[j]) <= col {
			break
		}
		if j == start {
			t = strings.TrimSpace(strings.TrimPrefix(t, "-"))
		} else if indent(lines[j]) > col+2 {
			continue // a key of something nested in the element
		}
		if v, ok := strings.CutPrefix(t, "name:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`), true
		}
	}
	return "", false
}

// controlAction reports whether a template line is only an action that
// writes nothing itself: a comment, a condition, a loop or an end.
func controlAction(t string) bool {
	if !strings.HasSuffix(t, "}}") || strings.Count(t, "{{") != 1 {
		return false
	}
	a := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(t, "{{"), "-"))
	for _, w := range []string{"/*", "if ", "else", "with ", "end", "range ", "$"} {
		if strings.HasPrefix(a, w) {
			return true
		}
	}
	return false
}

func indent(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }
