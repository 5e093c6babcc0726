package airudder

import (
	"cmp"
	"fmt"
	"time"
)

// Subject is one thing Airudder told us: a call (of any family: a call completion, an info check, a PDS
// agent's call result) or an event of any other kind. It is the unit of rudderhook's pipeline: it has
// one key, one digest per delivery, revisions, one workflow and its follow-ups, whatever its kind. Kinds
// differ only where Airudder's shapes differ: how a body is read (the parsers), the facts rules see, and
// the summaries.
//
// Exactly one of Call and Event is set. The JSON of a call's subject ({"call": …}) reads as the input of
// the call workflows before there were subjects, an event's ({"event": …}) as theirs.
type Subject struct {
	Call  *ReceivedCall `json:"call,omitempty"`
	Event *Event        `json:"event,omitempty"`
}

// CallSubject is the subject of one received call.
func CallSubject(rc ReceivedCall) Subject { return Subject{Call: &rc} }

// EventSubject is the subject of one received event.
func EventSubject(ev Event) Subject { return Subject{Event: &ev} }

// Subjects are what one received body tells: its calls, or its event and, for a PDS agent's call
// result, that call too (a call of the PDS family, with its own subject).
func Subjects(calls []ReceivedCall, ev *Event) []Subject {
	out := make([]Subject, 0, len(calls)+2)
	for _, rc := range calls {
		out = append(out, CallSubject(rc))
	}
	if ev != nil {
		if ev.Call != nil {
			out = append(out, CallSubject(*ev.Call))
		}
		out = append(out, EventSubject(*ev))
	}
	return out
}

// IsCall says whether the subject is a call.
func (s Subject) IsCall() bool { return s.Call != nil }

// Source is the source that received it.
func (s Subject) Source() string {
	if s.Call != nil {
		return s.Call.Source
	}
	return s.Event.Source
}

// Kind is the route name of the callback kind that brought it ("call-completed", "pds", a generic
// kind's name).
func (s Subject) Kind() string {
	if s.Call != nil {
		return cmp.Or(s.Call.Kind, KindCallCompleted)
	}
	return s.Event.Kind
}

// On is what rules call it: a call is "call_completed" (a PDS agent's call result too, so that rules on
// calls see both families) or "info_check_completed"; an event is its own (Event.On).
func (s Subject) On() string {
	if s.Call == nil {
		return s.Event.On
	}
	if s.Call.Kind == KindInfoCheckCompleted {
		return onInfoCheckCompleted
	}
	return onCallCompleted
}

// Key identifies it within its source (a call) or its source and kind (an event).
func (s Subject) Key() string {
	if s.Call != nil {
		return s.Call.Key
	}
	return s.Event.Key
}

// Digest identifies the delivery's content: the same key with another digest is a new revision.
func (s Subject) Digest() string {
	if s.Call != nil {
		return s.Call.Digest
	}
	return s.Event.Digest
}

// Origin says how rudderhook learnt of this delivery: OriginCallback, OriginBackfill or OriginRudderhook.
func (s Subject) Origin() string {
	o := ""
	if s.Call != nil {
		o = s.Call.Origin
	} else {
		o = s.Event.Origin
	}
	return cmp.Or(o, OriginCallback)
}

// ReceivedAt is when the delivery arrived.
func (s Subject) ReceivedAt() time.Time {
	if s.Call != nil {
		return s.Call.ReceivedAt
	}
	return s.Event.ReceivedAt
}

// Time orders deliveries that may arrive out of order (a PDS event, a PDS call): a revision with an
// older time never becomes the one shown. Nil where deliveries are ordered by arrival.
func (s Subject) Time() *time.Time {
	if s.Call != nil {
		return s.Call.EventTime
	}
	return s.Event.Time
}

// Notes are the fields kept as sent but not typed.
func (s Subject) Notes() []ParseNote {
	if s.Call != nil {
		return s.Call.ParseNotes
	}
	return s.Event.Notes
}

// About is what a subject is about, where its kind says: what operators search by.
type About struct {
	CaseID, CallID, CalleeNumber, TaskID string
	// CalleeNumberHMAC stands for CalleeNumber where it is searched, when a PII key is set.
	CalleeNumberHMAC string
	// Intention is a call's outcome; empty for events.
	Intention string
}

// About says what the subject is about.
func (s Subject) About() About {
	if c := s.Call; c != nil {
		return About{CaseID: c.Call.CaseID, CallID: c.Call.CallID, CalleeNumber: c.Call.CalleeNumber, TaskID: c.Task.TaskID,
			CalleeNumberHMAC: c.CalleeNumberHMAC, Intention: c.Call.Intention}
	}
	e := s.Event
	return About{CaseID: e.CaseID, CallID: e.CallID, CalleeNumber: e.CalleeNumber, TaskID: e.TaskID, CalleeNumberHMAC: e.CalleeNumberHMAC}
}

// Summary is one line on what the subject says, phone numbers masked.
func (s Subject) Summary() string {
	if s.Call != nil {
		return s.Call.Summary()
	}
	return cmp.Or(s.Event.Summary, s.Event.On+" "+s.Event.Key)
}

// Large reports whether the subject is too large to carry whole in a workflow's input: it is stored
// first and its workflow gets the Slim copy.
func (s Subject) Large() bool {
	if s.Call != nil {
		return s.Call.Large()
	}
	return s.Event.Large()
}

// Slim is the subject without its bulk: what a workflow needs to name and find it.
func (s Subject) Slim() Subject {
	if s.Call != nil {
		return CallSubject(s.Call.Slim())
	}
	return EventSubject(s.Event.Slim())
}

// Summary is the call in one line, the callee's number masked: "Call to +86••••••••721: E (Needs Follow
// Up), finished, case 7777777.0".
func (rc ReceivedCall) Summary() string {
	c := rc.Call
	intention := c.Intention
	if c.IntentionDescription != "" {
		intention += " (" + c.IntentionDescription + ")"
	}
	if intention == "" {
		intention = "no intention"
	}
	status := c.Status
	if status == "" {
		status = "–"
	}
	s := fmt.Sprintf("Call to %s: %s, %s", MaskPhone(c.CalleeNumber), intention, status)
	if c.CaseID != "" {
		s += ", case " + c.CaseID
	}
	return s
}
