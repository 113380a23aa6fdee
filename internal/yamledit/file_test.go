package yamledit

import (
	"errors"
	"testing"

	"gopkg.in/yaml.v3"
)

// find returns the value node of the first key named key, depth first.
func find(n *yaml.Node, key string) (parent, val *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n, n.Content[i+1]
			}
		}
	}
	for _, c := range n.Content {
		if p, v := find(c, key); v != nil {
			return p, v
		}
	}
	return nil, nil
}

func TestSet(t *testing.T) {
	cases := []struct {
		name, in, key, value, want string
	}{
		{"plain", "a: 1  # keep\nt: v1 # c\n", "t", "v2", "a: 1  # keep\nt: v2 # c\n"},
		{"double", "t: \"v1\"\n", "t", "v2", "t: \"v2\"\n"},
		{"single", "t: 'v1'\n", "t", "it's", "t: 'it''s'\n"},
		{"plain to a bool is quoted", "t: v1\n", "t", "true", "t: \"true\"\n"},
		{"plain float to a float-like tag is quoted", "t: 1.9\n", "t", "1.10", "t: \"1.10\"\n"},
		{"plain version stays plain", "t: 1.9.0\n", "t", "1.10.0", "t: 1.10.0\n"},
		{"yaml 1.1 bool is quoted", "t: v1\n", "t", "on", "t: \"on\"\n"},
		{"yaml 1.1 bool y is quoted", "t: v1\n", "t", "y", "t: \"y\"\n"},
		{"null is quoted", "t: v1\n", "t", "null", "t: \"null\"\n"},
		{"tilde is quoted", "t: v1\n", "t", "~", "t: \"~\"\n"},
		{"octal is quoted", "t: v1\n", "t", "0755", "t: \"0755\"\n"},
		{"leading zeros are quoted", "t: v1\n", "t", "0099", "t: \"0099\"\n"},
		{"1.2 octal is quoted", "t: v1\n", "t", "0o17", "t: \"0o17\"\n"},
		{"sexagesimal is quoted", "t: v1\n", "t", "1:20", "t: \"1:20\"\n"},
		{"exponent is quoted", "t: v1\n", "t", "1e3", "t: \"1e3\"\n"},
		{"underscored int is quoted", "t: v1\n", "t", "1_000", "t: \"1_000\"\n"},
		{"date is quoted", "t: v1\n", "t", "2024-01-02", "t: \"2024-01-02\"\n"},
		{"infinity is quoted", "t: v1\n", "t", ".inf", "t: \".inf\"\n"},
		{"single-quoted number stays single", "t: '1.9'\n", "t", "1.10", "t: '1.10'\n"},
		{"double-quoted number stays double", "t: \"1.9\"\n", "t", "1.10", "t: \"1.10\"\n"},
		{"date-like version stays plain", "t: v1\n", "t", "2024.01.02", "t: 2024.01.02\n"},
		{"plain string to a number is quoted", "t: v1\n", "t", "2", "t: \"2\"\n"},
		{"anchor", "t: &x v1\nu: *x\n", "t", "v2", "t: &x v2\nu: *x\n"},
		{"anchor on its own line", "t: &x\n  v1\nu: *x\n", "t", "v2", "t: &x\n  v2\nu: *x\n"},
		{"tagged", "t: !!str 1\n", "t", "2", "t: !!str 2\n"},
		{"crlf", "a: 1\r\nt: v1\r\n\r\n", "t", "v2", "a: 1\r\nt: v2\r\n\r\n"},
		{"flow", "m: {t: v1, u: 2}\n", "t", "v2", "m: {t: v2, u: 2}\n"},
		{"flow comma is quoted", "m: {t: v1, u: 2}\n", "t", "a,b", "m: {t: \"a,b\", u: 2}\n"},
		{"multi-doc", "---\nt: v1\n---\nx: 1\n...\n", "t", "v2", "---\nt: v2\n---\nx: 1\n...\n"},
		{"unicode before", "ä: ö\nt: v1\n", "t", "v2", "ä: ö\nt: v2\n"},
		{"colon in value", "t: ghcr.io/a:1\n", "t", "ghcr.io/a:2@sha256:1", "t: ghcr.io/a:2@sha256:1\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var n *yaml.Node
			for _, d := range f.Docs {
				if _, v := find(d, tc.key); v != nil {
					n = v
					break
				}
			}
			if err := f.Set(n, tc.value); err != nil {
				t.Fatal(err)
			}
			out, err := f.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("got %q, want %q", out, tc.want)
			}
		})
	}
}

func TestSetUnsupported(t *testing.T) {
	for _, in := range []string{"t: |\n  v1\n", "t: >-\n  v1\n", "t: v1\n  continued\n"} {
		f, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		_, v := find(f.Docs[0], "t")
		if err := f.Set(v, "v2"); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%q: got %v, want ErrUnsupported", in, err)
		}
	}
}

func TestSetPairAndDelete(t *testing.T) {
	in := "images:\n  - name: a # the app\n    newTag: \"1\"\n    digest: sha256:x\r\n  - name: b\n"
	f, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	seq := f.Docs[0].Content[0].Content[1]
	if err := f.DeletePair(seq.Content[0], "digest"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetPair(seq.Content[1], "newTag", "2"); err != nil {
		t.Fatal(err)
	}
	out, err := f.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := "images:\n  - name: a # the app\n    newTag: \"1\"\n  - name: b\n    newTag: \"2\"\n"
	if string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

func TestSyntaxErrorLine(t *testing.T) {
	_, err := Parse([]byte("a: 1\nb: [\n"))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line == 0 {
		t.Fatalf("got %v, want a SyntaxError with a line", err)
	}
}
