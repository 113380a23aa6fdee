package yamledit

import (
	"errors"
	"strings"
	"testing"
)

func TestSetLiteral(t *testing.T) {
	for _, tc := range []struct {
		name, in, from, to, want string
	}{
		{"set", "a:\n  v: |\n    x: 1\n\n    y: 2   \n  w: 1\n", "y: 2   ", "y: 3",
			"a:\n  v: |\n    x: 1\n\n    y: 3\n  w: 1\n"},
		{"add", "v: |\n  x:\n    a: 1\n# after\n", "  a: 1", "  a: 1\n  b: 2",
			"v: |\n  x:\n    a: 1\n    b: 2\n# after\n"},
		{"remove", "v: |\n  a: 1\n  b: 2\n  c: 3\n", "b: 2\n", "",
			"v: |\n  a: 1\n  c: 3\n"},
		{"strip, no final break", "v: |-\n  a: 1\n  b: 2", "b: 2", "b: 3",
			"v: |-\n  a: 1\n  b: 3"},
		{"append after a last line with no break", "v: |-\n  a: 1", "a: 1", "a: 1\nb: 2",
			"v: |-\n  a: 1\n  b: 2"},
		{"crlf", "v: |\r\n  a: 1\r\n  b: 2\r\nw: 1\r\n", "a: 1", "a: 9",
			"v: |\r\n  a: 9\r\n  b: 2\r\nw: 1\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			_, n := find(f.Docs[0], "v")
			if err := f.SetLiteral(n, strings.Replace(n.Value, tc.from, tc.to, 1)); err != nil {
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

func TestSetLiteralUnsupported(t *testing.T) {
	for name, in := range map[string]string{
		"folded":                "v: >\n  a: 1\n",
		"quoted":                "v: \"a: 1\\n\"\n",
		"indentation indicator": "v: |4\n      a: 1\n",
	} {
		t.Run(name, func(t *testing.T) {
			f, err := Parse([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			_, n := find(f.Docs[0], "v")
			err = f.SetLiteral(n, strings.Replace(n.Value, "1", "2", 1))
			if err == nil {
				_, err = f.Bytes()
			}
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("SetLiteral = %v, want ErrUnsupported", err)
			}
		})
	}
}
