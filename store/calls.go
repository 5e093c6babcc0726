package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/rudderhook/rudderhook/airudder"
)

// CallRecord is a stored call: what was received (its revision shown) plus where it is handled.
type CallRecord struct {
	airudder.ReceivedCall
	// SubjectID is the call's subject (see subjects.go).
	SubjectID  int64
	WorkflowID string
	// Revision is the revision the record shows (see showRevisionSQL).
	Revision  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// callColumns are the typed columns of a call: what the calls table holds beside its subject (the
// envelope's and the Details element's fields, and a PDS call's), each named as its db tag in callRow.
var callColumns = []string{
	"airudder_workflow_id", "workflow_name", "nodetask_id", "nodetask_name", "task_id", "task_name",
	"detail_id", "robot_id", "callee_name", "callee_gender", "callee_number", "call_start_time", "call_end_time",
	"status", "intention", "intention_description", "call_id", "call_times", "comments", "borrowed_date", "due_date",
	"borrowed_amount", "total_owing_amount", "currency_unit", "platform_name", "ring_type", "hangup_type",
	"extra_a", "extra_b", "extra_c", "ner_slots", "asr_result", "ask_whatsapp", "asr_ptp", "multi_intention",
	"event_label", "ring_time", "talk_round", "case_id", "variables", "caller_number",
	"results", "remarks", "recording_url", "agent",
}

// callRow is a calls row, column for column, read with its subject and the revision it shows.
type callRow struct {
	shownRow
	Seq                  int64             `db:"seq"`
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
	Results              jsonValue         `db:"results"`
	Remarks              string            `db:"remarks"`
	RecordingURL         string            `db:"recording_url"`
	Agent                string            `db:"agent"`
}

// upsertCallSQL writes a call's typed row: StoreRevision calls it when a revision becomes the one shown.
var upsertCallSQL = func() string {
	var names, sets []string
	for _, c := range callColumns {
		names = append(names, ":"+c)
		sets = append(sets, c+" = EXCLUDED."+c)
	}
	return `INSERT INTO calls (subject_id, ` + strings.Join(callColumns, ", ") + `) VALUES (:subject_id, ` + strings.Join(names, ", ") + `)
ON CONFLICT (subject_id) DO UPDATE SET ` + strings.Join(sets, ", ")
}()

const (
	// selectCallsSQL reads calls with their subjects; a condition on t (calls), s (subjects) or r (the
	// revision shown) follows.
	selectCallsSQL   = `SELECT t.*, ` + shownColumns + ` FROM calls t` + fromShownSQL
	deleteRedialsSQL = `DELETE FROM call_redials WHERE subject_id = $1`
	insertRedialSQL  = `INSERT INTO call_redials (subject_id, position, call_id, call_start_time, ring_type,
  ring_time, hangup_type, result_label, callee_number, caller_number)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	// selectRedialsSQL reads the redials of many calls at once.
	selectRedialsSQL = `SELECT subject_id, call_id, call_start_time, ring_type, ring_time, hangup_type,
  result_label, callee_number, caller_number
FROM call_redials WHERE subject_id = ANY($1) ORDER BY subject_id, position`
)

// upsertCall writes the typed row of the call of subject id, and its redials.
func upsertCall(ctx context.Context, tx *sqlx.Tx, id int64, rc airudder.ReceivedCall) error {
	row := toRow(rc)
	row.SubjectID = id
	if _, err := tx.NamedExecContext(ctx, upsertCallSQL, row); err != nil {
		return fmt.Errorf("store call %s/%s: %w", rc.Source, rc.Key, err)
	}
	if _, err := tx.ExecContext(ctx, deleteRedialsSQL, id); err != nil {
		return fmt.Errorf("clear redials of %s/%s: %w", rc.Source, rc.Key, err)
	}
	for i, r := range rc.Call.RedialCalls {
		if _, err := tx.ExecContext(ctx, insertRedialSQL, id, i, r.CallID, r.CallStartTime,
			r.RingType, r.RingTime, r.HangupType, r.ResultLabel, r.CalleeNumber, r.CallerNumber); err != nil {
			return fmt.Errorf("store redial %d of %s/%s: %w", i, rc.Source, rc.Key, err)
		}
	}
	return nil
}

// GetCall returns the call with this key in this source, or ErrNotFound.
func (s *Store) GetCall(ctx context.Context, source, key string) (*CallRecord, error) {
	recs, err := s.callsWhere(ctx, "s.source = $1 AND s.subject_key = $2", source, key)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNotFound
	}
	return &recs[0], nil
}

// FindCalls returns the calls with this key in any source (usually one).
func (s *Store) FindCalls(ctx context.Context, key string) ([]CallRecord, error) {
	return s.callsWhere(ctx, "s.subject_key = $1 ORDER BY t.seq", key)
}

// callsWhere reads the calls that match cond (on t, s or r; see selectCallsSQL).
func (s *Store) callsWhere(ctx context.Context, cond string, args ...any) ([]CallRecord, error) {
	var rows []callRow
	if err := s.db.SelectContext(ctx, &rows, selectCallsSQL+" WHERE "+cond, args...); err != nil {
		return nil, fmt.Errorf("read calls %v: %w", args, err)
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
	w.equal("s.source", f.Source)
	w.equal("t.case_id", f.CaseID)
	w.equal("t.callee_number", f.CalleeNumber)
	w.equal("t.task_id", f.TaskID)
	w.equal("t.intention", f.Intention)
	w.receivedBetween("s.received_at", f.ReceivedAfter, f.ReceivedBefore)
	q, args := w.page(selectCallsSQL, "t.seq", f.Before, f.Limit)
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
	index := make(map[int64]int, len(rows))
	ids := make([]int64, len(rows))
	for i, row := range rows {
		rec, err := fromRow(row)
		if err != nil {
			return nil, err
		}
		out = append(out, *rec)
		index[row.SubjectID] = i
		ids[i] = row.SubjectID
	}
	if len(rows) == 0 {
		return out, nil
	}
	redials, err := s.db.QueryxContext(ctx, selectRedialsSQL, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("read redials: %w", err)
	}
	defer redials.Close()
	for redials.Next() {
		var id int64
		var r airudder.Redial
		if err := redials.Scan(&id, &r.CallID, &r.CallStartTime, &r.RingType, &r.RingTime, &r.HangupType,
			&r.ResultLabel, &r.CalleeNumber, &r.CallerNumber); err != nil {
			return nil, fmt.Errorf("scan redial of subject %d: %w", id, err)
		}
		c := &out[index[id]].Call
		c.RedialCalls = append(c.RedialCalls, r)
	}
	return out, redials.Err()
}

func toRow(rc airudder.ReceivedCall) callRow {
	c, t := rc.Call, rc.Task
	var asr jsonValue
	if c.AsrResult != nil {
		asr, _ = json.Marshal(c.AsrResult) // plain strings: cannot fail
	}
	return callRow{
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
		Variables: jsonValue(c.Variables), CallerNumber: c.CallerNumber, Results: jsonValue(c.Results),
		Remarks: c.Remarks, RecordingURL: c.RecordingURL, Agent: c.Agent,
	}
}

func fromRow(r callRow) (*CallRecord, error) {
	kind := r.Kind
	if kind == airudder.KindCallCompleted {
		kind = "" // a call completion's, as received (and as workflow histories recorded it)
	}
	rec := &CallRecord{
		ReceivedCall: airudder.ReceivedCall{
			Source: r.Source, Kind: kind, Key: r.Key, ReceivedAt: r.ReceivedAt.UTC(), EventTime: utc(r.EventTime),
			Digest: r.Digest,
			Task: airudder.Task{WorkflowID: r.AirudderWorkflowID, WorkflowName: r.WorkflowName,
				NodeTaskID: r.NodeTaskID, NodeTaskName: r.NodeTaskName, TaskID: r.TaskID, TaskName: r.TaskName},
			RawTask: json.RawMessage(r.Envelope),
			RawCall: json.RawMessage(r.Raw),
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
				Raw: json.RawMessage(r.Raw),
			},
		},
		SubjectID:  r.SubjectID,
		WorkflowID: r.WorkflowID,
		Revision:   r.Revision,
		CreatedAt:  r.CreatedAt.UTC(),
		UpdatedAt:  r.UpdatedAt.UTC(),
	}
	var err error
	if rec.ParseNotes, err = r.notes(); err != nil {
		return nil, err
	}
	if len(r.AsrResult) > 0 {
		if err := json.Unmarshal(r.AsrResult, &rec.Call.AsrResult); err != nil {
			return nil, fmt.Errorf("decode transcript of %s/%s: %w", r.Source, r.Key, err)
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
