package yamledit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// SyntaxError is malformed YAML, with the 1-based line the parser named.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// ErrUnsupported is returned for nodes the editor will not rewrite in place
// (block scalars, multi-line plain scalars, flow mappings it must grow).
var ErrUnsupported = errors.New("unsupported YAML construct")

// File is one parsed YAML stream and the edits pending on it.
type File struct {
	src   []byte
	Docs  []*yaml.Node // document nodes, in order
	lines []int        // byte offset of the start of each line; lines[0] is line 1
	flow  map[*yaml.Node]bool
	spans map[*yaml.Node][2]int // located before any edit changed the node's value
	edits []splice
}

type splice struct {
	start, end int
	text       string
}

var lineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse reads every document of src.
func Parse(src []byte) (*File, error) {
	docs, err := decodeAll(src)
	if err != nil {
		return nil, err
	}
	f := &File{src: src, Docs: docs, flow: map[*yaml.Node]bool{}, spans: map[*yaml.Node][2]int{}}
	f.lines = append(f.lines, 0)
	for i, b := range src {
		if b == '\n' {
			f.lines = append(f.lines, i+1)
		}
	}
	for _, d := range docs {
		f.markFlow(d, false)
	}
	return f, nil
}

func decodeAll(src []byte) (docs []*yaml.Node, err error) {
	// yaml.v3 panics on a few pathological inputs; that is a syntax error too.
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, &SyntaxError{Msg: fmt.Sprintf("yaml: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			msg := err.Error()
			if m := lineRE.FindStringSubmatch(msg); m != nil {
				line, _ := strconv.Atoi(m[1])
				return nil, &SyntaxError{Line: line, Msg: m[2]}
			}
			return nil, &SyntaxError{Msg: msg}
		}
		docs = append(docs, &n)
	}
}

func (f *File) markFlow(n *yaml.Node, in bool) {
	if n.Style&yaml.FlowStyle != 0 {
		in = true
	}
	f.flow[n] = in
	if n.Kind == yaml.AliasNode {
		return
	}
	for _, c := range n.Content {
		f.markFlow(c, in)
	}
}

// Source returns the original text.
func (f *File) Source() []byte { return f.src }

// Changed reports whether any edit is pending.
func (f *File) Changed() bool { return len(f.edits) > 0 }

// offset turns a node's line and column (1-based, column in characters)
// into a byte offset.
func (f *File) offset(line, col int) (int, error) {
	if line < 1 || line > len(f.lines) {
		return 0, fmt.Errorf("line %d out of range: %w", line, ErrUnsupported)
	}
	off := f.lines[line-1]
	for i := 1; i < col; i++ {
		if off >= len(f.src) || f.src[off] == '\n' {
			return 0, fmt.Errorf("column %d beyond line %d: %w", col, line, ErrUnsupported)
		}
		_, w := utf8.DecodeRune(f.src[off:])
		off += w
	}
	return off, nil
}

// Span returns the byte range of the scalar's text (quotes included,
// anchor and tag excluded).
func (f *File) Span(n *yaml.Node) (start, end int, err error) {
	if s, ok := f.spans[n]; ok {
		return s[0], s[1], nil
	}
	start, end, err = f.span(n)
	if err == nil {
		f.spans[n] = [2]int{start, end}
	}
	return start, end, err
}

func (f *File) span(n *yaml.Node) (start, end int, err error) {
	if n.Kind != yaml.ScalarNode {
		return 0, 0, fmt.Errorf("node at line %d is not a scalar: %w", n.Line, ErrUnsupported)
	}
	off, err := f.offset(n.Line, n.Column)
	if err != nil {
		return 0, 0, err
	}
	off = f.skipProperties(off, n)
	src := f.src
	if off >= len(src) {
		return 0, 0, fmt.Errorf("scalar at line %d: %w", n.Line, ErrUnsupported)
	}
	switch n.Style &^ yaml.TaggedStyle {
	case yaml.DoubleQuotedStyle:
		if src[off] != '"' {
			return 0, 0, fmt.Errorf("scalar at line %d: expected '\"': %w", n.Line, ErrUnsupported)
		}
		for i := off + 1; i < len(src); i++ {
			switch src[i] {
			case '\\':
				i++
			case '"':
				return off, i + 1, f.check(n, off, i+1)
			}
		}
	case yaml.SingleQuotedStyle:
		if src[off] != '\'' {
			return 0, 0, fmt.Errorf("scalar at line %d: expected \"'\": %w", n.Line, ErrUnsupported)
		}
		for i := off + 1; i < len(src); i++ {
			if src[i] == '\'' {
				if i+1 < len(src) && src[i+1] == '\'' {
					i++
					continue
				}
				return off, i + 1, f.check(n, off, i+1)
			}
		}
	case 0:
		end := plainEnd(src, off, f.flow[n])
		if string(src[off:end]) != n.Value {
			return 0, 0, fmt.Errorf("plain scalar at line %d spans lines: %w", n.Line, ErrUnsupported)
		}
		return off, end, nil
	default:
		return 0, 0, fmt.Errorf("block scalar at line %d: %w", n.Line, ErrUnsupported)
	}
	return 0, 0, fmt.Errorf("unterminated scalar at line %d: %w", n.Line, ErrUnsupported)
}

// skipProperties steps over an anchor (&a) and tag (!t) before a scalar,
// which the parser includes in the node's position.
func (f *File) skipProperties(off int, n *yaml.Node) int {
	src := f.src
	for off < len(src) && (src[off] == '&' || src[off] == '!') && (n.Anchor != "" || n.Style&yaml.TaggedStyle != 0 || n.Tag != "") {
		for off < len(src) && !isSpace(src[off]) {
			off++
		}
		for off < len(src) && isSpace(src[off]) {
			off++
		}
	}
	return off
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// plainEnd finds where a single-line plain scalar starting at off ends.
func plainEnd(src []byte, off int, flow bool) int {
	i := off
	for ; i < len(src); i++ {
		c := src[i]
		if c == '\n' || c == '\r' {
			break
		}
		if c == '#' && i > off && (src[i-1] == ' ' || src[i-1] == '\t') {
			break
		}
		if c == ':' && (i+1 == len(src) || isSpace(src[i+1]) || flow && isFlowIndicator(src[i+1])) {
			break
		}
		if flow && isFlowIndicator(c) {
			break
		}
	}
	for i > off && (src[i-1] == ' ' || src[i-1] == '\t') {
		i--
	}
	return i
}

func isFlowIndicator(c byte) bool { return c == ',' || c == '[' || c == ']' || c == '{' || c == '}' }

// check confirms that the quoted text at [start,end) decodes to the node's value.
func (f *File) check(n *yaml.Node, start, end int) error {
	var v yaml.Node
	if err := yaml.Unmarshal(f.src[start:end], &v); err != nil || len(v.Content) != 1 || v.Content[0].Value != n.Value {
		return fmt.Errorf("scalar at line %d: text does not match the parsed value: %w", n.Line, ErrUnsupported)
	}
	return nil
}

// Set replaces the scalar's value with the string value, keeping its
// quoting style where the new value can be written in it and still read
// back as that string; a plain scalar that would not is double-quoted.
func (f *File) Set(n *yaml.Node, value string) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Value == value {
		return nil
	}
	start, end, err := f.Span(n)
	if err != nil {
		return err
	}
	text := quote(value, n, f.flow[n])
	for _, e := range f.edits {
		if e.start == start {
			if e.text == text {
				return nil
			}
			return fmt.Errorf("scalar at line %d set twice to different values: %w", n.Line, ErrUnsupported)
		}
	}
	f.edits = append(f.edits, splice{start, end, text})
	// The tree carries the edit too: Bytes compares the re-parsed result with it.
	n.Value = value
	if n.Style&yaml.TaggedStyle == 0 {
		var v yaml.Node
		if err := yaml.Unmarshal([]byte(text), &v); err == nil && len(v.Content) == 1 {
			n.Tag = v.Content[0].ShortTag()
		}
	}
	return nil
}

// quote writes value in the node's style where that is safe.
func quote(value string, n *yaml.Node, flow bool) string {
	switch n.Style &^ yaml.TaggedStyle {
	case 0:
		if plainOK(value, n, flow) {
			return value
		}
	case yaml.SingleQuotedStyle:
		if singleOK(value) {
			return "'" + stringsReplaceQuote(value) + "'"
		}
	}
	return doubleQuote(value)
}

func stringsReplaceQuote(s string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte("'"), []byte("''")))
}

func singleOK(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError || r == '\u0085' || r == '\u2028' || r == '\u2029' || r == '\ufeff' {
			return false
		}
	}
	return true
}

// plainOK reports whether value, written unquoted, reads back as the same
// string under YAML 1.2 and YAML 1.1 alike: a tag 1.10 is the float 1.1, a
// tag on or 0755 is a bool or an octal to a 1.1 reader, so those are quoted
// even where the old value was a plain number. An explicit tag (!!str 2)
// decides the type whatever the text.
func plainOK(value string, n *yaml.Node, flow bool) bool {
	if value == "" || !singleOK(value) {
		return false
	}
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c == ' ' || c == '\t' || c == '#' || c == ':' || c == '\'' || c == '"' || flow && isFlowIndicator(c) {
			// ':' and '#' are fine inside many plain scalars, but the
			// parse below is cheaper to trust with a small alphabet.
			if c == ':' && i > 0 && i+1 < len(value) && value[i+1] != ' ' && !(flow && isFlowIndicator(value[i+1])) {
				continue
			}
			if c == '#' && i > 0 && value[i-1] != ' ' {
				continue
			}
			return false
		}
	}
	var v yaml.Node
	if err := yaml.Unmarshal([]byte(value), &v); err != nil || len(v.Content) != 1 {
		return false
	}
	s := v.Content[0]
	if s.Kind != yaml.ScalarNode || s.Value != value || s.Style != 0 {
		return false
	}
	if n.Style&yaml.TaggedStyle != 0 && n.ShortTag() == "!!str" {
		return true
	}
	return s.ShortTag() == "!!str" && !yaml11Typed(value)
}

// yaml11Typed reports whether a YAML 1.1 reader (PyYAML, older Helm and
// kubectl tooling, the implicit types of the 1.1 type repository) resolves
// the plain scalar s to something other than a string.
func yaml11Typed(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
		"true", "True", "TRUE", "false", "False", "FALSE",
		"on", "On", "ON", "off", "Off", "OFF",
		"~", "null", "Null", "NULL", "", "<<", "=":
		return true
	}
	return yaml11Number.MatchString(s) || yaml11Time.MatchString(s)
}

var (
	yaml11Number = regexp.MustCompile(`^(?:` +
		`[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+` + // int
		`|[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*(?:[eE][-+]?[0-9]+)` + // float, and 1.2's 1e3
		`|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)` +
		`|[-+]?0o[0-7]+|[-+]?[0-9]+` + // 1.2 core octal; leading zeros
		`)$`)
	yaml11Time = regexp.MustCompile(`^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?$`)
)

// doubleQuote writes a YAML double-quoted scalar.
func doubleQuote(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f || r == '\u0085' || r == '\u2028' || r == '\u2029' || r == '\ufeff':
			fmt.Fprintf(&b, `\u%04x`, r)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// lineEnd returns the offset just past the end of the line holding off
// (after its line break, or len(src)).
func (f *File) lineEnd(off int) int {
	if i := bytes.IndexByte(f.src[off:], '\n'); i >= 0 {
		return off + i + 1
	}
	return len(f.src)
}

func (f *File) lineStart(off int) int {
	return bytes.LastIndexByte(f.src[:off], '\n') + 1
}

// eol is the line break the file uses near off.
func (f *File) eol(off int) string {
	end := f.lineEnd(off)
	if end >= 2 && f.src[end-1] == '\n' && f.src[end-2] == '\r' {
		return "\r\n"
	}
	if end == len(f.src) && (end == 0 || f.src[end-1] != '\n') {
		if bytes.Contains(f.src, []byte("\r\n")) {
			return "\r\n"
		}
	}
	return "\n"
}

// singleLinePair returns the span of a key: value pair written on one line,
// the key being the first thing on it after indentation or "- ".
func (f *File) singleLinePair(k, v *yaml.Node) (keyStart, valEnd int, err error) {
	if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode || k.Line != v.Line || v.Anchor != "" || k.Anchor != "" {
		return 0, 0, fmt.Errorf("pair at line %d is not a one-line scalar pair: %w", k.Line, ErrUnsupported)
	}
	ks, _, err := f.Span(k)
	if err != nil {
		return 0, 0, err
	}
	_, ve, err := f.Span(v)
	if err != nil {
		return 0, 0, err
	}
	return ks, ve, nil
}

// SetPair sets key to value in the block mapping m, adding the pair after
// the mapping's last one-line pair when the key is missing.
func (f *File) SetPair(m *yaml.Node, key, value string) error {
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("node at line %d is not a mapping: %w", m.Line, ErrUnsupported)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return f.Set(m.Content[i+1], value)
		}
	}
	if f.flow[m] || len(m.Content) == 0 {
		return fmt.Errorf("cannot add %q to the flow or empty mapping at line %d: %w", key, m.Line, ErrUnsupported)
	}
	// After the last pair if it is one line, else after the first.
	var after = -1
	for _, i := range []int{len(m.Content) - 2, 0} {
		if _, _, err := f.singleLinePair(m.Content[i], m.Content[i+1]); err == nil {
			after = i
			break
		}
	}
	if after < 0 {
		return fmt.Errorf("cannot add %q to the mapping at line %d: %w", key, m.Line, ErrUnsupported)
	}
	ks, ve, _ := f.singleLinePair(m.Content[after], m.Content[after+1])
	ls := f.lineStart(ks)
	indent := bytes.Repeat([]byte(" "), utf8.RuneCount(f.src[ls:ks]))
	for _, c := range f.src[ls:ks] {
		if c != ' ' && c != '-' {
			return fmt.Errorf("cannot add %q next to the key at line %d: %w", key, m.Content[after].Line, ErrUnsupported)
		}
	}
	at := f.lineEnd(ve)
	eol := f.eol(ve)
	text := string(indent) + keyText(key) + ": " + doubleQuoteIfNeeded(value) + eol
	if at == len(f.src) && (at == 0 || f.src[at-1] != '\n') {
		text = eol + text
	}
	for _, e := range f.edits {
		if e.start == at && e.end == at {
			return fmt.Errorf("two keys added at one place in the mapping at line %d: %w", m.Line, ErrUnsupported)
		}
	}
	f.edits = append(f.edits, splice{at, at, text})
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
	v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	pos := after + 2
	m.Content = slices.Insert(m.Content, pos, k, v)
	return nil
}

func keyText(k string) string {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str"}
	if plainOK(k, n, false) {
		return k
	}
	return doubleQuote(k)
}

func doubleQuoteIfNeeded(v string) string { return keyText(v) }

// DeletePair removes key from the block mapping m when the pair is on a
// line of its own. A missing key is not an error.
func (f *File) DeletePair(m *yaml.Node, key string) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			continue
		}
		if f.flow[m] {
			return fmt.Errorf("cannot remove %q from the flow mapping at line %d: %w", key, m.Line, ErrUnsupported)
		}
		ks, ve, err := f.singleLinePair(m.Content[i], m.Content[i+1])
		if err != nil {
			return err
		}
		ls := f.lineStart(ks)
		if len(bytes.TrimLeft(f.src[ls:ks], " ")) != 0 {
			return fmt.Errorf("cannot remove %q: it shares line %d with other text: %w", key, m.Content[i].Line, ErrUnsupported)
		}
		rest := f.src[ve:f.lineEnd(ve)]
		if t := bytes.TrimSpace(rest); len(t) > 0 && t[0] != '#' {
			return fmt.Errorf("cannot remove %q: it shares line %d with other text: %w", key, m.Content[i].Line, ErrUnsupported)
		}
		f.edits = append(f.edits, splice{ls, f.lineEnd(ve), ""})
		m.Content = slices.Delete(m.Content, i, i+2)
		return nil
	}
	return nil
}

// Bytes applies the pending edits to the original text and verifies that
// the result parses to the original tree with exactly those edits.
func (f *File) Bytes() ([]byte, error) {
	if len(f.edits) == 0 {
		return f.src, nil
	}
	edits := slices.Clone(f.edits)
	slices.SortStableFunc(edits, func(a, b splice) int { return a.start - b.start })
	var out bytes.Buffer
	pos := 0
	for _, e := range edits {
		if e.start < pos {
			return nil, fmt.Errorf("overlapping edits: %w", ErrUnsupported)
		}
		out.Write(f.src[pos:e.start])
		out.WriteString(e.text)
		pos = e.end
	}
	out.Write(f.src[pos:])
	res := out.Bytes()
	if err := f.verify(res); err != nil {
		return nil, err
	}
	return res, nil
}

// verify compares a parse of the result with f's tree, which carries the
// edits already.
func (f *File) verify(res []byte) error {
	got, err := decodeAll(res)
	if err != nil {
		return fmt.Errorf("edited text does not parse (%v): %w", err, ErrUnsupported)
	}
	if len(got) != len(f.Docs) {
		return fmt.Errorf("edited text has %d documents, want %d: %w", len(got), len(f.Docs), ErrUnsupported)
	}
	for i := range got {
		if p := Diff(f.Docs[i], got[i]); p != "" {
			return fmt.Errorf("edited text differs from the intended edit at %s: %w", p, ErrUnsupported)
		}
	}
	return nil
}

// Diff compares two trees by kind, resolved tag, value, anchors and
// structure (not position, comments or style) and returns the path of the
// first difference, or "".
func Diff(a, b *yaml.Node) string {
	return diff(a, b, "$", map[*yaml.Node]bool{})
}

func diff(a, b *yaml.Node, path string, seen map[*yaml.Node]bool) string {
	if a.Kind != b.Kind || a.Anchor != b.Anchor {
		return path
	}
	if a.Kind == yaml.AliasNode {
		if a.Alias.Anchor != b.Alias.Anchor || a.Value != b.Value {
			return path
		}
		return ""
	}
	if a.Kind == yaml.ScalarNode && (a.Value != b.Value || a.ShortTag() != b.ShortTag()) {
		return path
	}
	if len(a.Content) != len(b.Content) {
		return path
	}
	if seen[a] {
		return ""
	}
	seen[a] = true
	for i := range a.Content {
		p := path + "[" + strconv.Itoa(i) + "]"
		if a.Kind == yaml.MappingNode && i%2 == 1 {
			p = path + "." + a.Content[i-1].Value
		}
		if d := diff(a.Content[i], b.Content[i], p, seen); d != "" {
			return d
		}
	}
	return ""
}

// Lookup returns the value of key in mapping m, following aliases, or nil
// when m is not a mapping or has no such key.
func Lookup(m *yaml.Node, key string) *yaml.Node {
	m = Deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return Deref(m.Content[i+1])
		}
	}
	return nil
}

// Deref is the node an alias points at; any other node is itself.
func Deref(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}
