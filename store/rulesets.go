package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// RuleSetRecord is one stored version of the rules.
type RuleSetRecord struct {
	Version  int64  `db:"version"`
	Digest   string `db:"digest"`
	Document string `db:"document"`
	Origin   string `db:"origin"`
	// Author is who made the version: a person's name, "admin API" or "rules file"; Comment says why.
	Author    string    `db:"author"`
	Comment   string    `db:"comment"`
	CreatedAt time.Time `db:"created_at"`
}

// RuleSetChange says where a new version of the rules comes from, who makes it and why.
type RuleSetChange struct {
	// Origin is the channel: "api", "ui", "file:<path>".
	Origin  string
	Author  string
	Comment string
	// BaseVersion, when not 0, is the version the change was made from: if another version has come
	// into force since, the change is refused with ErrConflict rather than undoing it unseen.
	BaseVersion int64
}

// ErrConflict is a change made from a version that is no longer in force.
var ErrConflict = errors.New("the rules in force changed since this change was started")

const (
	latestRuleSetSQL     = `SELECT * FROM rule_sets ORDER BY version DESC LIMIT 1`
	latestRuleVersionSQL = `SELECT version FROM rule_sets ORDER BY version DESC LIMIT 1`
	ruleSetSQL           = `SELECT * FROM rule_sets WHERE version = $1`
	listRuleSetsSQL      = `SELECT * FROM rule_sets ORDER BY version DESC LIMIT $1`
	latestFromSQL        = `SELECT * FROM rule_sets WHERE origin = $1 ORDER BY version DESC LIMIT 1`
	insertRuleSetSQL     = `INSERT INTO rule_sets (digest, document, origin, author, comment) VALUES ($1, $2, $3, $4, $5)
RETURNING version, created_at`
	// ruleSetLock serialises rule saves, so two replicas loading the same file make one version.
	ruleSetLock = `SELECT pg_advisory_xact_lock(7310582961)`
)

// SaveRuleSet stores a rules document as the new version in force, unless it is the same text as the
// version in force already. It returns the version in force and whether it is new. A change whose
// BaseVersion is no longer in force is refused with ErrConflict (and the version in force is returned).
func (s *Store) SaveRuleSet(ctx context.Context, digest, document string, change RuleSetChange) (RuleSetRecord, bool, error) {
	var rec RuleSetRecord
	created := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, ruleSetLock); err != nil {
			return fmt.Errorf("lock rule sets: %w", err)
		}
		err := tx.GetContext(ctx, &rec, latestRuleSetSQL)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read rules in force: %w", err)
		}
		if change.BaseVersion != 0 && rec.Version != change.BaseVersion {
			return fmt.Errorf("save rules made from version %d, while version %d is in force: %w", change.BaseVersion, rec.Version, ErrConflict)
		}
		if err == nil && rec.Digest == digest {
			return nil
		}
		rec = RuleSetRecord{Digest: digest, Document: document, Origin: change.Origin, Author: change.Author, Comment: change.Comment}
		if err := tx.QueryRowxContext(ctx, insertRuleSetSQL, digest, document, change.Origin, change.Author, change.Comment).
			Scan(&rec.Version, &rec.CreatedAt); err != nil {
			return fmt.Errorf("store rules: %w", err)
		}
		created = true
		return nil
	})
	return rec, created, err
}

// LatestRuleSet returns the version in force, or ErrNotFound when no rules were ever stored.
func (s *Store) LatestRuleSet(ctx context.Context) (*RuleSetRecord, error) {
	return s.ruleSet(ctx, latestRuleSetSQL)
}

// LatestRuleSetFrom returns the newest version that came from origin ("file:<path>"), or ErrNotFound.
func (s *Store) LatestRuleSetFrom(ctx context.Context, origin string) (*RuleSetRecord, error) {
	return s.ruleSet(ctx, latestFromSQL, origin)
}

// RuleSet returns one version.
func (s *Store) RuleSet(ctx context.Context, version int64) (*RuleSetRecord, error) {
	return s.ruleSet(ctx, ruleSetSQL, version)
}

func (s *Store) ruleSet(ctx context.Context, q string, args ...any) (*RuleSetRecord, error) {
	var rec RuleSetRecord
	if err := s.db.GetContext(ctx, &rec, q, args...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("read rules: %w", err)
	}
	return &rec, nil
}

// ListRuleSets returns the newest versions first.
func (s *Store) ListRuleSets(ctx context.Context, limit int) ([]RuleSetRecord, error) {
	var out []RuleSetRecord
	if err := s.db.SelectContext(ctx, &out, listRuleSetsSQL, limit); err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	return out, nil
}

// LatestRuleVersion returns the number of the version in force, or ErrNotFound when no rules were ever
// stored: one small query, for callers that keep the compiled version and only need to notice a new one.
func (s *Store) LatestRuleVersion(ctx context.Context) (int64, error) {
	var version int64
	if err := s.db.GetContext(ctx, &version, latestRuleVersionSQL); errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	} else if err != nil {
		return 0, fmt.Errorf("read the rules version in force: %w", err)
	}
	return version, nil
}
