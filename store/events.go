package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/rudderhook/rudderhook/airudder"
)

// EventRecord is a stored event: what was received plus where it is handled.
type EventRecord struct {
	airudder.Event
	// ID is the event's row; it names the event in the admin API (/v1/events/{id}).
	ID         int64
	WorkflowID string
	// Revision is the revision the record shows: the latest received of the event's distinct deliveries.
	Revision  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// eventRow is the events table, column for column.
type eventRow struct {
	ID           int64      `db:"id"`
	Source       string     `db:"source"`
	Kind         string     `db:"kind"`
	On           string     `db:"event_on"`
	Key          string     `db:"event_key"`
	WorkflowID   string     `db:"workflow_id"`
	Subject      string     `db:"subject"`
	EventTime    *time.Time `db:"event_time"`
	TaskID       string     `db:"task_id"`
	CallID       string     `db:"call_id"`
	CalleeNumber string     `db:"callee_number"`
	CaseID       string     `db:"case_id"`
	State        string     `db:"state"`
	Summary      string     `db:"summary"`
	Typed        jsonValue  `db:"typed"`
	Raw          jsonValue  `db:"raw"`
	ParseNotes   jsonValue  `db:"parse_notes"`
	Revision     int        `db:"revision"`
	Digest       string     `db:"digest"`
	ReceivedAt   time.Time  `db:"received_at"`
	CreatedAt    time.Time  `db:"created_at"`
	UpdatedAt    time.Time  `db:"updated_at"`
}

const (
	// upsertEventSQL inserts an event or, when it exists, shows a revision received no earlier than the one
	// it shows (an older delivery relayed late is kept as a revision without hiding the newer). It
	// returns the row's ID and whether it wrote the row.
	upsertEventSQL = `INSERT INTO events (source, kind, event_on, event_key, workflow_id, subject, event_time, task_id,
  call_id, callee_number, case_id, state, summary, typed, raw, parse_notes, revision, digest, received_at)
VALUES (:source, :kind, :event_on, :event_key, :workflow_id, :subject, :event_time, :task_id,
  :call_id, :callee_number, :case_id, :state, :summary, :typed, :raw, :parse_notes, :revision, :digest, :received_at)
ON CONFLICT (source, kind, event_key) DO UPDATE SET event_on = EXCLUDED.event_on, subject = EXCLUDED.subject,
  event_time = EXCLUDED.event_time, task_id = EXCLUDED.task_id, call_id = EXCLUDED.call_id,
  callee_number = EXCLUDED.callee_number, case_id = EXCLUDED.case_id, state = EXCLUDED.state,
  summary = EXCLUDED.summary, typed = EXCLUDED.typed, raw = EXCLUDED.raw, parse_notes = EXCLUDED.parse_notes,
  revision = EXCLUDED.revision, digest = EXCLUDED.digest, received_at = EXCLUDED.received_at, updated_at = now()
WHERE events.received_at <= EXCLUDED.received_at
RETURNING id`
	lockEventSQL      = `SELECT pg_advisory_xact_lock(hashtextextended('event/' || $1 || '/' || $2 || '/' || $3, 0))`
	selectEventIDSQL  = `SELECT id, revision FROM events WHERE source = $1 AND kind = $2 AND event_key = $3`
	findEventRevSQL   = `SELECT revision, processed_at IS NOT NULL FROM event_revisions WHERE event_id = $1 AND digest = $2`
	nextEventRevSQL   = `SELECT coalesce(max(revision), 0) + 1 FROM event_revisions WHERE event_id = $1`
	insertEventRevSQL = `INSERT INTO event_revisions (event_id, revision, digest, raw, parse_notes, received_at, processed_at)
VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN now() END)`
	markEventProcessedSQL = `UPDATE event_revisions SET processed_at = now() WHERE event_id = $1 AND revision = $2 AND processed_at IS NULL`
	selectEventSQL        = `SELECT * FROM events WHERE id = $1`
	selectEventByKeySQL   = `SELECT * FROM events WHERE source = $1 AND kind = $2 AND event_key = $3`
	// processedEventSQL says whether this delivery of the event was processed by its workflow already.
	processedEventSQL = `SELECT EXISTS (SELECT 1 FROM events e JOIN event_revisions r ON r.event_id = e.id
WHERE e.source = $1 AND e.kind = $2 AND e.event_key = $3 AND r.digest = $4 AND r.processed_at IS NOT NULL)`
	selectEventRevisionsSQL = `SELECT revision, digest, parse_notes, received_at, created_at, processed_at FROM event_revisions
WHERE event_id = $1 ORDER BY revision`
)

// StoreEvent stores one delivery of an event as a revision, in one transaction, as StoreRevision does for
// calls: the same digest again is the same revision (only its processed mark may change); a new one gets
// the next number and, unless a revision received later is shown, becomes the event's row. processed
// marks the revision as processed by the event's workflow.
func (s *Store) StoreEvent(ctx context.Context, rec EventRecord, processed bool) (Stored, int64, error) {
	var out Stored
	var id int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if out, id, err = findEventRevision(ctx, tx, rec.Source, rec.Kind, rec.Key, rec.Digest, processed); !errors.Is(err, ErrNotFound) {
			return err
		}
		if id != 0 {
			if err := tx.GetContext(ctx, &out.Revision, nextEventRevSQL, id); err != nil {
				return fmt.Errorf("number revision of event %s: %w", rec.WorkflowID, err)
			}
		}
		if out.Revision == 0 {
			out.Revision = 1
		}
		out.New = true
		rec.Revision = out.Revision
		row, err := toEventRow(rec)
		if err != nil {
			return err
		}
		rows, err := sqlx.NamedQueryContext(ctx, tx, upsertEventSQL, row)
		if err != nil {
			return fmt.Errorf("upsert event %s: %w", rec.WorkflowID, err)
		}
		if rows.Next() {
			out.Latest = true
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("upsert event %s: %w", rec.WorkflowID, err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("upsert event %s: %w", rec.WorkflowID, err)
		}
		if _, err := tx.ExecContext(ctx, insertEventRevSQL, id, out.Revision, rec.Digest, row.Raw, row.ParseNotes,
			rec.ReceivedAt, processed); err != nil {
			return fmt.Errorf("store revision %d of event %s: %w", out.Revision, rec.WorkflowID, err)
		}
		return nil
	})
	return out, id, err
}

// MarkEventProcessed marks the revision with this digest, stored earlier (by the receiver, for a large
// event), as processed by the event's workflow. It returns ErrNotFound when no such revision was stored.
func (s *Store) MarkEventProcessed(ctx context.Context, source, kind, key, digest string) (Stored, int64, error) {
	var out Stored
	var id int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, id, err = findEventRevision(ctx, tx, source, kind, key, digest, true)
		return err
	})
	return out, id, err
}

// findEventRevision locks the event (for the rest of tx) and finds its revision with this digest,
// marking it processed when processed is set and it was not yet. It returns ErrNotFound when there is no
// such revision, with the event's ID when the event exists (0 when it does not).
func findEventRevision(ctx context.Context, tx *sqlx.Tx, source, kind, key, digest string, processed bool) (Stored, int64, error) {
	var out Stored
	if _, err := tx.ExecContext(ctx, lockEventSQL, source, kind, key); err != nil {
		return out, 0, fmt.Errorf("lock event %s/%s/%s: %w", source, kind, key, err)
	}
	var id int64
	var shown int
	if err := tx.QueryRowContext(ctx, selectEventIDSQL, source, kind, key).Scan(&id, &shown); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return out, 0, ErrNotFound
		}
		return out, 0, fmt.Errorf("find event %s/%s/%s: %w", source, kind, key, err)
	}
	var wasProcessed bool
	if err := tx.QueryRowContext(ctx, findEventRevSQL, id, digest).Scan(&out.Revision, &wasProcessed); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return out, id, ErrNotFound
		}
		return out, id, fmt.Errorf("find revision of event %d: %w", id, err)
	}
	out.Latest = out.Revision == shown
	if processed && !wasProcessed {
		if _, err := tx.ExecContext(ctx, markEventProcessedSQL, id, out.Revision); err != nil {
			return out, id, fmt.Errorf("mark revision %d of event %d processed: %w", out.Revision, id, err)
		}
	}
	return out, id, nil
}

// EventProcessed reports whether this delivery (digest) of the event was processed by its workflow: the
// same body again needs nothing.
func (s *Store) EventProcessed(ctx context.Context, source, kind, key, digest string) (bool, error) {
	var done bool
	if err := s.db.GetContext(ctx, &done, processedEventSQL, source, kind, key, digest); err != nil {
		return false, fmt.Errorf("look up event %s/%s/%s: %w", source, kind, key, err)
	}
	return done, nil
}

// GetEvent returns the event with this ID, or ErrNotFound.
func (s *Store) GetEvent(ctx context.Context, id int64) (*EventRecord, error) {
	return s.getEvent(ctx, selectEventSQL, id)
}

// GetEventByKey returns the event with this key in this source and kind, or ErrNotFound.
func (s *Store) GetEventByKey(ctx context.Context, source, kind, key string) (*EventRecord, error) {
	return s.getEvent(ctx, selectEventByKeySQL, source, kind, key)
}

func (s *Store) getEvent(ctx context.Context, q string, args ...any) (*EventRecord, error) {
	var row eventRow
	if err := s.db.GetContext(ctx, &row, q, args...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("get event %v: %w", args, err)
	}
	return fromEventRow(row)
}

// EventRevisions lists the revisions of an event, oldest first.
func (s *Store) EventRevisions(ctx context.Context, id int64) ([]Revision, error) {
	var out []Revision
	if err := s.db.SelectContext(ctx, &out, selectEventRevisionsSQL, id); err != nil {
		return nil, fmt.Errorf("list revisions of event %d: %w", id, err)
	}
	for i := range out {
		if len(out[i].Notes) > 0 {
			if err := json.Unmarshal(out[i].Notes, &out[i].ParseNotes); err != nil {
				return nil, fmt.Errorf("decode parse notes of event %d revision %d: %w", id, out[i].Revision, err)
			}
		}
	}
	return out, nil
}

// EventFilter selects events for listing. Empty fields do not filter.
type EventFilter struct {
	Source       string `json:"source"`
	Kind         string `json:"kind"`
	On           string `json:"on"`
	TaskID       string `json:"task_id"`
	CallID       string `json:"call_id"`
	CalleeNumber string `json:"callee_number"`
	CaseID       string `json:"case_id"`
	State        string `json:"state"`
	// ReceivedAfter and ReceivedBefore bound when events arrived; zero does not bound.
	ReceivedAfter  time.Time `json:"received_after"`
	ReceivedBefore time.Time `json:"received_before"`
	// Before is a cursor: only events with a lower ID (0: from the newest).
	Before int64 `json:"-"`
	Limit  int   `json:"-"`
}

// ListEvents returns events matching f, newest first, and the cursor of the next page (0 when there is
// none).
func (s *Store) ListEvents(ctx context.Context, f EventFilter) ([]EventRecord, int64, error) {
	var w where
	w.equal("source", f.Source)
	w.equal("kind", f.Kind)
	w.equal("event_on", f.On)
	w.equal("task_id", f.TaskID)
	w.equal("call_id", f.CallID)
	w.equal("callee_number", f.CalleeNumber)
	w.equal("case_id", f.CaseID)
	w.equal("state", f.State)
	w.receivedBetween(f.ReceivedAfter, f.ReceivedBefore)
	q, args := w.page("events", "id", f.Before, f.Limit)
	var rows []eventRow
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, 0, fmt.Errorf("list events: %w", err)
	}
	rows, next := trimPage(rows, f.Limit, func(r eventRow) int64 { return r.ID })
	out := make([]EventRecord, 0, len(rows))
	for _, r := range rows {
		rec, err := fromEventRow(r)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, *rec)
	}
	return out, next, nil
}

// typedBody is the typed part of an event, as the typed column keeps it.
type typedBody struct {
	ListCompleted *airudder.ListCompleted `json:"list_completed,omitempty"`
	StatusChanged *airudder.StatusChanged `json:"status_changed,omitempty"`
	QAResult      *airudder.QAResult      `json:"qa_result,omitempty"`
	PDS           *airudder.PDSEvent      `json:"pds,omitempty"`
}

// State is what an event says its subject's state is: a PDS state, a workflow's status.
func eventState(e airudder.Event) string {
	switch {
	case e.PDS != nil:
		return e.PDS.State
	case e.StatusChanged != nil:
		return e.StatusChanged.Status
	}
	return ""
}

func toEventRow(rec EventRecord) (eventRow, error) {
	e := rec.Event
	row := eventRow{
		Source: e.Source, Kind: e.Kind, On: e.On, Key: e.Key, WorkflowID: rec.WorkflowID, Subject: e.Subject,
		EventTime: e.Time, TaskID: e.TaskID, CallID: e.CallID, CalleeNumber: e.CalleeNumber, CaseID: e.CaseID,
		State: eventState(e), Summary: e.Summary, Raw: jsonValue(e.Raw), Revision: rec.Revision, Digest: e.Digest,
		ReceivedAt: e.ReceivedAt,
	}
	tb := typedBody{ListCompleted: e.ListCompleted, StatusChanged: e.StatusChanged, QAResult: e.QAResult, PDS: e.PDS}
	if tb != (typedBody{}) {
		b, err := json.Marshal(tb)
		if err != nil {
			return row, fmt.Errorf("encode event %s: %w", rec.WorkflowID, err)
		}
		row.Typed = b
	}
	if len(e.Notes) > 0 {
		row.ParseNotes, _ = json.Marshal(e.Notes) // plain strings: cannot fail
	}
	return row, nil
}

func fromEventRow(r eventRow) (*EventRecord, error) {
	rec := &EventRecord{
		Event: airudder.Event{
			Kind: r.Kind, On: r.On, Source: r.Source, ReceivedAt: r.ReceivedAt.UTC(), Key: r.Key, Digest: r.Digest,
			Subject: r.Subject, Time: utc(r.EventTime), CaseID: r.CaseID, CallID: r.CallID,
			CalleeNumber: r.CalleeNumber, TaskID: r.TaskID, Summary: r.Summary, Raw: json.RawMessage(r.Raw),
		},
		ID: r.ID, WorkflowID: r.WorkflowID, Revision: r.Revision, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if len(r.Typed) > 0 {
		var tb typedBody
		if err := json.Unmarshal(r.Typed, &tb); err != nil {
			return nil, fmt.Errorf("decode event %d: %w", r.ID, err)
		}
		rec.ListCompleted, rec.StatusChanged, rec.QAResult, rec.PDS = tb.ListCompleted, tb.StatusChanged, tb.QAResult, tb.PDS
	}
	if len(r.ParseNotes) > 0 {
		if err := json.Unmarshal(r.ParseNotes, &rec.Notes); err != nil {
			return nil, fmt.Errorf("decode parse notes of event %d: %w", r.ID, err)
		}
	}
	return rec, nil
}
