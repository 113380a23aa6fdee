package deprecation

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Extra is a user's table, in pluto's additional-versions form, looked
// up before the embedded ones.
type Extra map[string]API

type userFile struct {
	DeprecatedVersions []userEntry `yaml:"deprecated-versions"`
}

type userEntry struct {
	Version        string `yaml:"version"`
	Kind           string `yaml:"kind"`
	DeprecatedIn   string `yaml:"deprecated-in"`
	RemovedIn      string `yaml:"removed-in"`
	ReplacementAPI string `yaml:"replacement-api"`
	Component      string `yaml:"component"`
}

// ParseExtra reads a deprecations file: deprecated-versions, each with
// version (the apiVersion), kind, deprecated-in and/or removed-in,
// replacement-api and component. Versions of component k8s (or none)
// are Kubernetes versions, compared with the target; any other
// component's entries apply as they stand: removed when removed-in is
// set, else deprecated. Unknown fields and incomplete entries are errors.
func ParseExtra(b []byte) (Extra, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f userFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("the file is empty: want deprecated-versions")
		}
		return nil, err
	}
	if len(f.DeprecatedVersions) == 0 {
		return nil, fmt.Errorf("no deprecated-versions entry")
	}
	out := Extra{}
	for i, e := range f.DeprecatedVersions {
		at := fmt.Sprintf("deprecated-versions[%d]", i)
		if e.Version == "" || e.Kind == "" {
			return nil, fmt.Errorf("%s: version and kind are required", at)
		}
		if e.DeprecatedIn == "" && e.RemovedIn == "" {
			return nil, fmt.Errorf("%s (%s %s): set deprecated-in or removed-in", at, e.Version, e.Kind)
		}
		a := API{APIVersion: e.Version, Kind: e.Kind, Deprecated: e.DeprecatedIn, Removed: e.RemovedIn, Replacement: e.ReplacementAPI}
		if e.Component != "" && e.Component != "k8s" {
			a.Project = e.Component
		} else {
			for _, v := range []string{e.DeprecatedIn, e.RemovedIn} {
				if v != "" && !isKubeVersion(v) {
					return nil, fmt.Errorf("%s (%s %s): %q is not a Kubernetes version like v1.25.0 (set component for another project's versions)", at, e.Version, e.Kind, v)
				}
			}
		}
		key := e.Version + "/" + e.Kind
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%s: %s %s is listed twice", at, e.Version, e.Kind)
		}
		out[key] = a
	}
	return out, nil
}

func isKubeVersion(v string) bool {
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "1" {
		return false
	}
	for _, p := range parts[1:] {
		if _, err := strconv.Atoi(p); err != nil {
			return false
		}
	}
	return true
}

// CheckWith is Check with the user's entries first.
func CheckWith(extra Extra, apiVersion, kind, minor string) (Status, API) {
	if a, ok := extra[apiVersion+"/"+kind]; ok {
		return status(a, minor), a
	}
	return Check(apiVersion, kind, minor)
}
