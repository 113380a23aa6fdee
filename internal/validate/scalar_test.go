package validate

import (
	"encoding/json"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"
)

// Each scalar is read as kubectl reads it: the test asks
// sigs.k8s.io/yaml itself, so a drift of either side shows.
func TestScalarsAsKubectlReadsThem(t *testing.T) {
	for _, v := range []string{
		// YAML 1.1 booleans, which YAML 1.2 reads as strings.
		"on", "On", "ON", "off", "Off", "yes", "Yes", "YES", "no", "No", "y", "Y", "n", "N",
		"true", "True", "false", "FALSE",
		// Integers: octal by a leading 0, hex, binary, 0o, signs, underscores.
		"0755", "0644", "-017", "+017", "0x1F", "0X1f", "-0x10", "0b1010", "-0b11", "0o17",
		"1_000", "1_0_0", "0", "00", "-0", "12345678901234567890", "9223372036854775807",
		// Not octal, so a decimal float; and other floats.
		"08", "09.5", "1e3", "1E-2", "-1.5", ".5", "+.5", "1.", "6.02e+23", "1_0.5",
		// Null.
		"~", "null", "Null", "NULL", "",
		// Strings that look like something else.
		"0x", "0xZZ", "1.2.3", "+", ".", "1e", "0b2", "2001-12-14", "2001-12-14T21:59:43.10-05:00",
		"12:30", "1:20:30", "v1", "yess", "onn", "nil", "None", "0.0.0.0", "1Gi", "100m", "0.5Gi", "+1Gi",
		"'on'", `"0755"`, `"yes"`, "'0x1F'", "!!str on", "!!str 0755", "!!int 0755", "!!float 1", "!!bool yes",
		"|-\n  on", ">-\n  0755",
	} {
		src := "value: " + v + "\n"
		want, err := sigsyaml.YAMLToJSON([]byte(src))
		if err != nil {
			t.Fatalf("sigs.k8s.io/yaml on %q: %v", src, err)
		}
		docs, fs := parseDocs("x.yaml", []byte(src), 0)
		if len(fs) > 0 || len(docs) != 1 {
			t.Errorf("%q: %d docs, findings %v", v, len(docs), fs)
			continue
		}
		got, err := json.Marshal(docs[0].Object)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if string(got) != string(want) {
			t.Errorf("value %q: got %s, kubectl sends %s", v, got, want)
		}
	}
}

// Keys resolve too: `on:` is the JSON key "true".
func TestMapKeysAsKubectlReadsThem(t *testing.T) {
	for _, k := range []string{"on", "yes", "0755", "0x10", "1.5", "'on'", "plain"} {
		src := k + ": 1\n"
		want, err := sigsyaml.YAMLToJSON([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		docs, fs := parseDocs("x.yaml", []byte(src), 0)
		if len(fs) > 0 || len(docs) != 1 {
			t.Fatalf("%q: findings %v", k, fs)
		}
		got, _ := json.Marshal(docs[0].Object)
		if string(got) != string(want) {
			t.Errorf("key %q: got %s, kubectl sends %s", k, got, want)
		}
	}
}

// What JSON cannot carry is an error, as kubectl's conversion fails on it.
func TestScalarsJSONCannotCarry(t *testing.T) {
	for _, v := range []string{".inf", "-.Inf", ".nan", "!!int yes"} {
		src := "value: " + v + "\n"
		if _, err := sigsyaml.YAMLToJSON([]byte(src)); err == nil {
			t.Fatalf("sigs.k8s.io/yaml accepts %q", v)
		}
		_, fs := parseDocs("x.yaml", []byte(src), 0)
		if len(fs) != 1 || fs[0].Line != 1 || !strings.Contains(fs[0].Message, strings.TrimPrefix(v, "!!int ")) {
			t.Errorf("%q: findings %v, want one at line 1 naming the value", v, fs)
		}
	}
}
