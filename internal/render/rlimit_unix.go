//go:build unix

package render

import (
	"fmt"
	"syscall"
)

// limitMemory caps the process's data segment, which on Linux counts every
// private writable mapping: the Go heap and goroutine stacks.
func limitMemory(limit int64) error {
	rl := syscall.Rlimit{Cur: uint64(limit), Max: uint64(limit)}
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &rl); err != nil {
		return fmt.Errorf("setting RLIMIT_DATA: %w", err)
	}
	return nil
}
