package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"
)

// InboxEntry is a callback body kept until a relay hands it to Temporal (its Sign removed): acknowledged
// from the inbox, or accepted while Temporal could not take it. The package inbox runs the relays; these
// are its statements.
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

// InboxChannel is the PostgreSQL notification channel that a commit to the inbox notifies, so that
// relays listening on it start the workflows at once instead of at their next poll.
const InboxChannel = "rudderhook_inbox"

// InboxItem is one callback body to keep in the inbox (its Sign removed).
type InboxItem struct {
	Source     string
	Kind       string
	Body       []byte
	ReceivedAt time.Time
}

const (
	// insertInboxSQL adds one entry and notifies the relays, as insertInboxBatchSQL does for a batch.
	insertInboxSQL = `WITH added AS (INSERT INTO inbox (source, kind, body, received_at) VALUES ($1, $2, $3, $4) RETURNING id)
SELECT id FROM added, pg_notify('` + InboxChannel + `', '1')`
	// insertInboxBatchSQL commits a whole batch in one statement (one transaction, one WAL flush) and
	// notifies the relays in it: PostgreSQL delivers the notification when, and only if, the rows commit.
	// The rows are inserted in the order of the arrays (ORDER BY n), so their identities ascend in that
	// order: the IDs it returns, sorted, are the items' in turn (RETURNING itself promises no order).
	insertInboxBatchSQL = `WITH added AS (
  INSERT INTO inbox (source, kind, body, received_at)
  SELECT s, k, b, r FROM unnest($1::text[], $2::text[], $3::bytea[], $4::timestamptz[]) WITH ORDINALITY AS u(s, k, b, r, n) ORDER BY n
  RETURNING id)
SELECT id FROM added, pg_notify('` + InboxChannel + `', '1')`
	// claimInboxSQL leases due entries to one relay pass: they are not due again until the lease ends, so
	// relays in other processes skip them, yet no transaction stays open while Temporal is called. It
	// returns them without their bodies (inboxSummaryColumns follow): a relay that still holds what its
	// receiver read of a body does not need it (InboxBodies reads the others).
	claimInboxSQL = `UPDATE inbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2), lease_owner = $3
WHERE id IN (SELECT id FROM inbox WHERE state = 'pending' AND next_attempt_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING `
	// inboxBodiesSQL reads the bodies of entries leased to one relay pass.
	inboxBodiesSQL = `SELECT id, body FROM inbox WHERE id = ANY($1) AND lease_owner = $2`
	// extendLeaseSQL keeps the entries a pass still works on leased to it.
	extendLeaseSQL = `UPDATE inbox SET next_attempt_at = now() + make_interval(secs => $3)
WHERE id = ANY($1) AND lease_owner = $2 AND state = 'pending'`
	deleteInboxSQL = `DELETE FROM inbox WHERE id = $1 AND lease_owner = $2`
	// inboxAgeSince is when an entry's age (InboxFailure.MaxAge) starts: its last replay, else its arrival.
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

// AddToInbox keeps one callback body durably until a relay hands it to Temporal, in a commit of its own.
func (s *Store) AddToInbox(ctx context.Context, source, kind string, body []byte, receivedAt time.Time) (int64, error) {
	var id int64
	if err := s.db.GetContext(ctx, &id, insertInboxSQL, source, kind, body, receivedAt); err != nil {
		return 0, fmt.Errorf("add %s callback of %s to inbox: %w", kind, source, err)
	}
	return id, nil
}

// AddToInboxBatch keeps callback bodies durably in one commit (all or none), and returns their entries'
// IDs in the order of items.
func (s *Store) AddToInboxBatch(ctx context.Context, items []InboxItem) ([]int64, error) {
	sources := make([]string, len(items))
	kinds := make([]string, len(items))
	bodies := make([][]byte, len(items))
	times := make([]string, len(items))
	for i, it := range items {
		sources[i], kinds[i], bodies[i] = it.Source, it.Kind, it.Body
		times[i] = it.ReceivedAt.UTC().Format(time.RFC3339Nano)
	}
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, insertInboxBatchSQL, pq.Array(sources), pq.Array(kinds), pq.ByteaArray(bodies), pq.Array(times)); err != nil {
		return nil, fmt.Errorf("add %d callbacks to the inbox: %w", len(items), err)
	}
	if len(ids) != len(items) {
		return nil, fmt.Errorf("add %d callbacks to the inbox: %d rows added", len(items), len(ids))
	}
	slices.Sort(ids)
	return ids, nil
}

// ClaimInbox leases up to limit due entries to owner for lease: they are due again, to any relay, when
// the lease ends, unless owner deletes them, fails them or extends the lease first. Each claim counts as
// an attempt. The entries come without their bodies (BodyBytes, not Body; see InboxBodies).
func (s *Store) ClaimInbox(ctx context.Context, limit int, lease time.Duration, owner string) ([]InboxEntry, error) {
	var entries []InboxEntry
	if err := s.db.SelectContext(ctx, &entries, claimInboxSQL+inboxSummaryColumns, limit, lease.Seconds(), owner); err != nil {
		return nil, fmt.Errorf("claim inbox entries: %w", err)
	}
	return entries, nil
}

// InboxBodies reads the bodies of the entries ids that are leased to owner.
func (s *Store) InboxBodies(ctx context.Context, ids []int64, owner string) (map[int64][]byte, error) {
	var rows []struct {
		ID   int64  `db:"id"`
		Body []byte `db:"body"`
	}
	if err := s.db.SelectContext(ctx, &rows, inboxBodiesSQL, pq.Array(ids), owner); err != nil {
		return nil, fmt.Errorf("read %d inbox bodies: %w", len(ids), err)
	}
	out := make(map[int64][]byte, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Body
	}
	return out, nil
}

// ExtendInboxLease leases the entries ids that owner still holds for lease from now.
func (s *Store) ExtendInboxLease(ctx context.Context, ids []int64, owner string, lease time.Duration) error {
	if _, err := s.db.ExecContext(ctx, extendLeaseSQL, pq.Array(ids), owner, lease.Seconds()); err != nil {
		return fmt.Errorf("extend the lease of %d inbox entries: %w", len(ids), err)
	}
	return nil
}

// DeleteInboxEntry deletes an entry that owner handed over, unless its lease went to another since.
func (s *Store) DeleteInboxEntry(ctx context.Context, id int64, owner string) error {
	if _, err := s.db.ExecContext(ctx, deleteInboxSQL, id, owner); err != nil {
		return fmt.Errorf("delete inbox entry %d: %w", id, err)
	}
	return nil
}

// InboxFailure is a failed attempt at an entry, and when it makes the entry a dead letter.
type InboxFailure struct {
	Error string
	// Permanent makes the entry a dead letter at once.
	Permanent bool
	// MaxAttempts and MaxAge make it one when it has been attempted that often, or is that old (since it
	// arrived or was last replayed).
	MaxAttempts int
	MaxAge      time.Duration
	// Backoff is how long a pending entry waits for its next attempt.
	Backoff time.Duration
}

// FailInboxEntry records a failed attempt at an entry leased to owner and says what the entry is now:
// InboxPending (due again after f.Backoff) or InboxDead; "" when the entry was no longer leased to owner.
func (s *Store) FailInboxEntry(ctx context.Context, id int64, owner string, f InboxFailure) (string, error) {
	var state string
	err := s.db.GetContext(ctx, &state, failInboxSQL, id, owner, f.Error, f.Permanent, f.MaxAttempts, f.MaxAge.Seconds(), f.Backoff.Seconds())
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("reschedule inbox entry %d: %w", id, err)
	}
	return state, nil
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
