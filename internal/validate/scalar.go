package validate

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Scalars are read as YAML 1.1, not 1.2: kubectl, Argo CD and Helm turn
// YAML into JSON with sigs.k8s.io/yaml, which resolves untagged plain
// scalars by YAML 1.1 rules (go-yaml v2). So `on`, `yes` and `y` are
// booleans, `0755` is octal 493 and `1_000` is 1000; what the API server
// receives is what gets checked. Quoted and block scalars stay strings.

// yaml11Words are the plain scalars YAML 1.1 reads as a value by name.
var yaml11Words = func() map[string]any {
	m := map[string]any{}
	for v, words := range map[any][]string{
		true:  {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"},
		false: {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"},
	} {
		for _, w := range words {
			m[w] = v
		}
	}
	for _, w := range []string{"", "~", "null", "Null", "NULL"} {
		m[w] = nil
	}
	for _, w := range []string{".nan", ".NaN", ".NAN"} {
		m[w] = math.NaN()
	}
	for _, w := range []string{".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"} {
		m[w] = math.Inf(1)
	}
	for _, w := range []string{"-.inf", "-.Inf", "-.INF"} {
		m[w] = math.Inf(-1)
	}
	return m
}()

// yaml11Float is the decimal float syntax YAML 1.1 resolvers accept
// (no hex floats, no "inf" spelled out).
var yaml11Float = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// resolve11 is the value of a plain scalar under YAML 1.1: nil, bool,
// int64, uint64, float64 or the string itself.
func resolve11(s string) any {
	if v, ok := yaml11Words[s]; ok {
		return v
	}
	if s == "" {
		return s
	}
	switch c := s[0]; {
	case c == '.':
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	case c == '+' || c == '-' || c >= '0' && c <= '9':
		// Underscores group digits anywhere; base prefixes (0x, 0o, 0b)
		// and a leading 0 (octal) are Go's, which are YAML 1.1's.
		p := strings.ReplaceAll(s, "_", "")
		if i, err := strconv.ParseInt(p, 0, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(p, 0, 64); err == nil {
			return u
		}
		if yaml11Float.MatchString(p) {
			if f, err := strconv.ParseFloat(p, 64); err == nil {
				return f
			}
		}
	}
	return s
}

// scalar is the JSON value of a scalar node as sigs.k8s.io/yaml makes it.
func scalar(n *yaml.Node) (any, error) {
	tagged := n.Style&yaml.TaggedStyle != 0
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0
	tag := ""
	if tagged {
		tag = n.ShortTag()
	}
	var v any
	switch {
	case tag == "!!str", tag == "!!binary", tag == "!!timestamp":
		return n.Value, nil
	case tag == "" && quoted:
		return n.Value, nil
	case tag == "", tag == "!!null", tag == "!!bool", tag == "!!int", tag == "!!float":
		v = resolve11(n.Value)
	default:
		// Application tags (!Ref, !vault) leave the text as it is.
		return n.Value, nil
	}
	if tag != "" {
		var ok bool
		if v, ok = asTag(v, tag); !ok {
			return nil, fmt.Errorf("line %d: cannot read %q as %s", n.Line, n.Value, tag)
		}
	}
	if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
		return nil, fmt.Errorf("line %d: %s is not a number JSON can carry, so no Kubernetes client can send it", n.Line, n.Value)
	}
	return v, nil
}

// asTag checks a resolved value against an explicit tag; an integer
// tagged !!float becomes a float.
func asTag(v any, tag string) (any, bool) {
	switch t := v.(type) {
	case nil:
		return nil, tag == "!!null"
	case bool:
		return t, tag == "!!bool"
	case int64:
		if tag == "!!float" {
			return float64(t), true
		}
		return t, tag == "!!int"
	case uint64:
		if tag == "!!float" {
			return float64(t), true
		}
		return t, tag == "!!int"
	case float64:
		return t, tag == "!!float"
	}
	return v, false
}

// mapKey is the JSON key a mapping key becomes: sigs.k8s.io/yaml writes
// resolved booleans and numbers in their JSON form, so `on:` is "true".
func mapKey(k *yaml.Node) (string, error) {
	v, err := scalar(k)
	if err != nil {
		return "", err
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case uint64:
		return strconv.FormatUint(t, 10), nil
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 32), nil
	}
	return "", fmt.Errorf("line %d: a null mapping key has no JSON form", k.Line)
}

// keyOf is mapKey for finding a path again; a key with no JSON form
// never matches one.
func keyOf(k *yaml.Node) string {
	if k.Style != 0 {
		return k.Value
	}
	s, err := mapKey(k)
	if err != nil {
		return "\x00"
	}
	return s
}
