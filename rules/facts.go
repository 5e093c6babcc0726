package rules

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
)

// Call is what a rule sees as `call`: the fields of a received call under snake_case names, with values
// a business user can compare directly. Absent numbers are 0, absent texts "", absent dates and times the
// zero time (so `has(call.due_date)` is false); amounts are doubles here (conditions compare them with
// thresholds), while the database keeps them exact; free-form objects are maps of text (a value that is
// not a JSON string is given as its JSON text).
type Call struct {
	Source               string            `cel:"source"`
	Key                  string            `cel:"key"`
	CallID               string            `cel:"call_id"`
	ID                   int64             `cel:"id"`
	CaseID               string            `cel:"case_id"`
	CalleeNumber         string            `cel:"callee_number"`
	CalleeName           string            `cel:"callee_name"`
	CalleeGender         string            `cel:"callee_gender"`
	CallerNumber         string            `cel:"caller_number"`
	RobotID              string            `cel:"robot_id"`
	Status               string            `cel:"status"`
	Intention            string            `cel:"intention"`
	IntentionDescription string            `cel:"intention_description"`
	RingType             string            `cel:"ring_type"`
	HangupType           string            `cel:"hangup_type"`
	CallTimes            int64             `cel:"call_times"`
	TalkRound            int64             `cel:"talk_round"`
	RingTime             int64             `cel:"ring_time"`
	CallStartTime        time.Time         `cel:"call_start_time"`
	CallEndTime          time.Time         `cel:"call_end_time"`
	Duration             time.Duration     `cel:"duration"`
	ReceivedAt           time.Time         `cel:"received_at"`
	BorrowedDate         time.Time         `cel:"borrowed_date"`
	DueDate              time.Time         `cel:"due_date"`
	BorrowedAmount       float64           `cel:"borrowed_amount"`
	TotalOwingAmount     float64           `cel:"total_owing_amount"`
	Currency             string            `cel:"currency"`
	PlatformName         string            `cel:"platform_name"`
	Comments             string            `cel:"comments"`
	ExtraA               string            `cel:"extra_a"`
	ExtraB               string            `cel:"extra_b"`
	ExtraC               string            `cel:"extra_c"`
	AskWhatsApp          string            `cel:"ask_whatsapp"`
	AsrPTP               string            `cel:"asr_ptp"`
	NerSlots             map[string]string `cel:"ner_slots"`
	EventLabel           map[string]string `cel:"event_label"`
	MultiIntention       map[string]string `cel:"multi_intention"`
	Variables            map[string]string `cel:"variables"`
	Transcript           string            `cel:"transcript"`
	RedialCount          int64             `cel:"redial_count"`
	WorkflowName         string            `cel:"workflow_name"`
	AirudderWorkflowID   string            `cel:"workflow_id"`
	TaskID               string            `cel:"task_id"`
	TaskName             string            `cel:"task_name"`
	NodeTaskName         string            `cel:"nodetask_name"`
	// ParseNotes are the fields kept as sent but not typed, field → why: `"DueDate" in call.parse_notes`.
	ParseNotes map[string]string `cel:"parse_notes"`

	// The amounts as Airudder wrote them ("20310.00"), for templates: a body sends the exact amount.
	borrowedText, owingText string
}

// FactsOf turns a received call into what rules see.
func FactsOf(rc airudder.ReceivedCall) *Call {
	c := rc.Call
	f := &Call{
		Source: rc.Source, Key: rc.Key, CallID: c.CallID, CaseID: c.CaseID, CalleeNumber: c.CalleeNumber,
		CalleeName: c.CalleeName, CalleeGender: c.CalleeGender, CallerNumber: c.CallerNumber, RobotID: c.RobotID,
		Status: c.Status, Intention: c.Intention, IntentionDescription: c.IntentionDescription,
		RingType: c.RingType, HangupType: c.HangupType, ReceivedAt: rc.ReceivedAt.UTC(),
		Currency: c.CurrencyUnit, PlatformName: c.PlatformName, Comments: c.Comments,
		ExtraA: c.ExtraA, ExtraB: c.ExtraB, ExtraC: c.ExtraC, AskWhatsApp: c.AskWhatsApp, AsrPTP: c.AsrPTP,
		NerSlots: textMap(c.NerSlots), EventLabel: textMap(c.EventLabel), MultiIntention: textMap(c.MultiIntention),
		Variables: textMap(c.Variables), RedialCount: int64(len(c.RedialCalls)),
		WorkflowName: rc.Task.WorkflowName, AirudderWorkflowID: rc.Task.WorkflowID, TaskID: rc.Task.TaskID,
		TaskName: rc.Task.TaskName, NodeTaskName: rc.Task.NodeTaskName,
		ParseNotes: airudder.NoteFields(rc.ParseNotes),
	}
	f.ID = deref(c.ID)
	f.CallTimes, f.TalkRound, f.RingTime = deref(c.CallTimes), deref(c.TalkRound), deref(c.RingTime)
	if c.CallStartTime != nil {
		f.CallStartTime = c.CallStartTime.UTC()
	}
	if c.CallEndTime != nil {
		f.CallEndTime = c.CallEndTime.UTC()
	}
	if !f.CallStartTime.IsZero() && !f.CallEndTime.IsZero() {
		f.Duration = f.CallEndTime.Sub(f.CallStartTime)
	}
	if c.BorrowedDate != nil {
		f.BorrowedDate = c.BorrowedDate.In(time.UTC)
	}
	if c.DueDate != nil {
		f.DueDate = c.DueDate.In(time.UTC)
	}
	if c.BorrowedAmount != nil {
		f.BorrowedAmount, f.borrowedText = c.BorrowedAmount.Float64(), c.BorrowedAmount.String()
	}
	if c.TotalOwingAmount != nil {
		f.TotalOwingAmount, f.owingText = c.TotalOwingAmount.Float64(), c.TotalOwingAmount.String()
	}
	var lines []string
	for _, e := range c.AsrResult {
		for _, s := range []string{e.RobotText, e.Text} {
			if s != "" {
				lines = append(lines, s)
			}
		}
	}
	f.Transcript = strings.Join(lines, "\n")
	return f
}

// Map is the same facts under the same names, for templates: {{ .call.case_id }}. Amounts are the exact
// text Airudder sent ("20310.00", or "" when absent), not the doubles conditions compare.
func (c *Call) Map() map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		if name := v.Type().Field(i).Tag.Get("cel"); name != "" {
			out[name] = v.Field(i).Interface()
		}
	}
	out["borrowed_amount"], out["total_owing_amount"] = c.borrowedText, c.owingText
	return out
}

// FieldNames lists the names a rule may use after `call.`, for documentation and error hints.
func FieldNames() []string {
	t := reflect.TypeFor[Call]()
	var out []string
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("cel"); name != "" {
			out = append(out, name)
		}
	}
	return out
}

func textMap(raw json.RawMessage) map[string]string {
	var obj map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &obj) != nil {
		return map[string]string{}
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
