package manifest

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Step is one step of a generated action.yml, as far as running its
// script needs.
type Step struct {
	ID  string            `yaml:"id"`
	If  string            `yaml:"if"`
	Env map[string]string `yaml:"env"`
	Run string            `yaml:"run"`
}

// StartSteps returns the two steps of a generated action.yml that get its
// binary: the release fetch (id "fetch") and the source build.
func StartSteps(actionYML []byte) (fetch, build Step, err error) {
	var meta struct {
		Runs struct {
			Steps []Step `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(actionYML, &meta); err != nil {
		return fetch, build, fmt.Errorf("parsing action.yml: %w", err)
	}
	for _, s := range meta.Runs.Steps {
		switch {
		case s.ID == "fetch":
			fetch = s
		case strings.Contains(s.Run, "go build"):
			build = s
		}
	}
	if fetch.Run == "" || build.Run == "" {
		return fetch, build, fmt.Errorf("action.yml lacks the fetch or the build step")
	}
	return fetch, build, nil
}
