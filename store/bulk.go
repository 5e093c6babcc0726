package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// What a bulk repair's plan repairs (bulk_plans.what).
const (
	// BulkFollowUps retries follow-ups (IDs of follow_ups).
	BulkFollowUps = "follow_ups"
	// BulkDeadLetters replays dead letters (IDs of inbox entries).
	BulkDeadLetters = "dead_letters"
)

// ErrPlanExpired means a bulk plan was confirmed after it expired, before any run of it started.
var ErrPlanExpired = errors.New("the plan has expired")

// BulkPlan is a bulk repair's plan as stored: what was asked (Request, as the caller wrote it, and What),
// what matched when it was planned (Matched IDs, in the order the run takes them), and the run once it
// was confirmed.
type BulkPlan struct {
	ID        string    `db:"id"`
	What      string    `db:"what"`
	Request   jsonValue `db:"request"`
	Matched   int       `db:"matched"`
	CreatedBy string    `db:"created_by"`
	CreatedAt time.Time `db:"created_at"`
	ExpiresAt time.Time `db:"expires_at"`
	// WorkflowID is the run's, once the plan was confirmed.
	WorkflowID *string    `db:"workflow_id"`
	StartedAt  *time.Time `db:"started_at"`
}

const (
	bulkPlanColumns = `id, what, request, cardinality(ids) AS matched, created_by, created_at, expires_at, workflow_id, started_at`
	insertBulkSQL   = `INSERT INTO bulk_plans (id, what, request, ids, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`
	// forgetBulkSQL deletes the plans nobody confirmed once they expired, and those that ran after a month.
	forgetBulkSQL = `DELETE FROM bulk_plans WHERE (started_at IS NULL AND expires_at < now())
  OR started_at < now() - interval '30 days'`
	selectBulkSQL = `SELECT ` + bulkPlanColumns + ` FROM bulk_plans WHERE id = $1`
	// bulkIDsSQL reads the IDs from position $2 (0-based) on, $3 of them.
	bulkIDsSQL = `SELECT coalesce(ids[$2 + 1 : $2 + $3], '{}') FROM bulk_plans WHERE id = $1`
	// startBulkSQL records the run of a plan not yet run (and not expired); a plan that ran keeps its run.
	startBulkSQL = `UPDATE bulk_plans SET workflow_id = $2, started_at = now()
WHERE id = $1 AND started_at IS NULL AND expires_at > now()`
)

// SaveBulkPlan stores a plan whose ids matched, to be run (StartBulkPlan) before it expires; it forgets
// the plans nobody ran. request is the request as asked, JSON.
func (s *Store) SaveBulkPlan(ctx context.Context, p BulkPlan, ids []int64) error {
	if _, err := s.db.ExecContext(ctx, forgetBulkSQL); err != nil {
		return fmt.Errorf("forget old bulk plans: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, insertBulkSQL, p.ID, p.What, p.Request, pq.Int64Array(ids), p.CreatedBy, p.ExpiresAt); err != nil {
		return fmt.Errorf("store bulk plan %s: %w", p.ID, err)
	}
	return nil
}

// GetBulkPlan returns a plan (without its IDs: Matched counts them), or ErrNotFound.
func (s *Store) GetBulkPlan(ctx context.Context, id string) (*BulkPlan, error) {
	var p BulkPlan
	err := s.db.GetContext(ctx, &p, selectBulkSQL, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("bulk plan %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read bulk plan %s: %w", id, err)
	}
	return &p, nil
}

// BulkPlanIDs returns up to limit of the plan's IDs from position offset (0-based) on: a run takes them
// a batch at a time.
func (s *Store) BulkPlanIDs(ctx context.Context, id string, offset, limit int) ([]int64, error) {
	var ids pq.Int64Array
	err := s.db.GetContext(ctx, &ids, bulkIDsSQL, id, offset, limit)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("bulk plan %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read bulk plan %s: %w", id, err)
	}
	return ids, nil
}

// StartBulkPlan records that workflowID runs the plan, unless a run of it was recorded before: it
// returns the plan as it stands then (its WorkflowID the first run's). A plan never run that has expired
// is ErrPlanExpired.
func (s *Store) StartBulkPlan(ctx context.Context, id, workflowID string) (*BulkPlan, error) {
	if _, err := s.db.ExecContext(ctx, startBulkSQL, id, workflowID); err != nil {
		return nil, fmt.Errorf("start bulk plan %s: %w", id, err)
	}
	p, err := s.GetBulkPlan(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.WorkflowID == nil {
		return nil, fmt.Errorf("bulk plan %s: %w", id, ErrPlanExpired)
	}
	return p, nil
}
