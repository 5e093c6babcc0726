package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// StoreAndPlanInput is one delivery of a subject, for its workflow to store and plan.
type StoreAndPlanInput struct {
	Subject airudder.Subject `json:"subject"`
	// Slim says Subject is a slim copy of a large subject the receiver stored already: only its mark is
	// set, and the rules read the whole subject from the store.
	Slim bool `json:"slim,omitempty"`
}

// StoreAndPlanResult says which revision was stored and what the rules in force decided for it.
type StoreAndPlanResult struct {
	SubjectID int64 `json:"subject_id"`
	Revision  int   `json:"revision"`
	// New is false when the same delivery had been stored before (a redelivery, or a repeated attempt).
	New bool `json:"new"`
	// Latest is true when the revision is the one the subject shows: only such a revision is planned (an
	// older one that arrived late decides nothing).
	Latest bool `json:"latest"`
	// Stale is true for an event about a call (a PDS agent's state) older than another stored about the
	// same call: it arrived late and is not planned either.
	Stale bool `json:"stale,omitempty"`
	// Planned says the rules were run on this revision.
	Planned     bool              `json:"planned"`
	RuleVersion int64             `json:"rule_version,omitempty"`
	Matched     []string          `json:"matched_rules,omitempty"`
	FollowUps   []PlannedFollowUp `json:"follow_ups,omitempty"`
	Errors      []rules.Problem   `json:"errors,omitempty"`
}

// StoreAndPlan stores one delivery of a subject as a revision and, when it is the revision the subject
// shows (and, for an event about a call, no later event about the call is stored), plans its follow-ups
// with the rules in force, storing each under its idempotency key: one short trip to PostgreSQL for the
// workflow's first step. Run again, it stores and plans nothing new and returns the follow-ups as they
// stand.
func (a *Activities) StoreAndPlan(ctx context.Context, in StoreAndPlanInput) (*StoreAndPlanResult, error) {
	info := activity.GetInfo(ctx)
	workflowID := info.WorkflowExecution.ID
	var stored store.Stored
	var err error
	if in.Slim {
		stored, err = a.Store.MarkProcessed(ctx, workflowID, in.Subject.Digest())
	} else {
		stored, err = a.Store.StoreRevision(ctx, in.Subject, workflowID, true)
	}
	if err != nil {
		return nil, classifyDBError(fmt.Errorf("store %s: %w", workflowID, err))
	}
	out := &StoreAndPlanResult{SubjectID: stored.SubjectID, Revision: stored.Revision, New: stored.New, Latest: stored.Latest,
		Stale: stored.Stale}
	log := a.Log.With("workflow_id", workflowID, "kind", in.Subject.Kind(), "revision", stored.Revision)
	log.Info("stored", "new", stored.New, "latest", stored.Latest, "stale", stored.Stale, "attempt", info.Attempt)
	if !stored.Latest || stored.Stale {
		return out, nil
	}
	subject := in.Subject
	if in.Slim {
		rec, err := a.Store.SubjectByWorkflowID(ctx, workflowID)
		if err != nil {
			return nil, fmt.Errorf("read %s to plan it: %w", workflowID, err)
		}
		subject = rec.Subject
	}
	set, err := a.Rules.Current(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan follow-ups of %s: %w", workflowID, err)
	}
	out.Planned = true
	plan, version, zone := rules.Plan{Matched: []string{}, FollowUps: []rules.FollowUp{}}, int64(0), ""
	if set != nil {
		plan, version, zone = set.PlanSubject(subject, workflowID, a.now()), set.Version, set.TimeZone
	}
	if subject.IsCall() && a.ArchiveSources[subject.Source()] && rules.HasRecording(*subject.Call) {
		// The source archives every recording: planned beside the rules' follow-ups, under rule
		// source:archive-recordings (a rule that archives too has a key of its own; the second finds
		// the recording in the bucket and fetches nothing).
		plan.FollowUps = append(plan.FollowUps, rules.ArchiveFollowUp(*subject.Call, workflowID, version, zone))
	}
	if set == nil && len(plan.FollowUps) == 0 {
		return out, nil
	}
	planned, err := a.storePlan(ctx, version, plan, stored.SubjectID, workflowID)
	if err != nil {
		return nil, err
	}
	out.RuleVersion, out.Matched, out.FollowUps, out.Errors = planned.RuleVersion, planned.Matched, planned.FollowUps, planned.Errors
	return out, nil
}

// Error types of a follow-up that RunFollowUp ended, as workflows and operators see them.
const (
	// ErrTypeFollowUpFailed: the action was refused for good, or did not succeed by its deadline.
	ErrTypeFollowUpFailed = "FollowUpFailed"
	// ErrTypeNeedsReview: an attempt's outcome is unknown and the action must not be repeated blindly.
	ErrTypeNeedsReview = "FollowUpNeedsReview"
)

// RunInput is one attempt at a follow-up, made by its subject's workflow.
type RunInput struct {
	FollowUp rules.FollowUp `json:"follow_up"`
	// Retry is an operator's retry: a follow-up that failed or needs review may run again.
	Retry bool `json:"retry,omitempty"`
	// Deadline is when the follow-up stops retrying passing failures and fails.
	Deadline time.Time `json:"deadline"`
	// Schedule is the workflow's retry policy, from which the next attempt's time is computed.
	Schedule RetrySchedule `json:"schedule"`
}

// RunResult is how an attempt left a follow-up that it did not fail.
type RunResult struct {
	// Status is succeeded, skipped (the daily cap dropped it), scheduled (WaitUntil: the cap is full
	// today), or the status an earlier run left it in when it had nothing to do.
	Status         rules.Status `json:"status"`
	ResponseStatus int          `json:"response_status,omitempty"`
	Reason         string       `json:"reason,omitempty"`
	// WaitUntil is when the follow-up may try again: the callee's daily cap is full until then.
	WaitUntil *time.Time `json:"wait_until,omitempty"`
}

// RunFollowUp makes one attempt at a follow-up's action and keeps its row, as the one writer of its
// state while its subject's workflow runs it:
//
//   - a follow-up that is settled, or that failed or waits for review and is not being retried by an
//     operator, is left as it is;
//   - the callee's daily cap is claimed first (a full day skips it, or waits for the next day);
//   - the attempt is marked running and counted before it acts. Finding it running already means an
//     earlier attempt stopped without an outcome (its worker died): an action that must not be
//     repeated blindly then waits for review; the others act again (webhook-id lets a target drop a
//     repeat);
//   - the outcome is recorded: succeeded; failed for good (a non-retryable FollowUpFailed error);
//     unknown for an at-most-once action (FollowUpNeedsReview); or a passing failure, recorded as
//     scheduled for the next attempt, whose time (backoff or Retry-After, then the calling window's
//     next opening) the returned error asks Temporal for. Past the deadline it fails.
func (a *Activities) RunFollowUp(ctx context.Context, in RunInput) (*RunResult, error) {
	fu := in.FollowUp
	info := activity.GetInfo(ctx)
	log := a.Log.With("workflow_id", info.WorkflowExecution.ID, "follow_up", fu.Key, "rule", fu.RuleID, "action", fu.Action)
	now := a.now()
	if fu.MaxPerDay > 0 {
		if res, err := a.claimCap(ctx, fu, in.Retry, now); res != nil || err != nil {
			return res, err
		}
	}
	bodyStored := fu.Webhook != nil && fu.Webhook.BodyStored
	start, err := a.Store.StartAttempt(ctx, fu.Key, info.WorkflowExecution.ID, in.Retry, fu.AtMostOnce(), bodyStored)
	if err != nil {
		return nil, classifyDBError(fmt.Errorf("start attempt of %s: %w", fu.Key, err))
	}
	if bodyStored && start.Body != nil {
		w := *fu.Webhook
		w.Body, w.BodyStored = start.Body, false
		fu.Webhook = &w
	}
	if !start.Started {
		if start.Found == rules.StatusRunning {
			reason := "an earlier attempt stopped without an outcome (its worker stopped mid-attempt); it may have been carried out"
			return nil, a.end(ctx, fu, rules.StatusNeedsReview, reason, 0, "")
		}
		return &RunResult{Status: start.Found, Reason: "already " + string(start.Found)}, nil
	}
	log = log.With("attempt", start.Attempt)
	act, err := a.actionOf(fu)
	if err != nil {
		return nil, a.end(ctx, fu, rules.StatusFailed, message(err), 0, "")
	}
	code, err := act.do(ctx)
	if err == nil {
		attemptsTotal.WithLabelValues(fu.Type, "succeeded").Inc()
		res := &ActionResult{Status: code}
		if act.done != nil {
			act.done(res)
		}
		rec := RecordInput{Key: fu.Key, Status: rules.StatusSucceeded, ResponseStatus: code, AirudderWorkflowID: res.AirudderWorkflowID}
		if fu.Type == rules.TypeAirudderRecall && fu.Recall != nil && res.AirudderWorkflowID != "" {
			// Airudder took the re-call: its call is now expected, by the rule's deadline.
			rec.Expect = &store.Expectation{Callee: fu.Recall.Callee, AirudderWorkflowID: res.AirudderWorkflowID, Since: now, Deadline: fu.Recall.Deadline(now)}
		}
		if err := a.recordFollowUp(ctx, rec); err != nil {
			return nil, err
		}
		log.Info("follow-up done", "status", code, "airudder_workflow_id", res.AirudderWorkflowID)
		return &RunResult{Status: rules.StatusSucceeded, ResponseStatus: code}, nil
	}
	// Nothing that leaves the activity (last_error, logs, Temporal's failure) may repeat a secret URL.
	err = redactError(err, a.secretURLs(fu))
	log.Warn("follow-up attempt failed", "status", code, "error", err)
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &appErr) && appErr.Type() == ErrTypeOutcomeUnknown:
		attemptsTotal.WithLabelValues(fu.Type, "outcome_unknown").Inc()
		return nil, a.end(ctx, fu, rules.StatusNeedsReview, message(err), code, "")
	case errors.As(err, &appErr) && appErr.NonRetryable():
		attemptsTotal.WithLabelValues(fu.Type, "failed_permanently").Inc()
		return nil, a.end(ctx, fu, rules.StatusFailed, message(err), code, appErr.Type())
	}
	attemptsTotal.WithLabelValues(fu.Type, "failed_retryable").Inc()
	next := fu.Earliest(now.Add(in.Schedule.Delay(int32(start.Attempt), err)))
	if !in.Deadline.IsZero() && next.After(in.Deadline) {
		reason := fmt.Sprintf("gave up after %d attempts: %s", start.Attempt, message(err))
		return nil, a.end(ctx, fu, rules.StatusFailed, reason, code, "")
	}
	msg := message(err)
	u := store.FollowUpUpdate{Status: rules.StatusScheduled, NextAttemptAt: &next, LastError: &msg}
	if code != 0 {
		u.ResponseStatus = &code
	}
	if uerr := a.Store.UpdateFollowUp(ctx, fu.Key, u); uerr != nil {
		return nil, classifyDBError(fmt.Errorf("record failed attempt of %s: %w", fu.Key, uerr))
	}
	errType := "FollowUpAttemptFailed"
	if appErr != nil {
		errType = appErr.Type()
	}
	return nil, temporal.NewApplicationErrorWithOptions(msg, errType, temporal.ApplicationErrorOptions{NextRetryDelay: max(next.Sub(now), time.Millisecond)})
}

// message is what an attempt's failure says, without the "(type: …, retryable: …)" that Temporal's
// application errors add to their Error: that is said by the status, and by the failure Temporal shows.
func message(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// claimCap takes a place under the callee's daily cap for today. It returns a result when the attempt
// must not go on: the follow-up has nothing to do, the cap skips it, or it waits for the next day.
func (a *Activities) claimCap(ctx context.Context, fu rules.FollowUp, retry bool, now time.Time) (*RunResult, error) {
	rec, err := a.Store.FollowUpByKey(ctx, fu.Key)
	if err != nil {
		return nil, fmt.Errorf("read %s to claim its cap: %w", fu.Key, err)
	}
	if rec.Status.Settled() || (rec.Status.Final() && !retry) {
		return &RunResult{Status: rec.Status, Reason: "already " + string(rec.Status)}, nil
	}
	day := fu.CapDay(now)
	ok, err := a.claimSlot(ctx, rec, day, fu.MaxPerDay)
	if err != nil || ok {
		return nil, err
	}
	reason := fmt.Sprintf("the callee's cap of %d a day was reached on %s", fu.MaxPerDay, day)
	if fu.SkipWhenCapped {
		if err := a.recordFollowUp(ctx, RecordInput{Key: fu.Key, Status: rules.StatusSkipped, Error: reason}); err != nil {
			return nil, err
		}
		return &RunResult{Status: rules.StatusSkipped, Reason: reason}, nil
	}
	next := fu.NextDay(now)
	if err := a.recordFollowUp(ctx, RecordInput{Key: fu.Key, Status: rules.StatusScheduled, NextAttemptAt: &next, Error: reason}); err != nil {
		return nil, err
	}
	return &RunResult{Status: rules.StatusScheduled, Reason: reason, WaitUntil: &next}, nil
}

// end records how an attempt ended the follow-up (failed, needs_review) and returns the non-retryable
// error that tells its workflow.
func (a *Activities) end(ctx context.Context, fu rules.FollowUp, status rules.Status, reason string, code int, cause string) error {
	if err := a.recordFollowUp(ctx, RecordInput{Key: fu.Key, Status: status, Error: reason, ResponseStatus: code}); err != nil {
		return err
	}
	errType := ErrTypeFollowUpFailed
	if status == rules.StatusNeedsReview {
		errType = ErrTypeNeedsReview
		reason += ". It may have been carried out: check (in Airudder, for a re-call), then retry deliberately with POST /v1/follow-ups/{id}/retry"
	}
	if cause != "" {
		reason = cause + ": " + reason
	}
	return temporal.NewNonRetryableApplicationError(reason, errType, nil)
}
