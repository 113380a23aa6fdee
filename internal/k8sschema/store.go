package k8sschema

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
)

//go:embed data/*.json.gz data/crds
var data embed.FS

// Versions lists the embedded Kubernetes minors, oldest first ("1.30").
func Versions() []string {
	entries, _ := data.ReadDir("data")
	var vs []string
	for _, e := range entries {
		if v, ok := strings.CutPrefix(e.Name(), "kubernetes-"); ok {
			vs = append(vs, strings.TrimSuffix(v, ".json.gz"))
		}
	}
	slices.SortFunc(vs, compareMinor)
	return vs
}

// Newest is the newest embedded Kubernetes minor.
func Newest() string { vs := Versions(); return vs[len(vs)-1] }

func compareMinor(a, b string) int {
	pa, pb := minorOf(a), minorOf(b)
	if pa != pb {
		if pa < pb {
			return -1
		}
		return 1
	}
	return 0
}

func minorOf(v string) int {
	_, m, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(m)
	return n
}

// ParseMinor reduces a version such as "1.33.2" or "v1.33" to its minor
// "1.33"; anything else is an error.
func ParseMinor(version string) (string, error) {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "1" {
		return "", fmt.Errorf("kubernetes version %q is not of the form 1.N or 1.N.P", version)
	}
	for _, p := range parts[1:] {
		if _, err := strconv.Atoi(p); err != nil {
			return "", fmt.Errorf("kubernetes version %q is not of the form 1.N or 1.N.P", version)
		}
	}
	return "1." + parts[1], nil
}

// Embedded is the embedded minor whose schemas stand for minor: itself,
// or the oldest or newest embedded one when it lies outside.
func Embedded(minor string) string {
	vs := Versions()
	switch {
	case compareMinor(minor, vs[0]) < 0:
		return vs[0]
	case compareMinor(minor, vs[len(vs)-1]) > 0:
		return vs[len(vs)-1]
	}
	return minor
}

// Store hands out standalone schemas of one Kubernetes minor, decoding
// the embedded data only when a kind is first asked for.
type Store struct {
	minor  string
	strict bool

	once  sync.Once
	err   error
	kinds map[string]string
	defs  map[string]any
	// crds holds the CRD schemas of each group/kind asked for so far.
	crds map[string]map[string]map[string]any

	mu    sync.Mutex
	cache map[string][]byte
}

// NewStore returns the store of an embedded minor (see Minor).
func NewStore(minor string, strict bool) *Store {
	return &Store{minor: minor, strict: strict, cache: map[string][]byte{}}
}

func (s *Store) load() error {
	s.once.Do(func() {
		var k struct {
			Kinds       map[string]string `json:"kinds"`
			Definitions map[string]any    `json:"definitions"`
		}
		if err := readGz("data/kubernetes-"+s.minor+".json.gz", &k); err != nil {
			s.err = err
			return
		}
		s.kinds, s.defs, s.crds = k.Kinds, k.Definitions, map[string]map[string]map[string]any{}
	})
	return s.err
}

// Schema returns the JSON schema of apiVersion/kind, or nil when none is
// embedded.
func (s *Store) Schema(apiVersion, kind string) ([]byte, error) {
	key := Key(apiVersion, kind)
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.cache[key]; ok {
		return b, nil
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	var schema map[string]any
	if name, ok := s.kinds[key]; ok {
		schema = Standalone(s.defs, name, s.strict)
	} else if g, err := s.crd(apiVersion, kind); err != nil {
		return nil, err
	} else if g != nil {
		c, err := deepCopy(g)
		if err != nil {
			return nil, err
		}
		Tighten(c, s.strict, true)
		schema = c
	}
	var b []byte
	if schema != nil {
		var err error
		if b, err = json.Marshal(schema); err != nil {
			return nil, fmt.Errorf("encoding schema of %s: %w", key, err)
		}
	}
	s.cache[key] = b
	return b, nil
}

// crd is the embedded CRD schema of apiVersion/kind, reading the file of
// its group and kind the first time one of them is asked for.
func (s *Store) crd(apiVersion, kind string) (map[string]any, error) {
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return nil, nil
	}
	gk := group + "/" + kind
	vs, seen := s.crds[gk]
	if !seen {
		var err error
		if vs, err = crdVersions(group, kind); err != nil {
			return nil, err
		}
		s.crds[gk] = vs
	}
	return vs[version], nil
}

func readGz(name string, v any) error {
	b, err := data.ReadFile(name)
	if err != nil {
		return fmt.Errorf("embedded schemas %s: %w", name, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("embedded schemas %s: %w", name, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return fmt.Errorf("embedded schemas %s: %w", name, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("embedded schemas %s: %w", name, err)
	}
	return nil
}
