package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/rudderhook/rudderhook/airudder"
)

// EventRecord is a stored event: what was received (its revision shown) plus where it is handled.
type EventRecord struct {
	airudder.Event
	// ID is the event's row; it names the event in the admin API (/v1/events/{id}).
	ID int64
	// SubjectID is the event's subject (see subjects.go).
	SubjectID  int64
	WorkflowID string
	// Revision is the revision the record shows (see showRevisionSQL).
	Revision  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// eventRow is an events row, column for column, read with its subject and the revision it shows.
type eventRow struct {
	shownRow
	ID           int64     `db:"id"`
	Subject      string    `db:"subject"`
	TaskID       string    `db:"task_id"`
	CallID       string    `db:"call_id"`
	CalleeNumber string    `db:"callee_number"`
	CaseID       string    `db:"case_id"`
	State        string    `db:"state"`
	Summary      string    `db:"summary"`
	Typed        jsonValue `db:"typed"`
}

const (
	// upsertEventSQL writes an event's typed row: StoreRevision calls it when a revision becomes the one
	// shown.
	upsertEventSQL = `INSERT INTO events (subject_id, subject, task_id, call_id, callee_number, case_id, state, summary, typed)
VALUES (:subject_id, :subject, :task_id, :call_id, :callee_number, :case_id, :state, :summary, :typed)
ON CONFLICT (subject_id) DO UPDATE SET subject = EXCLUDED.subject, task_id = EXCLUDED.task_id, call_id = EXCLUDED.call_id,
  callee_number = EXCLUDED.callee_number, case_id = EXCLUDED.case_id, state = EXCLUDED.state,
  summary = EXCLUDED.summary, typed = EXCLUDED.typed`
	// selectEventsSQL reads events with their subjects; a condition on t (events), s (subjects) or r (the
	// revision shown) follows.
	selectEventsSQL = `SELECT t.*, ` + shownColumns + ` FROM events t` + fromShownSQL
)

// upsertEvent writes the typed row of the event of subject id.
func upsertEvent(ctx context.Context, tx *sqlx.Tx, id int64, ev airudder.Event) error {
	row, err := toEventRow(ev)
	if err != nil {
		return err
	}
	row.SubjectID = id
	if _, err := tx.NamedExecContext(ctx, upsertEventSQL, row); err != nil {
		return fmt.Errorf("store event %s/%s/%s: %w", ev.Source, ev.Kind, ev.Key, err)
	}
	return nil
}

// GetEvent returns the event with this ID, or ErrNotFound.
func (s *Store) GetEvent(ctx context.Context, id int64) (*EventRecord, error) {
	return s.getEvent(ctx, "t.id = $1", id)
}

// GetEventByKey returns the event with this key in this source and kind, or ErrNotFound.
func (s *Store) GetEventByKey(ctx context.Context, source, kind, key string) (*EventRecord, error) {
	return s.getEvent(ctx, "s.source = $1 AND s.kind = $2 AND s.subject_key = $3", source, kind, key)
}

func (s *Store) getEvent(ctx context.Context, cond string, args ...any) (*EventRecord, error) {
	recs, err := s.eventsWhere(ctx, cond, args...)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNotFound
	}
	return &recs[0], nil
}

// eventsWhere reads the events that match cond (on t, s or r; see selectEventsSQL).
func (s *Store) eventsWhere(ctx context.Context, cond string, args ...any) ([]EventRecord, error) {
	var rows []eventRow
	if err := s.db.SelectContext(ctx, &rows, selectEventsSQL+" WHERE "+cond, args...); err != nil {
		return nil, fmt.Errorf("read events %v: %w", args, err)
	}
	return eventRecords(rows)
}

func eventRecords(rows []eventRow) ([]EventRecord, error) {
	out := make([]EventRecord, 0, len(rows))
	for _, r := range rows {
		rec, err := fromEventRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, *rec)
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
	w.equal("s.source", f.Source)
	w.equal("s.kind", f.Kind)
	w.equal("s.subject_on", f.On)
	w.equal("t.task_id", f.TaskID)
	w.equal("t.call_id", f.CallID)
	w.equal("t.callee_number", f.CalleeNumber)
	w.equal("t.case_id", f.CaseID)
	w.equal("t.state", f.State)
	w.receivedBetween("s.received_at", f.ReceivedAfter, f.ReceivedBefore)
	q, args := w.page(selectEventsSQL, "t.id", f.Before, f.Limit)
	var rows []eventRow
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, 0, fmt.Errorf("list events: %w", err)
	}
	rows, next := trimPage(rows, f.Limit, func(r eventRow) int64 { return r.ID })
	out, err := eventRecords(rows)
	return out, next, err
}

// typedBody is the typed part of an event, as the typed column keeps it.
type typedBody struct {
	ListCompleted *airudder.ListCompleted `json:"list_completed,omitempty"`
	StatusChanged *airudder.StatusChanged `json:"status_changed,omitempty"`
	QAResult      *airudder.QAResult      `json:"qa_result,omitempty"`
	PDS           *airudder.PDSEvent      `json:"pds,omitempty"`
	// ChatbotSessionEnded keeps the X-AIRudder-Sign header that came with it.
	ChatbotSessionEnded *airudder.ChatbotSessionEnded `json:"chatbot_session_ended,omitempty"`
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

func toEventRow(e airudder.Event) (eventRow, error) {
	row := eventRow{Subject: e.Subject, TaskID: e.TaskID, CallID: e.CallID, CalleeNumber: e.CalleeNumber, CaseID: e.CaseID,
		State: eventState(e), Summary: e.Summary}
	tb := typedBody{ListCompleted: e.ListCompleted, StatusChanged: e.StatusChanged, QAResult: e.QAResult, PDS: e.PDS,
		ChatbotSessionEnded: e.ChatbotSessionEnded}
	if tb != (typedBody{}) {
		b, err := json.Marshal(tb)
		if err != nil {
			return row, fmt.Errorf("encode event %s/%s/%s: %w", e.Source, e.Kind, e.Key, err)
		}
		row.Typed = b
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
		ID: r.ID, SubjectID: r.SubjectID, WorkflowID: r.WorkflowID, Revision: r.Revision,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if len(r.Typed) > 0 {
		var tb typedBody
		if err := json.Unmarshal(r.Typed, &tb); err != nil {
			return nil, fmt.Errorf("decode event %d: %w", r.ID, err)
		}
		rec.ListCompleted, rec.StatusChanged, rec.QAResult, rec.PDS = tb.ListCompleted, tb.StatusChanged, tb.QAResult, tb.PDS
		rec.ChatbotSessionEnded = tb.ChatbotSessionEnded
	}
	var err error
	if rec.Notes, err = r.notes(); err != nil {
		return nil, err
	}
	return rec, nil
}
