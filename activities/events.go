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

// PersistEvent stores the event as a revision (see store.StoreRevision): its typed columns and raw JSON
// in PostgreSQL, as the subject of the workflow that runs it, and marks the revision processed. A slim
// event was stored by the receiver; it is only marked. Its result names the event's row (ID), which the
// workflow shows and hands to PlanEventFollowUps.
func (a *Activities) PersistEvent(ctx context.Context, in PersistEventInput) (*PersistEventResult, error) {
	info := activity.GetInfo(ctx)
	workflowID := info.WorkflowExecution.ID
	ev := in.Event
	var stored store.Stored
	var err error
	if in.Slim {
		stored, err = a.Store.MarkProcessed(ctx, workflowID, ev.Digest)
	} else {
		stored, err = a.Store.StoreRevision(ctx, airudder.EventSubject(ev), workflowID, true)
	}
	var rec *store.EventRecord
	if err == nil {
		rec, err = a.Store.GetEventByKey(ctx, ev.Source, ev.Kind, ev.Key)
	}
	if err != nil {
		return nil, classifyDBError(fmt.Errorf("persist event %s: %w", workflowID, err))
	}
	a.Log.Info("stored event", "workflow_id", workflowID, "event_id", rec.ID, "kind", ev.Kind, "on", ev.On,
		"revision", stored.Revision, "new", stored.New, "attempt", info.Attempt)
	return &PersistEventResult{ID: rec.ID, Revision: stored.Revision, New: stored.New, Latest: stored.Latest}, nil
}

// PlanEventInput is the event to plan follow-ups for.
type PlanEventInput struct {
	Event airudder.Event `json:"event"`
	// EventID is the event's row (PersistEvent's result). Planning finds the event by its workflow.
	EventID int64 `json:"event_id"`
	// Slim says Event is a slim copy of a large event: the whole one is read from the store.
	Slim bool `json:"slim,omitempty"`
}

// PlanEventFollowUps evaluates the rules in force on the event's kind and stores the follow-ups they
// decide, as PlanFollowUps does for a call. Run again, it stores nothing new.
func (a *Activities) PlanEventFollowUps(ctx context.Context, in PlanEventInput) (*PlanResult, error) {
	return a.planWith(ctx, func(set *rules.Set, stored *store.SubjectRecord) rules.Plan {
		ev := in.Event
		if in.Slim {
			ev = *stored.Event
		}
		return set.PlanEvent(ev, stored.WorkflowID, time.Now())
	})
}
