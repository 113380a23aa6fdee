package diffconfig

import (
	"fmt"
	"strconv"
	"strings"
)

// fieldPath is one ignore-fields entry: keys from the object's top, each
// a name, a ["quoted key"], an [index] or * (any key or element).
type fieldPath struct {
	text  string
	parts []string
}

const anyPart = "\x00*"

func parseFieldPath(s string) (fieldPath, error) {
	p := fieldPath{text: s}
	rest := strings.TrimPrefix(strings.TrimSpace(s), ".")
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, "["):
			end := strings.Index(rest, "]")
			if strings.HasPrefix(rest, `["`) || strings.HasPrefix(rest, `['`) {
				q := rest[1:2]
				end = strings.Index(rest[2:], q+"]")
				if end < 0 {
					return p, fmt.Errorf("unclosed %s[ ]", q)
				}
				p.parts = append(p.parts, rest[2:2+end])
				rest = rest[2+end+2:]
				break
			}
			if end < 0 {
				return p, fmt.Errorf("unclosed [")
			}
			in := rest[1:end]
			if in == "*" {
				p.parts = append(p.parts, anyPart)
			} else if _, err := strconv.Atoi(in); err == nil {
				p.parts = append(p.parts, in)
			} else {
				return p, fmt.Errorf("[%s] is neither an index, * nor a quoted key", in)
			}
			rest = rest[end+1:]
		default:
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			name := rest[:end]
			if name == "" {
				return p, fmt.Errorf("empty key")
			}
			if name == "*" {
				name = anyPart
			}
			p.parts = append(p.parts, name)
			rest = rest[end:]
		}
		rest = strings.TrimPrefix(rest, ".")
	}
	if len(p.parts) == 0 {
		return p, fmt.Errorf("empty path")
	}
	return p, nil
}

// drop removes what the path names from obj, in place.
func (p fieldPath) drop(obj any) { dropAt(obj, p.parts) }

func dropAt(v any, parts []string) {
	last := len(parts) == 1
	switch t := v.(type) {
	case map[string]any:
		if parts[0] == anyPart {
			for k, c := range t {
				if last {
					delete(t, k)
				} else {
					dropAt(c, parts[1:])
				}
			}
			return
		}
		c, ok := t[parts[0]]
		if !ok {
			return
		}
		if last {
			delete(t, parts[0])
			return
		}
		dropAt(c, parts[1:])
	case []any:
		if last {
			return // list elements are not dropped one by one
		}
		if parts[0] == anyPart {
			for _, c := range t {
				dropAt(c, parts[1:])
			}
			return
		}
		if i, err := strconv.Atoi(parts[0]); err == nil && i >= 0 && i < len(t) {
			dropAt(t[i], parts[1:])
		}
	}
}
