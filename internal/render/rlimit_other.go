//go:build !unix

package render

// limitMemory relies on the soft limit alone where there is no rlimit.
func limitMemory(int64) error { return nil }
