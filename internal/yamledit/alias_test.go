package yamledit

import (
	"strings"
	"testing"
	"time"
)

// Editing never expands aliases: a file holding an alias bomb (nine
// nested lists of nine, 9^9 values through its last alias) is parsed,
// edited and verified in time proportional to its text.
func TestAliasBombEdits(t *testing.T) {
	var b strings.Builder
	b.WriteString("a: &a [" + strings.TrimSuffix(strings.Repeat("lol,", 9), ",") + "]\n")
	for c := 'b'; c <= 'i'; c++ {
		b.WriteString(string(c) + ": &" + string(c) + " [" + strings.TrimSuffix(strings.Repeat("*"+string(c-1)+",", 9), ",") + "]\n")
	}
	b.WriteString("image: ghcr.io/acme/api:1\n")
	done := make(chan error, 1)
	var out []byte
	go func() {
		f, err := Parse([]byte(b.String()))
		if err != nil {
			done <- err
			return
		}
		_, img := find(f.Docs[0].Content[0], "image")
		if err := f.Set(img, "ghcr.io/acme/api:2"); err != nil {
			done <- err
			return
		}
		out, err = f.Bytes()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("editing a file with an alias bomb did not finish within 10s")
	}
	if want := strings.Replace(b.String(), "api:1", "api:2", 1); string(out) != want {
		t.Errorf("edited:\n%s\nwant:\n%s", out, want)
	}
}
