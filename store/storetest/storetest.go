// Package storetest gives each test its own PostgreSQL database, cloned from a template that is migrated
// once per schema version, so tests run against the real database, in parallel, without seeing each
// other's rows.
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
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/rudderhook/rudderhook/store"
)

// EnvURL names the variable that points tests at a PostgreSQL server (its maintenance database).
const EnvURL = "RUDDERHOOK_TEST_DATABASE_URL"

const defaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// AdminURL is the URL of the server's maintenance database used by tests.
func AdminURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return defaultURL
}

// URL returns the connection string of a new, migrated database that is dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(context.Background()) })
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
	admin, err := store.Open(ctx, AdminURL())
	if err != nil {
		t.Fatalf("connect to test PostgreSQL (set %s to point elsewhere): %v", EnvURL, err)
	}
	defer admin.Close()

	name := "rudderhook_test_" + randomSuffix()
	if _, err := admin.ExecContext(ctx, fmt.Sprintf("CREATE DATABASE %s %s", pq.QuoteIdentifier(name), options)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := store.Open(ctx, AdminURL())
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	return withDatabase(AdminURL(), name)
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
func ensureTemplate(ctx context.Context) (string, error) {
	name := "rudderhook_template_" + store.MigrationsDigest()
	admin, err := store.Open(ctx, AdminURL())
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
	db, err := store.Open(ctx, withDatabase(AdminURL(), building))
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
