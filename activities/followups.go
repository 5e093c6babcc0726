package activities

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// PlanInput is the call to plan follow-ups for.
type PlanInput struct {
	Call airudder.ReceivedCall `json:"call"`
	// Slim says Call is a slim copy of a large call: the whole one is read from the store. (JSON name
	// kept from when it was called Stored.)
	Slim bool `json:"stored,omitempty"`
}

// PlannedFollowUp is a follow-up as stored: its plan and where it stands (a repeated plan finds the state
// of the first).
type PlannedFollowUp struct {
	ID     int64          `json:"id"`
	Status rules.Status   `json:"status"`
	Plan   rules.FollowUp `json:"plan"`
}

// PlanResult is what the rules in force decided for a call.
type PlanResult struct {
	RuleVersion int64             `json:"rule_version"`
	Matched     []string          `json:"matched_rules"`
	FollowUps   []PlannedFollowUp `json:"follow_ups"`
	Errors      []rules.Problem   `json:"errors,omitempty"`
}

// PlanFollowUps evaluates the rules in force against the call and stores the follow-ups they decide, each
// under its idempotency key. Run again, it stores nothing new and returns the follow-ups as they stand.
func (a *Activities) PlanFollowUps(ctx context.Context, in PlanInput) (*PlanResult, error) {
	return a.planWith(ctx, func(set *rules.Set, stored *store.SubjectRecord) rules.Plan {
		rc := in.Call
		if in.Slim {
			rc = *stored.Call
		}
		return set.Plan(rc, stored.WorkflowID, time.Now())
	})
}

// planWith plans the follow-ups of the current workflow's subject with the rules in force (none: nothing
// planned): decide evaluates the rules on the subject (the stored one is whole, for a workflow that has a
// slim copy); storePlan keeps what they decided.
func (a *Activities) planWith(ctx context.Context, decide func(set *rules.Set, stored *store.SubjectRecord) rules.Plan) (*PlanResult, error) {
	workflowID := activity.GetInfo(ctx).WorkflowExecution.ID
	set, err := a.Rules.Current(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan follow-ups of %s: %w", workflowID, err)
	}
	if set == nil {
		return &PlanResult{Matched: []string{}}, nil
	}
	stored, err := a.Store.SubjectByWorkflowID(ctx, workflowID)
	if err != nil {
		return nil, fmt.Errorf("plan follow-ups of %s: %w", workflowID, err)
	}
	return a.storePlan(ctx, set.Version, decide(set, stored), stored.ID, "")
}

// storePlan stores the follow-ups a plan decided for a subject, each under its idempotency key, and
// returns them as they stand: those of this subject, which its workflow carries out (a key another
// subject stored first is that subject's).
//
// runBy is the workflow that carries them out, when it is known at planning (the subject's own
// SubjectWorkflow); follow-ups run by FollowUpWorkflow record theirs when they begin.
func (a *Activities) storePlan(ctx context.Context, version int64, plan rules.Plan, subjectID int64, runBy string) (*PlanResult, error) {
	info := activity.GetInfo(ctx)
	for _, p := range plan.Errors {
		a.Log.Warn("rule could not be evaluated; counted as not matched", "workflow_id", info.WorkflowExecution.ID,
			"rule", p.Rule, "rule_version", version, "error", p.Message)
	}
	recs := make([]store.FollowUpRecord, len(plan.FollowUps))
	for i, fu := range plan.FollowUps {
		recs[i] = store.FollowUpRecord{
			Key: fu.Key, RuleID: fu.RuleID, RuleVersion: fu.RuleVersion, Action: fu.Action, Type: fu.Type, Summary: fu.Summary,
			CalleeNumber: fu.CalleeNumber, Plan: fu, Status: rules.StatusScheduled, NextAttemptAt: ptr(fu.Earliest(fu.NotBefore)),
			WorkflowID: runBy,
		}
		if fu.Skip != "" {
			recs[i].Status, recs[i].LastError, recs[i].NextAttemptAt = rules.StatusSkipped, fu.Skip, nil
			recs[i].FinishedAt = ptr(time.Now())
		}
	}
	stored, err := a.Store.InsertFollowUps(ctx, subjectID, recs)
	if err != nil {
		return nil, classifyDBError(fmt.Errorf("plan follow-ups of %s: %w", info.WorkflowExecution.ID, err))
	}
	out := &PlanResult{RuleVersion: version, Matched: plan.Matched, Errors: plan.Errors}
	for _, r := range stored {
		if r.SubjectID != subjectID {
			// Planned already by another event about the same call (a PDS call's HANGUP, then its
			// TALKRESULT: see rules.PlanEvent): that event's workflow carries it out, once.
			a.Log.Info("follow-up planned already for the call by another of its events", "workflow_id", info.WorkflowExecution.ID,
				"follow_up", r.Key, "by", r.SubjectWorkflowID)
			continue
		}
		out.FollowUps = append(out.FollowUps, PlannedFollowUp{ID: r.ID, Status: r.Status, Plan: r.Plan.ForWorkflow()})
	}
	a.Log.Info("planned follow-ups", "workflow_id", info.WorkflowExecution.ID, "rule_version", version,
		"matched", plan.Matched, "follow_ups", len(out.FollowUps))
	return out, nil
}

// BeginFollowUp is the first step of a follow-up's workflow: it records which workflow runs it and
// returns its status, so that a follow-up already done (by an earlier run) is not done again.
func (a *Activities) BeginFollowUp(ctx context.Context, key string) (rules.Status, error) {
	info := activity.GetInfo(ctx)
	rec, err := a.Store.FollowUpByKey(ctx, key)
	if err != nil {
		return "", fmt.Errorf("begin follow-up %s: %w", key, err)
	}
	if rec.Status.Settled() {
		return rec.Status, nil
	}
	if err := a.Store.SetFollowUpWorkflow(ctx, key, info.WorkflowExecution.ID); err != nil {
		return "", err
	}
	return rec.Status, nil
}

// RecordInput is a change of a follow-up's state decided by its workflow.
type RecordInput struct {
	Key            string       `json:"key"`
	Status         rules.Status `json:"status"`
	NextAttemptAt  *time.Time   `json:"next_attempt_at,omitempty"`
	Error          string       `json:"error,omitempty"`
	ResponseStatus int          `json:"response_status,omitempty"`
	// AirudderWorkflowID is the Airudder workflow a re-call went into, kept on the follow-up.
	AirudderWorkflowID string `json:"airudder_workflow_id,omitempty"`
	// Expect, for a re-call Airudder took, is the call it now waits for (recorded with the change).
	Expect *store.Expectation `json:"expect,omitempty"`
}

// RecordFollowUp stores a follow-up's new state (scheduled until a time, skipped, failed, succeeded).
func (a *Activities) RecordFollowUp(ctx context.Context, in RecordInput) error {
	return a.recordFollowUp(ctx, in)
}

// recordFollowUp stores a follow-up's new state and counts the ends.
func (a *Activities) recordFollowUp(ctx context.Context, in RecordInput) error {
	final := in.Status.Final()
	u := store.FollowUpUpdate{Status: in.Status, NextAttemptAt: in.NextAttemptAt, ClearNext: in.NextAttemptAt == nil, Finished: final,
		AirudderWorkflowID: in.AirudderWorkflowID, Expect: in.Expect}
	if in.Error != "" || in.Status == rules.StatusScheduled {
		u.LastError = &in.Error
	}
	if in.ResponseStatus != 0 {
		u.ResponseStatus = &in.ResponseStatus
	}
	if err := a.Store.UpdateFollowUp(ctx, in.Key, u); err != nil {
		return classifyDBError(fmt.Errorf("record follow-up %s as %s: %w", in.Key, in.Status, err))
	}
	if final {
		finishedTotal.WithLabelValues(string(in.Status)).Inc()
	}
	return nil
}

var finishedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "rudderhook_follow_ups_finished_total",
	Help: "Follow-ups that ended, by status (succeeded, failed, needs_review, skipped).",
}, []string{"status"})

// waiting are the statuses of follow-ups that wait on something: their time, a retry, or an operator
// (needs_review; overdue, a re-call whose call did not come).
var waiting = []rules.Status{rules.StatusScheduled, rules.StatusRunning, rules.StatusNeedsReview, rules.StatusOverdue}

// followUpsNow is how many follow-ups wait, by status: needs_review ones wait for a person, and a count
// that only grows means nobody looks.
var followUpsNow = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Name: "rudderhook_follow_ups",
	Help: "Follow-ups now scheduled, running, needs_review (an operator must check and retry them) or overdue (a re-call whose call did not complete by its deadline), as counted in PostgreSQL by the worker.",
}, []string{"status"})

// CountFollowUps keeps rudderhook_follow_ups current, counting every interval until ctx ends. It runs
// beside a worker; the counts are the database's, so every worker reports the same (take the max).
func CountFollowUps(ctx context.Context, st *store.Store, interval time.Duration, log *slog.Logger) {
	for {
		counts, err := st.CountFollowUps(ctx, waiting)
		if err == nil {
			for _, s := range waiting {
				followUpsNow.WithLabelValues(string(s)).Set(float64(counts[s]))
			}
		} else if ctx.Err() == nil {
			log.Warn("could not count follow-ups for rudderhook_follow_ups", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// ClaimInput asks for a place under a follow-up's daily cap.
type ClaimInput struct {
	Key   string `json:"key"`
	Day   string `json:"day"` // YYYY-MM-DD in the cap's zone
	Limit int    `json:"limit"`
}

// ClaimDailySlot counts the follow-up against its callee's cap for the day, if there is room. The day
// runs from midnight to midnight in the cap's zone (the window's, else the rules'); for an action that
// reaches the person, every call the number received that day counts (see store.ClaimDailySlot).
func (a *Activities) ClaimDailySlot(ctx context.Context, in ClaimInput) (bool, error) {
	rec, err := a.Store.FollowUpByKey(ctx, in.Key)
	if err != nil {
		return false, fmt.Errorf("claim slot for %s: %w", in.Key, err)
	}
	return a.claimSlot(ctx, rec, in.Day, in.Limit)
}

// claimSlot counts the follow-up against its callee's cap for day (YYYY-MM-DD in the cap's zone).
func (a *Activities) claimSlot(ctx context.Context, rec *store.FollowUpRecord, day string, limit int) (bool, error) {
	loc, err := time.LoadLocation(rec.Plan.CapZone())
	if err != nil {
		return false, fmt.Errorf("claim slot for %s: zone: %w", rec.Key, err)
	}
	start, err := time.ParseInLocation(time.DateOnly, day, loc)
	if err != nil {
		return false, temporal.NewNonRetryableApplicationError(fmt.Sprintf("claim slot for %s: day %q: %v", rec.Key, day, err), ErrTypeInvalidPlan, err)
	}
	ok, err := a.Store.ClaimDailySlot(ctx, *rec, start, limit)
	if err != nil {
		return false, classifyDBError(err)
	}
	return ok, nil
}

func ptr[T any](v T) *T { return &v }
