package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/rudderhook/rudderhook/rules"
)

// FollowUpRecord is one stored follow-up.
type FollowUpRecord struct {
	ID  int64  `db:"id"`
	Key string `db:"idempotency_key"`
	// SubjectID is what the follow-up follows up: a call or an event (see subjects.go).
	SubjectID int64 `db:"subject_id"`
	// The subject's source, kind, key and workflow ID, read with the follow-up for display; InsertFollowUps
	// ignores them.
	Source            string       `db:"source"`
	SubjectKind       string       `db:"subject_kind"`
	SubjectKey        string       `db:"subject_key"`
	SubjectWorkflowID string       `db:"subject_workflow_id"`
	WorkflowID        string       `db:"workflow_id"`
	RuleID            string       `db:"rule_id"`
	RuleVersion       int64        `db:"rule_version"`
	Action            string       `db:"action"`
	Type              string       `db:"action_type"`
	Summary           string       `db:"summary"`
	CalleeNumber      string       `db:"callee_number"`
	PlanJSON          jsonValue    `db:"plan"`
	Status            rules.Status `db:"status"`
	Attempts          int          `db:"attempts"`
	NextAttemptAt     *time.Time   `db:"next_attempt_at"`
	LastError         string       `db:"last_error"`
	ResponseStatus    *int         `db:"response_status"`
	SlotDay           *time.Time   `db:"slot_day"`
	SlotAt            *time.Time   `db:"slot_at"`
	// AirudderWorkflowID is the Airudder workflow a re-call went into: the instance createinstance
	// created, or the one uploaddetails added the callee to.
	AirudderWorkflowID string `db:"airudder_workflow_id"`
	// ReachesPerson says the action reaches the callee (see rules.FollowUp.Reaches).
	ReachesPerson bool           `db:"reaches_person"`
	CreatedAt     time.Time      `db:"created_at"`
	UpdatedAt     time.Time      `db:"updated_at"`
	FinishedAt    *time.Time     `db:"finished_at"`
	Plan          rules.FollowUp `db:"-"`
}

const (
	insertFollowUpSQL = `INSERT INTO follow_ups (idempotency_key, subject_id, workflow_id,
  rule_id, rule_version, action, action_type, summary, callee_number, plan, status, next_attempt_at, last_error, finished_at,
  reaches_person)
VALUES (:idempotency_key, :subject_id, :workflow_id, :rule_id, :rule_version, :action,
  :action_type, :summary, :callee_number, :plan, :status, :next_attempt_at, :last_error, :finished_at, :reaches_person)
ON CONFLICT (idempotency_key) DO NOTHING`
	// selectFollowUpsSQL reads follow-ups (f) with their subjects (s); a condition follows.
	selectFollowUpsSQL = `SELECT f.*, s.source, s.kind AS subject_kind, s.subject_key, s.workflow_id AS subject_workflow_id
FROM follow_ups f JOIN subjects s ON s.id = f.subject_id`
	followUpsByKeySQL = selectFollowUpsSQL + ` WHERE f.idempotency_key = ANY($1) ORDER BY f.id`
	followUpByKeySQL  = selectFollowUpsSQL + ` WHERE f.idempotency_key = $1`
	followUpByIDSQL   = selectFollowUpsSQL + ` WHERE f.id = $1`
	followUpsOfSQL    = selectFollowUpsSQL + ` WHERE f.subject_id = $1 ORDER BY f.id`

	setFollowUpWorkflowSQL = `UPDATE follow_ups SET workflow_id = $2, updated_at = now() WHERE idempotency_key = $1`

	// capLockSQL serialises the claims of one callee: every cap of a number is decided one at a time.
	capLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('cap|' || $1, 0))`
	capHeldSQL = `SELECT slot_day = $2 FROM follow_ups WHERE idempotency_key = $1 AND slot_day IS NOT NULL`
	// capCountSQL counts the runs of one rule's action for a callee that day: the cap of an action that
	// does not reach the person (a CRM task a day).
	capCountSQL = `SELECT count(*) FROM follow_ups WHERE callee_number = $1 AND rule_id = $2 AND action = $3
  AND slot_day = $4 AND idempotency_key <> $5`
	// capCallsSQL counts the calls a number received from $2 to $3: every call completion received (by
	// when the call started; when it ended or arrived if Airudder sent no start), and every redial listed
	// in them (by when it started), each redial once however many callbacks list it, and none that is
	// also a call completion of its own.
	capCallsSQL = `SELECT
  (SELECT count(*) FROM calls c JOIN subjects s ON s.id = c.subject_id WHERE c.callee_number = $1
     AND COALESCE(c.call_start_time, c.call_end_time, s.received_at) >= $2
     AND COALESCE(c.call_start_time, c.call_end_time, s.received_at) < $3)
+ (SELECT count(DISTINCT CASE WHEN r.call_id <> '' THEN r.call_id ELSE r.subject_id || '/' || r.position END)
   FROM (SELECT r.* FROM call_redials r WHERE r.callee_number = $1
           AND r.call_start_time >= $2 AND r.call_start_time < $3
         UNION ALL
         SELECT r.* FROM call_redials r JOIN calls p ON p.subject_id = r.subject_id
         WHERE p.callee_number = $1 AND r.callee_number = ''
           AND r.call_start_time >= $2 AND r.call_start_time < $3) r
   WHERE NOT (r.call_id <> '' AND EXISTS (SELECT 1 FROM calls c JOIN subjects s ON s.id = c.subject_id
     WHERE s.subject_key = r.call_id)))`
	// capPendingSQL counts rudderhook's own calls to a number that hold a place on day $2 and whose
	// call has not come back as a call completion yet (which capCallsSQL counts). A re-call's call is
	// recognised by its Airudder workflow: in each workflow, as many calls to the number as started
	// after the first place was taken are taken to be ours. A re-call not yet sent, or whose workflow is
	// unknown, counts as pending: a cap errs towards fewer calls.
	capPendingSQL = `WITH mine AS (
  SELECT airudder_workflow_id AS w, count(*) AS n, min(slot_at) AS since FROM follow_ups
  WHERE callee_number = $1 AND slot_day = $2 AND reaches_person AND idempotency_key <> $3
    AND status NOT IN ('failed', 'skipped')
  GROUP BY airudder_workflow_id)
SELECT COALESCE(sum(GREATEST(0, n - CASE WHEN w = '' OR since IS NULL THEN 0 ELSE (
  SELECT count(*) FROM calls c JOIN subjects s ON s.id = c.subject_id WHERE c.callee_number = $1
    AND c.airudder_workflow_id = mine.w
    AND COALESCE(c.call_start_time, c.call_end_time, s.received_at) >= mine.since) END)), 0)
FROM mine`
	capTakeSQL = `UPDATE follow_ups SET slot_day = $2, slot_at = now(), updated_at = now() WHERE idempotency_key = $1`
)

// InsertFollowUps stores follow-ups planned for a subject, leaving any that exist (by idempotency key) as
// they are, and returns all of them as stored: a repeated plan finds the first one's rows and statuses.
func (s *Store) InsertFollowUps(ctx context.Context, subjectID int64, recs []FollowUpRecord) ([]FollowUpRecord, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	keys := make([]string, len(recs))
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		for i := range recs {
			r := &recs[i]
			r.SubjectID = subjectID
			plan, err := json.Marshal(r.Plan)
			if err != nil {
				return fmt.Errorf("encode plan %s: %w", r.Key, err)
			}
			r.PlanJSON = plan
			r.ReachesPerson = r.Plan.Reaches()
			keys[i] = r.Key
			if _, err := tx.NamedExecContext(ctx, insertFollowUpSQL, r); err != nil {
				return fmt.Errorf("store follow-up %s: %w", r.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.followUps(ctx, followUpsByKeySQL, pq.Array(keys))
}

// FollowUpUpdate changes a follow-up's state; nil fields are left as they are.
type FollowUpUpdate struct {
	Status         rules.Status
	CountAttempt   bool
	NextAttemptAt  *time.Time
	ClearNext      bool
	LastError      *string
	ResponseStatus *int
	Finished       bool
	// AirudderWorkflowID records the Airudder workflow a re-call went into.
	AirudderWorkflowID string
	// Expect, when set, records what the re-call now waits for (see expectations.go), in the same
	// transaction.
	Expect *Expectation
}

// countFollowUpsSQL counts follow-ups by status, among some statuses (follow_ups_status_idx serves it).
const countFollowUpsSQL = `SELECT status, count(*) FROM follow_ups WHERE status = ANY($1) GROUP BY status`

// CountFollowUps counts the follow-ups in each of statuses; a status with none is absent.
func (s *Store) CountFollowUps(ctx context.Context, statuses []rules.Status) (map[rules.Status]int64, error) {
	names := make([]string, len(statuses))
	for i, st := range statuses {
		names[i] = string(st)
	}
	rows, err := s.db.QueryxContext(ctx, countFollowUpsSQL, pq.Array(names))
	if err != nil {
		return nil, fmt.Errorf("count follow-ups: %w", err)
	}
	defer rows.Close()
	counts := map[rules.Status]int64{}
	for rows.Next() {
		var st rules.Status
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count follow-ups: %w", err)
		}
		counts[st] = n
	}
	return counts, rows.Err()
}

// UpdateFollowUp records a change of a follow-up's state, by idempotency key.
func (s *Store) UpdateFollowUp(ctx context.Context, key string, u FollowUpUpdate) error {
	sets := []string{"updated_at = now()"}
	args := []any{key}
	add := func(expr string, v any) {
		args = append(args, v)
		sets = append(sets, fmt.Sprintf(expr, len(args)))
	}
	if u.Status != "" {
		add("status = $%d", u.Status)
	}
	if u.CountAttempt {
		sets = append(sets, "attempts = attempts + 1")
	}
	if u.NextAttemptAt != nil {
		add("next_attempt_at = $%d", *u.NextAttemptAt)
	} else if u.ClearNext {
		sets = append(sets, "next_attempt_at = NULL")
	}
	if u.LastError != nil {
		add("last_error = $%d", *u.LastError)
	}
	if u.ResponseStatus != nil {
		add("response_status = $%d", *u.ResponseStatus)
	}
	if u.AirudderWorkflowID != "" {
		add("airudder_workflow_id = $%d", u.AirudderWorkflowID)
	}
	if u.Finished {
		sets = append(sets, "finished_at = now()")
	} else if u.Status != "" {
		sets = append(sets, "finished_at = NULL")
	}
	update := func(ex sqlx.ExecerContext) error {
		res, err := ex.ExecContext(ctx, "UPDATE follow_ups SET "+strings.Join(sets, ", ")+" WHERE idempotency_key = $1", args...)
		if err != nil {
			return fmt.Errorf("update follow-up %s: %w", key, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("update follow-up %s: %w", key, ErrNotFound)
		}
		return nil
	}
	if u.Expect == nil {
		return update(s.db)
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := update(tx); err != nil {
			return err
		}
		return expect(ctx, tx, key, *u.Expect)
	})
}

// ClaimDailySlot counts a follow-up against its callee's daily cap: it succeeds when the day, which
// starts at day (midnight in the cap's zone) and lasts until the next midnight there, has room, and again
// for a follow-up that already holds that day.
//
// For an action that reaches the person (fu.ReachesPerson), the cap counts every call the number
// received that day, whoever made it: Airudder's calls and redials, and rudderhook's own calls still
// pending (see capCallsSQL and capPendingSQL). For any other action it counts that rule's action for the
// callee. Claims for one callee are serialised, so concurrent workflows never exceed a cap together.
func (s *Store) ClaimDailySlot(ctx context.Context, fu FollowUpRecord, day time.Time, limit int) (bool, error) {
	ok := false
	date := day.Format(time.DateOnly)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, capLockSQL, fu.CalleeNumber); err != nil {
			return fmt.Errorf("lock cap of %s: %w", fu.Key, err)
		}
		var held []bool
		if err := tx.SelectContext(ctx, &held, capHeldSQL, fu.Key, date); err != nil {
			return fmt.Errorf("read cap of %s: %w", fu.Key, err)
		}
		if len(held) == 1 && held[0] {
			ok = true
			return nil
		}
		n, err := capCount(ctx, tx, fu, date, day, day.AddDate(0, 0, 1))
		if err != nil {
			return fmt.Errorf("count cap of %s: %w", fu.Key, err)
		}
		if n >= limit {
			return nil
		}
		if _, err := tx.ExecContext(ctx, capTakeSQL, fu.Key, date); err != nil {
			return fmt.Errorf("claim cap of %s: %w", fu.Key, err)
		}
		ok = true
		return nil
	})
	return ok, err
}

// capCount is how much of fu's cap for the day from start to end (date, in the cap's zone) is used.
func capCount(ctx context.Context, tx *sqlx.Tx, fu FollowUpRecord, date string, start, end time.Time) (int, error) {
	var n int
	if !fu.ReachesPerson {
		err := tx.GetContext(ctx, &n, capCountSQL, fu.CalleeNumber, fu.RuleID, fu.Action, date, fu.Key)
		return n, err
	}
	var calls, pending int
	if err := tx.GetContext(ctx, &calls, capCallsSQL, fu.CalleeNumber, start, end); err != nil {
		return 0, err
	}
	if err := tx.GetContext(ctx, &pending, capPendingSQL, fu.CalleeNumber, date, fu.Key); err != nil {
		return 0, err
	}
	return calls + pending, nil
}

// GetFollowUp returns a follow-up by its ID.
func (s *Store) GetFollowUp(ctx context.Context, id int64) (*FollowUpRecord, error) {
	return s.followUp(ctx, followUpByIDSQL, id)
}

// FollowUpByKey returns a follow-up by its idempotency key.
func (s *Store) FollowUpByKey(ctx context.Context, key string) (*FollowUpRecord, error) {
	return s.followUp(ctx, followUpByKeySQL, key)
}

func (s *Store) followUp(ctx context.Context, q string, arg any) (*FollowUpRecord, error) {
	recs, err := s.followUps(ctx, q, arg)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNotFound
	}
	return &recs[0], nil
}

// FollowUpsOf lists a subject's follow-ups in the order they were planned.
func (s *Store) FollowUpsOf(ctx context.Context, subjectID int64) ([]FollowUpRecord, error) {
	return s.followUps(ctx, followUpsOfSQL, subjectID)
}

// FollowUpFilter selects follow-ups for listing and for a bulk retry's plan. Empty fields do not filter.
type FollowUpFilter struct {
	Status rules.Status
	// Statuses keeps follow-ups in any of these statuses (with Status, in that one too).
	Statuses []rules.Status
	// Source, Kind and Key are the subject's.
	Source string
	Kind   string
	Key    string
	RuleID string
	Type   string
	// CreatedAfter and CreatedBefore bound when follow-ups were planned; zero does not bound.
	CreatedAfter  time.Time
	CreatedBefore time.Time
	Before        int64
	Limit         int
}

// conds are the conditions of f but its cursor, on follow-ups f and their subjects s.
func (f FollowUpFilter) conds() *where {
	var w where
	w.equal("f.status", string(f.Status))
	if len(f.Statuses) > 0 {
		names := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			names[i] = string(st)
		}
		w.add("f.status = ANY($%d)", pq.Array(names))
	}
	w.equal("s.source", f.Source)
	w.equal("s.kind", f.Kind)
	w.equal("s.subject_key", f.Key)
	w.equal("f.rule_id", f.RuleID)
	w.equal("f.action_type", f.Type)
	w.receivedBetween("f.created_at", f.CreatedAfter, f.CreatedBefore)
	return &w
}

// ListFollowUps returns follow-ups matching f, newest first, and the cursor of the next page.
func (s *Store) ListFollowUps(ctx context.Context, f FollowUpFilter) ([]FollowUpRecord, int64, error) {
	q, args := f.conds().page(selectFollowUpsSQL, "f.id", f.Before, f.Limit)
	recs, err := s.followUps(ctx, q, args...)
	if err != nil {
		return nil, 0, err
	}
	recs, next := trimPage(recs, f.Limit, func(r FollowUpRecord) int64 { return r.ID })
	return recs, next, nil
}

// ScanFollowUps returns up to limit follow-ups matching f (its cursor and limit aside) whose ID is above
// after, oldest first: a bulk retry's plan reads them page by page in the order its run takes them.
func (s *Store) ScanFollowUps(ctx context.Context, f FollowUpFilter, after int64, limit int) ([]FollowUpRecord, error) {
	q, args := f.conds().ascending(selectFollowUpsSQL, "f.id", after, limit)
	return s.followUps(ctx, q, args...)
}

// CountMatchingFollowUps counts the follow-ups matching f (its cursor and limit aside).
func (s *Store) CountMatchingFollowUps(ctx context.Context, f FollowUpFilter) (int64, error) {
	q, args := f.conds().count("follow_ups f JOIN subjects s ON s.id = f.subject_id")
	var n int64
	if err := s.db.GetContext(ctx, &n, q, args...); err != nil {
		return 0, fmt.Errorf("count follow-ups: %w", err)
	}
	return n, nil
}

func (s *Store) followUps(ctx context.Context, q string, args ...any) ([]FollowUpRecord, error) {
	var recs []FollowUpRecord
	if err := s.db.SelectContext(ctx, &recs, q, args...); err != nil {
		return nil, fmt.Errorf("read follow-ups: %w", err)
	}
	for i := range recs {
		if err := json.Unmarshal(recs[i].PlanJSON, &recs[i].Plan); err != nil {
			return nil, fmt.Errorf("decode plan of follow-up %d: %w", recs[i].ID, err)
		}
	}
	return recs, nil
}

// SetFollowUpWorkflow records the workflow that carries a follow-up out.
func (s *Store) SetFollowUpWorkflow(ctx context.Context, key, workflowID string) error {
	if _, err := s.db.ExecContext(ctx, setFollowUpWorkflowSQL, key, workflowID); err != nil {
		return fmt.Errorf("record workflow of follow-up %s: %w", key, err)
	}
	return nil
}

// RuleActivity is what one rule did since a time: the subjects (calls, events) it matched and its
// follow-ups by status.
type RuleActivity struct {
	RuleID    string
	Calls     int
	FollowUps int
	ByStatus  map[rules.Status]int
}

const (
	// ruleActivitySQL counts follow-ups planned since $1 per rule and status; a rule that matched a subject
	// planned every action of it, so the subjects with a follow-up of a rule are those it matched.
	ruleActivitySQL = `SELECT rule_id, status, count(*) AS n FROM follow_ups WHERE created_at >= $1
GROUP BY rule_id, status`
	ruleCallsSQL = `SELECT rule_id, count(DISTINCT subject_id) AS n FROM follow_ups WHERE created_at >= $1
GROUP BY rule_id`
)

// RuleActivitySince counts, per rule, the calls matched and the follow-ups planned since t, by status.
func (s *Store) RuleActivitySince(ctx context.Context, t time.Time) (map[string]*RuleActivity, error) {
	var rows []struct {
		RuleID string       `db:"rule_id"`
		Status rules.Status `db:"status"`
		N      int          `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, ruleActivitySQL, t); err != nil {
		return nil, fmt.Errorf("count follow-ups per rule: %w", err)
	}
	out := map[string]*RuleActivity{}
	get := func(id string) *RuleActivity {
		if out[id] == nil {
			out[id] = &RuleActivity{RuleID: id, ByStatus: map[rules.Status]int{}}
		}
		return out[id]
	}
	for _, r := range rows {
		a := get(r.RuleID)
		a.ByStatus[r.Status] += r.N
		a.FollowUps += r.N
	}
	rows = rows[:0]
	if err := s.db.SelectContext(ctx, &rows, ruleCallsSQL, t); err != nil {
		return nil, fmt.Errorf("count calls per rule: %w", err)
	}
	for _, r := range rows {
		get(r.RuleID).Calls = r.N
	}
	return out, nil
}
