package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/workflows"
)

// AcceptEvent makes a verified, parsed event durable as AcceptCallCompleted does for calls (see accept):
// its workflow (event/{source}/{kind}/{key}) is signal-started with its revision, with the workflow of the
// call it carries, if any (a PDS agent's call result), or its body (without its Sign) is kept in the inbox
// under its kind, for the relay. It returns ErrNotDurable only when neither worked.
func (s *Service) AcceptEvent(ctx context.Context, source string, ev *airudder.Event, receivedAt time.Time) error {
	e := ev.Received(source, receivedAt)
	if len(e.Notes) > 0 {
		parseNotesTotal.WithLabelValues(source, "other").Add(float64(len(e.Notes)))
	}
	return s.accept(ctx, source, e.Kind, func() ([]byte, error) { return e.Raw, nil }, receivedAt,
		func(ctx context.Context) error { return s.startEvent(ctx, e) })
}

// startEvent hands one revision of an event to its workflow, unless PostgreSQL says it was processed
// already, and the call it carries to the call's workflow. A large event is stored first, and its
// workflow gets a slim copy.
func (s *Service) startEvent(ctx context.Context, ev airudder.Event) error {
	if ev.Call != nil {
		if err := s.startAll(ctx, []airudder.ReceivedCall{*ev.Call}); err != nil {
			return err
		}
	}
	lookupCtx, cancel := context.WithTimeout(ctx, time.Second)
	done, err := s.Store.EventProcessed(lookupCtx, ev.Source, ev.Kind, ev.Key, ev.Digest)
	cancel()
	if err != nil {
		s.Log.Debug("revision lookup failed; signalling the workflow anyway", "source", ev.Source, "error", err)
	}
	if done {
		startsTotal.WithLabelValues("duplicate").Inc()
		return nil
	}
	id := workflows.EventWorkflowIDOf(ev)
	in := workflows.EventInput{Event: ev}
	if ev.Large() {
		if _, _, err := s.Store.StoreEvent(ctx, store.EventRecord{Event: ev, WorkflowID: id}, false); err != nil {
			return fmt.Errorf("store large event %s: %w", id, err)
		}
		in = workflows.EventInput{Event: ev.Slim(), Slim: true}
	}
	run, err := s.Temporal.SignalWithStartWorkflow(ctx, id, workflows.SignalRevision, in, workflows.EventStartOptions(ev, s.TaskQueue), workflows.EventWorkflow, in)
	if err != nil {
		startsTotal.WithLabelValues("failed").Inc()
		return fmt.Errorf("start workflow for event %s: %w", id, err)
	}
	startsTotal.WithLabelValues("started").Inc()
	s.Log.Debug("workflow signalled", "workflow_id", run.GetID(), "run_id", run.GetRunID(), "digest", ev.Digest)
	return nil
}

// relayStart reads an inbox entry (verified when it was received) with its source's settings and returns
// what hands it to Temporal: the starts of its calls, or of its event. A body that does not read is an
// error: it never will.
func (s *Service) relayStart(e store.InboxEntry, src *config.Source, k airudder.Kind) (func(context.Context) error, error) {
	if k.Calls {
		cc, err := ReadCalls(e.Body, src, k, AlreadyVerified)
		if err != nil {
			return nil, err
		}
		calls := cc.Received(e.Source, e.ReceivedAt)
		return func(ctx context.Context) error { return s.startAll(ctx, calls) }, nil
	}
	ev, err := ReadEvent(e.Body, src, k, AlreadyVerified)
	if err != nil {
		return nil, err
	}
	received := ev.Received(e.Source, e.ReceivedAt)
	return func(ctx context.Context) error { return s.startEvent(ctx, received) }, nil
}
