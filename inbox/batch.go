package inbox

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/rudderhook/rudderhook/store"
)

var (
	batchesTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rudderhook_inbox_batches_total", Help: "Group commits of callbacks acknowledged from the inbox.",
	})
	batchedTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rudderhook_inbox_batched_callbacks_total", Help: "Callbacks committed by those group commits.",
	})
)

// BatchOptions bound a group commit.
type BatchOptions struct {
	// MaxWait is how long the first item of a batch waits for others before the batch commits.
	MaxWait time.Duration
	// MaxBatch is the most items one commit takes.
	MaxBatch int
	// MaxBytes is the most body bytes one commit takes (default 4 MiB); an item larger than that commits
	// alone. Without it, a burst of large bodies (up to a source's max_body_bytes each) would make one
	// statement of hundreds of MiB, which costs the memory of it twice over (its bodies are sent as hex)
	// and, past PostgreSQL's 1 GB limit on a parameter, fails every callback that shares it.
	MaxBytes int
	// Committers is how many batches may commit at once (each holds a connection).
	Committers int
	// CommitTimeout bounds one commit. Keep it under what callers wait (ingest gives them 5 s), so that a
	// slow database fails a batch before its callers give up on it and take another path.
	CommitTimeout time.Duration
}

func (o BatchOptions) withDefaults() BatchOptions {
	o.MaxWait = positiveOr(o.MaxWait, 2*time.Millisecond)
	o.MaxBatch = positiveOr(o.MaxBatch, 128)
	o.MaxBytes = positiveOr(o.MaxBytes, 4<<20)
	o.Committers = positiveOr(o.Committers, 4)
	o.CommitTimeout = positiveOr(o.CommitTimeout, 4*time.Second)
	return o
}

func positiveOr[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Batcher commits inbox items in groups: concurrent callers share one multi-row INSERT, so that a burst
// costs one commit (one fsync) per batch rather than one per callback. Each caller waits for the commit
// of its own batch and gets its outcome: its entry's ID, or the error that failed every item of the batch.
type Batcher struct {
	store   *store.Store
	opts    BatchOptions
	items   chan *batchItem
	slots   chan struct{}
	done    chan struct{}
	closing sync.Once
	// mu guards closed: Add sends under the read lock, Close sets closed under the write lock, so that no
	// item is queued after the loop drained the queue for the last time.
	mu      sync.RWMutex
	closed  bool
	wg      sync.WaitGroup
	batches atomic.Int64
	rows    atomic.Int64
}

type batchItem struct {
	store.InboxItem
	result chan batchResult
}

type batchResult struct {
	id  int64
	err error
}

// ErrBatcherClosed is what Add answers once the batcher is closed.
var ErrBatcherClosed = errors.New("the inbox batcher is closed")

// NewBatcher starts a batcher; Close stops it.
func NewBatcher(st *store.Store, opts BatchOptions) *Batcher {
	opts = opts.withDefaults()
	b := &Batcher{
		store: st, opts: opts,
		items: make(chan *batchItem, opts.MaxBatch*opts.Committers),
		slots: make(chan struct{}, opts.Committers),
		done:  make(chan struct{}),
	}
	b.wg.Go(b.loop)
	return b
}

// Add keeps item durably: it returns the item's entry ID once its batch committed. When ctx ends first,
// Add returns its error, and the item may or may not commit (a retried callback is deduplicated
// downstream).
func (b *Batcher) Add(ctx context.Context, item store.InboxItem) (int64, error) {
	it := &batchItem{InboxItem: item, result: make(chan batchResult, 1)}
	if err := b.enqueue(ctx, it); err != nil {
		return 0, err
	}
	select {
	case r := <-it.result:
		return r.id, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (b *Batcher) enqueue(ctx context.Context, it *batchItem) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrBatcherClosed
	}
	select {
	case b.items <- it: // the loop runs until closed is set, so a full queue empties
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats are how many batches committed and how many items they held.
func (b *Batcher) Stats() (batches, rows int64) { return b.batches.Load(), b.rows.Load() }

// Close commits what is queued and stops the batcher.
func (b *Batcher) Close() {
	b.closing.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		close(b.done)
	})
	b.wg.Wait()
}

// loop gathers items into batches: a batch starts with the first item that arrives and commits as soon
// as one of Committers is free, or when it is full (MaxBatch items or MaxBytes), or MaxWait after it
// started. Under a light load an item commits at once, alone; while every committer is busy the next
// batch fills, so batches grow with the load and the commit rate stays bounded. An item that would take a
// batch over MaxBytes starts the next one.
func (b *Batcher) loop() {
	var next *batchItem
	for {
		first := next
		next = nil
		if first == nil {
			select {
			case first = <-b.items:
			case <-b.done:
				b.drain()
				return
			}
		}
		var bt batch
		bt.add(first, b.opts)
		timer := time.NewTimer(b.opts.MaxWait)
		slot := false
	gather:
		for !bt.full(b.opts) {
			select {
			case it := <-b.items:
				if !bt.add(it, b.opts) {
					next = it
					break gather
				}
			case b.slots <- struct{}{}:
				slot = true
				break gather
			case <-timer.C:
				break gather
			case <-b.done:
				break gather
			}
		}
		timer.Stop()
		if !slot {
			b.slots <- struct{}{} // full or waited long enough: the next free committer takes it
		}
		b.wg.Go(func() {
			defer func() { <-b.slots }()
			b.commit(bt.items)
		})
	}
}

// drain commits whatever is still queued when the batcher closes, in batches bounded as the loop's are.
func (b *Batcher) drain() {
	var next *batchItem
	for {
		var bt batch
		if next != nil {
			bt.add(next, b.opts)
			next = nil
		}
	take:
		for !bt.full(b.opts) {
			select {
			case it := <-b.items:
				if !bt.add(it, b.opts) {
					next = it
					break take
				}
			default:
				break take
			}
		}
		if len(bt.items) == 0 {
			return
		}
		b.commit(bt.items)
	}
}

// batch is a batch being gathered: its items and how many body bytes they hold.
type batch struct {
	items []*batchItem
	bytes int
}

// full says whether the batch takes no more items: it has MaxBatch of them, or MaxBytes.
func (bt *batch) full(o BatchOptions) bool {
	return len(bt.items) >= o.MaxBatch || bt.bytes >= o.MaxBytes
}

// add adds it to the batch, unless that would take a batch that holds something over MaxBytes: then it
// reports false, and it starts the next batch. The first item is always taken, however large, so a body
// over the bound commits alone.
func (bt *batch) add(it *batchItem, o BatchOptions) bool {
	if len(bt.items) > 0 && bt.bytes+len(it.Body) > o.MaxBytes {
		return false
	}
	bt.items = append(bt.items, it)
	bt.bytes += len(it.Body)
	return true
}

func (b *Batcher) commit(batch []*batchItem) {
	items := make([]store.InboxItem, len(batch))
	for i, it := range batch {
		items[i] = it.InboxItem
	}
	// The callers' deadlines are their own; the commit gets a bound of its own, so that one caller
	// giving up does not fail the others.
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.CommitTimeout)
	defer cancel()
	ids, err := b.store.AddToInboxBatch(ctx, items)
	if err == nil {
		b.batches.Add(1)
		b.rows.Add(int64(len(batch)))
		batchesTotal.Inc()
		batchedTotal.Add(float64(len(batch)))
	}
	for i, it := range batch {
		r := batchResult{err: err}
		if err == nil {
			r.id = ids[i]
		}
		it.result <- r
	}
}
