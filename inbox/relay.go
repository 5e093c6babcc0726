// Package inbox keeps callbacks in the PostgreSQL inbox until their workflows start, and starts them:
// the receivers' group commit (Batcher), the wake-up on each commit (Listen), and the relay (Relay), which
// claims due entries under a lease that it extends while it works, starts them a few at a time, yields
// to a saturated receiver, retries with a backoff and gives an entry up as a dead letter after its
// attempts or its age.
//
// The relay of a process starts what that process's receivers committed from what they read of it (kept
// in memory, bounded; see KeptOptions), so that a callback is read once in a process; an entry that it
// does not hold (kept by another replica, before a restart, or evicted) it reads from its body.
//
// Its SQL is store's; what reading and starting an entry mean is its Starter's (ingest.Service). It
// imports store and no other package of rudderhook's: never ingest or workflows.
package inbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/errgroup"

	"github.com/rudderhook/rudderhook/store"
)

var (
	depthGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "rudderhook_inbox_depth",
		Help: "Callbacks waiting in the inbox for Temporal, as last seen by the relay.",
	})
	deadGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "rudderhook_inbox_dead",
		Help: "Inbox entries that became dead letters and wait for a replay, as last seen by the relay.",
	})
	oldestGauge = promauto.NewGauge(prometheus.GaugeOpts{
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
	relayedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "rudderhook_inbox_relayed_total",
		Help: "Inbox entries the relay took up, by who read their body: this process's receiver (the relay starts from what it read, kept in memory) or the relay itself (an entry kept by another replica, before a restart, or no longer in memory).",
	}, []string{"read_by"})
)

// Starter reads and starts inbox entries for a relay: ingest.Service is the one in use. T is what
// reading a body gives.
type Starter[T any] interface {
	// ReadEntry reads the body of an entry that no receiver of this process handed to the relay. Reading
	// does not depend on time or load, so an error is permanent: the entry becomes a dead letter.
	ReadEntry(e store.InboxEntry) (T, error)
	// StartEntry starts the workflows of an entry from what was read of its body (by this process's
	// receiver, or by ReadEntry). An error is retried after a backoff.
	StartEntry(ctx context.Context, e store.InboxEntry, read T) error
}

// Options say how a relay keeps, claims, starts and gives up on inbox entries.
type Options struct {
	// Concurrency is how many entries the relay starts at once (RUDDERHOOK_RELAY_CONCURRENCY; default 1).
	Concurrency int
	// Limit is how many entries one pass claims (default 4 × Concurrency).
	Limit int
	// Lease is how long a claimed entry stays with the pass before others may claim it (default a minute);
	// the pass extends it every Lease/3 while it works, so a batch of slow entries is never claimed twice
	// at once.
	Lease time.Duration
	// MaxAttempts and MaxAge bound the retries of an entry before it becomes a dead letter
	// (RUDDERHOOK_INBOX_MAX_ATTEMPTS, RUDDERHOOK_INBOX_MAX_AGE; defaults 100 and 72 h). Its age counts
	// from its arrival, or from its last replay.
	MaxAttempts int
	MaxAge      time.Duration
	// StartTimeout bounds the start of one entry (default a minute: no sender waits on the relay, so a
	// body with many calls has the time to start them all).
	StartTimeout time.Duration
	// Receiving says how many callbacks this process is receiving. While that is more than Concurrency,
	// the relay waits, up to a second, before each pass; nil: it never waits.
	Receiving func() int64
	// Batch, when set, group-commits what Keep is given (see Batcher); without it each is committed alone.
	Batch *BatchOptions
	// Kept bounds what the relay keeps of what its receivers read.
	Kept KeptOptions
	Log  *slog.Logger
}

func (o Options) withDefaults() Options {
	o.Concurrency = positiveOr(o.Concurrency, 1)
	o.Limit = positiveOr(o.Limit, 4*o.Concurrency)
	o.Lease = positiveOr(o.Lease, time.Minute)
	o.MaxAttempts = positiveOr(o.MaxAttempts, 100)
	o.MaxAge = positiveOr(o.MaxAge, 72*time.Hour)
	o.StartTimeout = positiveOr(o.StartTimeout, time.Minute)
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// Relay keeps callbacks in the inbox (Keep) and hands them to Temporal (Run, RelayOnce). Relays in several
// processes share the work: each claims entries that the others have not.
type Relay[T any] struct {
	store   *store.Store
	starter Starter[T]
	opts    Options
	batcher *Batcher
	kept    *kept[T]
	// readByReceiver and readByRelay count the entries taken up, by who read their body (see Stats).
	readByReceiver, readByRelay atomic.Int64
}

// Stats are how many entries a relay took up, by who read their body: this process's receiver (kept in
// memory for the relay), or the relay itself (from the entry).
type Stats struct {
	ReadByReceiver, ReadByRelay int64
}

// Stats says how many entries r took up, by who read their body.
func (r *Relay[T]) Stats() Stats {
	return Stats{ReadByReceiver: r.readByReceiver.Load(), ReadByRelay: r.readByRelay.Load()}
}

// NewRelay makes the relay of one process; Close stops its batcher.
func NewRelay[T any](st *store.Store, starter Starter[T], opts Options) *Relay[T] {
	opts = opts.withDefaults()
	r := &Relay[T]{store: st, starter: starter, opts: opts, kept: newKept[T](opts.Kept)}
	if opts.Batch != nil {
		r.batcher = NewBatcher(st, *opts.Batch)
	}
	return r
}

// Close commits what Keep was given and stops the batcher.
func (r *Relay[T]) Close() {
	if r.batcher != nil {
		r.batcher.Close()
	}
}

// Batcher is the relay's group commit (nil without Options.Batch).
func (r *Relay[T]) Batcher() *Batcher { return r.batcher }

// Keep commits item to the inbox (in a group commit, with Options.Batch) and keeps read, what the
// receiver read of its body, for this relay, which then starts the entry from it rather than reading the
// body again. It returns the entry's ID once the entry is durable. (The relay may claim the entry between
// its commit and the moment it is kept, woken by the commit's notification: it then reads the body, as
// it does for an entry of another process.)
func (r *Relay[T]) Keep(ctx context.Context, item store.InboxItem, read T) (int64, error) {
	var id int64
	var err error
	if r.batcher != nil {
		id, err = r.batcher.Add(ctx, item)
	} else {
		id, err = r.store.AddToInbox(ctx, item.Source, item.Kind, item.Body, item.ReceivedAt)
	}
	if err != nil {
		return 0, err
	}
	r.kept.put(id, read, len(item.Body))
	return id, nil
}

// Run hands inbox entries to Temporal until ctx ends: at once when wake receives (a commit to the inbox
// was notified; see Listen), at once again while it finds work, and every interval in any case (polling
// is the fallback when notifications are lost). wake may be nil.
func (r *Relay[T]) Run(ctx context.Context, interval time.Duration, wake <-chan struct{}) {
	r.opts.Log.Info("inbox relay started", "interval", interval, "notified", wake != nil, "concurrency", r.opts.Concurrency)
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
		r.yieldToReceiver(ctx)
		res, err := r.RelayOnce(ctx)
		if err != nil && ctx.Err() == nil {
			r.opts.Log.Warn("inbox relay pass failed", "error", err)
		}
		if time.Since(counted) > time.Second { // the gauges need not cost a query per pass
			counted = time.Now()
			if st, err := r.store.InboxStatus(ctx); err == nil {
				depthGauge.Set(float64(st.Pending))
				deadGauge.Set(float64(st.Dead))
				oldestGauge.Set(st.OldestAge(counted).Seconds())
			}
		}
		if res.Done > 0 { // Reset drops a tick that came during the pass (Go 1.23 timers)
			timer.Reset(0)
		} else {
			timer.Reset(interval)
		}
	}
}

// yieldToReceiver waits, up to a second, while more callbacks are being received in this process than
// the relay starts at once: in a burst the acknowledgements come first (the sender waits on them; its
// timeout is what loses callbacks), and the workflow starts, which share the machine's CPU through
// Temporal and the worker, catch up a moment later. Outside bursts it does not wait at all.
func (r *Relay[T]) yieldToReceiver(ctx context.Context) {
	if r.opts.Receiving == nil {
		return
	}
	for deadline := time.Now().Add(time.Second); r.opts.Receiving() > int64(r.opts.Concurrency) && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Result says what a relay pass did: how many entries it handed over, how many failed (to be retried)
// and how many became dead letters.
type Result struct {
	Done, Failed, Dead int
}

// claimed is an entry of a pass, and what the receiver of this process read of it, if it kept that.
type claimed[T any] struct {
	store.InboxEntry
	read T
	kept bool
}

// RelayOnce leases up to Options.Limit due entries and starts them, Options.Concurrency at a time,
// extending their lease while it works. An entry that starts is deleted; one that fails is retried after
// a backoff that grows with its attempts, up to five minutes, until it becomes a dead letter (see
// Options).
func (r *Relay[T]) RelayOnce(ctx context.Context) (Result, error) {
	var res Result
	r.kept.expire()
	owner := leaseOwner()
	entries, err := r.store.ClaimInbox(ctx, r.opts.Limit, r.opts.Lease, owner)
	if err != nil || len(entries) == 0 {
		return res, err
	}
	batch := make([]claimed[T], len(entries))
	var unread []int64
	for i, e := range entries {
		batch[i].InboxEntry = e
		if batch[i].read, batch[i].kept = r.kept.get(e.ID); !batch[i].kept {
			unread = append(unread, e.ID)
		}
	}
	var mu sync.Mutex
	pending := make(map[int64]bool, len(entries))
	for _, e := range entries {
		pending[e.ID] = true
	}
	stop := r.keepLeased(ctx, owner, func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		ids := make([]int64, 0, len(pending))
		for id := range pending {
			ids = append(ids, id)
		}
		return ids
	})
	defer stop()
	var bodies map[int64][]byte
	var bodiesErr error
	if len(unread) > 0 {
		bodies, bodiesErr = r.store.InboxBodies(ctx, unread, owner)
	}
	var g errgroup.Group
	g.SetLimit(r.opts.Concurrency)
	for _, c := range batch {
		g.Go(func() error {
			herr := r.handle(ctx, c, bodies, bodiesErr)
			mu.Lock()
			delete(pending, c.ID)
			mu.Unlock()
			outcome, err := r.settle(ctx, owner, c.InboxEntry, herr)
			mu.Lock()
			defer mu.Unlock()
			switch outcome {
			case store.InboxPending:
				res.Failed++
			case store.InboxDead:
				res.Dead++
			case "":
				res.Done++
			}
			return err
		})
	}
	err = g.Wait()
	if res.Dead > 0 {
		deadLettersTotal.Add(float64(res.Dead))
		r.opts.Log.Error("inbox entries became dead letters; list them with GET /v1/inbox?state=dead and replay after a fix",
			"count", res.Dead)
	}
	return res, err
}

// handle starts one claimed entry: from what this process's receiver read of it, or else from its body,
// read again (bodies, read for the pass; bodiesErr, why they could not be).
func (r *Relay[T]) handle(ctx context.Context, c claimed[T], bodies map[int64][]byte, bodiesErr error) error {
	read := c.read
	if c.kept {
		relayedTotal.WithLabelValues("receiver").Inc()
		r.readByReceiver.Add(1)
	} else {
		body, ok := bodies[c.ID]
		if !ok {
			if bodiesErr == nil {
				bodiesErr = errors.New("its lease went to another relay")
			}
			return fmt.Errorf("inbox entry %d: read its body: %w", c.ID, bodiesErr)
		}
		c.Body = body
		var err error
		if read, err = r.starter.ReadEntry(c.InboxEntry); err != nil {
			// A body that does not read never will (it was read before it was kept): a dead letter.
			return permanentError{fmt.Errorf("inbox entry %d: %w", c.ID, err)}
		}
		relayedTotal.WithLabelValues("relay").Inc()
		r.readByRelay.Add(1)
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.StartTimeout)
	defer cancel()
	if err := r.starter.StartEntry(ctx, c.InboxEntry, read); err != nil {
		return err
	}
	ackToStart.Observe(time.Since(c.ReceivedAt).Seconds())
	r.opts.Log.Debug("inbox entry handed to Temporal", "inbox_id", c.ID, "source", c.Source, "kind", c.Kind,
		"attempts", c.Attempts, "read_by_receiver", c.kept)
	return nil
}

// permanentError marks a failure that no retry can fix: the entry becomes a dead letter at once, to be
// replayed after a fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// settle records what handling an entry came to: deleted when herr is nil (outcome ""), else due again
// later (store.InboxPending) or a dead letter (store.InboxDead). What the receiver read of an entry is
// forgotten once the entry is handed over or dead; an entry to be retried keeps it.
func (r *Relay[T]) settle(ctx context.Context, owner string, e store.InboxEntry, herr error) (outcome string, err error) {
	if herr == nil {
		r.kept.forget(e.ID)
		if err := r.store.DeleteInboxEntry(ctx, e.ID, owner); err != nil {
			return "error", err
		}
		return "", nil
	}
	var pe permanentError
	state, err := r.store.FailInboxEntry(ctx, e.ID, owner, store.InboxFailure{
		Error: herr.Error(), Permanent: errors.As(herr, &pe), MaxAttempts: r.opts.MaxAttempts, MaxAge: r.opts.MaxAge,
		Backoff: min(time.Duration(1<<min(e.Attempts-1, 8))*time.Second, 5*time.Minute),
	})
	if err != nil {
		return "error", err
	}
	if state == store.InboxDead {
		r.kept.forget(e.ID)
		return store.InboxDead, nil
	}
	return store.InboxPending, nil
}

// keepLeased extends the lease of the entries ids() returns every Lease/3 until the returned stop is
// called.
func (r *Relay[T]) keepLeased(ctx context.Context, owner string, ids func() []int64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.opts.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// A failed extension is tried again at the next tick; a lease that does run out only means
				// that another relay may start the same (idempotent) workflows.
				_ = r.store.ExtendInboxLease(ctx, ids(), owner, r.opts.Lease)
			}
		}
	}()
	return func() { cancel(); <-done }
}

func leaseOwner() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
