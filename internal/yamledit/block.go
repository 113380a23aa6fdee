package yamledit

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// SetLiteral replaces the value of a literal block scalar (|, |-, |+)
// line by line: the header, the indentation and every line whose text
// does not change keep their bytes. It suits a value edited in place
// (lines set, added or removed here and there), such as YAML embedded as
// a string; anything it cannot lay out the same way is ErrUnsupported.
func (f *File) SetLiteral(n *yaml.Node, value string) error {
	n = Deref(n)
	if n.Kind != yaml.ScalarNode || n.Style&yaml.LiteralStyle == 0 {
		return fmt.Errorf("node at line %d is not a literal block scalar: %w", n.Line, ErrUnsupported)
	}
	if n.Value == value {
		return nil
	}
	oldBody, oldTail := splitTail(n.Value)
	newBody, newTail := splitTail(value)
	if oldTail != newTail || oldBody == "" || newBody == "" {
		return fmt.Errorf("block scalar at line %d: the new value changes its trailing line breaks: %w", n.Line, ErrUnsupported)
	}
	if n.Line >= len(f.lines) {
		return fmt.Errorf("block scalar at line %d has no body: %w", n.Line, ErrUnsupported)
	}
	oldLines := strings.Split(oldBody, "\n")
	start := f.lines[n.Line] // the line after the header
	// The body's lines as written, each checked against the parsed value.
	type srcLine struct {
		start, end int // end is past the line break
		eol        string
	}
	var src []srcLine
	indent := ""
	off := start
	for i, l := range oldLines {
		if off >= len(f.src) {
			return fmt.Errorf("block scalar at line %d ends early: %w", n.Line, ErrUnsupported)
		}
		end := f.lineEnd(off)
		text := strings.TrimSuffix(strings.TrimSuffix(string(f.src[off:end]), "\n"), "\r")
		eol := string(f.src[off+len(text) : end])
		if l != "" && indent == "" {
			indent = text[:len(text)-len(strings.TrimLeft(text, " "))]
		}
		ok := l == "" && strings.TrimLeft(text, " ") == "" || indent != "" && text == indent+l
		if !ok || i < len(oldLines)-1 && eol == "" {
			return fmt.Errorf("block scalar at line %d: line %d does not hold its value as written: %w", n.Line, n.Line+1+i, ErrUnsupported)
		}
		src = append(src, srcLine{off, end, eol})
		off = end
	}
	eolDefault := src[0].eol
	if eolDefault == "" {
		eolDefault = f.eol(start)
	}
	newLines := strings.Split(newBody, "\n")
	var b strings.Builder
	write := func(l, eol string) {
		if l != "" {
			b.WriteString(indent)
		}
		b.WriteString(l)
		b.WriteString(eol)
	}
	// Edits are sparse: walk both bodies, keeping lines that match and
	// writing out the few that were set, added or removed.
	i, j := 0, 0
	for i < len(oldLines) || j < len(newLines) {
		switch {
		case i < len(oldLines) && j < len(newLines) && oldLines[i] == newLines[j]:
			b.Write(f.src[src[i].start:src[i].end])
			i, j = i+1, j+1
		case i+1 < len(oldLines) && j < len(newLines) && oldLines[i+1] == newLines[j]:
			i++ // removed
		case j+1 < len(newLines) && i < len(oldLines) && oldLines[i] == newLines[j+1], i >= len(oldLines):
			eol := eolDefault
			if i >= len(oldLines) && src[len(src)-1].eol == "" {
				// Appending after a last line with no break: it needs one now.
				b.WriteString(eolDefault)
				eol = ""
			}
			write(newLines[j], eol) // added
			j++
		case j >= len(newLines):
			i++ // removed at the end
		default:
			write(newLines[j], src[i].eol) // set
			i, j = i+1, j+1
		}
	}
	f.edits = append(f.edits, splice{start, src[len(src)-1].end, b.String()})
	n.Value = value
	return nil
}

// splitTail splits a block scalar's value into its body and the line
// breaks ending it.
func splitTail(v string) (body, tail string) {
	body = strings.TrimRight(v, "\n")
	return body, v[len(body):]
}
