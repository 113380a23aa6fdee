package k8sschema

import (
	"maps"
	"slices"
	"strings"

	"github.com/gitops-actions/gitops-actions/internal/deprecation"
)

// BuiltinAPIs lists the built-in "group/version/Kind" keys a cluster of
// minor ("1.33") serves, as Helm's .Capabilities.APIVersions holds them:
// the kinds of the embedded schemas for minor, less those the
// deprecation table says are removed by then, plus those it says were
// still served (for minors older than the embedded schemas).
func BuiltinAPIs(minor string) ([]string, error) {
	var k struct {
		Kinds map[string]string `json:"kinds"`
	}
	if err := readGz("data/kubernetes-"+Embedded(minor)+".json.gz", &k); err != nil {
		return nil, err
	}
	table, err := deprecation.Table()
	if err != nil {
		return nil, err
	}
	apis := map[string]bool{}
	for key := range k.Kinds {
		if strings.HasSuffix(key, "List") {
			// List kinds are not served resources.
			continue
		}
		apis[key] = true
	}
	for key, a := range table {
		if a.Project != "" {
			// A project's CRD API is served only where its CRD is, and
			// those come into the capabilities from the CRDs themselves.
			continue
		}
		if status, _ := deprecation.Check(a.APIVersion, a.Kind, minor); status == deprecation.Removed {
			delete(apis, key)
		} else {
			apis[key] = true
		}
	}
	return slices.Sorted(maps.Keys(apis)), nil
}
