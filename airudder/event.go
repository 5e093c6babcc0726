package airudder

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rudderhook/rudderhook/payload"
)

// Event is one callback of a kind other than call completion, parsed: what its workflow
// (event/{source}/{kind}/{key}) takes as input and what the store keeps. Exactly one of the typed bodies
// (ListCompleted, StatusChanged, QAResult, PDS) is set for a typed kind, none for a generic one; Raw
// always holds the whole body.
type Event struct {
	// Kind is the kind's route name ("list-completed", "pds", or a source's generic kind).
	Kind string `json:"kind"`
	// On is the name rules use for this event ("list_completed", "pds.agent_status"; see Kind.On).
	On string `json:"on"`
	// Source and ReceivedAt are set by Received: which receiver took the event, and when.
	Source     string    `json:"source,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	// Key identifies the event within its source and kind: a redelivery of the same event has the same
	// key (see each parser for what it is made of). At most 512 bytes; never empty.
	Key string `json:"key"`
	// Digest identifies this delivery's content (Raw, compacted): the same key with another digest is a
	// corrected redelivery, a new revision of the event; with the same digest, a duplicate.
	Digest string `json:"digest"`
	// Subject names what the event's state is about, where events of it may arrive out of order
	// ("call/{callid}", "task/{taskId}" for PDS). For one subject, the event with the later Time wins;
	// one with an older Time never overwrites it. Empty when the kind has no order.
	Subject string `json:"subject,omitempty"`
	// Time is when the event happened, as the sender says (PDS timestamp); nil when it did not say.
	Time *time.Time `json:"time,omitempty"`

	// What the event is about, for search attributes and the admin API; empty where the kind has none.
	CaseID       string `json:"case_id,omitempty"`
	CallID       string `json:"call_id,omitempty"`
	CalleeNumber string `json:"callee_number,omitempty"`
	TaskID       string `json:"task_id,omitempty"`
	// CalleeNumberHMAC stands for CalleeNumber in the CalleeNumber search attribute when a PII key is set
	// (see ReceivedCall.CalleeNumberHMAC).
	CalleeNumberHMAC string `json:"callee_number_hmac,omitempty"`
	// Origin says how rudderhook learnt of it: "" (OriginCallback) for a callback, OriginRudderhook for an
	// event rudderhook made itself (a re-call overdue, see overdue.go).
	Origin string `json:"origin,omitempty"`

	// Summary is one line for the Temporal UI, phone numbers masked; at most 200 bytes.
	Summary string `json:"summary"`
	// Notes are the fields kept as sent but not typed, and what the key could not be made of.
	Notes []ParseNote `json:"parse_notes,omitempty"`
	// Raw is the body as received, without a Sign, with escapes PostgreSQL refuses rewritten (noted).
	Raw json.RawMessage `json:"raw,omitempty"`

	ListCompleted *ListCompleted `json:"list_completed,omitempty"`
	StatusChanged *StatusChanged `json:"status_changed,omitempty"`
	QAResult      *QAResult      `json:"qa_result,omitempty"`
	PDS           *PDSEvent      `json:"pds,omitempty"`
	// ChatbotSessionEnded keeps its X-AIRudder-Sign header too (not verified).
	ChatbotSessionEnded *ChatbotSessionEnded `json:"chatbot_session_ended,omitempty"`
	// Call is set when the event is also the result of a call (a PDS AgentStatus at HANGUP or
	// TALKRESULT): it is stored as a call of its family, so that calls, rules and their dry run see it.
	Call *ReceivedCall `json:"call,omitempty"`

	// original is the body as sent when making it storable rewrote an escape in it (see Unsigned).
	original map[string]json.RawMessage
}

// subjectCall and subjectTask begin an Event.Subject: the call ("call/{callid}") or the task
// ("task/{taskId}") the event's state is about.
const (
	subjectCall = "call/"
	subjectTask = "task/"
)

// AboutCall says whether the event reports a state of one call (a PDS contact's or agent's: CALLING,
// …, HANGUP, TALKRESULT), so that what follows from one call's states happens once for the call, not
// once per state (rules.PlanEvent keys its follow-ups by the call).
func (e Event) AboutCall() bool { return strings.HasPrefix(e.Subject, subjectCall) }

// Received is the event as taken by source at the given time (its call, if any, too).
func (e Event) Received(source string, at time.Time) Event {
	e.Source, e.ReceivedAt = source, at
	if e.Call != nil {
		c := *e.Call
		c.Source, c.ReceivedAt = source, at
		e.Call = &c
	}
	return e
}

// Unsigned is the body as the inbox keeps it, without its Sign: Raw, or, when making it storable
// rewrote an escape in it, the body as sent (the inbox keeps bytes), so that reading it again rewrites
// and notes the escape as the receiver did; with the headers its kind keeps (see WithHeaders), so that
// the relay reads the same event again.
func (e Event) Unsigned() ([]byte, error) {
	body := e.Raw
	if e.original != nil {
		var err error
		if body, err = withoutSign(e.original); err != nil {
			return nil, err
		}
	}
	if e.ChatbotSessionEnded == nil || e.ChatbotSessionEnded.Sign == "" {
		return body, nil
	}
	k, ok := KindByRoute(e.Kind)
	if !ok {
		return body, nil
	}
	h := http.Header{}
	h.Set(k.SignHeader, e.ChatbotSessionEnded.Sign)
	return k.WithHeaders(body, h), nil
}

// Large reports whether the event is too large to carry whole in a workflow's input (see package
// payload): store it first and give its workflow the Slim copy.
func (e Event) Large() bool {
	b, err := json.Marshal(e)
	return err != nil || !payload.Fits(len(b))
}

// Slim is the event without its bulk (raw JSON, typed body): what a workflow needs to name and find it.
// The whole event is read back from the store.
func (e Event) Slim() Event {
	short := func(s string) string { return payload.CutHashed(s, payload.SearchTextLimit) }
	e.Raw, e.ListCompleted, e.StatusChanged, e.QAResult, e.PDS, e.ChatbotSessionEnded = nil, nil, nil, nil, nil, nil
	e.CaseID, e.CallID, e.CalleeNumber, e.TaskID = short(e.CaseID), short(e.CallID), short(e.CalleeNumber), short(e.TaskID)
	e.Subject = short(e.Subject)
	if len(e.Notes) > maxSlimNotes {
		e.Notes = e.Notes[:maxSlimNotes]
	}
	if e.Call != nil {
		c := e.Call.Slim()
		e.Call = &c
	}
	return e
}

// newEvent starts the event of kind k from the document: its raw body without the Sign, and the notes of
// escapes that were rewritten to make it storable (nested ones are noted on their top-level field). The
// reader reads the body's fields, noting into the event.
func newEvent(k Kind, on string, d *Document, opts *ParseOptions) (*Event, reader, error) {
	without := []string{"Sign"}
	if k.SignHeader != "" {
		without = append(without, headersMember) // kept headers are not the body (see WithHeaders)
	}
	raw, err := d.raw(without...)
	if err != nil {
		return nil, reader{}, err
	}
	ev := &Event{Kind: k.Route, On: on, Raw: raw, Digest: Digest(raw, nil),
		Notes: sanitizedNotes("", d.fields, d.original, without...), original: d.original}
	return ev, d.reader(&ev.Notes, opts), nil
}

// finish bounds what the parser made: the key (derived from sent values, so possibly long: cut with a
// hash of the whole), the notes and the summary.
func (e *Event) finish() *Event {
	e.Key = payload.CutHashed(e.Key, maxKeyLength)
	e.Notes = capNotes(e.Notes)
	e.Summary = payload.Cut(e.Summary, summaryLimit)
	return e
}

// summaryLimit bounds Event.Summary; the workflow adds a count of parse notes and cuts to Temporal's
// limit (payload.SummaryTextLimit).
const summaryLimit = 200

// keyOf joins the parts of an event's key with "/", escaping "/" and "%" within each part, so that two
// different lists of parts never give the same key.
func keyOf(parts ...string) string {
	esc := strings.NewReplacer("%", "%25", "/", "%2F")
	for i, p := range parts {
		parts[i] = esc.Replace(p)
	}
	return strings.Join(parts, "/")
}

// phoneKey is a phone number as part of a key: "tel:" and its keyed hash (HashNumber under the ID key),
// so that a workflow ID, which is logged and shown to whoever reads Temporal, names the number without
// showing it, and without a hash that anyone could compute from a list of numbers. Empty stays empty.
func phoneKey(number string, keys NumberKeys) string {
	if number == "" {
		return ""
	}
	return "tel:" + HashNumber(keys.ID, number)
}

// bodyHashKey is the key of an event whose fields do not identify it: "sha256:" and the hash of the
// body in canonical form (keys sorted at every level, no white space), so that the same body delivered
// again, however re-serialized, has the same key.
func bodyHashKey(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	canonical := []byte(raw)
	if dec.Decode(&v) == nil {
		if b, err := marshalAsSent(v); err == nil {
			canonical = b
		}
	}
	sum := sha256.Sum256(canonical)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// nameOrID names a thing for a summary: its name, else its ID, else a dash.
func nameOrID(name, id string) string {
	switch {
	case name != "":
		return name
	case id != "":
		return id
	}
	return "–"
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}
