package rules

// Status is where a planned follow-up stands. The follow-up's workflow decides every change; the store
// records it and the admin API shows it. It lives here, beside the plan it describes, so that workflow
// code can name statuses without importing the store.
type Status string

// Follow-up statuses.
const (
	// StatusScheduled waits for its time, its next attempt after a passing failure, its calling window
	// or a place under its daily cap.
	StatusScheduled Status = "scheduled"
	// StatusRunning is being attempted. (Follow-ups run by FollowUpWorkflow, before SubjectWorkflow,
	// also wait for a retry as running.)
	StatusRunning Status = "running"
	// StatusSucceeded was accepted by its target.
	StatusSucceeded Status = "succeeded"
	// StatusFailed was refused for good, or did not succeed within its deadline.
	StatusFailed Status = "failed"
	// StatusNeedsReview is an action that may reach a person whose last attempt has an unknown outcome
	// (a timeout, a cut connection, a 5xx after sending): it may have been carried out, so it is not
	// repeated until an operator has looked and retries it.
	StatusNeedsReview Status = "needs_review"
	// StatusSkipped will not run: its time had passed, the call lacked a date, or the daily cap dropped it.
	StatusSkipped Status = "skipped"
	// StatusOverdue is a re-call Airudder took whose call did not complete by its deadline (the action's
	// expect_within): rules on recall_overdue fire, and an operator may retry it. A call that completes
	// late makes it succeeded again.
	StatusOverdue Status = "overdue"
)

// Statuses lists the statuses in their order of life.
var Statuses = []Status{StatusScheduled, StatusRunning, StatusSucceeded, StatusFailed, StatusNeedsReview, StatusSkipped, StatusOverdue}

// Settled reports whether a follow-up in this status must never run again: it succeeded, or it was
// skipped on purpose. (A failed one, or one that needs review, may be retried by an operator.)
func (s Status) Settled() bool { return s == StatusSucceeded || s == StatusSkipped }

// Final reports whether the status ends a run of the follow-up's workflow.
func (s Status) Final() bool {
	return s.Settled() || s == StatusFailed || s == StatusNeedsReview || s == StatusOverdue
}

// Retryable reports whether an operator may run the follow-up again (POST /v1/follow-ups/{id}/retry).
func (s Status) Retryable() bool {
	return s == StatusFailed || s == StatusNeedsReview || s == StatusOverdue
}

// RunsOnlyWhenRetried reports whether only an operator's retry may run the follow-up: nothing automatic
// (a reset of its call's workflow, a replanned call) may repeat an action whose outcome is unknown.
func (s Status) RunsOnlyWhenRetried() bool { return s == StatusNeedsReview || s == StatusOverdue }
