package deprecation

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed apis.yaml
var apisYAML []byte

// crdsYAML is the table of the embedded CRD catalog's projects, whose
// versions are the projects' releases, not Kubernetes minors.
//
//go:embed crds.yaml
var crdsYAML []byte

// API is one deprecated or removed apiVersion/kind.
type API struct {
	// Project is set for a CRD: Deprecated and Removed are then its
	// releases, and the embedded catalog's release is past both.
	Project     string `yaml:"project"`
	APIVersion  string `yaml:"apiVersion"`
	Kind        string `yaml:"kind"`
	Deprecated  string `yaml:"deprecated"`
	Removed     string `yaml:"removed"`
	Replacement string `yaml:"replacement"`
}

// Status of an API in a cluster version.
type Status int

// Statuses.
const (
	Current Status = iota
	Deprecated
	Removed
)

var (
	once  sync.Once
	table map[string]API
	err   error
)

// Table returns the embedded table keyed by "apiVersion/kind".
func Table() (map[string]API, error) {
	once.Do(func() {
		table = map[string]API{}
		for name, b := range map[string][]byte{"apis.yaml": apisYAML, "crds.yaml": crdsYAML} {
			var list []API
			if err = yaml.Unmarshal(b, &list); err != nil {
				err = fmt.Errorf("embedded deprecation table %s: %w", name, err)
				return
			}
			for _, a := range list {
				table[a.APIVersion+"/"+a.Kind] = a
			}
		}
	})
	return table, err
}

// Check says whether apiVersion/kind is deprecated or removed in the
// Kubernetes minor ("1.33").
func Check(apiVersion, kind, minor string) (Status, API) {
	t, err := Table()
	if err != nil {
		return Current, API{}
	}
	a, ok := t[apiVersion+"/"+kind]
	if !ok {
		return Current, API{}
	}
	return status(a, minor), a
}

func status(a API, minor string) Status {
	if a.Project != "" {
		if a.Removed != "" {
			return Removed
		}
		return Deprecated
	}
	m := minorNumber(minor)
	switch {
	case a.Removed != "" && m >= minorNumber(a.Removed):
		return Removed
	case a.Deprecated != "" && m >= minorNumber(a.Deprecated):
		return Deprecated
	}
	return Current
}

func minorNumber(v string) int {
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(parts[1])
	return n
}
