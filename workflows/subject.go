package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/payload"
	"github.com/rudderhook/rudderhook/rules"
)

// SubjectInput is the input of SubjectWorkflow and the argument of its SignalRevision: one delivery of a
// subject (a call or an event).
type SubjectInput struct {
	airudder.Subject
	// Slim says the subject is a slim copy of a large one that the receiver stored before starting the
	// workflow: activities read the whole subject from the store.
	Slim bool `json:"slim,omitempty"`
	// Stored repeats Slim for a call under the name CallCompletedWorkflow reads it by, so that a revision
	// signalled to a run of that type still open after an upgrade is read as it was sent.
	Stored bool `json:"stored,omitempty"`
	// Resume starts a run that stores and plans nothing: it carries out an operator's retries
	// (SignalRetry) of a subject whose earlier runs have closed.
	Resume bool `json:"resume,omitempty"`
}

// NewSubjectInput is the input that hands a subject's delivery to its workflow.
func NewSubjectInput(s airudder.Subject, slim bool) SubjectInput {
	return SubjectInput{Subject: s, Slim: slim, Stored: slim && s.IsCall()}
}

func (in SubjectInput) slim() bool { return in.Slim || in.Stored }

// SignalRetry hands a subject's workflow an operator's retry of one of its follow-ups (a RetryRequest).
const SignalRetry = "retry-follow-up"

// QueryFollowUps answers the state of each follow-up the run carries out ([]FollowUpState).
const QueryFollowUps = "follow_ups"

// RetryRequest is an operator's retry of a follow-up that failed or needs review: it runs again at once,
// within its calling window and daily cap.
type RetryRequest struct {
	FollowUp rules.FollowUp `json:"follow_up"`
}

// FollowUpState is where one follow-up stands in its subject's workflow (the store has the same, with
// the attempts of every run).
type FollowUpState struct {
	Key     string       `json:"key"`
	RuleID  string       `json:"rule_id"`
	Action  string       `json:"action"`
	Type    string       `json:"type"`
	Summary string       `json:"summary"`
	Status  rules.Status `json:"status"`
	// Attempts are the attempts this run started: a first one inside its workflow task, then the
	// activity, whose own retries Temporal counts (its pending activity's Attempt) and the store records
	// (the admin API's attempts).
	Attempts      int        `json:"attempts,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
}

// SubjectResult is what SubjectWorkflow reports when it completes.
type SubjectResult struct {
	// SubjectID is the subject's row in PostgreSQL.
	SubjectID   int64                `json:"subject_id,omitempty"`
	RuleVersion int64                `json:"rule_version,omitempty"`
	Matched     []string             `json:"matched_rules,omitempty"`
	FollowUps   map[rules.Status]int `json:"follow_ups,omitempty"` // how many ended in each status
	// Revisions are the revisions of the subject this run processed, in order.
	Revisions []int `json:"revisions,omitempty"`
}

// A first attempt made as a local activity, inside the workflow task, has the time an attempt made as an
// activity has (attemptTimeout): a target that answers at once costs no task queue round trip, and a slow
// one is not cut short and asked again (a webhook cut after it reached its target is a repeat delivery;
// the fault suite's slow target, answering in 10 s, got 339 repeats of 450 with a 5 s bound). While it
// runs longer than most of a workflow task's timeout, the SDK keeps the task alive (a heartbeat: one more
// workflow task), so only slow targets pay for it. Later attempts follow actionRetry (the activity may ask
// for a later one: the target's Retry-After, the calling window's next opening) until actionDeadline.

// attemptTimeout is how long one attempt of a follow-up's action may take, so that an attempt is never
// cut short while the action may still be working (a cut attempt of a re-call has an unknown outcome). A
// webhook or notification is one request (its client gives up after 30 s). An Airudder call makes up to
// four exchanges, each bounded by the client's request timeout (airudder.DefaultRequestTimeout, 120 s):
// a token request, the request, a renewal of a refused token and the request again. So:
//
//   - a cancel, or a re-call into a running workflow (uploaddetails): 4 exchanges, 8 min;
//   - a re-call from a template: createinstance (4 exchanges), createinstance once more under a new name
//     if Airudder says the name is taken (1: its token was just accepted), then uploaddetails into the
//     new instance (3: its token may be refused, renewed and the request sent again): 8 exchanges, 16 min;
//
// and a minute more for the bookkeeping in PostgreSQL around the action. A recording is a download of up
// to 200 MiB from a server that may be slow: its activity heartbeats, and gives up on a body that sends
// nothing for a minute.
func attemptTimeout(fu rules.FollowUp) time.Duration {
	const bookkeeping = time.Minute
	switch {
	case fu.Type == rules.TypeAirudderRecall && fu.Recall != nil && fu.Recall.TemplateID != "":
		return 8*airudder.DefaultRequestTimeout + bookkeeping
	case fu.Type == rules.TypeAirudderRecall, fu.Type == rules.TypeAirudderCancelContact:
		return 4*airudder.DefaultRequestTimeout + bookkeeping
	case fu.Type == rules.TypeArchiveRecording:
		return 30 * time.Minute
	}
	return time.Minute
}

// heartbeatTimeout notices a worker that died during a long attempt (an archive's download heartbeats
// every few seconds) without waiting for the whole attemptTimeout; 0 for attempts that do not heartbeat.
func heartbeatTimeout(typ string) time.Duration {
	if typ == rules.TypeArchiveRecording {
		return time.Minute
	}
	return 0
}

// localFirst says whether the first attempt of a follow-up is made as a local activity, in the workflow
// task that planned it: not for an action that must not be repeated blindly, nor for a download that
// may take half an hour and heartbeats.
func localFirst(fu rules.FollowUp) bool {
	return !fu.AtMostOnce() && fu.Type != rules.TypeArchiveRecording
}

// SubjectWorkflow handles one subject — a call or an event of any kind — for as long as it has work:
// it stores each delivery as a revision and plans the follow-ups that the rules in force decide for it
// (one local activity), then carries out each follow-up as an activity of this same workflow, with its
// own retry policy, calling window and daily cap, and a summary that names it in the Temporal UI. A
// follow-up that may be repeated if its outcome is unknown makes its first attempt inside the workflow
// task that planned it (a local activity), so a subject whose follow-ups succeed at once costs one start
// and one workflow task. Later deliveries (SignalRevision) are processed by the open run, or a new one;
// an operator's retry (SignalRetry) runs a failed follow-up again. It completes when its follow-ups have
// ended and no signal is pending.
func SubjectWorkflow(ctx workflow.Context, in SubjectInput) (*SubjectResult, error) {
	r := &subjectRun{seen: map[string]bool{}, states: map[string]*FollowUpState{}, result: &SubjectResult{}}
	if err := workflow.SetQueryHandler(ctx, QueryFollowUps, r.followUps); err != nil {
		return nil, err
	}
	revisions := workflow.GetSignalChannel(ctx, SignalRevision)
	retries := workflow.GetSignalChannel(ctx, SignalRetry)
	if in.Resume {
		// A run started for an operator's retry has it as its first signal (SignalWithStart); should it
		// come otherwise, the run waits a moment for it (a timer only then).
		if retries.Len() == 0 {
			_, _ = workflow.AwaitWithTimeout(ctx, time.Minute, func() bool { return retries.Len() > 0 })
		}
	} else if err := r.process(ctx, in); err != nil {
		return nil, err
	}
	for {
		_ = workflow.Await(ctx, func() bool { return r.running == 0 || revisions.Len() > 0 || retries.Len() > 0 })
		var retry RetryRequest
		if retries.ReceiveAsync(&retry) {
			r.launch(ctx, retry.FollowUp, rules.StatusFailed, true)
			continue
		}
		var next SubjectInput
		if !revisions.ReceiveAsync(&next) {
			break
		}
		if err := r.process(ctx, next); err != nil {
			// The subject's earlier revisions and their follow-ups stand; this one is shown and logged.
			workflow.GetLogger(ctx).Error("revision not processed", "digest", next.Digest(), "error", err)
			workflow.SetCurrentDetails(ctx, fmt.Sprintf("A revision (digest %.12s) could not be processed: %v", next.Digest(), err))
		}
	}
	r.result.FollowUps = r.counts()
	workflow.SetCurrentDetails(ctx, r.details())
	return r.result, nil
}

// subjectRun is the state of one run of SubjectWorkflow.
type subjectRun struct {
	seen    map[string]bool           // digests of the revisions processed
	states  map[string]*FollowUpState // by key
	order   []string                  // keys in the order they were planned
	running int                       // follow-ups not yet ended
	plan    *activities.StoreAndPlanResult
	result  *SubjectResult
}

// process stores one delivery of the subject and plans its follow-ups in one local activity, then
// starts the follow-ups not started yet.
func (r *subjectRun) process(ctx workflow.Context, in SubjectInput) error {
	if d := in.Digest(); d != "" {
		if r.seen[d] {
			return nil // the same delivery again
		}
		r.seen[d] = true
	}
	var a *activities.Activities
	workflow.SetCurrentDetails(ctx, "Storing the "+in.Kind()+" delivery and deciding its follow-ups")
	// The database may be down for a while: keep trying (dbRetry). Data that the database refuses fails at
	// once (a non-retryable InvalidCallData error).
	var out activities.StoreAndPlanResult
	if err := dbWrite(ctx, true, payload.CutJSON("Store "+in.Kind()+" "+in.Key()+" and decide its follow-ups", payload.SummaryTextLimit),
		a.StoreAndPlan, activities.StoreAndPlanInput{Subject: in.Subject, Slim: in.slim()}).Get(ctx, &out); err != nil {
		return err
	}
	r.result.SubjectID = out.SubjectID
	r.result.Revisions = append(r.result.Revisions, out.Revision)
	if out.Latest {
		r.updateSearchAttributes(ctx, in.Subject)
	}
	if out.Planned {
		r.plan = &out
		r.result.RuleVersion = out.RuleVersion
		r.result.Matched = mergeMatched(r.result.Matched, out.Matched)
	}
	for _, fu := range out.FollowUps {
		r.launch(ctx, fu.Plan, fu.Status, false)
	}
	workflow.SetCurrentDetails(ctx, r.details())
	return nil
}

// updateSearchAttributes sets the search attributes whose values this revision changes: they were set
// when the workflow started, so the first delivery changes none.
func (r *subjectRun) updateSearchAttributes(ctx workflow.Context, s airudder.Subject) {
	have := workflow.GetTypedSearchAttributes(ctx)
	var changed []temporal.SearchAttributeUpdate
	for _, kw := range subjectKeywords(s) {
		if v, _ := have.GetKeyword(kw.key); v != kw.value() {
			changed = append(changed, kw.key.ValueSet(kw.value()))
		}
	}
	if len(changed) == 0 {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, changed...); err != nil {
		workflow.GetLogger(ctx).Warn("set search attributes", "error", err)
	}
}

// launch starts carrying out one planned follow-up, unless it was started already in this run (an
// operator's retry starts it again). One that is settled, or waits for an operator, is only counted.
func (r *subjectRun) launch(ctx workflow.Context, fu rules.FollowUp, status rules.Status, retry bool) {
	st, known := r.states[fu.Key]
	if known && (!retry || st.Status == rules.StatusScheduled || st.Status == rules.StatusRunning) {
		return // planned again by a later revision, or a retry of one that is still running
	}
	if !known {
		st = &FollowUpState{Key: fu.Key, RuleID: fu.RuleID, Action: fu.Action, Type: fu.Type, Summary: fu.Summary}
		r.states[fu.Key] = st
		r.order = append(r.order, fu.Key)
	}
	st.Status = status
	if !retry && status.Final() {
		// Settled by an earlier run, or ended there (failed, needs review): only an operator's retry runs
		// it again, so that nothing automatic repeats an action.
		return
	}
	st.Status = rules.StatusScheduled
	r.running++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { r.running-- }()
		r.runFollowUp(ctx, st, fu, retry)
		workflow.SetCurrentDetails(ctx, r.details())
	})
}

// runFollowUp carries out one follow-up: it waits, on a durable timer, for its time and calling window,
// then attempts it (see attempt) until it ends; a daily cap that is full makes it wait for the next day.
func (r *subjectRun) runFollowUp(ctx workflow.Context, st *FollowUpState, fu rules.FollowUp, retry bool) {
	due := workflow.Now(ctx)
	if !retry && fu.NotBefore.After(due) {
		due = fu.NotBefore
	}
	for {
		due = fu.Earliest(due)
		if wait := due.Sub(workflow.Now(ctx)); wait > 0 {
			st.Status, st.NextAttemptAt = rules.StatusScheduled, &due
			workflow.SetCurrentDetails(ctx, r.details())
			when := fu.WhenText(due)
			timer := workflow.NewTimerWithOptions(ctx, wait, workflow.TimerOptions{Summary: payload.CutJSON("Until "+when+": "+fu.Summary, payload.SummaryTextLimit)})
			if err := timer.Get(ctx, nil); err != nil {
				return // the workflow was cancelled: the follow-up stays scheduled
			}
		}
		res, err := r.attempt(ctx, st, fu, retry)
		retry = false // an operator's retry opens the follow-up once; later attempts continue it
		st.NextAttemptAt = nil
		if err != nil {
			r.ended(ctx, st, fu, err)
			if st.Status == rules.StatusNeedsReview && fu.Type == rules.TypeAirudderRecall && fu.Recall != nil &&
				workflow.GetVersion(ctx, changeSettleByAsking, workflow.DefaultVersion, 1) == 1 {
				r.settle(ctx, st, fu)
			}
			return
		}
		if res.WaitUntil != nil {
			due = *res.WaitUntil // the daily cap is full: the next day
			continue
		}
		st.Status, st.LastError = res.Status, res.Reason
		return
	}
}

// attempt makes the follow-up's attempts until one ends it. An action that may be repeated when its
// outcome is unknown makes its first attempt as a local activity, in the current workflow task; every
// later attempt, and every attempt of an action that must not be repeated blindly, is an activity on
// the task queue, retried by Temporal with the delay the activity asks for (the target's Retry-After,
// the calling window's next opening).
func (r *subjectRun) attempt(ctx workflow.Context, st *FollowUpState, fu rules.FollowUp, retry bool) (*activities.RunResult, error) {
	var a *activities.Activities
	in := activities.RunInput{FollowUp: fu, Retry: retry, Deadline: workflow.Now(ctx).Add(actionDeadline), Schedule: actionRetry}
	st.Status = rules.StatusRunning
	var res activities.RunResult
	if localFirst(fu) {
		st.Attempts++
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			Summary:             fu.Summary,
			StartToCloseTimeout: attemptTimeout(fu),
			RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
		})
		err := workflow.ExecuteLocalActivity(lctx, a.RunFollowUp, in).Get(ctx, &res)
		if err == nil || endsFollowUp(err) {
			return &res, err
		}
		// A passing failure: the activity recorded it and when to try again.
		st.LastError = lastError(err)
		in.Retry = false
		if wait := nextRetryDelay(err); wait > 0 {
			next := workflow.Now(ctx).Add(wait)
			st.Status, st.NextAttemptAt = rules.StatusScheduled, &next
			workflow.SetCurrentDetails(ctx, r.details())
			timer := workflow.NewTimerWithOptions(ctx, wait, workflow.TimerOptions{Summary: payload.CutJSON("Retry in "+wait.String()+": "+fu.Summary, payload.SummaryTextLimit)})
			if err := timer.Get(ctx, nil); err != nil {
				return nil, err
			}
		}
	}
	// From here Temporal retries the attempt; the run hears of it again only when it ends, so its details
	// say where the attempts stand meanwhile: the pending activity.
	st.Status, st.NextAttemptAt = rules.StatusRunning, nil
	workflow.SetCurrentDetails(ctx, r.details())
	st.Attempts++
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:                fu.Summary,
		StartToCloseTimeout:    attemptTimeout(fu),
		HeartbeatTimeout:       heartbeatTimeout(fu.Type),
		ScheduleToCloseTimeout: actionDeadline + attemptTimeout(fu), // a backstop: the activity gives up at in.Deadline
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    actionRetry.Initial,
			BackoffCoefficient: actionRetry.Coefficient,
			MaximumInterval:    actionRetry.Maximum,
		},
	})
	err := workflow.ExecuteActivity(actx, a.RunFollowUp, in).Get(ctx, &res)
	return &res, err
}

// endsFollowUp says whether an attempt's failure ends the follow-up: the activity recorded it as failed
// or needing review.
func endsFollowUp(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.NonRetryable()
}

// nextRetryDelay is the delay an attempt's failure asked for before the next attempt.
func nextRetryDelay(err error) time.Duration {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.NextRetryDelay()
	}
	return 0
}

// ended takes the failure that ended a follow-up: the activity recorded it (failed, needs_review),
// except when Temporal gave up on the activity (its deadline passed while an attempt was running, or
// the workflow was cancelled): that is recorded here.
func (r *subjectRun) ended(ctx workflow.Context, st *FollowUpState, fu rules.FollowUp, err error) {
	st.LastError = lastError(err)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() {
		st.Status = rules.StatusFailed
		if appErr.Type() == activities.ErrTypeNeedsReview {
			st.Status = rules.StatusNeedsReview
		}
		return
	}
	var timeout *temporal.TimeoutError
	if !errors.As(err, &timeout) {
		st.Status = rules.StatusFailed
		return // cancelled: nothing more is recorded
	}
	// The attempt that was running when the deadline passed may have been carried out.
	st.Status = rules.StatusFailed
	if fu.AtMostOnce() {
		st.Status = rules.StatusNeedsReview
	}
	var a *activities.Activities
	if rerr := dbWrite(ctx, true, "Record "+string(st.Status), a.RecordFollowUp, activities.RecordInput{
		Key: fu.Key, Status: st.Status, Error: st.LastError,
	}).Get(ctx, nil); rerr != nil {
		workflow.GetLogger(ctx).Error("follow-up's end not recorded", "follow_up", fu.Key, "error", rerr)
	}
}

// lastError is what a failure of a follow-up's attempt says: an activity's message without Temporal's
// "(type: …, retryable: …)", which the status already tells.
func lastError(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return failureReason(err)
}

// changeSettleByAsking is the change that made a re-call ending needs_review ask Airudder, after a
// while, whether it took effect: runs from before it never ask.
const changeSettleByAsking = "settle-by-asking"

// settleRetry retries asking Airudder for half an hour at most; after that the follow-up stays
// needs_review, as it was.
var settleRetry = &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute}

// settle asks Airudder, the re-call's ask_after later, whether a re-call that ended needs_review took
// effect after all (activity SettleByAsking): it becomes succeeded when Airudder shows the callee where
// the re-call put it, and stays needs_review otherwise, with what was found for the person who looks. An
// operator's retry meanwhile takes over: nothing is asked.
func (r *subjectRun) settle(ctx workflow.Context, st *FollowUpState, fu rules.FollowUp) {
	wait := fu.Recall.AskDelay()
	next := workflow.Now(ctx).Add(wait)
	st.NextAttemptAt = &next
	workflow.SetCurrentDetails(ctx, r.details())
	// An operator's retry meanwhile ends the wait: the retry runs it again, and nothing is asked.
	retried, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: wait, TimerOptions: workflow.TimerOptions{
		Summary: payload.CutJSON("Ask Airudder in "+wait.String()+" whether it took: "+fu.Summary, payload.SummaryTextLimit)}},
		func() bool { return st.Status != rules.StatusNeedsReview })
	if st.NextAttemptAt == &next {
		st.NextAttemptAt = nil
	}
	if err != nil || retried {
		return // cancelled, or an operator's retry runs it again
	}
	var a *activities.Activities
	var res activities.SettleResult
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:                payload.CutJSON("Ask Airudder whether it took: "+fu.Summary, payload.SummaryTextLimit),
		StartToCloseTimeout:    2 * time.Minute,
		ScheduleToCloseTimeout: 30 * time.Minute,
		RetryPolicy:            settleRetry,
	})
	if err := workflow.ExecuteActivity(actx, a.SettleByAsking, activities.SettleInput{Key: fu.Key}).Get(ctx, &res); err != nil {
		workflow.GetLogger(ctx).Warn("could not ask Airudder whether a re-call took; it stays needs_review", "follow_up", fu.Key, "error", err)
		return
	}
	if st.Status == rules.StatusNeedsReview {
		st.Status, st.LastError = res.Status, res.Found
	}
}

func (r *subjectRun) followUps() ([]FollowUpState, error) {
	out := make([]FollowUpState, len(r.order))
	for i, k := range r.order {
		out[i] = *r.states[k]
	}
	return out, nil
}

func (r *subjectRun) counts() map[rules.Status]int {
	if len(r.order) == 0 {
		return nil
	}
	out := map[rules.Status]int{}
	for _, k := range r.order {
		out[r.states[k].Status]++
	}
	return out
}

// details is what the run says in the Temporal UI: the revision, what the rules decided, and where each
// follow-up stands.
func (r *subjectRun) details() string {
	// Built with Sprintf rather than a Builder: workflowcheck takes writes to an io.Writer for I/O.
	s := ""
	if n := len(r.result.Revisions); n > 0 {
		s = fmt.Sprintf("Revision %d stored", r.result.Revisions[n-1])
	}
	switch {
	case r.plan == nil && len(r.order) == 0:
	case len(r.order) == 0:
		s += fmt.Sprintf("; no rule of version %d matched", r.plan.RuleVersion)
	default:
		if r.plan != nil {
			s += fmt.Sprintf("; rules %v (version %d) planned %d follow-ups", r.plan.Matched, r.plan.RuleVersion, len(r.order))
		}
		for _, k := range r.order {
			st := r.states[k]
			s += fmt.Sprintf("\n\n- %s: **%s**", st.Summary, st.Status)
			switch {
			case st.NextAttemptAt != nil:
				s += " until " + st.NextAttemptAt.UTC().Format(time.RFC3339)
			case st.Status == rules.StatusRunning:
				s += " — its pending activity shows the attempt, the last failure and the next retry"
			}
			if st.LastError != "" {
				label := ""
				if st.Status == rules.StatusRunning {
					label = "last failure this run saw: "
				}
				s += " (" + label + payload.Cut(st.LastError, 200) + ")"
			}
		}
	}
	return payload.CutJSON(s, payload.DetailsTextLimit)
}
