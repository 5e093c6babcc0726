// Package ingest turns verified callbacks into durable work: one Temporal workflow per call, or, when
// Temporal cannot take them, a row in the PostgreSQL inbox that the relay hands to Temporal later. It is
// the layer between the HTTP receiver (api) and Temporal; it knows nothing of HTTP.
package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/workflows"
)

// receiving counts the callbacks this process is receiving, from their arrival until they are answered
// (see Arrived): the relay yields to the receiver while it is saturated (see RunRelay).
var receiving atomic.Int64

// Arrived counts a callback as being received until done is called (when it is answered, whatever the
// answer). Reading and checking the body costs more CPU than committing it, so the count starts at the
// request, not at accept: it is what tells the relay that a burst is on.
func Arrived() (done func()) {
	receiving.Add(1)
	return func() { receiving.Add(-1) }
}

// ErrNotDurable means neither Temporal nor the inbox could take the callback: the sender must retry.
var ErrNotDurable = errors.New("the callback could not be stored durably; retry later")

var (
	startsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "rudderhook_workflow_starts_total",
		Help: "Workflow signal-with-starts for received calls, by outcome (started, failed, duplicate: a revision already processed, so nothing was started).",
	}, []string{"outcome"})
	acceptedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "rudderhook_callbacks_accepted_total",
		Help: "Callbacks made durable, by source and path (temporal, inbox).",
	}, []string{"source", "path"})
	parseNotesTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "rudderhook_parse_notes_total",
		Help: "Fields of accepted calls kept as sent but not typed (parse notes), by source and field (the spec's name, or other).",
	}, []string{"source", "field"})
	inboxDepth = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "rudderhook_inbox_depth",
		Help: "Callbacks waiting in the inbox for Temporal, as last seen by the relay.",
	})
	inboxDead = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "rudderhook_inbox_dead",
		Help: "Inbox entries that became dead letters and wait for a replay, as last seen by the relay.",
	})
	inboxOldest = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "rudderhook_inbox_oldest_seconds",
		Help: "Age of the oldest callback waiting in the inbox for Temporal, as last seen by the relay.",
	})
	ackToStart = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "rudderhook_inbox_ack_to_start_seconds",
		Help:    "From a callback's arrival to the start (or signal) of its workflows by the inbox relay.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
	})
	deadLettersTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rudderhook_inbox_dead_letters_total",
		Help: "Inbox entries that became dead letters.",
	})
)

// ExportSources makes rudderhook_callbacks_accepted_total exist, at 0, for every source and path from the
// start: an alert on a source that sent nothing for an hour then sees an increase of 0, rather than no
// series at all in a process that has received nothing since it started.
func ExportSources(sources []string) {
	for _, src := range sources {
		for _, path := range []string{"temporal", "inbox"} {
			acceptedTotal.WithLabelValues(src, path)
		}
	}
}

// Service accepts callbacks.
type Service struct {
	Temporal client.Client
	Store    *store.Store
	Sources  map[string]*config.Source
	Log      *slog.Logger
	// TaskQueue is the task queue workflows start on (TEMPORAL_TASK_QUEUE; empty: workflows.TaskQueue).
	TaskQueue string
	// StartTimeout bounds the time spent starting workflows before falling back to the inbox; it must stay
	// well under the sender's own timeout.
	StartTimeout time.Duration
	// Parallelism bounds concurrent workflow starts for one body with many calls.
	Parallelism int
	// Inbox says how the relay claims entries and when it gives one up as a dead letter.
	Inbox store.DrainOptions
	// Batcher, when set, group-commits the callbacks acknowledged from the inbox; without it each is
	// committed alone.
	Batcher *store.InboxBatcher
	// RelayConcurrency bounds the inbox entries the relay hands to Temporal at once.
	RelayConcurrency int
	// RelayStartTimeout bounds the starts of one inbox entry (default a minute: no sender waits on the
	// relay, so a body with many calls has the time to start them all).
	RelayStartTimeout time.Duration
}

// AckMode is the source's acknowledgement mode (config.AckInbox or config.AckTemporal). A source that
// does not say (one built without config.Load) answers after Temporal, as rudderhook did before the inbox
// came first.
func (s *Service) AckMode(source string) string {
	if src, ok := s.Sources[source]; ok && src.Ack != "" {
		return src.Ack
	}
	return config.AckTemporal
}

// Keep makes a verified callback body (its Sign removed) durable in the inbox, sharing a commit with
// the callbacks that arrive with it, for the relay to hand to Temporal. It works for any kind the relay
// knows how to start.
func (s *Service) Keep(ctx context.Context, source, kind string, body []byte, receivedAt time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if s.Batcher == nil {
		_, err := s.Store.AddToInbox(ctx, source, kind, body, receivedAt)
		return err
	}
	return s.Batcher.Add(ctx, store.InboxItem{Source: source, Kind: kind, Body: body, ReceivedAt: receivedAt})
}

// Callback is a verified callback body, read: the subjects it tells of (its calls; or its event and,
// for a PDS agent's call result, that call too), as received by its source, and how the inbox keeps it.
type Callback struct {
	Source string
	// Kind is the route name of the callback's kind.
	Kind       string
	ReceivedAt time.Time
	Subjects   []airudder.Subject
	// Unsigned is the body as the inbox keeps it: without its Sign, with escapes that PostgreSQL refuses
	// rewritten. Reading it again gives the same subjects, with the same digests.
	Unsigned func() ([]byte, error)
}

// Read reads a callback body of kind k with its source's settings, as received at receivedAt: the one
// way a body becomes subjects, for the receiver and the relay alike. A body from the network has its
// Sign checked first where the kind is signed, so that an unauthenticated sender learns nothing about
// validation, and is held to the source's cap on calls per body; an inbox entry, accepted already, is
// not (the cap may have been lowered since). A body that is not the kind's envelope is a
// *airudder.ValidationError, and nothing of it may be kept.
func Read(body []byte, src *config.Source, k airudder.Kind, sign SignCheck, receivedAt time.Time) (*Callback, error) {
	cb := &Callback{Source: src.Name, Kind: k.Route, ReceivedAt: receivedAt}
	if k.Calls {
		cc, err := ReadCalls(body, src, k, sign)
		if err != nil {
			return nil, err
		}
		cb.Subjects, cb.Unsigned = airudder.Subjects(cc.Received(src.Name, receivedAt), nil), cc.Unsigned
		return cb, nil
	}
	ev, err := ReadEvent(body, src, k, sign)
	if err != nil {
		return nil, err
	}
	received := ev.Received(src.Name, receivedAt)
	cb.Subjects = airudder.Subjects(nil, &received)
	cb.Unsigned = received.Unsigned
	return cb, nil
}

// Accept makes a verified, read callback durable (see accept): the workflow of each of its subjects is
// signal-started with its delivery, or the whole body (without its Sign) is kept in the inbox, from which
// the relay starts them all again (starts are idempotent). It returns ErrNotDurable only when neither
// worked.
func (s *Service) Accept(ctx context.Context, cb *Callback) error {
	countNotes(cb.Source, cb.Subjects)
	return s.accept(ctx, cb.Source, cb.Kind, cb.Unsigned, cb.ReceivedAt,
		func(ctx context.Context) error { return s.startAll(ctx, cb.Subjects) }, "subjects", len(cb.Subjects))
}

// accept makes one verified callback durable in its source's acknowledgement mode, and only then
// returns nil (the receiver answers 200):
//
//   - inbox: the body is committed to the inbox, sharing a commit with the callbacks that arrive with it,
//     and the relay hands it to Temporal; if the inbox cannot take it, it is started here;
//   - temporal: start hands it to Temporal; if that fails, the body goes to the inbox.
//
// It returns ErrNotDurable only when neither worked. It does not use the caller's cancellation: once a
// callback is being accepted, a sender that hangs up must not leave it half-accepted.
func (s *Service) accept(ctx context.Context, source, kind string, unsigned func() ([]byte, error), receivedAt time.Time,
	start func(context.Context) error, logAttrs ...any) error {
	ctx = context.WithoutCancel(ctx)
	toTemporal := func() error {
		ctx, cancel := context.WithTimeout(ctx, s.startTimeout())
		defer cancel()
		return start(ctx)
	}
	toInbox := func() error {
		body, err := unsigned()
		if err != nil {
			return err
		}
		return s.Keep(ctx, source, kind, body, receivedAt)
	}
	paths := []string{"temporal", "inbox"}
	steps := []func() error{toTemporal, toInbox}
	if s.AckMode(source) == config.AckInbox {
		slices.Reverse(paths)
		slices.Reverse(steps)
	}
	attrs := append([]any{"source", source, "kind", kind}, logAttrs...)
	err := steps[0]()
	if err == nil {
		acceptedTotal.WithLabelValues(source, paths[0]).Inc()
		return nil
	}
	s.Log.Warn("callback not made durable in "+paths[0]+"; trying "+paths[1], append(attrs, "error", err)...)
	if err2 := steps[1](); err2 != nil {
		s.Log.Error("neither Temporal nor the inbox took the callback; refusing it", append(attrs, "error", err2)...)
		return fmt.Errorf("%w: %s: %v; %s: %v", ErrNotDurable, paths[0], err, paths[1], err2)
	}
	acceptedTotal.WithLabelValues(source, paths[1]).Inc()
	return nil
}

// countNotes counts the parse notes of accepted subjects by field, named as the spec names it for a
// call (a nested path counts for its top-level field; a field the spec lacks counts as "other", so that a
// sender cannot grow the metric without bound); an event's count as "other".
func countNotes(source string, subjects []airudder.Subject) {
	for _, subj := range subjects {
		for _, n := range subj.Notes() {
			field := "other"
			if subj.IsCall() {
				field = airudder.SpecField(n.Field)
			}
			parseNotesTotal.WithLabelValues(source, field).Inc()
		}
	}
}

// startAll hands every subject's delivery to its workflow, a few at a time, except those that their
// workflows processed already (the same body again). A failed start does not cancel the others (which
// would leave a body half-started for no reason): all are tried, and the errors joined.
func (s *Service) startAll(ctx context.Context, subjects []airudder.Subject) error {
	done := s.processed(ctx, subjects)
	var g errgroup.Group
	g.SetLimit(max(1, s.Parallelism))
	errs := make([]error, len(subjects))
	for i, subj := range subjects {
		if done[delivery(subj)] {
			startsTotal.WithLabelValues("duplicate").Inc()
			continue
		}
		g.Go(func() error {
			errs[i] = s.start(ctx, subj)
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

// start hands one delivery of a subject to its workflow: a signal to the open run, or a new run
// (SignalWithStart). A large subject is stored first, and its workflow gets a slim copy.
func (s *Service) start(ctx context.Context, subj airudder.Subject) error {
	id := workflows.SubjectWorkflowID(subj)
	in := workflows.NewSubjectInput(subj, false)
	if subj.Large() {
		// Too large for Temporal's payloads: store it now and hand the workflow a slim copy.
		if _, err := s.Store.StoreRevision(ctx, subj, id, false); err != nil {
			return fmt.Errorf("store large subject %s: %w", id, err)
		}
		in = workflows.NewSubjectInput(subj.Slim(), true)
	}
	run, err := s.Temporal.SignalWithStartWorkflow(ctx, id, workflows.SignalRevision, in, workflows.SubjectStartOptions(subj, s.TaskQueue), workflows.SubjectWorkflow, in)
	if err != nil {
		startsTotal.WithLabelValues("failed").Inc()
		return fmt.Errorf("start workflow %s: %w", id, err)
	}
	startsTotal.WithLabelValues("started").Inc()
	s.Log.Debug("workflow signalled", "workflow_id", run.GetID(), "run_id", run.GetRunID(), "digest", subj.Digest())
	return nil
}

// delivery names one delivery of a subject for the store.
func delivery(subj airudder.Subject) store.Delivery {
	return store.Delivery{WorkflowID: workflows.SubjectWorkflowID(subj), Digest: subj.Digest()}
}

// processed returns the deliveries among subjects that their workflows have processed, in one query.
// When PostgreSQL cannot say within a second, it returns none: signalling is still safe, as the workflow
// and the store dedupe by digest.
func (s *Service) processed(ctx context.Context, subjects []airudder.Subject) map[store.Delivery]bool {
	if len(subjects) == 0 {
		return nil
	}
	ds := make([]store.Delivery, len(subjects))
	for i, subj := range subjects {
		ds[i] = delivery(subj)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	done, err := s.Store.ProcessedDeliveries(ctx, ds)
	if err != nil {
		s.Log.Debug("revision lookup failed; signalling the workflows anyway", "error", err)
	}
	return done
}

func (s *Service) startTimeout() time.Duration { return cmp.Or(s.StartTimeout, 5*time.Second) }

// RunRelay hands inbox entries to Temporal until ctx ends: at once when wake receives (a commit to the
// inbox was notified), at once again while it finds work, and every interval in any case (polling is
// the fallback when notifications are lost). wake may be nil. Relays in several processes share the work:
// each claims entries that the others have not.
func (s *Service) RunRelay(ctx context.Context, interval time.Duration, wake <-chan struct{}) {
	s.Log.Info("inbox relay started", "interval", interval, "notified", wake != nil, "concurrency", s.relayConcurrency())
	timer := time.NewTimer(0)
	defer timer.Stop()
	var counted time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-wake:
		}
		s.yieldToReceiver(ctx)
		res, err := s.RelayOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.Log.Warn("inbox relay pass failed", "error", err)
		}
		if time.Since(counted) > time.Second { // the gauges need not cost a query per pass
			counted = time.Now()
			if st, err := s.Store.InboxStatus(ctx); err == nil {
				inboxDepth.Set(float64(st.Pending))
				inboxDead.Set(float64(st.Dead))
				inboxOldest.Set(st.OldestAge(counted).Seconds())
			}
		}
		if res.Done > 0 { // Reset drops a tick that came during the pass (Go 1.23 timers)
			timer.Reset(0)
		} else {
			timer.Reset(interval)
		}
	}
}

// yieldToReceiver waits, up to a second, while more callbacks are being accepted in this process than
// the relay starts at once: in a burst the acknowledgements come first (the sender waits on them; its
// timeout is what loses callbacks), and the workflow starts, which share the machine's CPU through
// Temporal and the worker, catch up a moment later. Outside bursts it does not wait at all.
func (s *Service) yieldToReceiver(ctx context.Context) {
	for deadline := time.Now().Add(time.Second); receiving.Load() > int64(s.relayConcurrency()) && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s *Service) relayConcurrency() int { return max(1, s.RelayConcurrency) }

// RelayOnce hands one batch of due inbox entries to Temporal and says how many it handed over, how
// many failed (to be retried) and how many became dead letters.
func (s *Service) RelayOnce(ctx context.Context) (store.DrainResult, error) {
	opts := s.Inbox
	opts.Concurrency = s.relayConcurrency()
	if opts.Limit == 0 {
		opts.Limit = 4 * opts.Concurrency
	}
	res, err := s.Store.DrainInbox(ctx, opts, func(ctx context.Context, e store.InboxEntry) error {
		src, ok := s.Sources[e.Source]
		if !ok {
			return store.Permanent(fmt.Errorf("inbox entry %d: source %q is no longer configured", e.ID, e.Source))
		}
		k, ok := src.Kind(e.Kind)
		if !ok {
			return store.Permanent(fmt.Errorf("inbox entry %d: source %q takes no kind %q (any more)", e.ID, e.Source, e.Kind))
		}
		// Read again with the source's settings (verified when it was received); a body that does not
		// read never will.
		cb, err := Read(e.Body, src, k, AlreadyVerified, e.ReceivedAt)
		if err != nil {
			return store.Permanent(fmt.Errorf("inbox entry %d: %w", e.ID, err))
		}
		startCtx, cancel := context.WithTimeout(ctx, cmp.Or(s.RelayStartTimeout, time.Minute))
		defer cancel()
		if err := s.startAll(startCtx, cb.Subjects); err != nil {
			return err
		}
		ackToStart.Observe(time.Since(e.ReceivedAt).Seconds())
		s.Log.Debug("inbox entry handed to Temporal", "inbox_id", e.ID, "source", e.Source, "kind", e.Kind, "attempts", e.Attempts)
		return nil
	})
	if res.Dead > 0 {
		deadLettersTotal.Add(float64(res.Dead))
		s.Log.Error("inbox entries became dead letters; list them with GET /v1/inbox?state=dead and replay after a fix",
			"count", res.Dead)
	}
	return res, err
}

// SignCheck says whether reading a body checks its Sign.
type SignCheck bool

const (
	// VerifySign is for a body from the network: the Sign is checked before any field is looked at, so
	// that an unauthenticated sender learns nothing about validation.
	VerifySign SignCheck = true
	// AlreadyVerified is for a body the receiver verified before keeping it (an inbox entry).
	AlreadyVerified SignCheck = false
)

// UnverifiedError is what reading a body from the network (VerifySign) met before the body's Sign was
// verified: it is not JSON or not an object, or its Sign is missing or wrong. Nothing says who sent it, so
// the receiver charges it to the client's address rather than to the source's rate. It wraps the error
// that says why (an *airudder.SyntaxError, airudder.ErrInvalidSign, …).
type UnverifiedError struct{ Err error }

func (e *UnverifiedError) Error() string { return e.Err.Error() }
func (e *UnverifiedError) Unwrap() error { return e.Err }

// decode decodes a body and, when verify is set, checks its Sign against the source's keys; an error on
// the way is then an *UnverifiedError.
func decode(body []byte, src *config.Source, verify bool) (*airudder.Document, error) {
	doc, err := airudder.Decode(body)
	if err == nil && verify {
		taskID, s := doc.Signed()
		err = airudder.VerifySign(taskID, s, src.Keys)
	}
	if err != nil && verify {
		return nil, &UnverifiedError{Err: err}
	}
	return doc, err
}

// ReadCallCompleted reads a call-completion body with its source's settings (see ReadCalls).
func ReadCallCompleted(body []byte, src *config.Source, sign SignCheck) (*airudder.CallCompleted, error) {
	k, _ := airudder.KindByRoute(airudder.KindCallCompleted)
	return ReadCalls(body, src, k, sign)
}

// ReadCalls reads a body of a kind that carries calls (call completion, info check) with its source's
// settings, for Read (and for tools that want the calls themselves).
func ReadCalls(body []byte, src *config.Source, k airudder.Kind, sign SignCheck) (*airudder.CallCompleted, error) {
	doc, err := decode(body, src, sign == VerifySign)
	if err != nil {
		return nil, err
	}
	opts := src.ParseOptions()
	if sign != VerifySign {
		opts.MaxCalls = 0
	}
	return k.ReadCalls(doc, opts)
}

// ReadEvent reads a body of a kind that carries no calls with its source's settings, for Read: the Sign
// first where the kind is signed and the body comes from the network.
func ReadEvent(body []byte, src *config.Source, k airudder.Kind, sign SignCheck) (*airudder.Event, error) {
	doc, err := decode(body, src, k.Signed && sign == VerifySign)
	if err != nil {
		return nil, err
	}
	return k.ReadEvent(doc, src.ParseOptions())
}
