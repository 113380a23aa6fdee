package ignorefile

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/report"
)

// reportedDate is the date an expiry finding's message names.
var reportedDate = regexp.MustCompile(`^ignore entry for (.+) expired on (\d{4}-\d\d-\d\d) and no longer applies$`)

// FuzzIgnoreFile: any ignore file, in either form, either fails with an
// error naming the file (and, in the plain form, the line), or yields only
// GA-IGNORE-EXPIRED warnings on that file, each for an entry its line (in
// the plain form) holds, dated before now.
func FuzzIgnoreFile(f *testing.F) {
	f.Add([]byte("# accepted until the base image moves\nCVE-2099-0001 exp:2999-01-01\nGHSA-test-npm1\n"), false)
	f.Add([]byte("CVE-2099-0001 exp:2000-01-01\nGHSA-test-npm1\n"), false)
	f.Add([]byte("CVE-1 exp:2000-02-30\n"), false)
	f.Add([]byte("\r\nCVE-1\texp:2000-01-01 exp:2999-01-01 # two\n   \n#CVE-2 exp:1999-01-01\n"), false)
	f.Add([]byte("vulnerabilities:\n  - id: CVE-2099-0001\n    expired_at: 2000-01-01\n  - id: CVE-2099-0002\n    statement: kept\n"), true)
	f.Add([]byte("vulnerabilities: [{id: CVE-1, expired_at: 2999-12-31T23:59:59Z}]\nmisconfigurations: []\n"), true)
	f.Add([]byte("vulnerabilities:\n  - id: CVE-1\n    expired_at: yesterday\n"), true)
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte, yamlForm bool) {
		name := ".trivyignore"
		if yamlForm {
			name = "trivyignore.yaml"
		}
		fs, err := Expired(name, data, now)
		if err != nil {
			msg := err.Error()
			if yamlForm && !strings.HasPrefix(msg, `parsing "trivyignore.yaml": `) ||
				!yamlForm && !regexp.MustCompile(`^\.trivyignore:[1-9]\d*: `).MatchString(msg) {
				t.Fatalf("the error does not name the file (and line): %v", err)
			}
			return
		}
		lines := strings.Split(string(data), "\n")
		for _, fd := range fs {
			if fd.Rule != "GA-IGNORE-EXPIRED" || fd.Severity != report.Warning || fd.File != name {
				t.Fatalf("unexpected finding %+v", fd)
			}
			m := reportedDate.FindStringSubmatch(fd.Message)
			if m == nil {
				t.Fatalf("message %q", fd.Message)
			}
			exp, err := time.Parse(time.DateOnly, m[2])
			if err != nil || !exp.Before(now) {
				t.Fatalf("reported %s as expired at %v (%v)", m[2], now, err)
			}
			if yamlForm {
				continue
			}
			if fd.Line < 1 || fd.Line > len(lines) {
				t.Fatalf("line %d of %d", fd.Line, len(lines))
			}
			line := lines[fd.Line-1]
			if fields := strings.Fields(line); len(fields) == 0 || fields[0] != m[1] || !strings.Contains(line, "exp:"+m[2]) {
				t.Fatalf("line %d %q does not hold entry %s expiring %s", fd.Line, line, m[1], m[2])
			}
		}
		if !yamlForm && !bytes.Contains(data, []byte("exp:")) && len(fs) > 0 {
			t.Fatalf("findings without any exp: field")
		}
	})
}
