package rules

// Status is where a planned follow-up stands. The follow-up's workflow decides every change; the store
// records it and the admin API shows it. It lives here, beside the plan it describes, so that workflow
// code can name statuses without importing the store.
type Status string

// Follow-up statuses.
const (
	// StatusScheduled waits for its time, its calling window or a place under its daily cap.
	StatusScheduled Status = "scheduled"
	// StatusRunning is being attempted (or waits to be retried).
	StatusRunning Status = "running"
	// StatusSucceeded was accepted by its target.
	StatusSucceeded Status = "succeeded"
	// StatusFailed was refused for good, or did not succeed within its deadline.
	StatusFailed Status = "failed"
	// StatusSkipped will not run: its time had passed, the call lacked a date, or the daily cap dropped it.
	StatusSkipped Status = "skipped"
)

// Statuses lists the statuses in their order of life.
var Statuses = []Status{StatusScheduled, StatusRunning, StatusSucceeded, StatusFailed, StatusSkipped}

// Settled reports whether a follow-up in this status must never run again: it succeeded, or it was
// skipped on purpose. (A failed one may be retried by an operator.)
func (s Status) Settled() bool { return s == StatusSucceeded || s == StatusSkipped }

// Final reports whether the status ends a run of the follow-up's workflow.
func (s Status) Final() bool { return s.Settled() || s == StatusFailed }
