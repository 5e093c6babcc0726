// Package airudder holds the shapes of what Airudder sends us and what we send to Airudder: every
// callback kind (kinds.go is their registry: call completion in parse.go, the others as events in
// event.go, notifications.go, qa.go, pds.go, generic.go, all read by one lenient reader, reader.go), the
// Sign, and the values (times, dates, money) that need care to keep exact; and Client, which calls
// Airudder's open API (endpoints.go says where, and how sure we are of it). Its subpackage airuddertest
// is a fake of that API for tests.
//
// It is a leaf package: every layer (api, activities, workflows, store, rules) may import it, and it
// imports none of them. JSON tags follow Airudder's spelling; Go names follow Go's.
package airudder

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/rudderhook/rudderhook/payload"
)

// Task is the envelope of a call-completion callback: the Airudder workflow node whose calls ended.
// The field names are Airudder's, including its mix of snake_case and PascalCase.
type Task struct {
	WorkflowID   string `json:"workflow_id"`
	WorkflowName string `json:"workflow_name"`
	NodeTaskID   string `json:"nodetask_id"`
	NodeTaskName string `json:"nodetask_name"`
	TaskID       string `json:"TaskID"`
	TaskName     string `json:"TaskName"`
}

// CallCompleted is one parsed "Workflow call completion" callback: an envelope and one or more calls.
type CallCompleted struct {
	Task
	Details []Call `json:"Details"`
	// RawTask is the envelope as received, without Details and without the Sign (a credential that never
	// expires, so it is stored nowhere), so that fields Airudder adds later are kept.
	RawTask json.RawMessage `json:"-"`
	// Notes are the envelope's parse notes; they hold for every call.
	Notes []ParseNote `json:"-"`
	// Kind is the route name of the callback kind that brought the calls, empty for call completion (see
	// ReceivedCall.Kind).
	Kind string `json:"-"`
	// numbers are the keys the calls were read with (ParseOptions.Numbers), for Received.
	numbers NumberKeys
	// original is the body as sent when making it storable rewrote an escape in it (see Unsigned).
	original map[string]json.RawMessage
}

// Call is one element of Details: the outcome of one callee's call, after any redials.
//
// Strings that Airudder may omit are plain strings (absent and empty mean the same to Airudder); numbers,
// times, dates and amounts are pointers so that "absent" stays distinguishable from zero.
type Call struct {
	ID                   *int64          `json:"id"`
	RobotID              string          `json:"RobotID"`
	CalleeName           string          `json:"CalleeName"`
	CalleeGender         string          `json:"CalleeGender"`
	CalleeNumber         string          `json:"CalleeNumber"`
	CallStartTime        *time.Time      `json:"CallStartTime"`
	CallEndTime          *time.Time      `json:"CallEndTime"`
	Status               string          `json:"Status"`
	Intention            string          `json:"Intention"`
	IntentionDescription string          `json:"intention_description"`
	CallID               string          `json:"CallID"`
	CallTimes            *int64          `json:"CallTimes"`
	Comments             string          `json:"Comments"`
	BorrowedDate         *Date           `json:"BorrowedDate"`
	DueDate              *Date           `json:"DueDate"`
	BorrowedAmount       *Decimal        `json:"BorrowedAmount"`
	TotalOwingAmount     *Decimal        `json:"TotalOwingAmount"`
	CurrencyUnit         string          `json:"CurrencyUnit"`
	PlatformName         string          `json:"PlatformName"`
	RingType             string          `json:"RingType"`
	HangupType           string          `json:"HangupType"`
	ExtraA               string          `json:"ExtraA"`
	ExtraB               string          `json:"ExtraB"`
	ExtraC               string          `json:"ExtraC"`
	NerSlots             json.RawMessage `json:"NerSlots"`
	AsrResult            []AsrEntry      `json:"AsrResult"`
	AskWhatsApp          string          `json:"AskWhatsAPP"`
	AsrPTP               string          `json:"AsrPTP"`
	MultiIntention       json.RawMessage `json:"Multi_intention"`
	EventLabel           json.RawMessage `json:"EventLabel"`
	RingTime             *int64          `json:"RingTime"`
	TalkRound            *int64          `json:"TalkRound"`
	RedialCalls          []Redial        `json:"RedailCall"`
	CaseID               string          `json:"CaseID"`
	Variables            json.RawMessage `json:"Variables"`
	CallerNumber         string          `json:"caller_number"`

	// Fields of the PDS family only (a PDS agent's call result; see PDSEvent): the tenant's result form
	// (keys may hold spaces: "PTP Date"), the agent's remarks, the recording's link, the agent.
	Results      json.RawMessage `json:"customizeResults,omitempty"`
	Remarks      string          `json:"talkremarks,omitempty"`
	RecordingURL string          `json:"recLink,omitempty"`
	Agent        string          `json:"agentName,omitempty"`

	// Raw is the element of Details exactly as received, unknown fields included.
	Raw json.RawMessage `json:"-"`
	// Notes are the fields that were kept as sent but not read into their typed form.
	Notes []ParseNote `json:"-"`
}

// AsrEntry is one line of the call's transcript.
type AsrEntry struct {
	Time      string `json:"time"`
	RobotText string `json:"robottext"`
	Text      string `json:"text"`
}

// Redial is one earlier attempt to reach the callee (Airudder spells the list "RedailCall").
type Redial struct {
	CallID        string     `json:"CallID"`
	CallStartTime *time.Time `json:"CallStartTime"`
	RingType      string     `json:"RingType"`
	RingTime      *int64     `json:"RingTime"`
	HangupType    string     `json:"HangupType"`
	ResultLabel   string     `json:"ResultLabel"`
	CalleeNumber  string     `json:"callee_number"`
	CallerNumber  string     `json:"caller_number"`
}

// Known values of the spec's enums. Airudder may add values; unknown ones are stored as they come.
const (
	StatusCreated   = "created"
	StatusPending   = "pending"
	StatusFinished  = "finished"
	StatusCancelled = "cancelled"
	StatusFailed    = "failed"

	RingTypeBusy        = "busy"
	RingTypeCantUse     = "cantuse"
	RingTypeHoldLine    = "holdline"
	RingTypeSwitchOff   = "switchoff"
	RingTypeOutOfArea   = "outofarea"
	RingTypeUnregister  = "unregister"
	RingTypeWrongNum    = "wrongnum"
	RingTypeNotMatch    = "notmatch"
	RingTypeNormal      = "normal"
	RingTypeNull        = "null" // Airudder sends the string "null", not JSON null
	HangupTypeByCallee  = "ByCallee"
	HangupTypeByRobot   = "ByRobot"
	HangupTypeCancelled = "Canceled"
)

// Key is what identifies a call within a source: its CallID, or "{TaskID}/{id}" when Airudder sent no
// CallID, or, when neither is available, its content key (ContentKey).
func (c *Call) Key(taskID string) string {
	if c.CallID != "" {
		return c.CallID
	}
	if taskID != "" && c.ID != nil {
		return taskID + "/" + formatInt(*c.ID)
	}
	return c.ContentKey()
}

// ContentKey is the key of a call that names itself by neither CallID nor TaskID and id: "sha256:" and
// the hash of its element of Details in canonical form (keys sorted, no white space), 71 bytes. The
// same element delivered again has the same key, however re-serialized; a corrected one is another
// call, since nothing else says it is the same (the call's parse note says so).
func (c *Call) ContentKey() string { return bodyHashKey(c.Raw) }

// ReceivedCall is one call as rudderhook received it: an element of Details with the envelope it came in
// and the source that received it. It is the input of the call's workflow and what the store keeps.
type ReceivedCall struct {
	Source string `json:"source"`
	// Kind is the route name of the callback kind that brought the call: empty for call completion (the
	// only kind before there were others, so calls stored and histories recorded then read the same),
	// KindInfoCheckCompleted, or KindPDS for a PDS agent's call result.
	Kind       string          `json:"kind,omitempty"`
	Key        string          `json:"key"`
	ReceivedAt time.Time       `json:"received_at"`
	Task       Task            `json:"task"`
	RawTask    json.RawMessage `json:"raw_task"`
	Call       Call            `json:"call"`
	RawCall    json.RawMessage `json:"raw_call"`
	// ParseNotes are the call's and its envelope's fields that did not parse (see ParseNote).
	ParseNotes []ParseNote `json:"parse_notes,omitempty"`
	// Digest identifies this delivery's content (the call and its envelope, without the Sign): the same
	// call delivered again with the same digest is the same revision.
	Digest string `json:"digest,omitempty"`
	// EventTime orders revisions that may arrive out of order (a PDS call's events): a revision with an
	// older EventTime than the call's latest must not become its latest. Nil where deliveries are ordered
	// by arrival (call completion).
	EventTime *time.Time `json:"event_time,omitempty"`
	// CalleeNumberHMAC, when a PII key is set, is what the CalleeNumber search attribute holds instead of
	// the number (NumberKeys.CalleeSearch). It is computed when the call is read, so that the workflow,
	// which sets the attribute, gets it in its input and never needs the key; empty: the number itself.
	CalleeNumberHMAC string `json:"callee_number_hmac,omitempty"`
	// Origin says how rudderhook learnt of this delivery: "" (OriginCallback) for a callback, OriginBackfill
	// for a record that reconciliation read from Airudder's API because no callback brought it, or
	// brought it differently (see backfill.go).
	Origin string `json:"origin,omitempty"`
}

// Call families: which Airudder product made a call. Keys of different families never clash (a PDS
// call's key starts with "pds/").
const (
	FamilyWorkflow = "workflow"
	FamilyPDS      = "pds"
)

// Family is the product that made the call: FamilyPDS for a PDS agent's call, else FamilyWorkflow.
func (rc ReceivedCall) Family() string {
	if rc.Kind == KindPDS {
		return FamilyPDS
	}
	return FamilyWorkflow
}

// Received splits a callback into its calls, as received by source at the given time.
func (cc *CallCompleted) Received(source string, at time.Time) []ReceivedCall {
	out := make([]ReceivedCall, len(cc.Details))
	for i, c := range cc.Details {
		out[i] = ReceivedCall{
			Source:     source,
			Kind:       cc.Kind,
			Key:        c.Key(cc.TaskID),
			ReceivedAt: at,
			Task:       cc.Task,
			RawTask:    cc.RawTask,
			Call:       c,
			RawCall:    c.Raw,
			ParseNotes: capNotes(append(slices.Clip(c.Notes), cc.Notes...)),
			Digest:     Digest(c.Raw, cc.RawTask),

			CalleeNumberHMAC: cc.numbers.CalleeSearch(c.CalleeNumber),
		}
	}
	return out
}

// Unsigned is the callback again as one body, without its Sign (a credential that never expires, so it
// is stored nowhere): what the inbox keeps. Reading it gives the same calls, with the same digests and
// parse notes: a body whose unstorable escapes were rewritten is kept with them as sent (the inbox keeps
// bytes), so that reading it again rewrites and notes them as the receiver did.
func (cc *CallCompleted) Unsigned() ([]byte, error) {
	if cc.original != nil {
		return withoutSign(cc.original)
	}
	env, ok := splitObject(cc.RawTask)
	if !ok {
		var err error
		if err = json.Unmarshal(cc.RawTask, &env); err != nil {
			return nil, fmt.Errorf("decode envelope: %w", err)
		}
		if env == nil {
			env = map[string]json.RawMessage{}
		}
	}
	details := make([]json.RawMessage, len(cc.Details))
	for i, c := range cc.Details {
		details[i] = c.Raw
	}
	var err error
	if env["Details"], err = marshalAsSent(details); err != nil {
		return nil, fmt.Errorf("encode Details: %w", err)
	}
	b, err := marshalAsSent(env)
	if err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	return b, nil
}

// marshalAsSent encodes v (raw JSON pieces of a callback) without the HTML escaping of json.Marshal, which
// would write "<" as "\u003c": re-encoded text reads, and digests, as it was sent.
// withoutSign is the body of fields, as sent, without its Sign.
func withoutSign(fields map[string]json.RawMessage) ([]byte, error) {
	env := maps.Clone(fields)
	delete(env, "Sign")
	b, err := marshalAsSent(env)
	if err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	return b, nil
}

func marshalAsSent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// specFields are the JSON names of the spec's fields, of a call and of its envelope.
var specFields = func() map[string]bool {
	out := map[string]bool{}
	for _, t := range []reflect.Type{reflect.TypeFor[Call](), reflect.TypeFor[Task]()} {
		for i := range t.NumField() {
			if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
				out[name] = true
			}
		}
	}
	return out
}()

// SpecField names the spec's field that a parse note's path is in ("AsrResult[2].text" is in AsrResult),
// or "other" for a field the spec does not name: a bounded set, for metrics.
func SpecField(path string) string {
	if i := strings.IndexAny(path, "[."); i >= 0 {
		path = path[:i]
	}
	if specFields[path] {
		return path
	}
	return "other"
}

// Digest is the hex SHA-256 of a call's raw JSON and its envelope's, both compacted (the envelope is
// re-encoded with sorted keys and without the Sign), so that a byte-identical redelivery, or one that
// differs only in whitespace, has the same digest.
func Digest(rawCall, rawTask json.RawMessage) string {
	h := sha256.New()
	var buf bytes.Buffer
	for _, raw := range []json.RawMessage{rawCall, rawTask} {
		buf.Reset()
		if json.Compact(&buf, raw) != nil {
			buf.Write(raw)
		}
		h.Write(buf.Bytes())
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// NoteFields is the parse notes as field → why, the shape rules test (`"DueDate" in call.parse_notes`).
func NoteFields(notes []ParseNote) map[string]string {
	out := make(map[string]string, len(notes))
	for _, n := range notes {
		if _, ok := out[n.Field]; !ok {
			out[n.Field] = n.Why
		}
	}
	return out
}

// maxSlimNotes bounds the parse notes a slim copy carries; the store has them all.
const maxSlimNotes = 100

// Large reports whether the call is too large to carry whole in a workflow's input (see package
// payload): it is stored in PostgreSQL first and its workflow gets a slim copy (see Slim).
func (rc ReceivedCall) Large() bool { return !payload.Fits(len(rc.RawCall) + len(rc.RawTask)) }

// Slim is the call without its bulk (transcript, free-form objects, redials, raw JSON): what a workflow
// needs to name and find it. The whole call is read back from the store.
func (rc ReceivedCall) Slim() ReceivedCall {
	c := rc.Call
	rc.RawCall, rc.RawTask = nil, nil
	// A large call's texts may be large too (a body is up to 2 MiB): the slim copy keeps them cut, the
	// same way search attributes cut them, so that both name the call alike.
	short := func(s string) string { return payload.CutHashed(s, payload.SearchTextLimit) }
	rc.Call = Call{
		ID: c.ID, CallID: short(c.CallID), CaseID: short(c.CaseID), CalleeNumber: short(c.CalleeNumber),
		Status: short(c.Status), Intention: short(c.Intention), IntentionDescription: short(c.IntentionDescription),
		RingType: short(c.RingType), HangupType: short(c.HangupType), CallStartTime: c.CallStartTime,
		CallEndTime: c.CallEndTime, TalkRound: c.TalkRound,
	}
	rc.Task = Task{WorkflowID: short(rc.Task.WorkflowID), WorkflowName: short(rc.Task.WorkflowName),
		NodeTaskID: short(rc.Task.NodeTaskID), NodeTaskName: short(rc.Task.NodeTaskName),
		TaskID: short(rc.Task.TaskID), TaskName: short(rc.Task.TaskName)}
	if len(rc.ParseNotes) > maxSlimNotes {
		rc.ParseNotes = rc.ParseNotes[:maxSlimNotes]
	}
	for i, n := range rc.ParseNotes {
		rc.ParseNotes[i] = ParseNote{Field: short(n.Field), Text: n.Text, Why: short(n.Why)}
	}
	return rc
}
