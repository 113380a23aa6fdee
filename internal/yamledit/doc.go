// Package yamledit changes scalars of a YAML file in place, byte-minimally:
// it finds nodes with a YAML parser that reports positions and splices only
// the bytes of the changed scalar into the original text, so comments, key
// order, quoting style, anchors, blank lines, document separators and CRLF
// line endings stay as they were. Every result is re-parsed and compared
// with the expected tree before it is handed out.
package yamledit
