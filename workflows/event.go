package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/payload"
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
	EventID int64 `json:"event_id"`
	// Revisions are the revisions of the event this run processed, in order.
	Revisions []int `json:"revisions,omitempty"`
}

// EventWorkflow handles one event of a callback kind other than call completion (list completion, status
// change, QA result, a PDS webhook, a source's generic kind): it stores the event. Every revision of the
// event (a corrected redelivery, SignalRevision) is processed the same way by the run that is open when
// it arrives, or by a new run. A PDS agent's call result is also a call: the receiver starts that call's
// own workflow (call/{source}/pds/{callid}), so calls of both families are handled alike.
func EventWorkflow(ctx workflow.Context, in EventInput) (*EventResult, error) {
	revisions := workflow.GetSignalChannel(ctx, SignalRevision)
	run := &eventRun{seen: map[string]bool{}, result: &EventResult{}}
	if err := run.process(ctx, in); err != nil {
		return nil, err
	}
	for {
		var next EventInput
		if !revisions.ReceiveAsync(&next) {
			break
		}
		if err := run.process(ctx, next); err != nil {
			workflow.GetLogger(ctx).Error("revision not processed", "digest", next.Event.Digest, "error", err)
			workflow.SetCurrentDetails(ctx, fmt.Sprintf("A revision (digest %.12s) could not be processed: %v", next.Event.Digest, err))
		}
	}
	return run.result, nil
}

// eventRun is the state of one run of EventWorkflow.
type eventRun struct {
	seen   map[string]bool // digests of the revisions processed
	result *EventResult
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
	persistCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             payload.CutJSON("Store "+in.Event.On+" event in PostgreSQL", payload.SummaryTextLimit),
		StartToCloseTimeout: 30 * time.Second,
		// As for calls: the database may be down for a while, so keep trying, backing off to once a minute;
		// data that the database refuses fails at once (a non-retryable InvalidCallData error).
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	})
	var stored activities.PersistEventResult
	if err := workflow.ExecuteActivity(persistCtx, a.PersistEvent, activities.PersistEventInput{Event: in.Event, Slim: in.Slim}).Get(ctx, &stored); err != nil {
		return err
	}
	r.result.EventID = stored.ID
	r.result.Revisions = append(r.result.Revisions, stored.Revision)
	if stored.Latest {
		if err := workflow.UpsertTypedSearchAttributes(ctx, EventSearchAttributes(in.Event)...); err != nil {
			workflow.GetLogger(ctx).Warn("set search attributes", "error", err)
		}
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Revision %d stored as event %d", stored.Revision, stored.ID))
	return nil
}
