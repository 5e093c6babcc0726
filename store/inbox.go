package store

import (
	"context"
	"fmt"
	"time"
)

// InboxEntry is a callback body that was accepted while Temporal could not take it.
type InboxEntry struct {
	ID         int64     `db:"id"`
	Source     string    `db:"source"`
	Kind       string    `db:"kind"`
	Body       []byte    `db:"body"`
	ReceivedAt time.Time `db:"received_at"`
	Attempts   int       `db:"attempts"`
}

const (
	insertInboxSQL = `INSERT INTO inbox (source, kind, body, received_at) VALUES ($1, $2, $3, $4) RETURNING id`
	// claimInboxSQL leases due entries: they are not due again until the lease ends, so relays in other
	// processes skip them, yet no transaction stays open while Temporal is called.
	claimInboxSQL = `UPDATE inbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
WHERE id IN (SELECT id FROM inbox WHERE next_attempt_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, source, kind, body, received_at, attempts`
	deleteInboxSQL = `DELETE FROM inbox WHERE id = $1`
	retryInboxSQL  = `UPDATE inbox SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1`
	inboxDepthSQL  = `SELECT count(*) FROM inbox`
)

// inboxLease is how long a claimed entry is left to the relay that claimed it. A relay that dies with an
// entry leased makes it due again afterwards; starting its workflows twice is harmless (they are
// idempotent).
const inboxLease = 2 * time.Minute

// AddToInbox keeps a callback body durably until the relay hands it to Temporal.
func (s *Store) AddToInbox(ctx context.Context, source, kind string, body []byte, receivedAt time.Time) (int64, error) {
	var id int64
	if err := s.db.GetContext(ctx, &id, insertInboxSQL, source, kind, body, receivedAt); err != nil {
		return 0, fmt.Errorf("add %s callback of %s to inbox: %w", kind, source, err)
	}
	return id, nil
}

// DrainInbox leases up to limit due entries and hands them to handle, one by one. An entry that handle
// accepts is deleted; one it fails is retried after a backoff that grows with its attempts, up to five
// minutes. It returns how many were accepted.
func (s *Store) DrainInbox(ctx context.Context, limit int, handle func(context.Context, InboxEntry) error) (int, error) {
	var entries []InboxEntry
	if err := s.db.SelectContext(ctx, &entries, claimInboxSQL, limit, inboxLease.Seconds()); err != nil {
		return 0, fmt.Errorf("claim inbox entries: %w", err)
	}
	done := 0
	for _, e := range entries {
		if herr := handle(ctx, e); herr != nil {
			backoff := min(time.Duration(1<<min(e.Attempts-1, 8))*time.Second, 5*time.Minute)
			if _, err := s.db.ExecContext(ctx, retryInboxSQL, e.ID, herr.Error(), backoff.Seconds()); err != nil {
				return done, fmt.Errorf("reschedule inbox entry %d: %w", e.ID, err)
			}
			continue
		}
		if _, err := s.db.ExecContext(ctx, deleteInboxSQL, e.ID); err != nil {
			return done, fmt.Errorf("delete inbox entry %d: %w", e.ID, err)
		}
		done++
	}
	return done, nil
}

// InboxDepth counts the callbacks waiting for Temporal.
func (s *Store) InboxDepth(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.GetContext(ctx, &n, inboxDepthSQL); err != nil {
		return 0, fmt.Errorf("count inbox: %w", err)
	}
	return n, nil
}
