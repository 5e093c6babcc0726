package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
)

// InboxChannel is the PostgreSQL notification channel that a commit to the inbox notifies, so that
// relays listening on it start the workflows at once instead of at their next poll.
const InboxChannel = "rudderhook_inbox"

// insertInboxBatchSQL commits a whole batch in one statement (one transaction, one WAL flush) and
// notifies the relays in it: PostgreSQL delivers the notification when, and only if, the rows commit.
const insertInboxBatchSQL = `WITH added AS (
  INSERT INTO inbox (source, kind, body, received_at)
  SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::timestamptz[])
  RETURNING id)
SELECT pg_notify('` + InboxChannel + `', count(*)::text) FROM added`

// InboxItem is one callback body to keep in the inbox (its Sign removed).
type InboxItem struct {
	Source     string
	Kind       string
	Body       []byte
	ReceivedAt time.Time
}

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

// InboxBatcher commits inbox items in groups: concurrent callers share one multi-row INSERT, so that a
// burst costs one commit (one fsync) per batch rather than one per callback. Each caller waits for the
// commit of its own batch and gets its outcome: a failed commit fails every item of the batch.
type InboxBatcher struct {
	store   *Store
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
	InboxItem
	result chan error
}

// ErrBatcherClosed is what Add answers once the batcher is closed.
var ErrBatcherClosed = errors.New("the inbox batcher is closed")

// NewInboxBatcher starts a batcher; Close stops it.
func (s *Store) NewInboxBatcher(opts BatchOptions) *InboxBatcher {
	opts = opts.withDefaults()
	b := &InboxBatcher{
		store: s, opts: opts,
		items: make(chan *batchItem, opts.MaxBatch*opts.Committers),
		slots: make(chan struct{}, opts.Committers),
		done:  make(chan struct{}),
	}
	b.wg.Go(b.loop)
	return b
}

// Add keeps item durably: it returns nil once the item's batch committed. When ctx ends first, Add
// returns its error, and the item may or may not commit (a retried callback is deduplicated downstream).
func (b *InboxBatcher) Add(ctx context.Context, item InboxItem) error {
	it := &batchItem{InboxItem: item, result: make(chan error, 1)}
	if err := b.enqueue(ctx, it); err != nil {
		return err
	}
	select {
	case err := <-it.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *InboxBatcher) enqueue(ctx context.Context, it *batchItem) error {
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
func (b *InboxBatcher) Stats() (batches, rows int64) { return b.batches.Load(), b.rows.Load() }

// Close commits what is queued and stops the batcher.
func (b *InboxBatcher) Close() {
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
func (b *InboxBatcher) loop() {
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
func (b *InboxBatcher) drain() {
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

func (b *InboxBatcher) commit(batch []*batchItem) {
	sources := make([]string, len(batch))
	kinds := make([]string, len(batch))
	bodies := make([][]byte, len(batch))
	times := make([]string, len(batch))
	for i, it := range batch {
		sources[i], kinds[i], bodies[i] = it.Source, it.Kind, it.Body
		times[i] = it.ReceivedAt.UTC().Format(time.RFC3339Nano)
	}
	// The callers' deadlines are their own; the commit gets a bound of its own, so that one caller
	// giving up does not fail the others.
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.CommitTimeout)
	defer cancel()
	var n string
	err := b.store.db.GetContext(ctx, &n, insertInboxBatchSQL, pq.Array(sources), pq.Array(kinds), pq.ByteaArray(bodies), pq.Array(times))
	if err != nil {
		err = fmt.Errorf("add %d callbacks to the inbox: %w", len(batch), err)
	} else {
		b.batches.Add(1)
		b.rows.Add(int64(len(batch)))
	}
	for _, it := range batch {
		it.result <- err
	}
}

// ListenInbox wakes the relay: the returned channel receives whenever the inbox channel is notified, and
// also when the listening connection is (re)established, since notifications sent while it was down are
// lost. Several notifications while the relay is busy come as one. It stops when ctx ends; polling stays
// the relay's fallback, so a listener that cannot connect only makes the relay slower.
func ListenInbox(ctx context.Context, dsn string, log *slog.Logger) <-chan struct{} {
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	l := pq.NewListener(dsn, 100*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventConnected, pq.ListenerEventReconnected:
			poke()
		case pq.ListenerEventConnectionAttemptFailed, pq.ListenerEventDisconnected:
			log.Warn("inbox listener disconnected; the relay polls until it is back", "error", err)
		}
	})
	go func() {
		defer l.Close()
		// Listen blocks until the listener has a connection: here, so that a database down at start
		// delays the notifications, not the start.
		if err := l.Listen(InboxChannel); err != nil && !errors.Is(err, pq.ErrChannelAlreadyOpen) {
			log.Warn("cannot LISTEN for inbox notifications; the relay polls instead", "error", err)
		}
		ping := time.NewTicker(time.Minute)
		defer ping.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-l.Notify:
				poke() // a nil notification means a reconnect: poke too
			case <-ping.C:
				_ = l.Ping()
			}
		}
	}()
	return wake
}
