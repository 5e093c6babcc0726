package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
	"golang.org/x/sync/errgroup"
)

// InboxEntry is a callback body that was accepted while Temporal could not take it (its Sign removed).
type InboxEntry struct {
	ID            int64      `db:"id"`
	Source        string     `db:"source"`
	Kind          string     `db:"kind"`
	Body          []byte     `db:"body"`
	ReceivedAt    time.Time  `db:"received_at"`
	Attempts      int        `db:"attempts"`
	NextAttemptAt time.Time  `db:"next_attempt_at"`
	LastError     string     `db:"last_error"`
	State         string     `db:"state"`
	LeaseOwner    string     `db:"lease_owner"`
	DeadAt        *time.Time `db:"dead_at"`
	// ReplayedAt is when an operator last replayed the entry as a dead letter; its age counts from then
	// (see inboxAgeSince), and ReceivedAt stays when it arrived.
	ReplayedAt *time.Time `db:"replayed_at"`
	// BodyBytes is the size of Body. Listings and replays read it, not Body (see inboxSummaryColumns).
	BodyBytes int `db:"body_bytes"`
}

// inboxSummaryColumns are the columns of an inbox entry but its body, with the body's size instead: what
// a listing and a replay read, so that a page of 500 entries does not read 500 bodies of up to a few MiB
// of personal data. They are InboxEntry's db tags, so that a column added there is listed too.
var inboxSummaryColumns = func() string {
	var cols []string
	t := reflect.TypeFor[InboxEntry]()
	for i := range t.NumField() {
		switch col := t.Field(i).Tag.Get("db"); col {
		case "body", "body_bytes":
		default:
			cols = append(cols, col)
		}
	}
	return strings.Join(cols, ", ") + ", " + inboxBodyBytes
}()

// inboxBodyBytes is the size of an entry's body, read without reading the body.
const inboxBodyBytes = "octet_length(body) AS body_bytes"

// Inbox entry states.
const (
	InboxPending = "pending"
	InboxDead    = "dead"
)

const (
	// insertInboxSQL adds one entry and notifies the relays, as insertInboxBatchSQL does for a batch.
	insertInboxSQL = `WITH added AS (INSERT INTO inbox (source, kind, body, received_at) VALUES ($1, $2, $3, $4) RETURNING id)
SELECT id FROM added, pg_notify('` + InboxChannel + `', '1')`
	// claimInboxSQL leases due entries to one relay pass: they are not due again until the lease ends, so
	// relays in other processes skip them, yet no transaction stays open while Temporal is called.
	claimInboxSQL = `UPDATE inbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2), lease_owner = $3
WHERE id IN (SELECT id FROM inbox WHERE state = 'pending' AND next_attempt_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING *, ` + inboxBodyBytes
	// extendLeaseSQL keeps the entries a pass still works on leased to it.
	extendLeaseSQL = `UPDATE inbox SET next_attempt_at = now() + make_interval(secs => $3)
WHERE id = ANY($1) AND lease_owner = $2 AND state = 'pending'`
	deleteInboxSQL = `DELETE FROM inbox WHERE id = $1 AND lease_owner = $2`
	// inboxAgeSince is when an entry's age (DrainOptions.MaxAge) starts: its last replay, else its arrival.
	inboxAgeSince = `coalesce(replayed_at, received_at)`
	// failInboxSQL records a failed attempt: the entry is due again after the backoff, or is a dead letter
	// when the failure is permanent ($4), or it has used its attempts ($5) or its age ($6 seconds).
	failInboxSQL = `UPDATE inbox SET last_error = $3, lease_owner = '',
  state = CASE WHEN $4 OR attempts >= $5 OR ` + inboxAgeSince + ` < now() - make_interval(secs => $6) THEN 'dead' ELSE 'pending' END,
  dead_at = CASE WHEN $4 OR attempts >= $5 OR ` + inboxAgeSince + ` < now() - make_interval(secs => $6) THEN now() END,
  next_attempt_at = now() + make_interval(secs => $7)
WHERE id = $1 AND lease_owner = $2
RETURNING state`
	// replayInboxSQL makes a dead letter due again with its attempts and its age counted anew; the columns
	// it returns, inboxSummaryColumns, follow.
	replayInboxSQL = `UPDATE inbox SET state = 'pending', attempts = 0, next_attempt_at = now(), dead_at = NULL, lease_owner = '',
  replayed_at = now()
WHERE id = $1 AND state = 'dead' RETURNING `
	selectInboxSQL = `SELECT state FROM inbox WHERE id = $1`
	inboxStatusSQL = `SELECT count(*) FILTER (WHERE state = 'pending') AS pending, count(*) FILTER (WHERE state = 'dead') AS dead,
  min(received_at) FILTER (WHERE state = 'pending') AS oldest_pending FROM inbox`
)

// ErrNotDead means a replay was asked of an inbox entry that is not a dead letter.
var ErrNotDead = errors.New("the inbox entry is not a dead letter")

// permanentError marks a failure that no retry can fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as a failure that retrying cannot fix (an unknown kind, a body that no longer
// reads): DrainInbox makes the entry a dead letter at once, to be replayed after a fix.
func Permanent(err error) error { return permanentError{err} }

// DrainOptions say how a relay pass claims and gives up on inbox entries.
type DrainOptions struct {
	// Limit is how many entries one pass claims.
	Limit int
	// Lease is how long a claimed entry stays with the pass before others may claim it; the pass extends
	// it every Lease/3 while it works, so a batch of slow entries is never claimed twice at once.
	Lease time.Duration
	// MaxAttempts and MaxAge bound the retries of an entry before it becomes a dead letter.
	MaxAttempts int
	MaxAge      time.Duration
	// Concurrency is how many claimed entries are handled at once.
	Concurrency int
}

func (o DrainOptions) withDefaults() DrainOptions {
	o.Limit = positiveOr(o.Limit, 10)
	o.Lease = positiveOr(o.Lease, time.Minute)
	o.MaxAttempts = positiveOr(o.MaxAttempts, 100)
	o.MaxAge = positiveOr(o.MaxAge, 72*time.Hour)
	o.Concurrency = positiveOr(o.Concurrency, 1)
	return o
}

func positiveOr[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// AddToInbox keeps a callback body durably until the relay hands it to Temporal.
func (s *Store) AddToInbox(ctx context.Context, source, kind string, body []byte, receivedAt time.Time) (int64, error) {
	var id int64
	if err := s.db.GetContext(ctx, &id, insertInboxSQL, source, kind, body, receivedAt); err != nil {
		return 0, fmt.Errorf("add %s callback of %s to inbox: %w", kind, source, err)
	}
	return id, nil
}

// DrainResult says what a relay pass did.
type DrainResult struct {
	Done, Failed, Dead int
}

// DrainInbox leases up to opts.Limit due entries and hands them to handle, opts.Concurrency at a time,
// extending their lease while it works. An entry that handle accepts is deleted; one it fails is retried
// after a backoff that grows with its attempts, up to five minutes, until it becomes a dead letter (see
// DrainOptions).
func (s *Store) DrainInbox(ctx context.Context, opts DrainOptions, handle func(context.Context, InboxEntry) error) (DrainResult, error) {
	opts = opts.withDefaults()
	var res DrainResult
	owner := leaseOwner()
	var entries []InboxEntry
	if err := s.db.SelectContext(ctx, &entries, claimInboxSQL, opts.Limit, opts.Lease.Seconds(), owner); err != nil {
		return res, fmt.Errorf("claim inbox entries: %w", err)
	}
	if len(entries) == 0 {
		return res, nil
	}
	var mu sync.Mutex
	pending := make(map[int64]bool, len(entries))
	for _, e := range entries {
		pending[e.ID] = true
	}
	stop := s.keepLeased(ctx, owner, opts.Lease, func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		ids := make([]int64, 0, len(pending))
		for id := range pending {
			ids = append(ids, id)
		}
		return ids
	})
	defer stop()
	var g errgroup.Group
	g.SetLimit(opts.Concurrency)
	for _, e := range entries {
		g.Go(func() error {
			herr := handle(ctx, e)
			mu.Lock()
			delete(pending, e.ID)
			mu.Unlock()
			outcome, err := s.settle(ctx, opts, owner, e, herr)
			mu.Lock()
			defer mu.Unlock()
			switch outcome {
			case InboxPending:
				res.Failed++
			case InboxDead:
				res.Dead++
			case "":
				res.Done++
			}
			return err
		})
	}
	return res, g.Wait()
}

// settle records what handling an entry came to: deleted when herr is nil (outcome ""), else due again
// later (InboxPending) or a dead letter (InboxDead).
func (s *Store) settle(ctx context.Context, opts DrainOptions, owner string, e InboxEntry, herr error) (outcome string, err error) {
	if herr == nil {
		if _, err := s.db.ExecContext(ctx, deleteInboxSQL, e.ID, owner); err != nil {
			return "error", fmt.Errorf("delete inbox entry %d: %w", e.ID, err)
		}
		return "", nil
	}
	backoff := min(time.Duration(1<<min(e.Attempts-1, 8))*time.Second, 5*time.Minute)
	var pe permanentError
	var state string
	if err := s.db.GetContext(ctx, &state, failInboxSQL, e.ID, owner, herr.Error(), errors.As(herr, &pe),
		opts.MaxAttempts, opts.MaxAge.Seconds(), backoff.Seconds()); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "error", fmt.Errorf("reschedule inbox entry %d: %w", e.ID, err)
	}
	if state == InboxDead {
		return InboxDead, nil
	}
	return InboxPending, nil
}

// keepLeased extends the lease of the entries ids() returns every lease/3 until the returned stop is
// called.
func (s *Store) keepLeased(ctx context.Context, owner string, lease time.Duration, ids func() []int64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.db.ExecContext(ctx, extendLeaseSQL, pq.Array(ids()), owner, lease.Seconds()); err != nil && ctx.Err() == nil {
					// The next tick tries again; a lease that does run out only means another relay may
					// start the same (idempotent) workflows.
					continue
				}
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

// InboxFilter selects inbox entries for listing.
type InboxFilter struct {
	State  string // pending or dead; empty: both
	Source string
	Before int64 // cursor: entries with a lower ID (0: from the newest)
	Limit  int
}

// ListInbox returns inbox entries without their bodies (BodyBytes, not Body), newest first, and the cursor
// of the next page (0 when there is none).
func (s *Store) ListInbox(ctx context.Context, f InboxFilter) ([]InboxEntry, int64, error) {
	var w where
	w.equal("state", f.State)
	w.equal("source", f.Source)
	q, args := w.page("SELECT "+inboxSummaryColumns+" FROM inbox", "id", f.Before, f.Limit)
	var rows []InboxEntry
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, 0, fmt.Errorf("list inbox: %w", err)
	}
	rows, next := trimPage(rows, f.Limit, func(e InboxEntry) int64 { return e.ID })
	return rows, next, nil
}

// ReplayInbox makes a dead letter due again at once, with its attempts counted from zero and its age
// from now (its arrival time is kept: ReceivedAt, beside ReplayedAt), and returns it without its body
// (BodyBytes, not Body). It returns
// ErrNotFound for no such entry and ErrNotDead for an entry that is still pending.
func (s *Store) ReplayInbox(ctx context.Context, id int64) (*InboxEntry, error) {
	var e InboxEntry
	err := s.db.GetContext(ctx, &e, replayInboxSQL+inboxSummaryColumns, id)
	if errors.Is(err, sql.ErrNoRows) {
		var state string
		if err := s.db.GetContext(ctx, &state, selectInboxSQL, id); errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, ErrNotDead
	}
	if err != nil {
		return nil, fmt.Errorf("replay inbox entry %d: %w", id, err)
	}
	return &e, nil
}

// InboxStatus is how far behind the relays are.
type InboxStatus struct {
	Pending int64 `db:"pending" json:"pending"`
	Dead    int64 `db:"dead" json:"dead"`
	// OldestPending is when the oldest callback still waiting for Temporal arrived.
	OldestPending *time.Time `db:"oldest_pending" json:"oldest_pending_at,omitempty"`
}

// OldestAge is how long the oldest waiting callback has waited (zero for none).
func (st InboxStatus) OldestAge(now time.Time) time.Duration {
	if st.OldestPending == nil {
		return 0
	}
	return max(0, now.Sub(*st.OldestPending))
}

// InboxStatus counts the waiting callbacks and dead letters, and says when the oldest waiting one came.
func (s *Store) InboxStatus(ctx context.Context) (InboxStatus, error) {
	var st InboxStatus
	if err := s.db.GetContext(ctx, &st, inboxStatusSQL); err != nil {
		return st, fmt.Errorf("inbox status: %w", err)
	}
	return st, nil
}
