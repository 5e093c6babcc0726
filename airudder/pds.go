package airudder

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rudderhook/rudderhook/payload"
)

// Types of a PDS (predictive dialer) webhook: the body's "type".
const (
	PDSTaskStatus    = "TaskStatus"
	PDSContactStatus = "ContactStatus"
	PDSAgentStatus   = "AgentStatus"
)

// States seen in PDS webhooks. Airudder may send others; they are kept as they come.
const (
	PDSAgentCalling    = "CALLING"
	PDSAgentRinging    = "RINGING"
	PDSAgentAnswered   = "ANSWERED"
	PDSAgentHangup     = "HANGUP"
	PDSAgentTalkResult = "TALKRESULT"
	PDSTaskFinished    = "Finished"
)

// Rules' names of the PDS event types (Kind.On).
const (
	onPDSTaskStatus    = "pds.task_status"
	onPDSContactStatus = "pds.contact_status"
	onPDSAgentStatus   = "pds.agent_status"
)

var pdsTypes = []struct{ typ, on string }{
	{PDSTaskStatus, onPDSTaskStatus}, {PDSContactStatus, onPDSContactStatus}, {PDSAgentStatus, onPDSAgentStatus},
}

// PDSEvent is the body of a PDS webhook, `{"type": …, "body": {…}}`. Which fields are set depends on the
// type: a task's (TaskStatus), a contact's call (ContactStatus), an agent's (AgentStatus, whose HANGUP
// and TALKRESULT carry the call's result). Field names are Airudder's; Timestamp is read from epoch
// milliseconds, sent as a JSON number or a string.
type PDSEvent struct {
	Type        string `json:"type"`
	TaskID      string `json:"taskId"`
	TaskName    string `json:"taskName"`
	GroupName   string `json:"groupName"`
	CallID      string `json:"callid"`
	PhoneNumber string `json:"phoneNumber"`
	MainNumber  string `json:"mainNumber"`
	PhoneTag    string `json:"phoneTag"`
	AgentName   string `json:"agentName"`
	// State is sent as "State" in AgentStatus bodies and "state" in the others; either is read.
	State        string     `json:"state"`
	Timestamp    *time.Time `json:"timestamp"`
	HangupReason *int64     `json:"hangupReason"` // 0–20, Airudder's table
	NthCall      *int64     `json:"nthCall"`
	TalkRemarks  string     `json:"talkremarks"`
	// RecLink is the recording, fetched with a plain GET ("reclink" in the query API: either is read).
	RecLink string `json:"recLink"`
	// CustomizeResults is the tenant's result form: free keys, often with spaces ("PTP Date").
	CustomizeResults map[string]string `json:"customizeResults,omitempty"`
	CustomerInfo     json.RawMessage   `json:"customerInfo,omitempty"`
	// Call times as the query API names them (UTC, RFC 3339); callbacks have not been seen to carry them.
	CallTime   *time.Time `json:"calltime,omitempty"`
	AnswerTime *time.Time `json:"answertime,omitempty"`
	EndTime    *time.Time `json:"endtime,omitempty"`
}

// readPDS reads a PDS webhook. Its envelope: "type", one of TaskStatus, ContactStatus, AgentStatus (in
// any letter case, noted), and "body", an object. Everything inside body is lenient.
//
// Key: type/id/state/timestamp, where id is the callid (ContactStatus, AgentStatus) or the taskId
// (TaskStatus) and timestamp is in milliseconds whichever form it came in. Airudder retries an
// unanswered PDS callback up to 5 times with the same body, so these name one event; two states of one
// call, or one state reported at two moments, are two events. Without the id, the hash of the body.
//
// Order: PDS events may arrive out of order. Event.Subject is "call/{callid}" or "task/{taskId}" and
// Event.Time the timestamp: for one subject the later timestamp wins.
//
// An AgentStatus at HANGUP or TALKRESULT is also a call (Event.Call), of the PDS family.
func readPDS(k Kind, d *Document, opts ParseOptions) (*Event, error) {
	var errs []FieldError
	var notes []ParseNote
	env := d.reader(&notes, &opts)
	typ, on := "", ""
	switch raw := d.fields["type"]; kindOf(raw) {
	case "nothing", "null":
		errs = append(errs, FieldError{Field: "type", Message: "is required: one of " + pdsTypeList()})
	case "string":
		sent := env.str("type")
		for _, t := range pdsTypes {
			if strings.EqualFold(sent, t.typ) {
				typ, on = t.typ, t.on
			}
		}
		switch {
		case typ == "":
			errs = append(errs, FieldError{Field: "type", Message: fmt.Sprintf("must be one of %s, got %.60q", pdsTypeList(), sent)})
		case typ != sent:
			env.note("type", raw, "is spelled differently; read as "+typ)
		}
	default:
		errs = append(errs, FieldError{Field: "type", Message: "must be a string, one of " + pdsTypeList() + ", got " + kindOf(raw)})
	}
	body, hasBody := objectFields(d.fields["body"])
	if !hasBody {
		got := kindOf(d.fields["body"])
		msg := "must be an object, got " + got
		if got == "nothing" || got == "null" {
			msg = "is required: the event's fields"
		}
		errs = append(errs, FieldError{Field: "body", Message: msg})
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	ev, top, err := newEvent(k, on, d, &opts)
	if err != nil {
		return nil, err
	}
	if d.original != nil { // note rewritten escapes field by field within body
		origBody, _ := objectFields(d.original["body"])
		ev.Notes = append(sanitizedNotes("", d.fields, d.original, "Sign", "body"), sanitizedNotes("body", body, origBody)...)
	}
	ev.Notes = append(ev.Notes, notes...)
	b := top.at("body", body)
	p := &PDSEvent{
		Type: typ, TaskID: b.str("taskId"), TaskName: b.str("taskName"), GroupName: b.str("groupName"),
		CallID: b.str("callid"), PhoneNumber: b.str("phoneNumber"), MainNumber: b.str("mainNumber"),
		PhoneTag: b.str("phoneTag"), AgentName: b.str("agentName"), State: pdsState(b, typ),
		Timestamp: b.epochMillis("timestamp"), HangupReason: b.int("hangupReason"), NthCall: b.int("nthCall"),
		TalkRemarks: b.str("talkremarks"), RecLink: oneOf(b, "recLink", "reclink"),
		CustomizeResults: customizeResults(b), CustomerInfo: b.object("customerInfo"),
		CallTime: b.time("calltime", time.UTC), AnswerTime: b.time("answertime", time.UTC), EndTime: b.time("endtime", time.UTC),
	}
	ev.PDS = p
	ev.TaskID, ev.CallID, ev.CalleeNumber, ev.Time = p.TaskID, p.CallID, p.PhoneNumber, p.Timestamp

	idField, id, subject := "callid", p.CallID, subjectCall
	if typ == PDSTaskStatus {
		idField, id, subject = "taskId", p.TaskID, subjectTask
	}
	if id == "" {
		b.note(idField, nil, "is missing: the event's key is the hash of its body, and it cannot be ordered against others")
		ev.Key = bodyHashKey(ev.Raw)
	} else {
		ev.Subject = subject + id
		ev.Key = keyOf(typ, id, p.State, timestampText(b, p.Timestamp))
	}
	if _, sent := b.get("timestamp"); !sent {
		b.note("timestamp", nil, "is missing: the event cannot be ordered against others of its "+strings.TrimSuffix(subject, "/"))
	}
	ev.Summary = p.summary()
	if typ == PDSAgentStatus && (strings.EqualFold(p.State, PDSAgentHangup) || strings.EqualFold(p.State, PDSAgentTalkResult)) {
		if p.CallID == "" {
			b.note("callid", nil, "is missing: the agent's call result is kept as an event only, not as a call")
		} else if ev.Call, err = p.call(d, body, ev.Notes, opts); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

func pdsTypeList() string {
	names := make([]string, len(pdsTypes))
	for i, t := range pdsTypes {
		names[i] = t.typ
	}
	return strings.Join(names, ", ")
}

// pdsState reads the state under the spelling of the type ("State" for AgentStatus, "state" for the
// others), or else under the other one. When both are sent and differ, the type's spelling wins, noted.
func pdsState(b reader, typ string) string {
	first, second := "state", "State"
	if typ == PDSAgentStatus {
		first, second = second, first
	}
	return oneOf(b, first, second)
}

// oneOf reads a string sent under either of two names (Airudder's spellings of one field), preferring the
// first; when both are sent and differ, the second is noted.
func oneOf(b reader, first, second string) string {
	v := b.str(first)
	if v == "" {
		return b.str(second)
	}
	if raw, ok := b.get(second); ok {
		var other string
		if json.Unmarshal(raw, &other) != nil || other != v {
			b.note(second, raw, "differs from "+first+", which is used")
		}
	}
	return v
}

// timestampText is the timestamp as part of a key: its milliseconds, the same whether they came as a
// number or a string; the text as sent when it is not a time; empty when absent.
func timestampText(b reader, t *time.Time) string {
	if t != nil {
		return strconv.FormatInt(t.UnixMilli(), 10)
	}
	raw, ok := b.get("timestamp")
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// customizeResults reads the result form: an object in callbacks; the query API's list of {title,
// groupName, value} is read too, noted, so that a tenant forwarding query results loses nothing typed.
func customizeResults(b reader) map[string]string {
	raw, ok := b.get("customizeResults")
	if !ok || kindOf(raw) != "array" {
		return b.texts("customizeResults")
	}
	out := map[string]string{}
	b.each("customizeResults", func(e reader) {
		title := e.str("title")
		if title == "" {
			e.note("title", nil, "is missing: the result is not typed")
			return
		}
		if _, dup := out[title]; dup {
			e.note("title", nil, "repeats an earlier title: the first is used")
			return
		}
		out[title] = e.str("value")
	})
	b.note("customizeResults", raw, "is a list of {title, value} (the query API's form); read as an object")
	return out
}

func (p *PDSEvent) summary() string {
	call := payload.Cut(p.CallID, 40)
	switch p.Type {
	case PDSTaskStatus:
		return fmt.Sprintf("PDS task %s: %s", nameOrID(p.TaskName, p.TaskID), orDash(p.State))
	case PDSContactStatus:
		return fmt.Sprintf("PDS contact %s: %s, call %s", maskedOrDash(p.PhoneNumber), orDash(p.State), orDash(call))
	}
	s := fmt.Sprintf("PDS agent %s: %s, call %s to %s", orDash(p.AgentName), orDash(p.State), orDash(call), maskedOrDash(p.PhoneNumber))
	if _, desc := p.intention(nil); desc != "" {
		s += ", result " + desc
	}
	return s
}

var levelKey = regexp.MustCompile(`^(?i:level)\s*([0-9]+)$`)

// intention reads the call's result from the result form: the first non-empty value of keys (the most
// specific first), or, without keys, of the deepest "LevelN" key ("Level2": "PTP"); and a description
// from general to specific ("Contacted / PTP").
func (p *PDSEvent) intention(keys []string) (intention, description string) {
	if len(keys) == 0 {
		type level struct {
			n   int
			key string
		}
		var levels []level
		for k := range p.CustomizeResults {
			if m := levelKey.FindStringSubmatch(k); m != nil {
				n, _ := strconv.Atoi(m[1])
				levels = append(levels, level{n, k})
			}
		}
		slices.SortFunc(levels, func(a, b level) int { return b.n - a.n })
		for _, l := range levels {
			keys = append(keys, l.key)
		}
	}
	var parts []string
	for _, k := range keys {
		if v := p.CustomizeResults[k]; v != "" {
			if intention == "" {
				intention = v
			}
			parts = append(parts, v)
		}
	}
	slices.Reverse(parts)
	return intention, strings.Join(parts, " / ")
}

// call is the agent's call result as a call of the PDS family, keyed "pds/{callid}" (a PDS callid and a
// workflow CallID may be equal: the example bodies share one). Its notes are the event's, with paths
// within body; its EventTime is the timestamp, so that an older state never overwrites a newer one.
func (p *PDSEvent) call(d *Document, body map[string]json.RawMessage, notes []ParseNote, opts ParseOptions) (*ReceivedCall, error) {
	rawTask, err := d.raw("body", "Sign")
	if err != nil {
		return nil, err
	}
	rawCall, err := marshalAsSent(body)
	if err != nil {
		return nil, fmt.Errorf("re-encode body: %w", err)
	}
	var results json.RawMessage
	if p.CustomizeResults != nil {
		if results, err = marshalAsSent(p.CustomizeResults); err != nil {
			return nil, fmt.Errorf("encode customizeResults: %w", err)
		}
	}
	intention, description := p.intention(opts.PDSIntentionKeys)
	end := p.EndTime
	if end == nil {
		end = p.Timestamp // the hang-up, or the agent's filing of the result just after it
	}
	c := Call{
		CallID: p.CallID, CalleeNumber: p.PhoneNumber, Status: StatusFinished, CallTimes: p.NthCall,
		CallStartTime: p.CallTime, CallEndTime: end, Intention: intention, IntentionDescription: description,
		Variables: p.CustomerInfo, Results: results, Remarks: p.TalkRemarks, RecordingURL: p.RecLink, Agent: p.AgentName,
		Raw: rawCall,
	}
	callNotes := make([]ParseNote, 0, len(notes))
	for _, n := range notes {
		if rest, ok := strings.CutPrefix(n.Field, "body."); ok {
			n.Field = rest
		}
		callNotes = append(callNotes, n)
	}
	c.Notes = capNotes(callNotes)
	return &ReceivedCall{
		Kind:       KindPDS,
		Key:        payload.CutHashed("pds/"+p.CallID, maxKeyLength),
		Task:       Task{TaskID: p.TaskID, TaskName: p.TaskName},
		RawTask:    rawTask,
		Call:       c,
		RawCall:    rawCall,
		ParseNotes: c.Notes,
		Digest:     Digest(rawCall, rawTask),
		EventTime:  p.Timestamp,
	}, nil
}
