package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
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
	claimInboxSQL  = `SELECT id, source, kind, body, received_at, attempts FROM inbox
WHERE next_attempt_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`
	deleteInboxSQL = `DELETE FROM inbox WHERE id = $1`
	retryInboxSQL  = `UPDATE inbox SET attempts = attempts + 1, last_error = $2,
  next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1`
	inboxDepthSQL = `SELECT count(*) FROM inbox`
)

// AddToInbox keeps a callback body durably until the relay hands it to Temporal.
func (s *Store) AddToInbox(ctx context.Context, source, kind string, body []byte, receivedAt time.Time) (int64, error) {
	var id int64
	if err := s.db.GetContext(ctx, &id, insertInboxSQL, source, kind, body, receivedAt); err != nil {
		return 0, fmt.Errorf("add %s callback of %s to inbox: %w", kind, source, err)
	}
	return id, nil
}

// DrainInbox hands up to limit due entries to handle, each under a row lock so that relays in several
// processes never take the same entry. An entry that handle accepts is deleted; one it fails is retried
// after a backoff that grows with its attempts, up to five minutes. It returns how many were accepted.
func (s *Store) DrainInbox(ctx context.Context, limit int, handle func(context.Context, InboxEntry) error) (int, error) {
	done := 0
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var entries []InboxEntry
		if err := tx.SelectContext(ctx, &entries, claimInboxSQL, limit); err != nil {
			return fmt.Errorf("claim inbox entries: %w", err)
		}
		for _, e := range entries {
			if herr := handle(ctx, e); herr != nil {
				backoff := min(time.Duration(1<<min(e.Attempts, 8))*time.Second, 5*time.Minute)
				if _, err := tx.ExecContext(ctx, retryInboxSQL, e.ID, herr.Error(), backoff.Seconds()); err != nil {
					return fmt.Errorf("reschedule inbox entry %d: %w", e.ID, err)
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, deleteInboxSQL, e.ID); err != nil {
				return fmt.Errorf("delete inbox entry %d: %w", e.ID, err)
			}
			done++
		}
		return nil
	})
	return done, err
}

// InboxDepth counts the callbacks waiting for Temporal.
func (s *Store) InboxDepth(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.GetContext(ctx, &n, inboxDepthSQL); err != nil {
		return 0, fmt.Errorf("count inbox: %w", err)
	}
	return n, nil
}
