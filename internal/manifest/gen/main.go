// Command gen writes actions/<name>/action.yml for every action in the
// manifest. Run it through `go generate ./actions`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gitops-actions/gitops-actions/internal/manifest"
)

func main() {
	in := flag.String("manifest", "actions.yaml", "manifest to read")
	out := flag.String("out", ".", "directory holding one folder per action")
	readme := flag.String("readme", "", "README.md whose actions reference to regenerate")
	flag.Parse()
	if err := generate(*in, *out, *readme); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func generate(in, out, readme string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return err
	}
	for i := range m.Actions {
		a := &m.Actions[i]
		dir := filepath.Join(out, a.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating %q: %w", dir, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "action.yml"), manifest.ActionYAML(a), 0o644); err != nil {
			return fmt.Errorf("writing action.yml of %q: %w", a.Name, err)
		}
	}
	if readme == "" {
		return nil
	}
	text, err := os.ReadFile(readme)
	if err != nil {
		return fmt.Errorf("reading %q: %w", readme, err)
	}
	text, err = manifest.SpliceReadme(text, m)
	if err != nil {
		return err
	}
	return os.WriteFile(readme, text, 0o644)
}
