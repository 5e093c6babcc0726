package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/rudderhook/rudderhook/airudder"
)

// A subject is one thing Airudder told us: a call or an event (airudder.Subject). Every kind is stored
// the same way: a subjects row (its identity, and the revision shown), a subject_revisions row per
// distinct delivery (as it arrived), and a typed row that extends the subject with what its kind has
// (calls.go, events.go), showing the revision shown.

// SubjectRecord is a stored subject: what was received (its revision shown, whole) plus where it is
// handled.
type SubjectRecord struct {
	airudder.Subject
	ID         int64
	WorkflowID string
	// Revision is the revision shown.
	Revision  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Stored says what StoreRevision (or MarkProcessed) did.
type Stored struct {
	SubjectID int64 `json:"subject_id"`
	// Revision is the number of the delivery's revision (1, 2, …).
	Revision int `json:"revision"`
	// New is true when the delivery was not stored before (by digest).
	New bool `json:"new"`
	// Latest is true when the subject shows this revision.
	Latest bool `json:"latest"`
	// Stale is true for an event about a call or task (airudder.Event.Subject) when another event of
	// its source, kind and type about the same call or task, with a later time, is stored already: it
	// arrived late, and what it says is out of date.
	Stale bool `json:"stale,omitempty"`
}

// Revision is one stored delivery of a subject, without its raw JSON.
type Revision struct {
	Revision    int                  `db:"revision" json:"revision"`
	Digest      string               `db:"digest" json:"digest"`
	ParseNotes  []airudder.ParseNote `db:"-" json:"parse_notes,omitempty"`
	Notes       jsonValue            `db:"parse_notes" json:"-"`
	ReceivedAt  time.Time            `db:"received_at" json:"received_at"`
	CreatedAt   time.Time            `db:"created_at" json:"stored_at"`
	ProcessedAt *time.Time           `db:"processed_at" json:"processed_at,omitempty"`
	// Origin is how rudderhook learnt of it: callback, backfill (reconciliation read it from Airudder's
	// API) or rudderhook (an event it made itself).
	Origin string `db:"origin" json:"origin"`
}

// Delivery names one delivery of a subject: its workflow ID and digest.
type Delivery struct{ WorkflowID, Digest string }

// Subject SQL. Revisions of one subject are numbered under a transaction-scoped advisory lock on its
// workflow ID, so that two receivers storing two large deliveries at once do not take the same number
// (the subject's row may not exist yet to be locked).
const (
	lockSubjectSQL     = `SELECT pg_advisory_xact_lock(hashtextextended('subject/' || $1, 0))`
	selectSubjectIDSQL = `SELECT id, revision FROM subjects WHERE workflow_id = $1`
	insertSubjectSQL   = `INSERT INTO subjects (workflow_id, source, kind, subject_on, subject_key, revision, digest, event_time, received_at)
VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8) RETURNING id`
	findRevisionSQL   = `SELECT revision, processed_at IS NOT NULL FROM subject_revisions WHERE subject_id = $1 AND digest = $2`
	nextRevisionSQL   = `SELECT coalesce(max(revision), 0) + 1 FROM subject_revisions WHERE subject_id = $1`
	insertRevisionSQL = `INSERT INTO subject_revisions (subject_id, revision, digest, raw, envelope, parse_notes, event_time, received_at, processed_at, origin)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9::boolean THEN now() END, $10)`
	markProcessedSQL = `UPDATE subject_revisions SET processed_at = now() WHERE subject_id = $1 AND revision = $2 AND processed_at IS NULL`
	// showRevisionSQL makes a new revision the one shown unless the one shown is newer: where both say
	// when they happened (PDS, whose events arrive out of order) and the times differ, the later time
	// wins, however late it arrives; otherwise the later arrival (an older delivery relayed late is kept
	// as a revision without hiding the newer). It returns a row only when it showed the revision.
	showRevisionSQL = `UPDATE subjects SET revision = $2, digest = $3, event_time = $4, received_at = $5, updated_at = now()
WHERE id = $1 AND CASE WHEN event_time IS NOT NULL AND $4::timestamptz IS NOT NULL AND event_time <> $4::timestamptz
  THEN event_time < $4::timestamptz ELSE received_at <= $5 END
RETURNING id`
	// processedDeliveriesSQL finds, among the deliveries given as parallel arrays of workflow IDs ($1) and
	// digests ($2), those processed already.
	processedDeliveriesSQL = `SELECT s.workflow_id, r.digest FROM subject_revisions r JOIN subjects s ON s.id = r.subject_id
JOIN unnest($1::text[], $2::text[]) AS d(workflow_id, digest) ON s.workflow_id = d.workflow_id AND r.digest = d.digest
WHERE r.processed_at IS NOT NULL`
	selectRevisionsSQL = `SELECT revision, digest, parse_notes, received_at, created_at, processed_at, origin FROM subject_revisions
WHERE subject_id = $1 ORDER BY revision`
	// lockEventSubjectSQL serialises the storing of the events about one call or task ($1: source, kind
	// and subject), so that of two states stored at once the older always sees the newer (staleEventSQL).
	lockEventSubjectSQL = `SELECT pg_advisory_xact_lock(hashtextextended('event-subject/' || $1, 0))`
	// staleEventSQL says whether the event of subject $1 is about a call or task (events.subject) of
	// which another event, of the same source, kind and type, happened later (events_subject_idx).
	staleEventSQL = `SELECT EXISTS (SELECT 1 FROM events me JOIN subjects ms ON ms.id = me.subject_id
  JOIN events o ON o.subject = me.subject AND o.subject_id <> me.subject_id
  JOIN subjects os ON os.id = o.subject_id
  WHERE me.subject_id = $1 AND me.subject <> '' AND o.subject <> '' AND ms.event_time IS NOT NULL
    AND os.source = ms.source AND os.kind = ms.kind AND os.subject_on = ms.subject_on AND os.event_time > ms.event_time)`
)

// shownColumns are what a typed row is read with: its subject's identity and the revision it shows, as
// shownRow scans them; fromShownSQL joins them to a typed table aliased t.
const (
	shownColumns = `s.workflow_id, s.source, s.kind, s.subject_on, s.subject_key, s.revision, s.digest, s.event_time,
  s.received_at, s.created_at, s.updated_at, r.raw, r.envelope, r.parse_notes`
	fromShownSQL = ` JOIN subjects s ON s.id = t.subject_id
JOIN subject_revisions r ON r.subject_id = s.id AND r.revision = s.revision`
)

// shownRow is a subject and the revision it shows, column for column.
type shownRow struct {
	SubjectID  int64      `db:"subject_id"`
	WorkflowID string     `db:"workflow_id"`
	Source     string     `db:"source"`
	Kind       string     `db:"kind"`
	On         string     `db:"subject_on"`
	Key        string     `db:"subject_key"`
	Revision   int        `db:"revision"`
	Digest     string     `db:"digest"`
	EventTime  *time.Time `db:"event_time"`
	ReceivedAt time.Time  `db:"received_at"`
	CreatedAt  time.Time  `db:"created_at"`
	UpdatedAt  time.Time  `db:"updated_at"`
	Raw        jsonValue  `db:"raw"`
	Envelope   jsonValue  `db:"envelope"`
	ParseNotes jsonValue  `db:"parse_notes"`
}

// notes decodes the shown revision's parse notes.
func (r shownRow) notes() ([]airudder.ParseNote, error) {
	if len(r.ParseNotes) == 0 {
		return nil, nil
	}
	var out []airudder.ParseNote
	if err := json.Unmarshal(r.ParseNotes, &out); err != nil {
		return nil, fmt.Errorf("decode parse notes of %s: %w", r.WorkflowID, err)
	}
	return out, nil
}

// StoreRevision stores one delivery of a subject (a call or an event) as a revision, in one
// transaction: a delivery whose digest was stored before is the same revision (nothing changes but, with
// processed, its mark); a new one gets the next number and, unless the revision shown is newer (see
// showRevisionSQL), becomes the one shown, its typed row (a call's with its redials, an event's)
// rewritten. processed marks the revision as processed by the subject's workflow (the receiver stores
// large subjects before their workflow runs, unprocessed). workflowID is the subject's identity. An
// event about a call or task says whether a later one about it is stored already (Stored.Stale); the
// events about one call or task are stored one at a time, so that of two stored at once the older knows.
func (s *Store) StoreRevision(ctx context.Context, subj airudder.Subject, workflowID string, processed bool) (Stored, error) {
	// An event about a call or task, with a time, may be older than one stored already (Stored.Stale).
	ordered := subj.Event != nil && subj.Event.Subject != "" && subj.Event.Time != nil
	var out Stored
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if out, err = findRevision(ctx, tx, workflowID, subj.Digest(), processed); !errors.Is(err, ErrNotFound) {
			if err == nil && ordered {
				out.Stale, err = staleEvent(ctx, tx, out.SubjectID)
			}
			return err
		}
		if ordered {
			ev := subj.Event
			if _, err := tx.ExecContext(ctx, lockEventSubjectSQL, ev.Source+"/"+ev.Kind+"/"+ev.Subject); err != nil {
				return fmt.Errorf("lock the events about %s: %w", ev.Subject, err)
			}
		}
		raw, envelope, notes := revisionBody(subj)
		out.New = true
		if out.SubjectID == 0 {
			if err := tx.GetContext(ctx, &out.SubjectID, insertSubjectSQL, workflowID, subj.Source(), subj.Kind(), subj.On(),
				subj.Key(), subj.Digest(), subj.Time(), subj.ReceivedAt()); err != nil {
				return fmt.Errorf("store subject %s: %w", workflowID, err)
			}
			out.Revision, out.Latest = 1, true
		} else {
			if err := tx.GetContext(ctx, &out.Revision, nextRevisionSQL, out.SubjectID); err != nil {
				return fmt.Errorf("number revision of %s: %w", workflowID, err)
			}
			rows, err := tx.QueryContext(ctx, showRevisionSQL, out.SubjectID, out.Revision, subj.Digest(), subj.Time(), subj.ReceivedAt())
			if err != nil {
				return fmt.Errorf("show revision %d of %s: %w", out.Revision, workflowID, err)
			}
			out.Latest = rows.Next()
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("show revision %d of %s: %w", out.Revision, workflowID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, insertRevisionSQL, out.SubjectID, out.Revision, subj.Digest(), raw, envelope, notes,
			subj.Time(), subj.ReceivedAt(), processed, subj.Origin()); err != nil {
			return fmt.Errorf("store revision %d of %s: %w", out.Revision, workflowID, err)
		}
		if subj.IsCall() {
			// A call that answers a re-call rudderhook made fulfils its expectation, however it came.
			if err := fulfilExpectations(ctx, tx, out.SubjectID, *subj.Call); err != nil {
				return fmt.Errorf("fulfil expectations with %s: %w", workflowID, err)
			}
		}
		if !out.Latest {
			return nil
		}
		if subj.IsCall() {
			return upsertCall(ctx, tx, out.SubjectID, *subj.Call)
		}
		if err := upsertEvent(ctx, tx, out.SubjectID, *subj.Event); err != nil || !ordered {
			return err
		}
		out.Stale, err = staleEvent(ctx, tx, out.SubjectID)
		return err
	})
	return out, err
}

// staleEvent says whether the subject is an event about a call or task of which a later event is
// stored (see Stored.Stale); false for a call, and for an event that is about nothing or has no time.
func staleEvent(ctx context.Context, tx *sqlx.Tx, subjectID int64) (bool, error) {
	var stale bool
	if err := tx.GetContext(ctx, &stale, staleEventSQL, subjectID); err != nil {
		return false, fmt.Errorf("compare subject %d with the later events about it: %w", subjectID, err)
	}
	return stale, nil
}

// revisionBody is what a revision keeps of a delivery: its raw JSON (a call's Details element, an
// event's body), a call's envelope, and the parse notes.
func revisionBody(subj airudder.Subject) (raw, envelope, notes jsonValue) {
	if c := subj.Call; c != nil {
		raw, envelope = jsonValue(c.RawCall), jsonValue(c.RawTask)
	} else {
		raw = jsonValue(subj.Event.Raw)
	}
	if n := subj.Notes(); len(n) > 0 {
		notes, _ = json.Marshal(n) // plain strings: cannot fail
	}
	return raw, envelope, notes
}

// MarkProcessed marks the revision with this digest, stored earlier (by the receiver, for a large
// subject), as processed by the subject's workflow. It returns ErrNotFound when no such revision was
// stored.
func (s *Store) MarkProcessed(ctx context.Context, workflowID, digest string) (Stored, error) {
	var out Stored
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if out, err = findRevision(ctx, tx, workflowID, digest, true); err != nil {
			return err
		}
		out.Stale, err = staleEvent(ctx, tx, out.SubjectID)
		return err
	})
	return out, err
}

// findRevision locks the subject (for the rest of tx) and finds its revision with this digest, marking
// it processed when processed is set and it was not yet. It returns ErrNotFound when there is no such
// revision, with the subject's ID when the subject exists (0 when it does not).
func findRevision(ctx context.Context, tx *sqlx.Tx, workflowID, digest string, processed bool) (Stored, error) {
	var out Stored
	if _, err := tx.ExecContext(ctx, lockSubjectSQL, workflowID); err != nil {
		return out, fmt.Errorf("lock %s: %w", workflowID, err)
	}
	var shown int
	if err := tx.QueryRowContext(ctx, selectSubjectIDSQL, workflowID).Scan(&out.SubjectID, &shown); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return out, ErrNotFound
		}
		return out, fmt.Errorf("find %s: %w", workflowID, err)
	}
	var wasProcessed bool
	if err := tx.QueryRowContext(ctx, findRevisionSQL, out.SubjectID, digest).Scan(&out.Revision, &wasProcessed); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return out, ErrNotFound
		}
		return out, fmt.Errorf("find revision of %s: %w", workflowID, err)
	}
	out.Latest = out.Revision == shown
	if processed && !wasProcessed {
		if _, err := tx.ExecContext(ctx, markProcessedSQL, out.SubjectID, out.Revision); err != nil {
			return out, fmt.Errorf("mark revision %d of %s processed: %w", out.Revision, workflowID, err)
		}
	}
	return out, nil
}

// ProcessedDeliveries returns which of the deliveries (of any subjects, of any kind) their workflows
// have processed already, in one query: the same delivery again needs nothing.
func (s *Store) ProcessedDeliveries(ctx context.Context, ds []Delivery) (map[Delivery]bool, error) {
	ids, digests := make([]string, len(ds)), make([]string, len(ds))
	for i, d := range ds {
		ids[i], digests[i] = d.WorkflowID, d.Digest
	}
	rows, err := s.db.QueryContext(ctx, processedDeliveriesSQL, pq.Array(ids), pq.Array(digests))
	if err != nil {
		return nil, fmt.Errorf("look up %d deliveries: %w", len(ds), err)
	}
	defer rows.Close()
	out := map[Delivery]bool{}
	for rows.Next() {
		var d Delivery
		if err := rows.Scan(&d.WorkflowID, &d.Digest); err != nil {
			return nil, fmt.Errorf("look up %d deliveries: %w", len(ds), err)
		}
		out[d] = true
	}
	return out, rows.Err()
}

// GetSubject returns the subject with this ID, whole, as its revision shown was received; or
// ErrNotFound.
func (s *Store) GetSubject(ctx context.Context, id int64) (*SubjectRecord, error) {
	return s.subject(ctx, "s.id = $1", id)
}

// SubjectByWorkflowID returns the subject handled by this workflow, whole (a workflow that has a slim
// copy reads it here); or ErrNotFound.
func (s *Store) SubjectByWorkflowID(ctx context.Context, workflowID string) (*SubjectRecord, error) {
	return s.subject(ctx, "s.workflow_id = $1", workflowID)
}

// SubjectsByID returns the subjects with these IDs, whole, by ID (an ID with no subject is absent): a bulk
// retry's plan reads a page of follow-ups' subjects at once.
func (s *Store) SubjectsByID(ctx context.Context, ids []int64) (map[int64]*SubjectRecord, error) {
	out := make(map[int64]*SubjectRecord, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	calls, err := s.callsWhere(ctx, "s.id = ANY($1)", pq.Array(ids))
	if err != nil {
		return nil, err
	}
	for _, c := range calls {
		out[c.SubjectID] = c.subject()
	}
	events, err := s.eventsWhere(ctx, "s.id = ANY($1)", pq.Array(ids))
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		out[e.SubjectID] = e.subject()
	}
	return out, nil
}

// subject reads the subject that matches cond (on subjects s) through its typed row: every subject has
// one, written with its first revision.
func (s *Store) subject(ctx context.Context, cond string, arg any) (*SubjectRecord, error) {
	calls, err := s.callsWhere(ctx, cond, arg)
	if err != nil {
		return nil, err
	}
	if len(calls) > 0 {
		return calls[0].subject(), nil
	}
	events, err := s.eventsWhere(ctx, cond, arg)
	if err != nil {
		return nil, err
	}
	if len(events) > 0 {
		return events[0].subject(), nil
	}
	return nil, fmt.Errorf("subject %v: %w", arg, ErrNotFound)
}

// subject is the call as a subject.
func (c CallRecord) subject() *SubjectRecord {
	return &SubjectRecord{Subject: airudder.CallSubject(c.ReceivedCall), ID: c.SubjectID, WorkflowID: c.WorkflowID,
		Revision: c.Revision, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// subject is the event as a subject.
func (e EventRecord) subject() *SubjectRecord {
	return &SubjectRecord{Subject: airudder.EventSubject(e.Event), ID: e.SubjectID, WorkflowID: e.WorkflowID,
		Revision: e.Revision, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

// Revisions lists the revisions of a subject, oldest first.
func (s *Store) Revisions(ctx context.Context, subjectID int64) ([]Revision, error) {
	var out []Revision
	if err := s.db.SelectContext(ctx, &out, selectRevisionsSQL, subjectID); err != nil {
		return nil, fmt.Errorf("list revisions of subject %d: %w", subjectID, err)
	}
	for i := range out {
		if len(out[i].Notes) > 0 {
			if err := json.Unmarshal(out[i].Notes, &out[i].ParseNotes); err != nil {
				return nil, fmt.Errorf("decode parse notes of subject %d revision %d: %w", subjectID, out[i].Revision, err)
			}
		}
	}
	return out, nil
}
