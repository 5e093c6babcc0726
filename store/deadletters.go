package store

import (
	"context"
	"fmt"
	"time"
)

// DeadLetterFilter selects the dead letters of a bulk replay's plan. Empty fields do not filter.
type DeadLetterFilter struct {
	Source string
	Kind   string
	// ReceivedAfter and ReceivedBefore bound when the callbacks arrived, DeadAfter and DeadBefore when
	// they became dead letters; zero does not bound.
	ReceivedAfter  time.Time
	ReceivedBefore time.Time
	DeadAfter      time.Time
	DeadBefore     time.Time
	// ErrorContains keeps the dead letters whose last error contains it, in any case.
	ErrorContains string
}

// DeadLetter is a dead letter as a plan shows it: what it is and why it died, never its body.
type DeadLetter struct {
	ID         int64      `db:"id"`
	Source     string     `db:"source"`
	Kind       string     `db:"kind"`
	ReceivedAt time.Time  `db:"received_at"`
	DeadAt     *time.Time `db:"dead_at"`
	Attempts   int        `db:"attempts"`
	LastError  string     `db:"last_error"`
}

const selectDeadLettersSQL = `SELECT id, source, kind, received_at, dead_at, attempts, last_error FROM inbox`

func (f DeadLetterFilter) conds() *where {
	var w where
	w.equal("state", InboxDead)
	w.equal("source", f.Source)
	w.equal("kind", f.Kind)
	w.receivedBetween("received_at", f.ReceivedAfter, f.ReceivedBefore)
	w.receivedBetween("dead_at", f.DeadAfter, f.DeadBefore)
	if f.ErrorContains != "" {
		// strpos, not LIKE: the text is matched as written, % and _ included.
		w.add("strpos(lower(last_error), lower($%d)) > 0", f.ErrorContains)
	}
	return &w
}

// ScanDeadLetters returns up to limit dead letters matching f whose ID is above after, oldest first.
func (s *Store) ScanDeadLetters(ctx context.Context, f DeadLetterFilter, after int64, limit int) ([]DeadLetter, error) {
	q, args := f.conds().ascending(selectDeadLettersSQL, "id", after, limit)
	var out []DeadLetter
	if err := s.db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	return out, nil
}

// CountDeadLetters counts the dead letters matching f.
func (s *Store) CountDeadLetters(ctx context.Context, f DeadLetterFilter) (int64, error) {
	q, args := f.conds().count("inbox")
	var n int64
	if err := s.db.GetContext(ctx, &n, q, args...); err != nil {
		return 0, fmt.Errorf("count dead letters: %w", err)
	}
	return n, nil
}
