package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/rules"
)

// FollowUpInput is one follow-up to carry out.
type FollowUpInput struct {
	FollowUp rules.FollowUp `json:"follow_up"`
	// Retry is set when an operator re-runs a failed follow-up: it runs as soon as its window allows,
	// without waiting for its delay or date again.
	Retry bool `json:"retry,omitempty"`
}

// FollowUpResult is how a follow-up ended.
type FollowUpResult struct {
	Status         rules.Status `json:"status"`
	ResponseStatus int          `json:"response_status,omitempty"`
	Reason         string       `json:"reason,omitempty"`
}

// actionRetry is how long and how often an action is retried: from 10 s, doubling, to at most every 10
// minutes, for three days. A target down for hours delays a follow-up; one that refuses it (a 4xx) or is
// down for three days fails it, visibly, for an operator to retry.
var actionRetry = activities.RetrySchedule{Initial: 10 * time.Second, Coefficient: 2, Maximum: 10 * time.Minute}

const actionDeadline = 72 * time.Hour

// FollowUpWorkflow carries out one follow-up: it waits, with durable timers, until the follow-up's time
// and calling window, takes a place under the callee's daily cap, then runs the action with retries. The
// follow-up's row in PostgreSQL follows each step; the workflow fails when the action fails for good, so
// the failure shows in the Temporal UI and can be retried.
//
// Since changeSafeEffects, every attempt, retries included, keeps the calling window and the daily cap;
// an attempt whose outcome is unknown, of an action that must not be repeated blindly, ends the
// follow-up as needs_review for an operator; and a retry from the admin API has its status written here,
// by the one writer of a follow-up's state.
func FollowUpWorkflow(ctx workflow.Context, in FollowUpInput) (*FollowUpResult, error) {
	f := newFollowUp(ctx, in.FollowUp)
	f.safe = workflow.GetVersion(ctx, changeSafeEffects, workflow.DefaultVersion, 1) >= 1
	f.local = workflow.GetVersion(ctx, changeLocalActivities, workflow.DefaultVersion, 1) >= 1
	status, err := f.begin()
	if err != nil {
		return nil, err
	}
	// Settled follow-ups (a planned skip is stored as skipped) get no child workflow; this guards runs
	// started another way, such as a reset. One that waits for review runs only when an operator says.
	if status.Settled() || (f.safe && status.RunsOnlyWhenRetried() && !in.Retry) {
		workflow.SetCurrentDetails(ctx, "Already "+string(status)+" by an earlier run")
		return &FollowUpResult{Status: status, Reason: "already " + string(status)}, nil
	}
	if f.safe && in.Retry {
		// The operator's retry is recorded by the run it started, not by the API after starting it: a
		// fast run's own writes can then never be overwritten.
		if err := f.record(rules.StatusScheduled, nil, "", 0); err != nil {
			return nil, err
		}
	}

	due := workflow.Now(ctx)
	if !in.Retry && f.plan.NotBefore.After(due) {
		due = f.plan.NotBefore
	}
	if skipped, err := f.waitForTurn(due); skipped != nil || err != nil {
		return skipped, err
	}
	return f.act()
}

// followUp is one run of FollowUpWorkflow: the plan it carries out and the bookkeeping it keeps.
type followUp struct {
	ctx  workflow.Context
	a    *activities.Activities
	plan rules.FollowUp
	// safe is set from changeSafeEffects on: retries keep the window and cap, unknown outcomes stop.
	safe bool
	// local is set from changeLocalActivities on: the bookkeeping runs as local activities (the action
	// itself stays an activity on the task queue, with its own timeouts and retries).
	local bool
	// slotDay is the day whose cap place the follow-up holds ("" when it has no cap or none yet).
	slotDay string
}

func newFollowUp(ctx workflow.Context, plan rules.FollowUp) *followUp {
	return &followUp{ctx: ctx, plan: plan}
}

// bookkeep runs one write of the follow-up's row (see dbWrite).
func (f *followUp) bookkeep(summary string, activity, arg any) workflow.Future {
	return dbWrite(f.ctx, f.local, summary, activity, arg)
}

// begin records which workflow runs the follow-up and returns its stored status.
func (f *followUp) begin() (rules.Status, error) {
	var status rules.Status
	err := f.bookkeep("Check the follow-up's state", f.a.BeginFollowUp, f.plan.Key).Get(f.ctx, &status)
	return status, err
}

// record writes the follow-up's new state to its row.
func (f *followUp) record(status rules.Status, next *time.Time, reason string, response int) error {
	return f.bookkeep("Record "+string(status), f.a.RecordFollowUp, activities.RecordInput{
		Key: f.plan.Key, Status: status, NextAttemptAt: next, Error: reason, ResponseStatus: response,
	}).Get(f.ctx, nil)
}

// waitForTurn waits until due, or the calling window's next opening after it, then takes a place under
// the callee's daily cap; a full day waits for the next one. It returns a result only when the cap
// skips the follow-up.
func (f *followUp) waitForTurn(due time.Time) (*FollowUpResult, error) {
	for {
		due = f.plan.Earliest(due)
		if err := f.sleepUntil(due); err != nil {
			return nil, err
		}
		if f.plan.MaxPerDay == 0 {
			return nil, nil
		}
		day := f.plan.CapDay(workflow.Now(f.ctx))
		if ok, err := f.claimDailySlot(day); err != nil || ok {
			if ok {
				f.slotDay = day
			}
			return nil, err
		}
		reason := fmt.Sprintf("the callee's cap of %d a day was reached on %s", f.plan.MaxPerDay, day)
		if f.plan.SkipWhenCapped {
			workflow.SetCurrentDetails(f.ctx, "Skipped: "+reason)
			return &FollowUpResult{Status: rules.StatusSkipped, Reason: reason}, f.record(rules.StatusSkipped, nil, reason, 0)
		}
		due = f.plan.NextDay(workflow.Now(f.ctx))
	}
}

// sleepUntil records the follow-up as scheduled until due and waits on a durable timer; it returns at
// once when due has come.
func (f *followUp) sleepUntil(due time.Time) error {
	wait := due.Sub(workflow.Now(f.ctx))
	if wait <= 0 {
		return nil
	}
	when := f.plan.WhenText(due)
	if err := f.record(rules.StatusScheduled, &due, "", 0); err != nil {
		return err
	}
	workflow.SetCurrentDetails(f.ctx, "Waiting until "+when)
	return workflow.NewTimerWithOptions(f.ctx, wait, workflow.TimerOptions{Summary: "Until " + when}).Get(f.ctx, nil)
}

// claimDailySlot asks for a place under the callee's cap for day.
func (f *followUp) claimDailySlot(day string) (bool, error) {
	var ok bool
	claim := activities.ClaimInput{Key: f.plan.Key, Day: day, Limit: f.plan.MaxPerDay}
	err := f.bookkeep(fmt.Sprintf("Take a place under the cap of %d a day (%s)", f.plan.MaxPerDay, day), f.a.ClaimDailySlot, claim).Get(f.ctx, &ok)
	return ok, err
}

// act runs the action with its retries and records how it ended.
func (f *followUp) act() (*FollowUpResult, error) {
	ctx := f.ctx
	var result activities.ActionResult
	var err error
	var skipped *FollowUpResult
	if workflow.GetVersion(ctx, changeVisibleRetries, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		err = runWithRetryPolicy(ctx, f.a, f.plan, &result)
	} else {
		skipped, err = f.runWithVisibleRetries(&result)
	}
	if skipped != nil {
		return skipped, nil
	}
	if err != nil && f.safe && f.outcomeUnknown(err) {
		reason := failureReason(err)
		workflow.SetCurrentDetails(ctx, "Needs review: "+reason+". It may have been carried out: check whether the person was reached "+
			"(in Airudder, for a re-call), then retry deliberately with POST /v1/follow-ups/{id}/retry")
		if rerr := f.record(rules.StatusNeedsReview, nil, reason, 0); rerr != nil {
			return nil, rerr
		}
		return nil, temporal.NewNonRetryableApplicationError("follow-up needs review: "+reason, ErrTypeNeedsReview, err)
	}
	if err != nil {
		reason := failureReason(err)
		workflow.SetCurrentDetails(ctx, "Failed: "+reason+" (retry with POST /v1/follow-ups/{id}/retry)")
		if rerr := f.record(rules.StatusFailed, nil, reason, 0); rerr != nil {
			return nil, rerr
		}
		return nil, temporal.NewNonRetryableApplicationError("follow-up failed: "+reason, "FollowUpFailed", err)
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Succeeded (%d)", result.Status))
	return &FollowUpResult{Status: rules.StatusSucceeded, ResponseStatus: result.Status},
		f.bookkeep("Record succeeded", f.a.RecordFollowUp, activities.RecordInput{
			Key: f.plan.Key, Status: rules.StatusSucceeded, ResponseStatus: result.Status, AirudderWorkflowID: result.AirudderWorkflowID,
		}).Get(ctx, nil)
}

// ErrTypeNeedsReview is the failure type of a follow-up's workflow that ended as needs_review.
const ErrTypeNeedsReview = "FollowUpNeedsReview"

// outcomeUnknown says whether an action's failure leaves it unknown whether the action was carried out,
// for an action that must not be repeated blindly: the activity said so, or the activity itself timed
// out (its worker may have died after sending).
func (f *followUp) outcomeUnknown(err error) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeOutcomeUnknown {
		return true
	}
	var timeout *temporal.TimeoutError
	return f.plan.AtMostOnce() && errors.As(err, &timeout)
}

// changeVisibleRetries marks the version of FollowUpWorkflow that retries an action from the workflow,
// with a timer per retry, so that "retrying at … after …" shows in its current details. Executions
// started before it keep retrying inside the activity's retry policy.
const changeVisibleRetries = "visible-retries"

// changeSafeEffects marks the version of FollowUpWorkflow whose retries keep the calling window and the
// daily cap, which stops an action of unknown outcome for review, and which records an operator's retry
// itself.
const changeSafeEffects = "safe-effects"

// nonRetryable are the failures of an action that no retry can fix.
var nonRetryable = []string{activities.ErrTypeTargetRejected, activities.ErrTypeTargetNotConfigured, activities.ErrTypeAirudderRejected, activities.ErrTypeInvalidPlan}

// runWithVisibleRetries runs the action one attempt at a time: after a failure that may pass, it says in
// the workflow's current details when it retries and why, and waits on a durable timer (10 s doubling to
// 10 min, or the target's Retry-After), for up to actionDeadline. Since changeSafeEffects, a retry due
// outside the calling window waits for its next opening, and one that falls on another day takes a place
// under that day's cap first (skipped is then set when the cap drops the follow-up).
func (f *followUp) runWithVisibleRetries(result *activities.ActionResult) (skipped *FollowUpResult, err error) {
	ctx, fu := f.ctx, f.plan
	giveUp := workflow.Now(ctx).Add(actionDeadline)
	for attempt := int32(1); ; attempt++ {
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("Running (attempt %d): %s", attempt, fu.Summary))
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			Summary:             fmt.Sprintf("%s (attempt %d)", fu.Summary, attempt),
			StartToCloseTimeout: attemptTimeout(fu),
			// One attempt per activity: the loop below is the retry policy.
			RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1},
		})
		err := workflow.ExecuteActivity(actx, actionOf(f.a, fu.Type), activities.ActionInput{FollowUp: fu, Retry: actionRetry, Attempt: attempt}).Get(ctx, result)
		if err == nil {
			return nil, nil
		}
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && (appErr.NonRetryable() || slices.Contains(nonRetryable, appErr.Type())) {
			return nil, err
		}
		if f.safe && f.outcomeUnknown(err) {
			return nil, err
		}
		delay := actionRetry.Delay(attempt, err)
		next := workflow.Now(ctx).Add(delay)
		waitsForWindow := false
		if f.safe {
			opening := fu.Earliest(next)
			waitsForWindow, next = opening.After(next), opening
		}
		if next.After(giveUp) {
			return nil, fmt.Errorf("gave up after %d attempts over %s: %w", attempt, actionDeadline, err)
		}
		details := fmt.Sprintf("Retrying at %s (attempt %d failed: %s)", next.UTC().Format(time.RFC3339), attempt, failureReason(err))
		if waitsForWindow {
			details = fmt.Sprintf("Retrying at %s, the next opening of the calling window (attempt %d failed: %s)", fu.WhenText(next), attempt, failureReason(err))
		}
		workflow.SetCurrentDetails(ctx, details)
		if err := workflow.NewTimerWithOptions(ctx, next.Sub(workflow.Now(ctx)), workflow.TimerOptions{Summary: fmt.Sprintf("Retry %d in %s", attempt+1, next.Sub(workflow.Now(ctx)))}).Get(ctx, nil); err != nil {
			return nil, err
		}
		if f.safe && fu.MaxPerDay > 0 && fu.CapDay(workflow.Now(ctx)) != f.slotDay {
			// The retry falls on another day: it counts against that day's cap.
			if skipped, err := f.waitForTurn(workflow.Now(ctx)); skipped != nil || err != nil {
				return skipped, err
			}
		}
	}
}

// runWithRetryPolicy is how executions started before changeVisibleRetries run their action: all
// attempts inside one activity and its retry policy.
func runWithRetryPolicy(ctx workflow.Context, a *activities.Activities, fu rules.FollowUp, result *activities.ActionResult) error {
	workflow.SetCurrentDetails(ctx, "Running: "+fu.Summary)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:                fu.Summary,
		StartToCloseTimeout:    attemptTimeout(fu),
		ScheduleToCloseTimeout: actionDeadline,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        actionRetry.Initial,
			BackoffCoefficient:     actionRetry.Coefficient,
			MaximumInterval:        actionRetry.Maximum,
			NonRetryableErrorTypes: nonRetryable,
		},
	})
	return workflow.ExecuteActivity(actx, actionOf(a, fu.Type), activities.ActionInput{FollowUp: fu, Retry: actionRetry}).Get(ctx, result)
}

// actionOf is the activity that carries out an action type.
func actionOf(a *activities.Activities, typ string) any {
	switch typ {
	case rules.TypeWebhook:
		return a.SendWebhook
	case rules.TypeNotify:
		return a.Notify
	case rules.TypeAirudderCancelContact:
		return a.CancelContactThroughAirudder
	default:
		return a.RecallThroughAirudder
	}
}

// failureReason is the innermost message of an activity failure: what the target said.
func failureReason(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Error()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "no success within " + actionDeadline.String() + ": " + timeout.Error()
	}
	return err.Error()
}
