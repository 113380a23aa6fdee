package vulndb

import (
	"context"
	"errors"
	"fmt"
	bolt "go.etcd.io/bbolt"
	"os"
	"path/filepath"
	"strings"
	"time"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy/pkg/clock"
	tdb "github.com/aquasecurity/trivy/pkg/db"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultRepositories are trivy's own database references, in trivy's order.
var DefaultRepositories = []string{tdb.DefaultGCRRepository, tdb.DefaultGHCRRepository}

// Options say where the database lives and where to fetch it from.
type Options struct {
	CacheDir     string   // the cache root; the database goes in CacheDir/db
	Repositories []string // OCI references tried in order
	Skip         bool     // use the cache only
	Now          time.Time
	// Credentials by registry host, sent only to references in that
	// registry; others use the Docker config keychain.
	Credentials map[string]ftypes.Credential
}

// Info describes the database a scan uses.
type Info struct {
	Dir          string    // CacheDir/db
	UpdatedAt    time.Time // when the database was built
	DownloadedAt time.Time
	Downloaded   bool   // fetched by this call
	Source       string // the reference it came from, when Downloaded
	// Stale is set when every download failed and the cached copy is used.
	Stale error
}

// Age is how old the database is at now.
func (i Info) Age(now time.Time) time.Duration { return now.Sub(i.UpdatedAt) }

// ErrNoDatabase means no download worked and nothing usable is cached.
var ErrNoDatabase = errors.New("no usable vulnerability database")

// ErrDamaged means the cached database failed its checks.
var ErrDamaged = errors.New("damaged")

// Ensure makes sure CacheDir/db holds a usable database: it downloads a
// newer one unless the cached one is current (trivy's rule: before its
// NextUpdate, or downloaded within the hour) or Skip is set. A cached
// database that fails its checks is never used: it is downloaded again.
func Ensure(ctx context.Context, o Options) (Info, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if len(o.Repositories) == 0 {
		o.Repositories = DefaultRepositories
	}
	dir := tdb.Dir(o.CacheDir)
	meta, cacheErr := cached(dir)
	info := Info{Dir: dir, UpdatedAt: meta.UpdatedAt, DownloadedAt: meta.DownloadedAt}
	if o.Skip {
		if cacheErr != nil {
			return info, fmt.Errorf("%w in cache-dir %q while skip-db-update is set (%w); run once without skip-db-update to fill the cache", ErrNoDatabase, o.CacheDir, cacheErr)
		}
		return info, nil
	}
	if cacheErr == nil && (o.Now.Before(meta.NextUpdate) || o.Now.Before(meta.DownloadedAt.Add(time.Hour))) {
		return info, nil
	}
	var errs []error
	for _, ref := range o.Repositories {
		err := download(ctx, o, ref, dir)
		if err == nil {
			meta, err = cached(dir)
			if err != nil {
				return info, fmt.Errorf("reading the database downloaded from %q: %w", ref, err)
			}
			return Info{Dir: dir, UpdatedAt: meta.UpdatedAt, DownloadedAt: meta.DownloadedAt, Downloaded: true, Source: ref}, nil
		}
		errs = append(errs, fmt.Errorf("%q: %w", ref, err))
	}
	dlErr := errors.Join(errs...)
	if cacheErr == nil {
		info.Stale = dlErr
		return info, nil
	}
	held := "has none"
	if errors.Is(cacheErr, ErrDamaged) {
		held = "holds a damaged one"
	}
	return info, fmt.Errorf("%w: download failed from %s and cache-dir %q %s (%w); set db-repository to a reachable mirror (e.g. your own registry holding a copy of %s)\n%w",
		ErrNoDatabase, strings.Join(quoteAll(o.Repositories), ", "), o.CacheDir, held, cacheErr, DefaultRepositories[len(DefaultRepositories)-1], dlErr)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// cached reads the metadata of the database in dir and checks the files
// a scan needs are there, of the schema this build reads, and whole. The
// full check of the database file (some seconds for trivy's) runs only
// when the file is not the one last checked, as a stamp beside it records.
func cached(dir string) (metadata.Metadata, error) {
	path := trivydb.Path(dir)
	fi, err := os.Stat(path)
	if err != nil {
		return metadata.Metadata{}, fmt.Errorf("no %s: %w", filepath.Base(path), err)
	}
	meta, err := metadata.NewClient(dir).Get()
	if err != nil {
		return metadata.Metadata{}, fmt.Errorf("reading metadata.json: %w", err)
	}
	if meta.Version != trivydb.SchemaVersion {
		return meta, fmt.Errorf("database schema %d, this build reads %d", meta.Version, trivydb.SchemaVersion)
	}
	if meta.UpdatedAt.IsZero() {
		return meta, fmt.Errorf("metadata.json is %w: it has no UpdatedAt", ErrDamaged)
	}
	s := stampOf(fi)
	deep := !s.matches(dir)
	if err := checkFile(path, deep); err != nil {
		return meta, fmt.Errorf("%s is %w: %w", filepath.Base(path), ErrDamaged, err)
	}
	if deep {
		s.write(dir)
	}
	return meta, nil
}

// download fetches ref into a temporary directory beside dir and moves the
// files in only when complete, so a failed download never spoils the cache.
func download(ctx context.Context, o Options, ref, dir string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("parsing reference: %w", err)
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return fmt.Errorf("creating cache-dir: %w", err)
	}
	tmp, err := os.MkdirTemp(o.CacheDir, ".db-download-")
	if err != nil {
		return fmt.Errorf("creating a download directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	ctx = withTransport(clock.With(ctx, o.Now))
	c := tdb.NewClient(tmp, true, tdb.WithDBRepository([]name.Reference{r}))
	var ro ftypes.RegistryOptions
	if cred, ok := o.Credentials[r.Context().RegistryStr()]; ok {
		ro.Credentials = []ftypes.Credential{cred}
	}
	if err := c.Download(ctx, tmp, ro); err != nil {
		return err
	}
	if _, err := cached(tmp); err != nil {
		return fmt.Errorf("downloaded database is not usable: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %q: %w", dir, err)
	}
	// The database first, then the metadata that vouches for it, then the
	// stamp of its check (rename keeps the size and time it records).
	for _, f := range []string{filepath.Base(trivydb.Path(tmp)), "metadata.json", stampFile} {
		err := os.Rename(filepath.Join(tmp, f), filepath.Join(dir, f))
		if f == stampFile && errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("moving %s into the cache: %w", f, err)
		}
	}
	return nil
}

// Open opens the database in dir read-only for detection; Close releases it.
func Open(dir string) error {
	if err := tdb.Init(dir); err != nil {
		return fmt.Errorf("opening the vulnerability database in %q: %w", dir, err)
	}
	return nil
}

// OpenEmpty creates an empty database in dir and opens it: detection then
// matches nothing, for an SBOM-only run that needs no download.
func OpenEmpty(dir string) error {
	b, err := bolt.Open(tdb.Path(dir), 0o600, nil)
	if err != nil {
		return fmt.Errorf("creating an empty vulnerability database in %q: %w", dir, err)
	}
	if err := b.Close(); err != nil {
		return err
	}
	return Open(dir)
}

// Close closes the database Open opened.
func Close() error { return tdb.Close() }
