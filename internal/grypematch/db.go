package grypematch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/anchore/clio"
	v6 "github.com/anchore/grype/grype/db/v6"
	"github.com/anchore/grype/grype/db/v6/distribution"
	"github.com/anchore/grype/grype/db/v6/installation"
	"github.com/anchore/grype/grype/vulnerability"
)

// DefaultURL is grype's own database listing.
const DefaultURL = "https://grype.anchore.io/databases"

// DirName is the directory under the cache root that holds grype's
// database, as GRYPE_DB_CACHE_DIR would name it (the schema's own
// subdirectory, 6, is below it).
const DirName = "grype-db"

// Timeouts and retries of the listing and archive downloads.
const (
	checkTimeout    = 30 * time.Second
	downloadTimeout = 5 * time.Minute
	attempts        = 3
)

// retryWait is the pause before the second and third attempt.
var retryWait = time.Second

// Options say where the database lives and where to fetch it from.
type Options struct {
	CacheDir string // the cache root; the database goes in CacheDir/grype-db/6
	URL      string // the listing URL (grype's when empty)
	Skip     bool   // use the cache only
	Now      time.Time
	// MinCheckInterval is how long after a successful check the listing is
	// not asked again (an hour when zero), as trivy's cache rule.
	MinCheckInterval time.Duration
}

// Info describes the database a match uses.
type Info struct {
	Root       string    // CacheDir/grype-db
	File       string    // the database file
	Built      time.Time // when the database was built
	Schema     string
	Downloaded bool   // fetched by this call
	Source     string // the listing it came from, when Downloaded
	// Stale is set when every download failed and the cached copy is used.
	Stale error
}

// Age is how old the database is at now.
func (i Info) Age(now time.Time) time.Duration { return now.Sub(i.Built) }

// ErrNoDatabase means no download worked and nothing usable is cached.
var ErrNoDatabase = errors.New("no usable grype vulnerability database")

// ErrDamaged means the cached database failed its checks.
var ErrDamaged = errors.New("damaged")

func curatorConfig(o Options) installation.Config {
	every := o.MinCheckInterval
	if every == 0 {
		every = time.Hour
	}
	return installation.Config{
		DBRootDir: filepath.Join(o.CacheDir, DirName),
		// Age is reported, not enforced: an old database beats none when
		// the download fails, and the summary says how old it is.
		ValidateAge:             false,
		ValidateChecksum:        true,
		UpdateCheckMaxFrequency: every,
	}
}

func newCurator(o Options) (v6.Curator, error) {
	url := o.URL
	if url == "" {
		url = DefaultURL
	}
	client, err := distribution.NewClient(distribution.Config{
		ID:        clio.Identification{Name: "gitops-actions-scan"},
		LatestURL: url, RequireUpdateCheck: true,
		CheckTimeout: checkTimeout, UpdateTimeout: downloadTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("preparing the grype database client: %w", err)
	}
	return installation.NewCurator(curatorConfig(o), client)
}

// Ensure makes sure CacheDir/grype-db holds a usable database: it asks the
// listing for a newer one (at most once per MinCheckInterval) unless Skip
// is set. A cached database that fails its checksum is never used: it is
// removed and downloaded again.
func Ensure(ctx context.Context, o Options) (Info, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	url := o.URL
	if url == "" {
		url = DefaultURL
	}
	cur, err := newCurator(o)
	if err != nil {
		return Info{}, err
	}
	cfg := curatorConfig(o)
	cached := cur.Status()
	cacheErr := statusErr(cached)
	info := infoOf(cfg, cached)
	if o.Skip {
		if cacheErr != nil {
			return info, fmt.Errorf("%w in cache-dir %q while skip-db-update is set (%w); run once without skip-db-update to fill the cache", ErrNoDatabase, o.CacheDir, cacheErr)
		}
		return info, nil
	}
	if errors.Is(cacheErr, ErrDamaged) {
		if err := cur.Delete(); err != nil {
			return info, fmt.Errorf("removing the damaged grype database in %q: %w", cfg.DBDirectoryPath(), err)
		}
	}
	var updated bool
	var dlErr error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return info, ctx.Err()
			case <-time.After(retryWait << (i - 1)):
			}
		}
		if updated, dlErr = cur.Update(); dlErr == nil {
			break
		}
	}
	now := cur.Status()
	if dlErr == nil {
		if err := statusErr(now); err != nil {
			return infoOf(cfg, now), fmt.Errorf("%w: after checking %q: %w", ErrNoDatabase, url, err)
		}
		info = infoOf(cfg, now)
		info.Downloaded, info.Source = updated, url
		if !updated {
			info.Source = ""
		}
		return info, nil
	}
	dlErr = fmt.Errorf("%q: %w", url, dlErr)
	if cacheErr == nil && statusErr(now) == nil {
		info.Stale = dlErr
		return info, nil
	}
	held := "has none"
	if errors.Is(cacheErr, ErrDamaged) {
		held = "held a damaged one"
	}
	return info, fmt.Errorf("%w: download failed and cache-dir %q %s (%w); set grype-db-url to a reachable mirror of %s\n%w",
		ErrNoDatabase, o.CacheDir, held, cacheErr, DefaultURL, dlErr)
}

// statusErr is the curator's verdict on the installed database; a database
// that is there but fails its checks is ErrDamaged.
func statusErr(s vulnerability.ProviderStatus) error {
	if s.Error == nil {
		return nil
	}
	if errors.Is(s.Error, v6.ErrDBDoesNotExist) {
		return s.Error
	}
	if _, err := os.Stat(s.Path); errors.Is(err, os.ErrNotExist) {
		return s.Error
	}
	return fmt.Errorf("%s is %w: %w", s.Path, ErrDamaged, s.Error)
}

func infoOf(cfg installation.Config, s vulnerability.ProviderStatus) Info {
	return Info{Root: cfg.DBRootDir, File: cfg.DBFilePath(), Built: s.Built, Schema: s.SchemaVersion}
}

// DB is an open grype database.
type DB struct {
	provider vulnerability.Provider
}

// Open opens the database Ensure made ready, read-only.
func Open(o Options) (*DB, error) {
	cur, err := newCurator(o)
	if err != nil {
		return nil, err
	}
	if err := statusErr(cur.Status()); err != nil {
		return nil, fmt.Errorf("opening the grype database: %w", err)
	}
	r, err := cur.Reader()
	if err != nil {
		return nil, fmt.Errorf("opening the grype database in %q: %w", curatorConfig(o).DBDirectoryPath(), err)
	}
	return &DB{provider: v6.NewVulnerabilityProvider(r)}, nil
}

// Close releases the database.
func (d *DB) Close() error { return d.provider.Close() }
