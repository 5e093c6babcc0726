package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/rudderhook/rudderhook/airudder"
)

// CallRecord is a stored call: what was received plus where it is handled.
type CallRecord struct {
	airudder.ReceivedCall
	WorkflowID string
	// Revision is the revision the record shows: the latest received of the call's distinct deliveries.
	Revision  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// callRow is the calls table, column for column.
type callRow struct {
	Seq                  int64             `db:"seq"`
	Source               string            `db:"source"`
	CallKey              string            `db:"call_key"`
	WorkflowID           string            `db:"workflow_id"`
	AirudderWorkflowID   string            `db:"airudder_workflow_id"`
	WorkflowName         string            `db:"workflow_name"`
	NodeTaskID           string            `db:"nodetask_id"`
	NodeTaskName         string            `db:"nodetask_name"`
	TaskID               string            `db:"task_id"`
	TaskName             string            `db:"task_name"`
	DetailID             *int64            `db:"detail_id"`
	RobotID              string            `db:"robot_id"`
	CalleeName           string            `db:"callee_name"`
	CalleeGender         string            `db:"callee_gender"`
	CalleeNumber         string            `db:"callee_number"`
	CallStartTime        *time.Time        `db:"call_start_time"`
	CallEndTime          *time.Time        `db:"call_end_time"`
	Status               string            `db:"status"`
	Intention            string            `db:"intention"`
	IntentionDescription string            `db:"intention_description"`
	CallID               string            `db:"call_id"`
	CallTimes            *int64            `db:"call_times"`
	Comments             string            `db:"comments"`
	BorrowedDate         *airudder.Date    `db:"borrowed_date"`
	DueDate              *airudder.Date    `db:"due_date"`
	BorrowedAmount       *airudder.Decimal `db:"borrowed_amount"`
	TotalOwingAmount     *airudder.Decimal `db:"total_owing_amount"`
	CurrencyUnit         string            `db:"currency_unit"`
	PlatformName         string            `db:"platform_name"`
	RingType             string            `db:"ring_type"`
	HangupType           string            `db:"hangup_type"`
	ExtraA               string            `db:"extra_a"`
	ExtraB               string            `db:"extra_b"`
	ExtraC               string            `db:"extra_c"`
	NerSlots             jsonValue         `db:"ner_slots"`
	AsrResult            jsonValue         `db:"asr_result"`
	AskWhatsApp          string            `db:"ask_whatsapp"`
	AsrPTP               string            `db:"asr_ptp"`
	MultiIntention       jsonValue         `db:"multi_intention"`
	EventLabel           jsonValue         `db:"event_label"`
	RingTime             *int64            `db:"ring_time"`
	TalkRound            *int64            `db:"talk_round"`
	CaseID               string            `db:"case_id"`
	Variables            jsonValue         `db:"variables"`
	CallerNumber         string            `db:"caller_number"`
	Family               string            `db:"family"`
	Kind                 string            `db:"kind"`
	EventTime            *time.Time        `db:"event_time"`
	Results              jsonValue         `db:"results"`
	Remarks              string            `db:"remarks"`
	RecordingURL         string            `db:"recording_url"`
	Agent                string            `db:"agent"`
	RawDetail            jsonValue         `db:"raw_detail"`
	RawTask              jsonValue         `db:"raw_task"`
	Revision             int               `db:"revision"`
	Digest               string            `db:"digest"`
	ParseNotes           jsonValue         `db:"parse_notes"`
	ReceivedAt           time.Time         `db:"received_at"`
	CreatedAt            time.Time         `db:"created_at"`
	UpdatedAt            time.Time         `db:"updated_at"`
}

// callColumns are the columns that an upsert writes (all but the generated and time-keeping ones).
var callColumns = []string{
	"source", "call_key", "workflow_id",
	"airudder_workflow_id", "workflow_name", "nodetask_id", "nodetask_name", "task_id", "task_name",
	"detail_id", "robot_id", "callee_name", "callee_gender", "callee_number", "call_start_time", "call_end_time",
	"status", "intention", "intention_description", "call_id", "call_times", "comments", "borrowed_date", "due_date",
	"borrowed_amount", "total_owing_amount", "currency_unit", "platform_name", "ring_type", "hangup_type",
	"extra_a", "extra_b", "extra_c", "ner_slots", "asr_result", "ask_whatsapp", "asr_ptp", "multi_intention",
	"event_label", "ring_time", "talk_round", "case_id", "variables", "caller_number", "raw_detail", "raw_task",
	"revision", "digest", "parse_notes", "received_at",
	"family", "kind", "event_time", "results", "remarks", "recording_url", "agent",
}

// upsertCallSQL inserts a call or, when it exists, replaces it with a revision received no earlier than
// the one it shows (a relayed older delivery is kept as a revision but does not hide a newer one). Where
// both revisions say when their event happened (PDS), that orders them instead: an event older than the
// one shown never overwrites it, however late it arrives. It returns a row only when it wrote one.
var upsertCallSQL = func() string {
	var names, sets []string
	for _, c := range callColumns {
		names = append(names, ":"+c)
		if c != "source" && c != "call_key" {
			sets = append(sets, c+" = EXCLUDED."+c)
		}
	}
	return `INSERT INTO calls (` + strings.Join(callColumns, ", ") + `) VALUES (` + strings.Join(names, ", ") + `)
ON CONFLICT (source, call_key) DO UPDATE SET ` + strings.Join(sets, ", ") + `, updated_at = now()
WHERE CASE WHEN calls.event_time IS NOT NULL AND EXCLUDED.event_time IS NOT NULL
  THEN calls.event_time <= EXCLUDED.event_time ELSE calls.received_at <= EXCLUDED.received_at END
RETURNING revision`
}()

const (
	deleteRedialsSQL = `DELETE FROM call_redials WHERE source = $1 AND call_key = $2`
	insertRedialSQL  = `INSERT INTO call_redials (source, call_key, position, call_id, call_start_time, ring_type,
  ring_time, hangup_type, result_label, callee_number, caller_number)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	// selectRedialsSQL reads the redials of many calls at once: $1 and $2 are parallel arrays of sources
	// and keys.
	selectRedialsSQL = `SELECT r.source, r.call_key, call_id, call_start_time, ring_type, ring_time, hangup_type,
  result_label, callee_number, caller_number
FROM call_redials r JOIN unnest($1::text[], $2::text[]) AS k(source, call_key)
  ON r.source = k.source AND r.call_key = k.call_key
ORDER BY r.source, r.call_key, position`
	selectCallSQL      = `SELECT * FROM calls WHERE source = $1 AND call_key = $2`
	selectCallByKeySQL = `SELECT * FROM calls WHERE call_key = $1 ORDER BY seq`
)

// Revision SQL. Revisions of one call are numbered under a transaction-scoped advisory lock on the call,
// so that two receivers storing two large deliveries at once do not take the same number.
const (
	lockCallSQL     = `SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))`
	findRevisionSQL = `SELECT revision, processed_at IS NOT NULL FROM call_revisions
WHERE source = $1 AND call_key = $2 AND digest = $3`
	nextRevisionSQL   = `SELECT coalesce(max(revision), 0) + 1 FROM call_revisions WHERE source = $1 AND call_key = $2`
	insertRevisionSQL = `INSERT INTO call_revisions (source, call_key, revision, digest, raw_detail, raw_task, parse_notes, received_at, processed_at)
VALUES (:source, :call_key, :revision, :digest, :raw_detail, :raw_task, :parse_notes, :received_at, CASE WHEN :processed THEN now() END)`
	markProcessedSQL = `UPDATE call_revisions SET processed_at = now()
WHERE source = $1 AND call_key = $2 AND revision = $3 AND processed_at IS NULL`
	latestRevisionSQL = `SELECT revision = $3 FROM calls WHERE source = $1 AND call_key = $2`
	// processedRevisionsSQL finds, among the deliveries given as parallel arrays of keys ($2) and digests
	// ($3) of one source, those processed already.
	processedRevisionsSQL = `SELECT r.call_key, r.digest FROM call_revisions r
JOIN unnest($2::text[], $3::text[]) AS d(call_key, digest) ON r.call_key = d.call_key AND r.digest = d.digest
WHERE r.source = $1 AND r.processed_at IS NOT NULL`
	selectRevisionsSQL = `SELECT revision, digest, parse_notes, received_at, created_at, processed_at FROM call_revisions
WHERE source = $1 AND call_key = $2 ORDER BY revision`
)

// Stored says what StoreRevision did.
type Stored struct {
	// Revision is the number of the delivery's revision (1, 2, …).
	Revision int `json:"revision"`
	// New is true when the delivery was not stored before (by digest).
	New bool `json:"new"`
	// Latest is true when the calls row shows this revision.
	Latest bool `json:"latest"`
}

// StoreRevision stores one delivery of a call as a revision, in one transaction: a delivery whose digest
// was stored before is the same revision (nothing changes but, with processed, its mark); a new one gets
// the next number and, unless an earlier-received revision is newer, becomes the call's row with its
// redials. processed marks the revision as processed by the call's workflow (the receiver stores large
// calls before their workflow runs, unprocessed).
func (s *Store) StoreRevision(ctx context.Context, rec CallRecord, processed bool) (Stored, error) {
	var out Stored
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if out, err = findRevision(ctx, tx, rec.Source, rec.Key, rec.Digest, processed); !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := tx.GetContext(ctx, &out.Revision, nextRevisionSQL, rec.Source, rec.Key); err != nil {
			return fmt.Errorf("number revision of %s/%s: %w", rec.Source, rec.Key, err)
		}
		out.New = true
		rec.Revision = out.Revision
		row := toRow(rec)
		rows, err := sqlx.NamedQueryContext(ctx, tx, upsertCallSQL, row)
		if err != nil {
			return fmt.Errorf("upsert call %s/%s: %w", rec.Source, rec.Key, err)
		}
		out.Latest = rows.Next()
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("upsert call %s/%s: %w", rec.Source, rec.Key, err)
		}
		if _, err := tx.NamedExecContext(ctx, insertRevisionSQL, revisionRow{callRow: row, Processed: processed}); err != nil {
			return fmt.Errorf("store revision %d of %s/%s: %w", out.Revision, rec.Source, rec.Key, err)
		}
		if !out.Latest {
			return nil
		}
		return replaceRedials(ctx, tx, rec)
	})
	return out, err
}

// MarkProcessed marks the revision with this digest, stored earlier (by the receiver, for a large call),
// as processed by the call's workflow. It returns ErrNotFound when no such revision was stored.
func (s *Store) MarkProcessed(ctx context.Context, source, key, digest string) (Stored, error) {
	var out Stored
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, err = findRevision(ctx, tx, source, key, digest, true)
		return err
	})
	return out, err
}

// findRevision looks up the revision with this digest under the call's lock (ErrNotFound when there is
// none), marking it processed if asked.
func findRevision(ctx context.Context, tx *sqlx.Tx, source, key, digest string, processed bool) (Stored, error) {
	var out Stored
	if _, err := tx.ExecContext(ctx, lockCallSQL, source, key); err != nil {
		return out, fmt.Errorf("lock call %s/%s: %w", source, key, err)
	}
	var wasProcessed bool
	err := tx.QueryRowContext(ctx, findRevisionSQL, source, key, digest).Scan(&out.Revision, &wasProcessed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return out, ErrNotFound
	case err != nil:
		return out, fmt.Errorf("find revision of %s/%s: %w", source, key, err)
	}
	if processed && !wasProcessed {
		if _, err := tx.ExecContext(ctx, markProcessedSQL, source, key, out.Revision); err != nil {
			return out, fmt.Errorf("mark revision %d of %s/%s processed: %w", out.Revision, source, key, err)
		}
	}
	if err := tx.GetContext(ctx, &out.Latest, latestRevisionSQL, source, key, out.Revision); err != nil {
		return out, fmt.Errorf("read call %s/%s: %w", source, key, err)
	}
	return out, nil
}

// revisionRow is a call row with the one parameter of insertRevisionSQL that the calls table lacks.
type revisionRow struct {
	callRow
	Processed bool `db:"processed"`
}

// Delivery names one delivery of a call: its key and digest.
type Delivery struct{ Key, Digest string }

// ProcessedDeliveries returns which of the deliveries (of one source) the calls' workflows have processed
// already, in one query: the same delivery again needs nothing.
func (s *Store) ProcessedDeliveries(ctx context.Context, source string, ds []Delivery) (map[Delivery]bool, error) {
	keys, digests := make([]string, len(ds)), make([]string, len(ds))
	for i, d := range ds {
		keys[i], digests[i] = d.Key, d.Digest
	}
	rows, err := s.db.QueryContext(ctx, processedRevisionsSQL, source, pq.Array(keys), pq.Array(digests))
	if err != nil {
		return nil, fmt.Errorf("look up revisions of %s: %w", source, err)
	}
	defer rows.Close()
	out := map[Delivery]bool{}
	for rows.Next() {
		var d Delivery
		if err := rows.Scan(&d.Key, &d.Digest); err != nil {
			return nil, fmt.Errorf("look up revisions of %s: %w", source, err)
		}
		out[d] = true
	}
	return out, rows.Err()
}

// Revision is one stored delivery of a call, without its raw JSON.
type Revision struct {
	Revision    int                  `db:"revision" json:"revision"`
	Digest      string               `db:"digest" json:"digest"`
	ParseNotes  []airudder.ParseNote `db:"-" json:"parse_notes,omitempty"`
	Notes       jsonValue            `db:"parse_notes" json:"-"`
	ReceivedAt  time.Time            `db:"received_at" json:"received_at"`
	CreatedAt   time.Time            `db:"created_at" json:"stored_at"`
	ProcessedAt *time.Time           `db:"processed_at" json:"processed_at,omitempty"`
}

// CallRevisions lists the revisions of a call, oldest first.
func (s *Store) CallRevisions(ctx context.Context, source, key string) ([]Revision, error) {
	var out []Revision
	if err := s.db.SelectContext(ctx, &out, selectRevisionsSQL, source, key); err != nil {
		return nil, fmt.Errorf("list revisions of %s/%s: %w", source, key, err)
	}
	for i := range out {
		if len(out[i].Notes) > 0 {
			if err := json.Unmarshal(out[i].Notes, &out[i].ParseNotes); err != nil {
				return nil, fmt.Errorf("decode parse notes of %s/%s revision %d: %w", source, key, out[i].Revision, err)
			}
		}
	}
	return out, nil
}

// replaceRedials makes the call's redials those of rec.
func replaceRedials(ctx context.Context, tx *sqlx.Tx, rec CallRecord) error {
	if _, err := tx.ExecContext(ctx, deleteRedialsSQL, rec.Source, rec.Key); err != nil {
		return fmt.Errorf("clear redials of %s/%s: %w", rec.Source, rec.Key, err)
	}
	for i, r := range rec.Call.RedialCalls {
		if _, err := tx.ExecContext(ctx, insertRedialSQL, rec.Source, rec.Key, i, r.CallID, r.CallStartTime,
			r.RingType, r.RingTime, r.HangupType, r.ResultLabel, r.CalleeNumber, r.CallerNumber); err != nil {
			return fmt.Errorf("store redial %d of %s/%s: %w", i, rec.Source, rec.Key, err)
		}
	}
	return nil
}

// GetCall returns the call with this key in this source, or ErrNotFound.
func (s *Store) GetCall(ctx context.Context, source, key string) (*CallRecord, error) {
	var row callRow
	if err := s.db.GetContext(ctx, &row, selectCallSQL, source, key); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("get call %s/%s: %w", source, key, err)
	}
	recs, err := s.records(ctx, []callRow{row})
	if err != nil {
		return nil, err
	}
	return &recs[0], nil
}

// FindCalls returns the calls with this key in any source (usually one).
func (s *Store) FindCalls(ctx context.Context, key string) ([]CallRecord, error) {
	var rows []callRow
	if err := s.db.SelectContext(ctx, &rows, selectCallByKeySQL, key); err != nil {
		return nil, fmt.Errorf("find call %s: %w", key, err)
	}
	return s.records(ctx, rows)
}

// CallFilter selects calls for listing. Empty fields do not filter.
type CallFilter struct {
	Source       string `json:"source"`
	CaseID       string `json:"case_id"`
	CalleeNumber string `json:"callee_number"`
	TaskID       string `json:"task_id"`
	Intention    string `json:"intention"`
	// ReceivedAfter and ReceivedBefore bound when calls arrived; zero does not bound.
	ReceivedAfter  time.Time `json:"received_after"`
	ReceivedBefore time.Time `json:"received_before"`
	// Before is a cursor: only calls listed after the one with this sequence number (0: from the newest).
	Before int64 `json:"-"`
	Limit  int   `json:"-"`
}

// ListCalls returns calls matching f, newest first, and the cursor of the next page (0 when there is none).
func (s *Store) ListCalls(ctx context.Context, f CallFilter) ([]CallRecord, int64, error) {
	var w where
	w.equal("source", f.Source)
	w.equal("case_id", f.CaseID)
	w.equal("callee_number", f.CalleeNumber)
	w.equal("task_id", f.TaskID)
	w.equal("intention", f.Intention)
	w.receivedBetween(f.ReceivedAfter, f.ReceivedBefore)
	q, args := w.page("calls", "seq", f.Before, f.Limit)
	var rows []callRow
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, 0, fmt.Errorf("list calls: %w", err)
	}
	rows, next := trimPage(rows, f.Limit, func(r callRow) int64 { return r.Seq })
	recs, err := s.records(ctx, rows)
	return recs, next, err
}

// records turns rows into records, reading the redials of all of them in one query.
func (s *Store) records(ctx context.Context, rows []callRow) ([]CallRecord, error) {
	out := make([]CallRecord, 0, len(rows))
	index := make(map[[2]string]int, len(rows))
	sources, keys := make([]string, len(rows)), make([]string, len(rows))
	for i, row := range rows {
		rec, err := fromRow(row)
		if err != nil {
			return nil, err
		}
		out = append(out, *rec)
		index[[2]string{row.Source, row.CallKey}] = i
		sources[i], keys[i] = row.Source, row.CallKey
	}
	if len(rows) == 0 {
		return out, nil
	}
	redials, err := s.db.QueryxContext(ctx, selectRedialsSQL, pq.Array(sources), pq.Array(keys))
	if err != nil {
		return nil, fmt.Errorf("read redials: %w", err)
	}
	defer redials.Close()
	for redials.Next() {
		var source, key string
		var r airudder.Redial
		if err := redials.Scan(&source, &key, &r.CallID, &r.CallStartTime, &r.RingType, &r.RingTime, &r.HangupType,
			&r.ResultLabel, &r.CalleeNumber, &r.CallerNumber); err != nil {
			return nil, fmt.Errorf("scan redial of %s/%s: %w", source, key, err)
		}
		c := &out[index[[2]string{source, key}]].Call
		c.RedialCalls = append(c.RedialCalls, r)
	}
	return out, redials.Err()
}

func toRow(rec CallRecord) callRow {
	c, t := rec.Call, rec.Task
	var asr jsonValue
	if c.AsrResult != nil {
		asr, _ = json.Marshal(c.AsrResult) // plain strings: cannot fail
	}
	var notes jsonValue
	if len(rec.ParseNotes) > 0 {
		notes, _ = json.Marshal(rec.ParseNotes) // plain strings: cannot fail
	}
	return callRow{
		Source: rec.Source, CallKey: rec.Key, WorkflowID: rec.WorkflowID,
		AirudderWorkflowID: t.WorkflowID, WorkflowName: t.WorkflowName, NodeTaskID: t.NodeTaskID,
		NodeTaskName: t.NodeTaskName, TaskID: t.TaskID, TaskName: t.TaskName,
		DetailID: c.ID, RobotID: c.RobotID, CalleeName: c.CalleeName, CalleeGender: c.CalleeGender,
		CalleeNumber: c.CalleeNumber, CallStartTime: c.CallStartTime, CallEndTime: c.CallEndTime,
		Status: c.Status, Intention: c.Intention, IntentionDescription: c.IntentionDescription, CallID: c.CallID,
		CallTimes: c.CallTimes, Comments: c.Comments, BorrowedDate: c.BorrowedDate, DueDate: c.DueDate,
		BorrowedAmount: c.BorrowedAmount, TotalOwingAmount: c.TotalOwingAmount, CurrencyUnit: c.CurrencyUnit,
		PlatformName: c.PlatformName, RingType: c.RingType, HangupType: c.HangupType,
		ExtraA: c.ExtraA, ExtraB: c.ExtraB, ExtraC: c.ExtraC, NerSlots: jsonValue(c.NerSlots), AsrResult: asr,
		AskWhatsApp: c.AskWhatsApp, AsrPTP: c.AsrPTP, MultiIntention: jsonValue(c.MultiIntention),
		EventLabel: jsonValue(c.EventLabel), RingTime: c.RingTime, TalkRound: c.TalkRound, CaseID: c.CaseID,
		Variables: jsonValue(c.Variables), CallerNumber: c.CallerNumber,
		RawDetail: jsonValue(rec.RawCall), RawTask: jsonValue(rec.RawTask), ReceivedAt: rec.ReceivedAt,
		Revision: rec.Revision, Digest: rec.Digest, ParseNotes: notes,
		Family: rec.Family(), Kind: rec.Kind, EventTime: rec.EventTime, Results: jsonValue(c.Results),
		Remarks: c.Remarks, RecordingURL: c.RecordingURL, Agent: c.Agent,
	}
}

func fromRow(r callRow) (*CallRecord, error) {
	rec := &CallRecord{
		ReceivedCall: airudder.ReceivedCall{
			Source: r.Source, Kind: r.Kind, Key: r.CallKey, ReceivedAt: r.ReceivedAt.UTC(), EventTime: utc(r.EventTime),
			Task: airudder.Task{WorkflowID: r.AirudderWorkflowID, WorkflowName: r.WorkflowName,
				NodeTaskID: r.NodeTaskID, NodeTaskName: r.NodeTaskName, TaskID: r.TaskID, TaskName: r.TaskName},
			RawTask: json.RawMessage(r.RawTask),
			RawCall: json.RawMessage(r.RawDetail),
			Call: airudder.Call{
				ID: r.DetailID, RobotID: r.RobotID, CalleeName: r.CalleeName, CalleeGender: r.CalleeGender,
				CalleeNumber: r.CalleeNumber, CallStartTime: utc(r.CallStartTime), CallEndTime: utc(r.CallEndTime),
				Status: r.Status, Intention: r.Intention, IntentionDescription: r.IntentionDescription,
				CallID: r.CallID, CallTimes: r.CallTimes, Comments: r.Comments, BorrowedDate: r.BorrowedDate,
				DueDate: r.DueDate, BorrowedAmount: r.BorrowedAmount, TotalOwingAmount: r.TotalOwingAmount,
				CurrencyUnit: r.CurrencyUnit, PlatformName: r.PlatformName, RingType: r.RingType,
				HangupType: r.HangupType, ExtraA: r.ExtraA, ExtraB: r.ExtraB, ExtraC: r.ExtraC,
				NerSlots: json.RawMessage(r.NerSlots), AskWhatsApp: r.AskWhatsApp, AsrPTP: r.AsrPTP,
				MultiIntention: json.RawMessage(r.MultiIntention), EventLabel: json.RawMessage(r.EventLabel),
				RingTime: r.RingTime, TalkRound: r.TalkRound, CaseID: r.CaseID,
				Variables: json.RawMessage(r.Variables), CallerNumber: r.CallerNumber,
				Results: json.RawMessage(r.Results), Remarks: r.Remarks, RecordingURL: r.RecordingURL, Agent: r.Agent,
				Raw: json.RawMessage(r.RawDetail),
			},
		},
		WorkflowID: r.WorkflowID,
		Revision:   r.Revision,
		CreatedAt:  r.CreatedAt.UTC(),
		UpdatedAt:  r.UpdatedAt.UTC(),
	}
	rec.Digest = r.Digest
	if len(r.ParseNotes) > 0 {
		if err := json.Unmarshal(r.ParseNotes, &rec.ParseNotes); err != nil {
			return nil, fmt.Errorf("decode parse notes of %s/%s: %w", r.Source, r.CallKey, err)
		}
	}
	if len(r.AsrResult) > 0 {
		if err := json.Unmarshal(r.AsrResult, &rec.Call.AsrResult); err != nil {
			return nil, fmt.Errorf("decode transcript of %s/%s: %w", r.Source, r.CallKey, err)
		}
	}
	return rec, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
