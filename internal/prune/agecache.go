package prune

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ageCache remembers when each image was created, by manifest digest, from
// one run to the next. A digest names immutable content, so its creation
// time never changes; a scheduled run then reads the config blob only of
// images pushed since the last one. The cache only ever supplies ages:
// what is protected is always read from the registry.
type ageCache struct {
	path string

	mu   sync.Mutex
	old  map[string]string // digest -> RFC 3339 time, "" for unknown
	used map[string]string // what this run looked up or learned
}

// ageCacheFile is the file's JSON form.
type ageCacheFile struct {
	Version int               `json:"version"`
	Created map[string]string `json:"created"`
}

// loadAgeCache reads path; a missing file is an empty cache. A file that
// cannot be read or parsed is also an empty cache, and the error says why
// (the run warns and goes on: the cache only saves reads).
func loadAgeCache(path string) (*ageCache, error) {
	c := &ageCache{path: path, old: map[string]string{}, used: map[string]string{}}
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("reading age-cache %q: %w", path, err)
	}
	var f ageCacheFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return c, fmt.Errorf("age-cache %q is not a version 1 age cache, starting empty: %w", path, err)
	}
	if f.Version != 1 {
		return c, fmt.Errorf("age-cache %q is not a version 1 age cache (version %d), starting empty", path, f.Version)
	}
	for d, v := range f.Created {
		if _, err := time.Parse(time.RFC3339Nano, v); v == "" || err == nil {
			c.old[d] = v
		}
	}
	return c, nil
}

// get returns the remembered creation time of digest (zero when the image
// has none) and whether the cache knows it.
func (c *ageCache) get(digest string) (time.Time, bool) {
	if c == nil {
		return time.Time{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.old[digest]
	if !ok {
		v, ok = c.used[digest]
	}
	if !ok {
		return time.Time{}, false
	}
	c.used[digest] = v
	t, _ := time.Parse(time.RFC3339Nano, v)
	return t, true
}

func (c *ageCache) put(digest string, t time.Time) {
	if c == nil {
		return
	}
	v := ""
	if !t.IsZero() {
		v = t.UTC().Format(time.RFC3339Nano)
	}
	c.mu.Lock()
	c.used[digest] = v
	c.mu.Unlock()
}

// save writes the ages this run used or learned, less the digests it
// deleted, so the file tracks what the registries still hold. It writes a
// temporary file and renames it, so a crash never leaves half a cache.
func (c *ageCache) save(deleted []string) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	keep := maps.Clone(c.used)
	c.mu.Unlock()
	for _, d := range deleted {
		delete(keep, d)
	}
	raw, err := json.MarshalIndent(ageCacheFile{Version: 1, Created: keep}, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return fmt.Errorf("writing age-cache %q: %w", c.path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".age-cache-*")
	if err != nil {
		return fmt.Errorf("writing age-cache %q: %w", c.path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing age-cache %q: %w", c.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing age-cache %q: %w", c.path, err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("writing age-cache %q: %w", c.path, err)
	}
	return nil
}
