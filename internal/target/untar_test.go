package target

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name     string
	typ      byte
	body     string
	linkname string
}

func writeTar(t *testing.T, entries ...entry) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.linkname}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func blobName(body string) string { return fmt.Sprintf("blobs/sha256/%x", sha256.Sum256([]byte(body))) }

// Names as `tar -C dir -cf x.tar .` writes them ("./", "./blobs/…") and
// links that stay inside unpack; a blob is hashed against its name.
func TestUntarAccepts(t *testing.T) {
	dst := t.TempDir()
	src := writeTar(t,
		entry{name: "./", typ: tar.TypeDir},
		entry{name: "./oci-layout", typ: tar.TypeReg, body: `{"imageLayoutVersion":"1.0.0"}`},
		entry{name: "./blobs/", typ: tar.TypeDir},
		entry{name: "./" + blobName("layer"), typ: tar.TypeReg, body: "layer"},
		entry{name: "index.json", typ: tar.TypeReg, body: "{}"},
		entry{name: "./alias.json", typ: tar.TypeSymlink, linkname: "index.json"},
		entry{name: "./blobs/sha256/hard", typ: tar.TypeLink, linkname: "./index.json"},
	)
	checked, err := untar(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if !checked[blobName("layer")] || len(checked) != 1 {
		t.Errorf("checked %v, want only %s", checked, blobName("layer"))
	}
	for _, p := range []string{"oci-layout", "index.json", "alias.json", "blobs/sha256/hard", blobName("layer")} {
		if _, err := os.Stat(filepath.Join(dst, p)); err != nil {
			t.Errorf("%s not unpacked: %v", p, err)
		}
	}
}

// Entries that land or point outside the archive are refused before
// anything is written there.
func TestUntarRefuses(t *testing.T) {
	cases := []struct {
		name string
		e    entry
		want string
	}{
		{"parent", entry{name: "../x", typ: tar.TypeReg, body: "x"}, "leaves the archive"},
		{"climbs through a directory", entry{name: "./a/../../x", typ: tar.TypeReg, body: "x"}, "leaves the archive"},
		{"absolute", entry{name: "/tmp/x", typ: tar.TypeReg, body: "x"}, "leaves the archive"},
		{"symlink up", entry{name: "blobs/l", typ: tar.TypeSymlink, linkname: "../../etc/passwd"}, "outside the archive"},
		{"absolute symlink", entry{name: "l", typ: tar.TypeSymlink, linkname: "/etc/passwd"}, "outside the archive"},
		{"hard link up", entry{name: "h", typ: tar.TypeLink, linkname: "../x"}, "outside the archive"},
		{"blob not matching its name", entry{name: blobName("layer"), typ: tar.TypeReg, body: "other"}, "not the digest it is named by"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "dst")
			if err := os.Mkdir(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := untar(writeTar(t, entry{name: "./", typ: tar.TypeDir}, c.e), dst)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			if _, err := os.Lstat(filepath.Join(parent, "x")); err == nil {
				t.Error("a file was written outside the destination")
			}
		})
	}
	t.Run("a symlink inside cannot carry a later entry out", func(t *testing.T) {
		// "d" points inside, but a later "d/../../x" is refused by name, and
		// a write through a link never leaves the root.
		parent := t.TempDir()
		dst := filepath.Join(parent, "dst")
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := untar(writeTar(t, entry{name: "d", typ: tar.TypeSymlink, linkname: "."}, entry{name: "d/../../x", typ: tar.TypeReg, body: "x"}), dst)
		if err == nil {
			t.Fatal("no error")
		}
		if _, err := os.Lstat(filepath.Join(parent, "x")); err == nil {
			t.Error("a file was written outside the destination")
		}
	})
	t.Run("an entry twice", func(t *testing.T) {
		_, err := untar(writeTar(t, entry{name: "index.json", typ: tar.TypeReg, body: "{}"}, entry{name: "./index.json", typ: tar.TypeSymlink, linkname: "x"}), t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "appears twice") {
			t.Fatalf("err %v", err)
		}
	})
}
