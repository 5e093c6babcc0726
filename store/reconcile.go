package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Reconciliation's state: how far each source's calls of each family have been compared with Airudder's
// records (its high-water mark), and the calls a page of records names, as stored.

// ReconcileMark is how far one source's calls of one family have been reconciled.
type ReconcileMark struct {
	Source    string    `db:"source" json:"source"`
	Family    string    `db:"family" json:"family"`
	HighWater time.Time `db:"high_water" json:"high_water"`
	UpdatedAt time.Time `db:"updated_at" json:"updated_at"`
}

const (
	selectMarkSQL  = `SELECT high_water FROM reconcile_marks WHERE source = $1 AND family = $2`
	selectMarksSQL = `SELECT source, family, high_water, updated_at FROM reconcile_marks ORDER BY source, family`
	// advanceMarkSQL only moves a mark forward: a run over an older window (on demand) leaves it.
	advanceMarkSQL = `INSERT INTO reconcile_marks (source, family, high_water) VALUES ($1, $2, $3)
ON CONFLICT (source, family) DO UPDATE SET high_water = GREATEST(reconcile_marks.high_water, EXCLUDED.high_water), updated_at = now()`
)

// ReconcileMarkOf is the high-water mark of source's calls of family, or nil when none was reconciled yet.
func (s *Store) ReconcileMarkOf(ctx context.Context, source, family string) (*time.Time, error) {
	var t time.Time
	if err := s.db.GetContext(ctx, &t, selectMarkSQL, source, family); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("read reconcile mark of %s/%s: %w", source, family, err)
	}
	t = t.UTC()
	return &t, nil
}

// AdvanceReconcileMark records that source's calls of family have been reconciled up to to (if that is
// later than the mark).
func (s *Store) AdvanceReconcileMark(ctx context.Context, source, family string, to time.Time) error {
	if _, err := s.db.ExecContext(ctx, advanceMarkSQL, source, family, to); err != nil {
		return fmt.Errorf("advance reconcile mark of %s/%s: %w", source, family, err)
	}
	return nil
}

// ReconcileMarks lists every high-water mark.
func (s *Store) ReconcileMarks(ctx context.Context) ([]ReconcileMark, error) {
	var out []ReconcileMark
	if err := s.db.SelectContext(ctx, &out, selectMarksSQL); err != nil {
		return nil, fmt.Errorf("list reconcile marks: %w", err)
	}
	for i := range out {
		out[i].HighWater, out[i].UpdatedAt = out[i].HighWater.UTC(), out[i].UpdatedAt.UTC()
	}
	return out, nil
}

// ShownCalls reads the calls of source with these keys as they are shown (one query for a page of
// records), by key; a key with no call stored is absent.
func (s *Store) ShownCalls(ctx context.Context, source string, keys []string) (map[string]CallRecord, error) {
	recs, err := s.callsWhere(ctx, "s.source = $1 AND s.subject_key = ANY($2)", source, pq.Array(keys))
	if err != nil {
		return nil, err
	}
	out := make(map[string]CallRecord, len(recs))
	for _, r := range recs {
		out[r.Key] = r
	}
	return out, nil
}
