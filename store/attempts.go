package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rudderhook/rudderhook/rules"
)

const (
	// startAttemptSQL marks a follow-up's next attempt as running and counts it, when the status it finds
	// allows an attempt: scheduled; running (an earlier attempt stopped without an outcome) unless the
	// action is at most once ($4); failed, needs_review or overdue only for an operator's retry ($3).
	startAttemptSQL = `WITH prior AS (SELECT id, status FROM follow_ups WHERE idempotency_key = $1 FOR UPDATE)
UPDATE follow_ups f SET status = 'running', attempts = f.attempts + 1, workflow_id = $2, next_attempt_at = NULL,
  finished_at = NULL, updated_at = now()
FROM prior
WHERE f.id = prior.id AND (prior.status = 'scheduled' OR (prior.status = 'running' AND NOT $4)
  OR ($3 AND prior.status IN ('failed', 'needs_review', 'overdue')))
RETURNING prior.status, f.attempts, CASE WHEN $5 THEN f.plan->'webhook'->'body' END`
	followUpStatusSQL = `SELECT status, attempts FROM follow_ups WHERE idempotency_key = $1`
)

// AttemptStart says what StartAttempt found and did.
type AttemptStart struct {
	// Found is the status the follow-up had.
	Found rules.Status
	// Attempt is the number of the attempt started (or of the last one, when none was).
	Attempt int
	// Started says the attempt may go on: the follow-up is now running.
	Started bool
	// Body is the plan's webhook body as stored, when it was asked for and the attempt started.
	Body json.RawMessage
}

// StartAttempt marks the follow-up's next attempt as running under workflowID and counts it, in one
// statement, when its status allows one (see startAttemptSQL); otherwise it changes nothing and says
// what it found. retry is an operator's retry; atMostOnce says the action must not be repeated when an
// earlier attempt's outcome is unknown; withBody asks for the stored webhook body, which a workflow's
// copy of a plan may leave out (rules.FollowUp.ForWorkflow), in the same statement.
func (s *Store) StartAttempt(ctx context.Context, key, workflowID string, retry, atMostOnce, withBody bool) (AttemptStart, error) {
	var out AttemptStart
	var body []byte
	err := s.db.QueryRowContext(ctx, startAttemptSQL, key, workflowID, retry, atMostOnce, withBody).Scan(&out.Found, &out.Attempt, &body)
	if err == nil {
		out.Started = true
		if body != nil {
			out.Body = body
		}
		return out, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return out, fmt.Errorf("start attempt of %s: %w", key, err)
	}
	if err := s.db.QueryRowContext(ctx, followUpStatusSQL, key).Scan(&out.Found, &out.Attempt); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return out, fmt.Errorf("start attempt of %s: %w", key, ErrNotFound)
		}
		return out, fmt.Errorf("start attempt of %s: %w", key, err)
	}
	return out, nil
}
