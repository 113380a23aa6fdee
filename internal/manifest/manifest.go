package manifest

import (
	"bytes"
	"fmt"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/actions"
)

// Input types known to the runtime.
const (
	TypeString   = "string"
	TypeBool     = "bool"
	TypeInt      = "int"
	TypeList     = "list"
	TypeLines    = "lines"
	TypeDuration = "duration"
	TypeSecret   = "secret"
)

// Input is one action input; its flag is --<Name> and its env var INPUT_<NAME>.
type Input struct {
	Name        string `yaml:"name"`
	Type        string `yaml:"type"`
	Default     string `yaml:"default"`
	Required    bool   `yaml:"required"`
	Description string `yaml:"description"`
	// Max bounds an int input (the runtime has a general bound for the rest).
	Max int `yaml:"max"`
}

// Output is one action output.
type Output struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
}

// Action is one action of the toolkit.
type Action struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Inputs      []Input  `yaml:"inputs"`
	Outputs     []Output `yaml:"outputs"`
	// CacheVulnDB adds an actions/cache step for trivy's vulnerability
	// database (key per day, the previous day's restored on a miss); the
	// action needs a cache-dir input.
	CacheVulnDB bool `yaml:"cache-vuln-db"`
}

// Manifest is the parsed actions.yaml.
type Manifest struct {
	Actions []Action `yaml:"actions"`
}

// Parse reads a manifest and checks it is well formed.
func Parse(data []byte) (*Manifest, error) {
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parsing action manifest: %w", err)
	}
	seen := map[string]bool{}
	for i := range m.Actions {
		a := &m.Actions[i]
		if a.Name == "" || seen[a.Name] {
			return nil, fmt.Errorf("action manifest: action %d has an empty or duplicate name %q", i, a.Name)
		}
		seen[a.Name] = true
		in := map[string]bool{}
		for j := range a.Inputs {
			x := &a.Inputs[j]
			if x.Type == "" {
				x.Type = TypeString
			}
			switch x.Type {
			case TypeString, TypeBool, TypeInt, TypeList, TypeLines, TypeDuration, TypeSecret:
			default:
				return nil, fmt.Errorf("action manifest: %s input %q has unknown type %q", a.Name, x.Name, x.Type)
			}
			if x.Max < 0 || (x.Max > 0 && x.Type != TypeInt) {
				return nil, fmt.Errorf("action manifest: %s input %q: max is for int inputs and must be positive", a.Name, x.Name)
			}
			if x.Name == "" || in[x.Name] || x.Description == "" {
				return nil, fmt.Errorf("action manifest: %s input %q is empty, duplicate or undocumented", a.Name, x.Name)
			}
			in[x.Name] = true
		}
		if !in["report-file"] {
			return nil, fmt.Errorf("action manifest: %s has no report-file input", a.Name)
		}
		out := map[string]bool{}
		for _, o := range a.Outputs {
			if o.Name == "" || out[o.Name] || o.Description == "" {
				return nil, fmt.Errorf("action manifest: %s output %q is empty, duplicate or undocumented", a.Name, o.Name)
			}
			out[o.Name] = true
		}
	}
	return &m, nil
}

// Action returns the named action, or nil.
func (m *Manifest) Action(name string) *Action {
	for i := range m.Actions {
		if m.Actions[i].Name == name {
			return &m.Actions[i]
		}
	}
	return nil
}

// Input returns the named input, or nil.
func (a *Action) Input(name string) *Input {
	for i := range a.Inputs {
		if a.Inputs[i].Name == name {
			return &a.Inputs[i]
		}
	}
	return nil
}

// HasOutput reports whether the action declares the output.
func (a *Action) HasOutput(name string) bool {
	for _, o := range a.Outputs {
		if o.Name == name {
			return true
		}
	}
	return false
}

var loaded = sync.OnceValues(func() (*Manifest, error) { return Parse(actions.Manifest) })

// Load returns the embedded manifest.
func Load() (*Manifest, error) { return loaded() }
