package k8sschema

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
)

// CRDSource is one project whose released CRDs are embedded.
type CRDSource struct {
	Project string `json:"project"`
	// Version is the project's release the CRDs come from.
	Version string `json:"version"`
	// Module and ModuleVersion hold that release's CRD YAML, at Globs.
	Module        string   `json:"module"`
	ModuleVersion string   `json:"moduleVersion"`
	Globs         []string `json:"globs"`
}

// CRDVersion is a version of an embedded CRD that its project marks
// deprecated, or no longer serves.
type CRDVersion struct {
	Project    string `json:"project"`
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Served     bool   `json:"served"`
	Deprecated bool   `json:"deprecated"`
}

// CRDIndex is data/crds/index.json, written by the generator.
type CRDIndex struct {
	Sources  []CRDSource  `json:"sources"`
	Versions []CRDVersion `json:"versions"`
}

// CRDFile names the embedded file of one group and kind.
func CRDFile(groupKind string) string {
	return strings.ReplaceAll(groupKind, "/", "_") + ".json.gz"
}

var (
	indexOnce sync.Once
	index     CRDIndex
	indexErr  error
)

// Catalog describes the embedded CRDs: the projects and release of each,
// and the versions they deprecate or no longer serve.
func Catalog() (CRDIndex, error) {
	indexOnce.Do(func() {
		b, err := data.ReadFile("data/crds/index.json")
		if err == nil {
			err = json.Unmarshal(b, &index)
		}
		if err != nil {
			indexErr = fmt.Errorf("embedded CRD index: %w", err)
		}
	})
	return index, indexErr
}

// crdVersions reads the embedded schemas of every version of one group
// and kind; nil when none is embedded.
func crdVersions(group, kind string) (map[string]map[string]any, error) {
	var v map[string]map[string]any
	err := readGz("data/crds/"+CRDFile(group+"/"+kind), &v)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return v, err
}
