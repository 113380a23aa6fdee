package bump

import (
	"bytes"
	"fmt"
	"path"
	"strings"
	"text/template"
)

// The defaults name one image in the subject and list its files; several
// images get a count in the subject and each image with its files below.
const (
	defaultCommitMessage = `{{if gt (len .Images) 1}}Bump {{len .Images}} images{{with .NewTag}} to {{.}}{{end}}

{{range .Images}}- {{.Image}}{{with .NewTag}} to {{.}}{{end}}{{with .NewDigest}}@{{.}}{{end}}{{if not .Files}} (unchanged){{end}}
{{range .Files}}  - {{.}}
{{end}}{{end}}{{else}}Bump {{.Image}}{{with .NewTag}} to {{.}}{{end}}{{with .NewDigest}}@{{.}}{{end}}

{{range .Files}}- {{.}}
{{end}}{{end}}{{with .SourceRepository}}
Source: {{.}}{{with $.SourceSHA}}@{{.}}{{end}}
{{end}}`
	defaultPRTitle = `{{if gt (len .Images) 1}}Bump {{len .Images}} images{{else}}Bump {{.Image}}{{end}}{{with .NewTag}} to {{.}}{{else}}{{with .NewDigest}} to {{.}}{{end}}{{end}}`
	defaultPRBody  = `This pull request sets {{.Image}} in {{len .Files}} file(s):

{{if gt (len .Images) 1}}| image | file | line | old | new |
|---|---|---|---|---|
{{range .Images}}{{$image := .Image}}{{range .Changes}}| {{$image}} | {{.File}} | {{.Line}} | ` + "`{{.Old}}`" + ` | ` + "`{{.New}}`" + ` |
{{end}}{{end}}{{else}}| file | line | old | new |
|---|---|---|---|
{{range .Changes}}| {{.File}} | {{.Line}} | ` + "`{{.Old}}`" + ` | ` + "`{{.New}}`" + ` |
{{end}}{{end}}{{with .SourceURL}}
Source: {{.}}
{{end}}{{with .Verification}}
{{.}}{{end}}`
)

// message is what the commit message and PR templates see. With several
// images, Image lists their names and the tag and digest fields hold only
// what all share; Images has each one's.
type message struct {
	Images               []imageMessage
	Image                string
	OldTag, NewTag       string
	OldDigest, NewDigest string
	Files                []string
	SourceRepository     string
	SourceSHA            string
	SourceURL            string // the source commit's page, when known
	Changes              []Change
	Verification         string // what verify checked, as a Markdown table
}

// imageMessage is one image of a message.
type imageMessage struct {
	Image                string
	OldTag, NewTag       string
	OldDigest, NewDigest string
	Files                []string
	Changes              []Change
}

func parseTemplate(input, text, def string) (*template.Template, error) {
	if text == "" {
		text = def
	}
	t, err := template.New(input).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template %q: %w", text, err)
	}
	// Execute once on sample data so a bad field is a usage error now,
	// not a failure after the clone.
	one := imageMessage{Files: []string{"x"}}
	if err := t.Execute(&bytes.Buffer{}, message{Files: one.Files, Images: []imageMessage{one, one}}); err != nil {
		return nil, fmt.Errorf("template %q: %w", text, err)
	}
	return t, nil
}

func render(t *template.Template, m message) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, m); err != nil {
		return "", fmt.Errorf("render %s: %w", t.Name(), err)
	}
	return b.String(), nil
}

// checkPath refuses paths that leave the config repo.
func checkPath(p string) error {
	c := path.Clean(strings.TrimPrefix(p, "./"))
	if path.IsAbs(p) || c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Errorf("%q is outside the config repo", p)
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func sameRepo(a, b string) bool {
	x, ok1 := repoKey(a)
	y, ok2 := repoKey(b)
	return ok1 && ok2 && x == y
}
