// Command prunebench seeds a registry for bench/prune.sh and runs the bare
// delete loop that prune-images is measured against.
//
//	prunebench seed -repo HOST/NAME -n 500 -digests FILE
//	prunebench bare -repo HOST/NAME -digests FILE -concurrency 8
//	prunebench port    (prints a free loopback port)
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: prunebench seed|bare|port [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	repo := fs.String("repo", "", "repository HOST/NAME")
	n := fs.Int("n", 500, "pr-* tags to seed")
	digests := fs.String("digests", "", "file of seeded digests, one a line")
	conc := fs.Int("concurrency", 8, "requests in flight")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "seed":
		err = seed(*repo, *n, *conc, *digests)
	case "bare":
		err = bare(*repo, *digests, *conc)
	case "port":
		err = freePort()
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "prunebench:", err)
		os.Exit(1)
	}
}

func freePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

// seed pushes one kept 2-platform index (v1) and n images tagged pr-0 ...
// that share one layer and differ in their config's creation time, so
// each is its own manifest a week or more old.
func seed(repo string, n, conc int, out string) error {
	r, err := name.NewRepository(repo)
	if err != nil {
		return err
	}
	base, err := random.Image(1024, 1)
	if err != nil {
		return err
	}
	base = mutate.MediaType(base, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(1024, 1)
		if err != nil {
			return err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: mutate.MediaType(img, types.OCIManifestSchema1), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	if err := remote.WriteIndex(r.Tag("v1"), idx); err != nil {
		return fmt.Errorf("pushing v1: %w", err)
	}
	p, err := remote.NewPusher()
	if err != nil {
		return err
	}
	old := time.Now().Add(-30 * 24 * time.Hour)
	ds := make([]string, n)
	errs := make([]error, n)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			img, err := mutate.CreatedAt(base, v1.Time{Time: old.Add(time.Duration(i) * time.Minute)})
			if err == nil {
				err = p.Push(context.Background(), r.Tag(fmt.Sprintf("pr-%d", i)), img)
			}
			if err == nil {
				var d v1.Hash
				d, err = img.Digest()
				ds[i] = d.String()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("pushing pr tags: %w", err)
		}
	}
	return os.WriteFile(out, []byte(strings.Join(ds, "\n")+"\n"), 0o644)
}

// bare issues DELETE /v2/<name>/manifests/<digest> for every seeded digest
// at the given concurrency: the floor of what any pruner must send.
func bare(repo, in string, conc int) error {
	r, err := name.NewRepository(repo)
	if err != nil {
		return err
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	var ds []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			ds = append(ds, s)
		}
	}
	f.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	client := &http.Client{Transport: tr}
	start := time.Now()
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	for _, d := range ds {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			u := fmt.Sprintf("%s://%s/v2/%s/manifests/%s", r.Scheme(), r.RegistryStr(), r.RepositoryStr(), d)
			req, _ := http.NewRequest(http.MethodDelete, u, nil)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					err = fmt.Errorf("%s: %s", d, resp.Status)
				}
			}
			if err != nil {
				mu.Lock()
				failed = append(failed, err.Error())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if len(failed) > 0 {
		return fmt.Errorf("%d deletes failed, first: %s", len(failed), failed[0])
	}
	fmt.Printf("bare: %d deletes in %.3fs\n", len(ds), el.Seconds())
	return nil
}
