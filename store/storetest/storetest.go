// Package storetest gives each test its own PostgreSQL database, cloned from a template that is migrated
// once per schema version, so tests run against the real database, in parallel, without seeing each
// other's rows.
//
// The server is the one at RUDDERHOOK_TEST_DATABASE_URL when it is set; else the one at 127.0.0.1:5432
// when it answers; else a private server that the test process starts (devserver/devpostgres) and
// stops when its tests end, so that `make test` needs nothing running. Every package whose tests use
// storetest runs them through Main (or Run) from its TestMain, which stops that server.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/rudderhook/rudderhook/devserver/devpostgres"
	"github.com/rudderhook/rudderhook/store"
)

// EnvURL names the variable that points tests at a PostgreSQL server (its maintenance database).
const EnvURL = "RUDDERHOOK_TEST_DATABASE_URL"

// DefaultURL is the server tried when EnvURL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	templateOnce sync.Once
	templateName string
	templateErr  error

	adminOnce sync.Once
	adminURL  string
	adminErr  error

	running atomic.Bool         // Main (Run) is running the tests
	private *devpostgres.Server // started by this process, stopped by Run
)

// privatePrefix names the directories of the private servers of test processes, in the temporary
// directory: a process that was killed leaves its own for the next to stop and remove.
const privatePrefix = "rudderhook-test-postgres-"

// Main runs the tests of a package (call it from TestMain), stops the private PostgreSQL they may have
// started, and exits with their code.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain with more to do after the tests: it returns their exit code.
func Run(m *testing.M) int {
	running.Store(true)
	code := m.Run()
	if private != nil {
		dir := filepath.Dir(private.DataDir)
		if err := private.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "storetest:", err)
		}
		_ = os.RemoveAll(dir)
	}
	return code
}

// AdminURL is the URL of the server's maintenance database used by the tests: see the package comment.
func AdminURL(t testing.TB) string {
	t.Helper()
	adminOnce.Do(func() { adminURL, adminErr = resolveAdmin(context.Background(), os.Getenv(EnvURL), DefaultURL) })
	if adminErr != nil {
		t.Fatal(adminErr)
	}
	return adminURL
}

// resolveAdmin is set when given, else def when a server takes it, else a private server's.
func resolveAdmin(ctx context.Context, set, def string) (string, error) {
	if set != "" {
		return set, nil
	}
	db, openErr := store.Open(ctx, def)
	if openErr == nil {
		return def, db.Close()
	}
	if !running.Load() {
		return "", fmt.Errorf("no PostgreSQL takes %s (%v), and these tests cannot start a private one: "+
			"their package needs a TestMain that calls storetest.Main(m)", def, openErr)
	}
	sweep()
	dir, err := os.MkdirTemp("", privatePrefix)
	if err == nil {
		err = os.Chmod(dir, 0o755) // the server's OS user enters it when the tests run as root
	}
	if err != nil {
		return "", err
	}
	if private, err = devpostgres.Start(ctx, devpostgres.Options{Dir: dir, Log: slog.New(slog.DiscardHandler)}); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("no PostgreSQL takes %s (%v; set %s to use another), and a private one did not start: %w", def, openErr, EnvURL, err)
	}
	fmt.Fprintf(os.Stderr, "storetest: nothing takes %s; these tests use a %s\n", store.Redact(def), private)
	return private.URL("postgres"), nil
}

// sweep stops and removes the private servers of test processes that ended without stopping theirs.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), privatePrefix+"*"))
	for _, dir := range dirs {
		_ = devpostgres.Remove(dir) // refused while its process runs
	}
}

// URL returns the connection string of a new, migrated database that is dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(context.Background(), admin) })
	if templateErr != nil {
		t.Fatalf("prepare test database template: %v", templateErr)
	}
	return newDatabase(t, "TEMPLATE "+pq.QuoteIdentifier(templateName))
}

// EmptyURL returns the connection string of a new database without any table, dropped when t ends: for
// tests of the migrations themselves.
func EmptyURL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, "")
}

// newDatabase creates a database (with the CREATE DATABASE options given) that is dropped when t ends,
// and returns its connection string.
func newDatabase(t testing.TB, options string) string {
	t.Helper()
	ctx := context.Background()
	admin := AdminURL(t)
	adb, err := store.Open(ctx, admin)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL (set %s to point elsewhere): %v", EnvURL, err)
	}
	defer adb.Close()

	name := "rudderhook_test_" + randomSuffix()
	if _, err := adb.ExecContext(ctx, fmt.Sprintf("CREATE DATABASE %s %s", pq.QuoteIdentifier(name), options)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		adb, err := store.Open(ctx, admin)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer adb.Close()
		if _, err := adb.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

// DB returns a connection to a new, migrated database that is closed and dropped when t ends.
func DB(t testing.TB) *sqlx.DB {
	t.Helper()
	db, err := store.Open(context.Background(), URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// ensureTemplate creates the migrated template database for the current schema if no test process has.
// An advisory lock serialises test binaries that start together.
func ensureTemplate(ctx context.Context, adminURL string) (string, error) {
	name := "rudderhook_template_" + store.MigrationsDigest()
	admin, err := store.Open(ctx, adminURL)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	conn, err := admin.Connx(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	h := fnv.New64a()
	_, _ = io.WriteString(h, name)
	lockID := int64(h.Sum64() >> 1)
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lockID); err != nil {
		return "", fmt.Errorf("lock template: %w", err)
	}
	defer conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", lockID) //nolint:errcheck

	var exists bool
	if err := conn.GetContext(ctx, &exists, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(building)+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(building)); err != nil {
		return "", err
	}
	db, err := store.Open(ctx, withDatabase(adminURL, building))
	if err != nil {
		return "", err
	}
	err = store.Migrate(ctx, db, slog.New(slog.DiscardHandler))
	_ = db.Close()
	if err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s",
		pq.QuoteIdentifier(building), pq.QuoteIdentifier(name))); err != nil {
		return "", err
	}
	return name, nil
}

func withDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
