package store

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/rudderhook/rudderhook/airudder"
)

// Expectations: every re-call Airudder took waits for its call. A call to that callee that completes in
// that Airudder workflow after the re-call, by its deadline, fulfils it (StoreRevision stores it, whether
// a callback or reconciliation brought it); one whose deadline passes first is overdue (MarkOverdue), and
// so is its follow-up, until a late call fulfils it after all.

// Expectation is what a re-call Airudder took waits for: a call to Callee completing in the Airudder
// workflow AirudderWorkflowID from Since until Deadline.
type Expectation struct {
	Callee             string
	AirudderWorkflowID string
	Since, Deadline    time.Time
}

// earlyCall is how long before a re-call was taken a call may have started and still answer it: clocks
// (Airudder's, ours) differ a little.
const earlyCall = 5 * time.Minute

const (
	insertExpectationSQL = `INSERT INTO recall_expectations (follow_up_id, callee_digits, airudder_workflow_id, since, deadline)
SELECT id, $2, $3, $4, $5 FROM follow_ups WHERE idempotency_key = $1
ON CONFLICT (follow_up_id) DO UPDATE SET callee_digits = EXCLUDED.callee_digits, airudder_workflow_id = EXCLUDED.airudder_workflow_id,
  since = EXCLUDED.since, deadline = EXCLUDED.deadline, state = 'open', fulfilled_by = NULL, settled_at = NULL, fired_at = NULL
WHERE recall_expectations.since < EXCLUDED.since`
	// fulfilSQL fulfils the expectations a call answers (overdue ones too: a late call), saying which
	// were overdue.
	fulfilSQL = `UPDATE recall_expectations e SET state = 'fulfilled', fulfilled_by = $1, settled_at = now()
FROM (SELECT follow_up_id, state FROM recall_expectations
      WHERE callee_digits = $2 AND airudder_workflow_id = $3 AND state <> 'fulfilled' AND since <= $4 FOR UPDATE) old
WHERE e.follow_up_id = old.follow_up_id
RETURNING e.follow_up_id, old.state`
	lateSQL = `UPDATE follow_ups SET status = 'succeeded', last_error = $2, updated_at = now()
WHERE id = ANY($1) AND status = 'overdue'`
	// markOverdueSQL makes the open expectations whose deadline passed overdue, and their follow-ups that
	// stand as succeeded; it returns the follow-ups it changed.
	markOverdueSQL = `WITH due AS (
  UPDATE recall_expectations SET state = 'overdue', settled_at = now() WHERE state = 'open' AND deadline <= $1
  RETURNING follow_up_id, airudder_workflow_id, deadline)
UPDATE follow_ups f SET status = 'overdue', updated_at = now(),
  last_error = 'no call to the callee completed in Airudder workflow ' || due.airudder_workflow_id || ' by ' ||
    to_char(due.deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
FROM due WHERE f.id = due.follow_up_id AND f.status = 'succeeded'
RETURNING f.id`
	unfiredSQL = `SELECT follow_up_id, airudder_workflow_id, since, deadline FROM recall_expectations
WHERE state = 'overdue' AND fired_at IS NULL ORDER BY deadline LIMIT $1`
	// fulfilStoredSQL fulfils a new expectation with a call stored already (one that came while the
	// re-call's outcome was unknown): the number as the re-call wrote it, or in digits with or without +.
	fulfilStoredSQL = `UPDATE recall_expectations e SET state = 'fulfilled', fulfilled_by = c.subject_id, settled_at = now()
FROM (SELECT c.subject_id FROM calls c JOIN subjects s ON s.id = c.subject_id
      WHERE c.callee_number IN ($2, $3, '+' || $3) AND c.airudder_workflow_id = $4
        AND COALESCE(c.call_start_time, c.call_end_time, s.received_at) >= $5 ORDER BY 1 LIMIT 1) c
WHERE e.follow_up_id = (SELECT id FROM follow_ups WHERE idempotency_key = $1) AND e.state = 'open'`
	firedSQL         = `UPDATE recall_expectations SET fired_at = now() WHERE follow_up_id = ANY($1) AND fired_at IS NULL`
	expectationSQL   = `SELECT follow_up_id, airudder_workflow_id, since, deadline, state FROM recall_expectations WHERE follow_up_id = $1`
	followUpsByIDSQL = selectFollowUpsSQL + ` WHERE f.id = ANY($1) ORDER BY f.id`
)

// numberDigits is a number as expectations match it: its digits only, so that "+62 812-3456" and
// "628123456" are the same callee.
func numberDigits(n string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, n)
}

// expect records e for the follow-up of key: once, or anew for a later re-call of it (an operator's retry).
func expect(ctx context.Context, tx *sqlx.Tx, key string, e Expectation) error {
	digits := numberDigits(e.Callee)
	if _, err := tx.ExecContext(ctx, insertExpectationSQL, key, digits, e.AirudderWorkflowID, e.Since, e.Deadline); err != nil {
		return fmt.Errorf("record the expectation of %s: %w", key, err)
	}
	if _, err := tx.ExecContext(ctx, fulfilStoredSQL, key, e.Callee, digits, e.AirudderWorkflowID, e.Since.Add(-earlyCall)); err != nil {
		return fmt.Errorf("fulfil the expectation of %s with a stored call: %w", key, err)
	}
	return nil
}

// fulfilExpectations fulfils, with the call rc of subject subjectID, the expectations of re-calls it
// answers: the same callee, the same Airudder workflow, started no earlier than the re-call (less
// earlyCall). An overdue follow-up it answers becomes succeeded again, saying it came late.
func fulfilExpectations(ctx context.Context, tx *sqlx.Tx, subjectID int64, rc airudder.ReceivedCall) error {
	digits := numberDigits(rc.Call.CalleeNumber)
	if digits == "" || rc.Task.WorkflowID == "" {
		return nil
	}
	at := rc.ReceivedAt
	if t := cmp.Or(rc.Call.CallStartTime, rc.Call.CallEndTime); t != nil {
		at = *t
	}
	rows, err := tx.QueryContext(ctx, fulfilSQL, subjectID, digits, rc.Task.WorkflowID, at.Add(earlyCall))
	if err != nil {
		return err
	}
	var late []int64
	for rows.Next() {
		var id int64
		var was string
		if err := rows.Scan(&id, &was); err != nil {
			rows.Close()
			return err
		}
		if was == "overdue" {
			late = append(late, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(late) == 0 {
		return err
	}
	msg := fmt.Sprintf("the re-call's call completed after its deadline (call %s)", rc.Key)
	_, err = tx.ExecContext(ctx, lateSQL, pq.Array(late), msg)
	return err
}

// MarkOverdue makes the expectations whose deadline passed by now overdue, and their follow-ups that
// stood as succeeded; it returns how many follow-ups became overdue.
func (s *Store) MarkOverdue(ctx context.Context, now time.Time) (int, error) {
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, markOverdueSQL, now); err != nil {
		return 0, fmt.Errorf("mark overdue re-calls: %w", err)
	}
	return len(ids), nil
}

// OverdueRecall is a re-call whose expectation is overdue, with its follow-up.
type OverdueRecall struct {
	FollowUp           FollowUpRecord
	AirudderWorkflowID string
	Since, Deadline    time.Time
}

// UnfiredOverdue lists up to limit overdue re-calls whose recall_overdue event has not gone to its
// workflow yet, the earliest deadline first.
func (s *Store) UnfiredOverdue(ctx context.Context, limit int) ([]OverdueRecall, error) {
	var rows []struct {
		ID         int64     `db:"follow_up_id"`
		WorkflowID string    `db:"airudder_workflow_id"`
		Since      time.Time `db:"since"`
		Deadline   time.Time `db:"deadline"`
	}
	if err := s.db.SelectContext(ctx, &rows, unfiredSQL, limit); err != nil {
		return nil, fmt.Errorf("list overdue re-calls: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	fus, err := s.followUps(ctx, followUpsByIDSQL, pq.Array(ids))
	if err != nil {
		return nil, err
	}
	byID := map[int64]FollowUpRecord{}
	for _, f := range fus {
		byID[f.ID] = f
	}
	out := make([]OverdueRecall, 0, len(rows))
	for _, r := range rows {
		out = append(out, OverdueRecall{FollowUp: byID[r.ID], AirudderWorkflowID: r.WorkflowID, Since: r.Since.UTC(), Deadline: r.Deadline.UTC()})
	}
	return out, nil
}

// MarkFired records that the recall_overdue events of these follow-ups went to their workflows.
func (s *Store) MarkFired(ctx context.Context, followUpIDs []int64) error {
	if _, err := s.db.ExecContext(ctx, firedSQL, pq.Array(followUpIDs)); err != nil {
		return fmt.Errorf("mark overdue re-calls fired: %w", err)
	}
	return nil
}

// ExpectationRecord is a stored expectation, for the admin API and tests.
type ExpectationRecord struct {
	FollowUpID         int64     `db:"follow_up_id" json:"follow_up_id"`
	AirudderWorkflowID string    `db:"airudder_workflow_id" json:"airudder_workflow_id"`
	Since              time.Time `db:"since" json:"since"`
	Deadline           time.Time `db:"deadline" json:"deadline"`
	State              string    `db:"state" json:"state"`
}

// ExpectationOf is the expectation of a follow-up, or ErrNotFound.
func (s *Store) ExpectationOf(ctx context.Context, followUpID int64) (*ExpectationRecord, error) {
	var out []ExpectationRecord
	if err := s.db.SelectContext(ctx, &out, expectationSQL, followUpID); err != nil {
		return nil, fmt.Errorf("read the expectation of follow-up %d: %w", followUpID, err)
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return &out[0], nil
}
