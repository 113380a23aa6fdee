package gitrepo

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// What git push --porcelain prints for each way a ref is not updated,
// after the error prefix run adds.
func TestClassifyPush(t *testing.T) {
	const to = "\nTo https://github.com/acme/config.git\n"
	for _, c := range []struct {
		name, out string
		want      error
		says      []string
	}{
		{"fetch first", "git push: exit status 1: error: failed to push some refs" + to + "!\tHEAD:refs/heads/main\t[rejected] (fetch first)\nDone", ErrRejected, []string{"fetch first"}},
		{"non-fast-forward", "git push: exit status 1: " + to + "!\tHEAD:refs/heads/main\t[rejected] (non-fast-forward)\nDone", ErrRejected, []string{"non-fast-forward"}},
		{"lease", "git push: exit status 1: " + to + "!\tHEAD:refs/heads/bump/api\t[rejected] (stale info)\nDone", ErrRejected, []string{"stale info"}},
		{"lost the ref lock", "git push: exit status 1: remote: error: cannot lock ref 'refs/heads/main': is at 4a8c but expected fd07        " + to +
			"!\tHEAD:refs/heads/main\t[remote rejected] (failed to update ref)\nDone", ErrRejected, []string{"failed to update ref"}},
		{"protected branch", "git push: exit status 1: remote: error: GH006: Protected branch update failed for refs/heads/main.        \n" +
			"remote: error: Changes must be made through a pull request.        " + to +
			"!\tHEAD:refs/heads/main\t[remote rejected] (protected branch hook declined)\nDone", ErrRefused,
			[]string{"(protected branch hook declined)", "GH006: Protected branch update failed for refs/heads/main. / error: Changes must be made through a pull request."}},
		{"hook", "git push: exit status 1: " + to + "!\tHEAD:refs/heads/main\t[remote rejected] (pre-receive hook declined)\nDone", ErrRefused, []string{"pre-receive hook declined"}},
		{"shallow", "git push: exit status 1: " + to + "!\tHEAD:refs/heads/main\t[remote rejected] (shallow update not allowed)\nDone", ErrRefused, []string{"shallow update not allowed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := classifyPush(errors.New(c.out))
			if !errors.Is(err, c.want) {
				t.Fatalf("%v, want %v", err, c.want)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q lacks %q", err, s)
				}
			}
		})
	}
	// No status line: git failed before any ref (a transport error).
	plain := errors.New("git push: exit status 128: fatal: unable to access 'https://github.com/acme/config.git/': Could not resolve host")
	if err := classifyPush(plain); err != plain {
		t.Errorf("transport error became %v", err)
	}
}

// The commit message is tidied as git commit -F tidies it, which is git
// stripspace.
func TestCleanMessage(t *testing.T) {
	for _, msg := range []string{
		"Bump api to 1.1.0\n",
		"Bump api to 1.1.0",
		"\n\nBump api  \n\n\n\nbody line\t\n  indented\n\n\nTrailer: x\n\n",
		"one\r\n\r\ntwo\r\n",
		"",
		"\n\n",
	} {
		cmd := exec.Command("git", "stripspace")
		cmd.Stdin = strings.NewReader(msg)
		want, err := cmd.Output()
		if err != nil {
			t.Fatalf("git stripspace: %v", err)
		}
		if got := cleanMessage(msg); got != string(want) {
			t.Errorf("cleanMessage(%q) = %q, git stripspace gives %q", msg, got, want)
		}
	}
}
