package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/payload"
	"github.com/rudderhook/rudderhook/rules"
)

// EventInput is the input of EventWorkflow, and the argument of its SignalRevision: one delivery of an
// event.
type EventInput struct {
	Event airudder.Event `json:"event"`
	// Slim says that Event is a slim copy of a large event that the receiver stored before starting the
	// workflow; activities read the whole event from the store.
	Slim bool `json:"slim,omitempty"`
}

// EventResult is what EventWorkflow reports when it completes.
type EventResult struct {
	// EventID is the event's row in PostgreSQL (GET /v1/events/{id}).
	EventID     int64                `json:"event_id"`
	RuleVersion int64                `json:"rule_version,omitempty"`
	Matched     []string             `json:"matched_rules,omitempty"`
	FollowUps   map[rules.Status]int `json:"follow_ups,omitempty"` // how many ended in each status
	// Revisions are the revisions of the event this run processed, in order.
	Revisions []int `json:"revisions,omitempty"`
}

// EventWorkflow handles one event of a callback kind other than call completion (list completion, status
// change, QA result, a PDS webhook, a source's generic kind): it stores the event, then decides the
// follow-ups of the rules on its kind (on:) and carries each out as a child workflow, as
// CallCompletedWorkflow does for a call. Every revision of the
// event (a corrected redelivery, SignalRevision) is processed the same way by the run that is open when
// it arrives, or by a new run. A PDS agent's call result is also a call: the receiver starts that call's
// own workflow (call/{source}/pds/{callid}), so calls of both families are handled alike.
func EventWorkflow(ctx workflow.Context, in EventInput) (*EventResult, error) {
	revisions := workflow.GetSignalChannel(ctx, SignalRevision)
	// The follow-ups reuse the call's machinery: planned under keys per event, rule and action, run as
	// FollowUpWorkflow children, counted as they end.
	run := &eventRun{seen: map[string]bool{}, result: &EventResult{},
		followUps: &callRun{launched: map[string]bool{}, result: &CallCompletedResult{}}}
	if err := run.process(ctx, in); err != nil {
		return nil, err
	}
	for {
		_ = workflow.Await(ctx, func() bool { return run.followUps.running == 0 || revisions.Len() > 0 })
		var next EventInput
		if !revisions.ReceiveAsync(&next) {
			break
		}
		if err := run.process(ctx, next); err != nil {
			workflow.GetLogger(ctx).Error("revision not processed", "digest", next.Event.Digest, "error", err)
			workflow.SetCurrentDetails(ctx, fmt.Sprintf("A revision (digest %.12s) could not be processed: %v", next.Event.Digest, err))
		}
	}
	if run.followUps.plan != nil {
		run.result.FollowUps = run.followUps.counts
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("Event %d: ", run.result.EventID)+followUpsDetails(*run.followUps.plan, run.followUps.counts))
	}
	return run.result, nil
}

// eventRun is the state of one run of EventWorkflow.
type eventRun struct {
	seen      map[string]bool // digests of the revisions processed
	result    *EventResult
	followUps *callRun // the follow-ups started and how they ended
}

// process stores one revision of the event.
func (r *eventRun) process(ctx workflow.Context, in EventInput) error {
	if in.Event.Digest != "" {
		if r.seen[in.Event.Digest] {
			return nil // the same delivery again
		}
		r.seen[in.Event.Digest] = true
	}
	var a *activities.Activities
	workflow.SetCurrentDetails(ctx, "Storing the event in PostgreSQL")
	// As for calls: the database may be down for a while, so keep trying; data that the database refuses
	// fails at once (a non-retryable InvalidCallData error). Activities on the task queue: EventWorkflow
	// has always run them so (event_v0 is recorded).
	var stored activities.PersistEventResult
	if err := dbWrite(ctx, false, payload.CutJSON("Store "+in.Event.On+" event in PostgreSQL", payload.SummaryTextLimit),
		a.PersistEvent, activities.PersistEventInput{Event: in.Event, Slim: in.Slim}).Get(ctx, &stored); err != nil {
		return err
	}
	r.result.EventID = stored.ID
	r.result.Revisions = append(r.result.Revisions, stored.Revision)
	if stored.Latest {
		if err := workflow.UpsertTypedSearchAttributes(ctx, EventSearchAttributes(in.Event)...); err != nil {
			workflow.GetLogger(ctx).Warn("set search attributes", "error", err)
		}
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Revision %d stored as event %d; deciding follow-ups", stored.Revision, stored.ID))

	var plan activities.PlanResult
	if err := dbWrite(ctx, false, "Decide follow-ups with the rules on "+in.Event.On, a.PlanEventFollowUps,
		activities.PlanEventInput{Event: in.Event, EventID: stored.ID, Slim: in.Slim}).Get(ctx, &plan); err != nil {
		return err
	}
	r.followUps.plan = &plan
	r.result.RuleVersion = plan.RuleVersion
	r.result.Matched = mergeMatched(r.result.Matched, plan.Matched)
	r.followUps.startFollowUps(ctx, EventSearchAttributes(in.Event), plan)
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Event %d: ", stored.ID)+followUpsDetails(plan, r.followUps.counts))
	return nil
}
