package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// PersistEventInput is what PersistEvent stores.
type PersistEventInput struct {
	Event airudder.Event `json:"event"`
	// Slim says the receiver stored the (large) event already and Event is a slim copy.
	Slim bool `json:"slim,omitempty"`
}

// PersistEventResult says which revision of the event PersistEvent stored, and the event's row.
type PersistEventResult struct {
	ID       int64 `json:"id"`
	Revision int   `json:"revision"`
	New      bool  `json:"new"`
	Latest   bool  `json:"latest"`
}

// PersistEvent stores the event as a revision (see store.StoreEvent): its typed columns and raw JSON in
// PostgreSQL, keyed by source, kind and key, with the ID of the workflow that runs it, and marks the
// revision processed. A slim event was stored by the receiver; it is only marked.
func (a *Activities) PersistEvent(ctx context.Context, in PersistEventInput) (*PersistEventResult, error) {
	info := activity.GetInfo(ctx)
	ev := in.Event
	var stored store.Stored
	var id int64
	var err error
	if in.Slim {
		stored, id, err = a.Store.MarkEventProcessed(ctx, ev.Source, ev.Kind, ev.Key, ev.Digest)
	} else {
		stored, id, err = a.Store.StoreEvent(ctx, store.EventRecord{Event: ev, WorkflowID: info.WorkflowExecution.ID}, true)
	}
	if err != nil {
		return nil, classifyDBError(fmt.Errorf("persist event %s: %w", info.WorkflowExecution.ID, err))
	}
	a.Log.Info("stored event", "workflow_id", info.WorkflowExecution.ID, "event_id", id, "kind", ev.Kind, "on", ev.On,
		"revision", stored.Revision, "new", stored.New, "attempt", info.Attempt)
	return &PersistEventResult{ID: id, Revision: stored.Revision, New: stored.New, Latest: stored.Latest}, nil
}

// PlanEventInput is the event to plan follow-ups for.
type PlanEventInput struct {
	Event airudder.Event `json:"event"`
	// EventID is the event's row (PersistEvent's result).
	EventID int64 `json:"event_id"`
	// Slim says Event is a slim copy of a large event: the whole one is read from the store.
	Slim bool `json:"slim,omitempty"`
}

// PlanEventFollowUps evaluates the rules in force on the event's kind and stores the follow-ups they
// decide, as PlanFollowUps does for a call. Run again, it stores nothing new.
func (a *Activities) PlanEventFollowUps(ctx context.Context, in PlanEventInput) (*PlanResult, error) {
	return a.planWith(ctx, func(set *rules.Set, workflowID string) (rules.Plan, planOwner, error) {
		if in.Slim {
			rec, err := a.Store.GetEvent(ctx, in.EventID)
			if err != nil {
				return rules.Plan{}, planOwner{}, err
			}
			in.Event = rec.Event
		}
		return set.PlanEvent(in.Event, workflowID, time.Now()), planOwner{source: in.Event.Source, callKey: workflowID, eventID: &in.EventID}, nil
	})
}
