// Package version tells which build of the toolkit is running.
package version

import "runtime/debug"

// Version is set at release time with
// -ldflags "-X github.com/gitops-actions/gitops-actions/internal/version.Version=v1.2.3".
var Version = ""

// String returns the ldflags version, else the module version or VCS
// revision from the build info, else "devel".
func String() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return "devel-" + rev + dirty
	}
	return "devel"
}
