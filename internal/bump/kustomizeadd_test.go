package bump

import (
	"errors"
	"strings"
	"testing"
)

// TestKustomizeAddText covers the texts the golden cases do not: the
// entry keeps the file's line breaks and its list indent, a file without
// a final line break gets one before the entry, and a list that cannot
// take an entry line-wise is an error naming the file, never a silent
// miss.
func TestKustomizeAddText(t *testing.T) {
	for _, tc := range []struct{ name, in, want, err string }{
		{name: "crlf", in: "resources:\r\n- a.yaml\r\n",
			want: "resources:\r\n- a.yaml\r\nimages:\r\n- name: ghcr.io/acme/api\r\n  newTag: \"1.10\"\r\n"},
		{name: "no final break", in: "resources:\n    - a.yaml",
			want: "resources:\n    - a.yaml\nimages:\n    - name: ghcr.io/acme/api\n      newTag: \"1.10\"\n"},
		{name: "trailing comment", in: "images:\n  - name: other\n    newTag: x\n# end\n",
			want: "images:\n  - name: other\n    newTag: x\n  - name: ghcr.io/acme/api\n    newTag: \"1.10\"\n# end\n"},
		{name: "flow list", in: "resources: [a.yaml]\nimages: []\n", err: "kustomization.yaml: kustomize-add: images: at line 2 is not a block list"},
		{name: "flow mapping", in: "{resources: [a.yaml]}\n", err: "not a block mapping"},
		{name: "keep chomping", in: "configMapGenerator:\n- name: c\n  literals:\n  - |+\n    a\n\n", err: "would change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEditor(Editor{Image: "ghcr.io/acme/api", Tag: "1.10", KustomizeAdd: []string{"."}})
			if err != nil {
				t.Fatal(err)
			}
			if !e.Candidate([]byte(tc.in)) {
				t.Fatal("not a candidate")
			}
			res, err := e.Edit("kustomization.yaml", []byte(tc.in))
			if tc.err != "" {
				var fe *FileError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want a file error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Out) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", res.Out, tc.want)
			}
			if res.Found != 1 {
				t.Errorf("found %d, want 1", res.Found)
			}
		})
	}
}
