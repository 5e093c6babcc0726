// Package store keeps rudderhook's state in PostgreSQL: subjects (subjects.go: every call and event
// Airudder told us, its revisions and whether they were processed), the typed rows that extend them
// (calls.go: calls and their redials; events.go), the inbox of callbacks that Temporal could not take yet
// (inbox.go), follow-ups (followups.go), archived recordings (recordings.go) and the versions of the rules (rulesets.go). It only stores: compiling the rules in force and watching the rules file is
// rules/rulesync's work. SQL lives in named constants beside the code that runs it; schema changes are
// embedded, numbered goose migrations (migrations/); this file holds the handle and transactions.
//
// It imports the domain packages (airudder, rules) and database libraries, never api, workflows or
// activities.
package store

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is rudderhook's access to PostgreSQL.
type Store struct {
	db *sqlx.DB
}

// New wraps an open database.
func New(db *sqlx.DB) *Store { return &Store{db: db} }

// DB is the underlying handle, for health checks.
func (s *Store) DB() *sqlx.DB { return s.db }

// inTx runs fn in a transaction, committing when it returns nil and rolling back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(*sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// ErrUnreachable wraps a failure to connect at all, as opposed to an error of a query.
var ErrUnreachable = errors.New("PostgreSQL is unreachable")

// Open connects to the database at dsn and checks the connection.
func Open(ctx context.Context, dsn string) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Redact(dsn), err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		_ = db.Close()
		if isMissingDatabase(err) {
			return nil, fmt.Errorf("connect to %s: %w", Redact(dsn), err)
		}
		return nil, fmt.Errorf("connect to %s: %w: %w", Redact(dsn), ErrUnreachable, err)
	}
	return db, nil
}

// EnsureDatabase creates the database named in dsn if it does not exist, connecting to the server's
// "postgres" maintenance database to do so. It is for `rudderhook dev`; production creates databases
// deliberately.
func EnsureDatabase(ctx context.Context, dsn string) error {
	name, admin, err := maintenance(dsn)
	if err != nil || name == "" {
		return err
	}
	db, err := Open(ctx, dsn)
	if err == nil {
		return db.Close()
	}
	if !isMissingDatabase(err) {
		return err
	}
	adb, err := Open(ctx, admin)
	if err != nil {
		return err
	}
	defer adb.Close()
	return createDatabase(ctx, adb, name)
}

// CreateNewDatabase creates the database named in dsn, and fails if it exists: whoever calls it knows
// the database is theirs (`rudderhook bench`, which drops only what it made).
func CreateNewDatabase(ctx context.Context, dsn string) error {
	return onServer(ctx, dsn, func(adb *sqlx.DB, name string) error {
		if _, err := adb.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
			return fmt.Errorf("create database %q: %w", name, err)
		}
		return nil
	})
}

// DropDatabase drops the database named in dsn, if it exists, closing its connections. It does not ask
// whose it is: callers do (bench drops only the databases it made).
func DropDatabase(ctx context.Context, dsn string) error {
	return onServer(ctx, dsn, func(adb *sqlx.DB, name string) error {
		if _, err := adb.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %q: %w", name, err)
		}
		return nil
	})
}

// onServer runs fn on the maintenance database of dsn's server, with the name of the database dsn names.
func onServer(ctx context.Context, dsn string, fn func(adb *sqlx.DB, name string) error) error {
	name, admin, err := maintenance(dsn)
	if err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("DATABASE_URL %q names no database", Redact(dsn))
	}
	adb, err := Open(ctx, admin)
	if err != nil {
		return err
	}
	defer adb.Close()
	return fn(adb, name)
}

// maintenance reads the database name of dsn and the URL of the same server's "postgres" database.
func maintenance(dsn string) (name, admin string, err error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "", "", fmt.Errorf("DATABASE_URL must be a postgres:// URL, got %q", Redact(dsn))
	}
	a := *u
	a.Path = "/postgres"
	return strings.TrimPrefix(u.Path, "/"), a.String(), nil
}

func createDatabase(ctx context.Context, adb *sqlx.DB, name string) error {
	_, err := adb.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name))
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "42P04" { // created by someone else meanwhile
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}

func isMissingDatabase(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "3D000" // invalid_catalog_name
}

// Migrate applies the embedded migrations that the database lacks. A PostgreSQL advisory lock keeps
// replicas that start together from migrating at the same time.
func Migrate(ctx context.Context, db *sqlx.DB, log *slog.Logger) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db.DB, migrationsFS(), goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		log.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return nil
}

func migrationsFS() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// Redact hides the password of a connection string, for messages and logs: the user-info password of a
// URL, a password in its query (?password=…), and a password=… setting of a key=value string (quoted or
// not).
func Redact(dsn string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return redactSetting(dsn) // not a URL after all: hide what looks like a password
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
		if q := u.Query(); q.Has("password") {
			q.Set("password", redacted)
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	return redactSetting(dsn)
}

const redacted = "xxxxx"

// passwordSetting is password=… in a key=value connection string: a single-quoted value (with \' and \\
// escapes) or a bare one up to the next space, as libpq reads them.
var passwordSetting = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s]*)`)

func redactSetting(dsn string) string {
	return passwordSetting.ReplaceAllString(dsn, "${1}"+redacted)
}

// MigrationsDigest identifies the embedded schema, so that tests can reuse a database migrated to it.
func MigrationsDigest() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := migrations.ReadFile(path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}
