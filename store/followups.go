package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/rudderhook/rudderhook/rules"
)

// Follow-up statuses.
const (
	FollowUpScheduled = "scheduled"
	FollowUpRunning   = "running"
	FollowUpSucceeded = "succeeded"
	FollowUpFailed    = "failed"
	FollowUpSkipped   = "skipped"
)

// FollowUpStatuses lists the statuses in their order of life.
var FollowUpStatuses = []string{FollowUpScheduled, FollowUpRunning, FollowUpSucceeded, FollowUpFailed, FollowUpSkipped}

// RuleSetRecord is one stored version of the rules.
type RuleSetRecord struct {
	Version   int64     `db:"version"`
	Digest    string    `db:"digest"`
	Document  string    `db:"document"`
	Origin    string    `db:"origin"`
	CreatedAt time.Time `db:"created_at"`
}

// FollowUpRecord is one stored follow-up.
type FollowUpRecord struct {
	ID             int64          `db:"id"`
	Key            string         `db:"idempotency_key"`
	Source         string         `db:"source"`
	CallKey        string         `db:"call_key"`
	CallWorkflowID string         `db:"call_workflow_id"`
	WorkflowID     string         `db:"workflow_id"`
	RuleID         string         `db:"rule_id"`
	RuleVersion    int64          `db:"rule_version"`
	Action         string         `db:"action"`
	Type           string         `db:"action_type"`
	Summary        string         `db:"summary"`
	CalleeNumber   string         `db:"callee_number"`
	PlanJSON       jsonValue      `db:"plan"`
	Status         string         `db:"status"`
	Attempts       int            `db:"attempts"`
	NextAttemptAt  *time.Time     `db:"next_attempt_at"`
	LastError      string         `db:"last_error"`
	ResponseStatus *int           `db:"response_status"`
	SlotDay        *time.Time     `db:"slot_day"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
	FinishedAt     *time.Time     `db:"finished_at"`
	Plan           rules.FollowUp `db:"-"`
}

const (
	latestRuleSetSQL     = `SELECT * FROM rule_sets ORDER BY version DESC LIMIT 1`
	latestRuleVersionSQL = `SELECT version FROM rule_sets ORDER BY version DESC LIMIT 1`
	ruleSetSQL           = `SELECT * FROM rule_sets WHERE version = $1`
	listRuleSetsSQL      = `SELECT * FROM rule_sets ORDER BY version DESC LIMIT $1`
	insertRuleSetSQL     = `INSERT INTO rule_sets (digest, document, origin) VALUES ($1, $2, $3) RETURNING version, created_at`
	// ruleSetLock serialises rule saves, so two replicas loading the same file make one version.
	ruleSetLock = `SELECT pg_advisory_xact_lock(7310582961)`

	insertFollowUpSQL = `INSERT INTO follow_ups (idempotency_key, source, call_key, call_workflow_id, workflow_id,
  rule_id, rule_version, action, action_type, summary, callee_number, plan, status, next_attempt_at, last_error, finished_at)
VALUES (:idempotency_key, :source, :call_key, :call_workflow_id, :workflow_id, :rule_id, :rule_version, :action,
  :action_type, :summary, :callee_number, :plan, :status, :next_attempt_at, :last_error, :finished_at)
ON CONFLICT (idempotency_key) DO NOTHING`
	followUpsByKeySQL  = `SELECT * FROM follow_ups WHERE idempotency_key = ANY($1) ORDER BY id`
	followUpByKeySQL   = `SELECT * FROM follow_ups WHERE idempotency_key = $1`
	followUpByIDSQL    = `SELECT * FROM follow_ups WHERE id = $1`
	followUpsOfCallSQL = `SELECT * FROM follow_ups WHERE source = $1 AND call_key = $2 ORDER BY id`

	setFollowUpWorkflowSQL = `UPDATE follow_ups SET workflow_id = $2, updated_at = now() WHERE idempotency_key = $1`

	capLockSQL  = `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`
	capCountSQL = `SELECT count(*) FROM follow_ups WHERE callee_number = $1 AND rule_id = $2 AND action = $3
  AND slot_day = $4 AND idempotency_key <> $5`
	capTakeSQL = `UPDATE follow_ups SET slot_day = $2, updated_at = now() WHERE idempotency_key = $1`
)

// SaveRuleSet stores a rules document as the new version in force, unless it is the same text as the
// version in force already. It returns the version in force and whether it is new.
func (s *Store) SaveRuleSet(ctx context.Context, digest, document, origin string) (RuleSetRecord, bool, error) {
	var rec RuleSetRecord
	created := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, ruleSetLock); err != nil {
			return fmt.Errorf("lock rule sets: %w", err)
		}
		err := tx.GetContext(ctx, &rec, latestRuleSetSQL)
		if err == nil && rec.Digest == digest {
			return nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read rules in force: %w", err)
		}
		rec = RuleSetRecord{Digest: digest, Document: document, Origin: origin}
		if err := tx.QueryRowxContext(ctx, insertRuleSetSQL, digest, document, origin).Scan(&rec.Version, &rec.CreatedAt); err != nil {
			return fmt.Errorf("store rules: %w", err)
		}
		created = true
		return nil
	})
	return rec, created, err
}

// SaveRules compiles a rules document, checking the targets it names against targets, and if it is
// sound makes it the version in force (a new version only if its text changed). A refused document, a
// *rules.Error, leaves the version in force as it was. It is the one way rules change, whether they come
// from the API or from the rules file.
func (s *Store) SaveRules(ctx context.Context, doc []byte, origin string, targets map[string]bool) (*rules.Set, RuleSetRecord, bool, error) {
	set, err := rules.Compile(doc, rules.Options{Targets: targets})
	if err != nil {
		return nil, RuleSetRecord{}, false, err
	}
	rec, created, err := s.SaveRuleSet(ctx, set.Digest, string(doc), origin)
	if err != nil {
		return nil, rec, false, err
	}
	set.Version = rec.Version
	return set, rec, created, nil
}

// LatestRuleSet returns the version in force, or ErrNotFound when no rules were ever stored.
func (s *Store) LatestRuleSet(ctx context.Context) (*RuleSetRecord, error) {
	return s.ruleSet(ctx, latestRuleSetSQL)
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

// InsertFollowUps stores planned follow-ups, leaving any that exist (by idempotency key) as they are, and
// returns all of them as stored: a repeated plan finds the first one's rows and statuses.
func (s *Store) InsertFollowUps(ctx context.Context, recs []FollowUpRecord) ([]FollowUpRecord, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	keys := make([]string, len(recs))
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		for i := range recs {
			r := &recs[i]
			plan, err := json.Marshal(r.Plan)
			if err != nil {
				return fmt.Errorf("encode plan %s: %w", r.Key, err)
			}
			r.PlanJSON = plan
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
	Status         string
	CountAttempt   bool
	NextAttemptAt  *time.Time
	ClearNext      bool
	LastError      *string
	ResponseStatus *int
	Finished       bool
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
	if u.Finished {
		sets = append(sets, "finished_at = now()")
	} else if u.Status != "" {
		sets = append(sets, "finished_at = NULL")
	}
	res, err := s.db.ExecContext(ctx, "UPDATE follow_ups SET "+strings.Join(sets, ", ")+" WHERE idempotency_key = $1", args...)
	if err != nil {
		return fmt.Errorf("update follow-up %s: %w", key, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update follow-up %s: %w", key, ErrNotFound)
	}
	return nil
}

// ClaimDailySlot counts a follow-up against its callee's daily cap for this rule and action: it succeeds
// when fewer than limit others have claimed day, and again for a follow-up that already holds it. Claims
// for one callee are serialised, so concurrent workflows never exceed the cap together.
func (s *Store) ClaimDailySlot(ctx context.Context, fu FollowUpRecord, day time.Time, limit int) (bool, error) {
	ok := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, capLockSQL, fu.CalleeNumber+"|"+fu.RuleID+"|"+fu.Action); err != nil {
			return fmt.Errorf("lock cap of %s: %w", fu.Key, err)
		}
		var n int
		if err := tx.GetContext(ctx, &n, capCountSQL, fu.CalleeNumber, fu.RuleID, fu.Action, day, fu.Key); err != nil {
			return fmt.Errorf("count cap of %s: %w", fu.Key, err)
		}
		if n >= limit {
			return nil
		}
		if _, err := tx.ExecContext(ctx, capTakeSQL, fu.Key, day); err != nil {
			return fmt.Errorf("claim cap of %s: %w", fu.Key, err)
		}
		ok = true
		return nil
	})
	return ok, err
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

// FollowUpsOfCall lists a call's follow-ups in the order they were planned.
func (s *Store) FollowUpsOfCall(ctx context.Context, source, key string) ([]FollowUpRecord, error) {
	return s.followUps(ctx, followUpsOfCallSQL, source, key)
}

// FollowUpFilter selects follow-ups for listing. Empty fields do not filter.
type FollowUpFilter struct {
	Status  string
	Source  string
	CallKey string
	RuleID  string
	Type    string
	Before  int64
	Limit   int
}

// ListFollowUps returns follow-ups matching f, newest first, and the cursor of the next page.
func (s *Store) ListFollowUps(ctx context.Context, f FollowUpFilter) ([]FollowUpRecord, int64, error) {
	var w where
	w.equal("status", f.Status)
	w.equal("source", f.Source)
	w.equal("call_key", f.CallKey)
	w.equal("rule_id", f.RuleID)
	w.equal("action_type", f.Type)
	q, args := w.page("follow_ups", "id", f.Before, f.Limit)
	recs, err := s.followUps(ctx, q, args...)
	if err != nil {
		return nil, 0, err
	}
	recs, next := trimPage(recs, f.Limit, func(r FollowUpRecord) int64 { return r.ID })
	return recs, next, nil
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

// CurrentRules returns the compiled rules in force, or nil when none were ever stored. Each version is
// compiled once per process; every call costs one small query to notice a new version.
func (s *Store) CurrentRules(ctx context.Context) (*rules.Set, error) {
	var version int64
	if err := s.db.GetContext(ctx, &version, latestRuleVersionSQL); errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read rules version in force: %w", err)
	}
	s.rulesMu.Lock()
	defer s.rulesMu.Unlock()
	if s.rules != nil && s.rules.Version == version {
		return s.rules, nil
	}
	rec, err := s.RuleSet(ctx, version)
	if err != nil {
		return nil, err
	}
	set, err := rules.Compile([]byte(rec.Document), rules.Options{})
	if err != nil {
		return nil, fmt.Errorf("compile rules version %d: %w", rec.Version, err)
	}
	set.Version = rec.Version
	s.rules = set
	return set, nil
}

// SetFollowUpWorkflow records the workflow that carries a follow-up out.
func (s *Store) SetFollowUpWorkflow(ctx context.Context, key, workflowID string) error {
	if _, err := s.db.ExecContext(ctx, setFollowUpWorkflowSQL, key, workflowID); err != nil {
		return fmt.Errorf("record workflow of follow-up %s: %w", key, err)
	}
	return nil
}
