package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// requiredBuckets are top-level buckets every trivy database has: the
// advisories' details and the sources that name each per-ecosystem bucket.
var requiredBuckets = []string{"vulnerability", "data-source"}

// maxBucketDepth bounds the nesting a walk follows: trivy nests three deep
// (source, package, advisory), so more means a damaged page points back up.
const maxBucketDepth = 8

// maxCheckErrors is how many of bbolt's findings a message quotes.
const maxCheckErrors = 3

// checkFile opens the bbolt file at path read-only and checks it is whole
// (as long as its header says) and holds the buckets trivy reads. deep also
// reads every key and value once and runs bbolt's consistency check.
//
// bbolt maps the file into memory, so a read past the end of a truncated
// file or through a damaged page pointer is a SIGBUS or SIGSEGV, which Go
// cannot recover from in general. Here every first read happens in this
// goroutine with faults turned into panics, so damage becomes an error and
// the reads trivy makes later only touch pages already read once.
func checkFile(path string, deep bool) (err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reading it failed: %v", r)
		}
	}()
	// First the header alone: the deep pass reads the freelist as the file
	// opens, which on a truncated file would fault before the size check.
	if err := view(path, false, func(tx *bolt.Tx) error {
		if tx.Size() > fi.Size() {
			return fmt.Errorf("it is truncated: %d bytes of the %d its header gives", fi.Size(), tx.Size())
		}
		for _, b := range requiredBuckets {
			if tx.Bucket([]byte(b)) == nil {
				return fmt.Errorf("it has no %q bucket", b)
			}
		}
		return nil
	}); err != nil || !deep {
		return err
	}
	return view(path, true, func(tx *bolt.Tx) error {
		if err := readAll(tx); err != nil {
			return err
		}
		var errs []error
		n := 0
		// The channel must be drained: its goroutine reads the mapping,
		// which View unmaps on return.
		for e := range tx.Check() {
			if n++; n <= maxCheckErrors {
				errs = append(errs, e)
			}
		}
		if n > maxCheckErrors {
			errs = append(errs, fmt.Errorf("and %d more", n-maxCheckErrors))
		}
		if len(errs) > 0 {
			return fmt.Errorf("its consistency check failed: %w", errors.Join(errs...))
		}
		return nil
	})
}

// view runs fn in a read transaction of the file at path opened read-only.
func view(path string, freelist bool, fn func(*bolt.Tx) error) error {
	db, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second, PreLoadFreelist: freelist})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return fmt.Errorf("it is locked by another process: %w", err)
		}
		return err
	}
	defer db.Close()
	return db.View(fn)
}

// readAll reads every key and value of every bucket.
func readAll(tx *bolt.Tx) error {
	var sum uint32
	var walk func(b *bolt.Bucket, depth int) error
	walk = func(b *bolt.Bucket, depth int) error {
		if depth > maxBucketDepth {
			return fmt.Errorf("its buckets nest more than %d deep", maxBucketDepth)
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			sum = crc32.Update(sum, crc32.IEEETable, k)
			if v != nil {
				sum = crc32.Update(sum, crc32.IEEETable, v)
				continue
			}
			if child := b.Bucket(k); child != nil {
				if err := walk(child, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b, 1) })
	_ = sum
	return err
}

// stampFile, beside trivy.db, records the file the full check last passed.
const stampFile = "gitops-actions-checked.json"

// stamp identifies a database file by size and modification time: a new
// download or any write changes one of them.
type stamp struct {
	Size    int64 `json:"size"`
	ModTime int64 `json:"mod-time-ns"`
}

func stampOf(fi os.FileInfo) stamp { return stamp{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()} }

func (s stamp) matches(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, stampFile))
	if err != nil {
		return false
	}
	var got stamp
	return json.Unmarshal(b, &got) == nil && got == s
}

// write records s; a cache-dir that cannot be written is checked fully on
// every run instead.
func (s stamp) write(dir string) {
	b, err := json.Marshal(s)
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(dir, "."+stampFile+".*")
	if err != nil {
		return
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, stampFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
}
