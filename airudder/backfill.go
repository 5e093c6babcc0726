package airudder

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Backfill: a call record read from Airudder's query APIs becomes the same ReceivedCall that a callback
// would have made of it, through the same parsers, so that it takes the callback's path (its key, its
// workflow, its rules) and can be compared with what a callback stored.

// Origins of a delivery (Subject.Origin): how rudderhook learnt of it.
const (
	// OriginCallback is a callback Airudder posted (and the inbox kept): the default.
	OriginCallback = "callback"
	// OriginBackfill is a record reconciliation read from Airudder's API: its callback never came, or
	// said something else.
	OriginBackfill = "backfill"
	// OriginRudderhook is an event rudderhook made itself (a re-call overdue).
	OriginRudderhook = "rudderhook"
)

// ReadWorkflowRecord reads one record of the workflow family's taskdetail as the call completion it
// stands for: its fields have the call completion's meanings (seen), so the record, without the fields a
// callback carries in its envelope (recordEnvelopeFields), is read as an element of Details under an
// envelope made of those fields, by the call completion's own parser. case_id is read as CaseID where the
// record has no CaseID. The call is received by source at at, marked OriginBackfill.
func ReadWorkflowRecord(record json.RawMessage, source string, at time.Time, opts ParseOptions) (*ReceivedCall, error) {
	fields, ok := objectFields(record)
	if !ok {
		return nil, fmt.Errorf("a taskdetail record is not an object: %.200s", record)
	}
	env := map[string]json.RawMessage{}
	elem := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		if name, ok := recordEnvelopeFields[k]; ok {
			if _, taken := env[name]; !taken || k == name { // the callback's spelling wins
				env[name] = v
			}
			continue
		}
		elem[k] = v
	}
	if raw, ok := elem[recordCaseIDField]; ok {
		if _, has := elem["CaseID"]; !has {
			elem["CaseID"] = raw
		}
		delete(elem, recordCaseIDField)
	}
	rawElem, err := marshalAsSent(elem)
	if err != nil {
		return nil, fmt.Errorf("re-encode record: %w", err)
	}
	env["Details"] = json.RawMessage("[" + string(rawElem) + "]")
	body, err := marshalAsSent(env)
	if err != nil {
		return nil, fmt.Errorf("re-encode record: %w", err)
	}
	doc, err := Decode(body)
	if err != nil {
		return nil, err
	}
	opts.MaxCalls = 0
	cc, err := doc.CallCompleted(opts)
	if err != nil {
		return nil, err
	}
	rc := cc.Received(source, at)[0]
	rc.Origin = OriginBackfill
	return &rc, nil
}

// pdsRecordEnvelope is the envelope a PDS record is kept under (RawTask): where it was read.
var pdsRecordEnvelope = json.RawMessage(`{"api":"querytaskdetail"}`)

// ReadPDSRecord reads one record of the PDS family's querytaskdetail as the PDS call its agent's call
// result would have made (key "pds/{callid}"; see PDSEvent.call), by the PDS webhook's own reader. Its
// EventTime is at, the time it was read: a query answers a call's state as of then, later than any event
// of the call that came before, so that it is shown over them and an older event relayed later is not.
// The call is received by source at at, marked OriginBackfill.
func ReadPDSRecord(record json.RawMessage, source string, at time.Time, opts ParseOptions) (*ReceivedCall, error) {
	if _, ok := objectFields(record); !ok {
		return nil, fmt.Errorf("a querytaskdetail record is not an object: %.200s", record)
	}
	body, err := marshalAsSent(map[string]json.RawMessage{"type": json.RawMessage(`"` + PDSAgentStatus + `"`), "body": record})
	if err != nil {
		return nil, fmt.Errorf("re-encode record: %w", err)
	}
	doc, err := Decode(body)
	if err != nil {
		return nil, err
	}
	k, _ := KindByRoute(KindPDS)
	ev, err := readPDS(k, doc, opts)
	if err != nil {
		return nil, err
	}
	if ev.PDS.CallID == "" {
		return nil, fmt.Errorf("a querytaskdetail record has no callid: %.200s", record)
	}
	fields, _ := objectFields(doc.fields["body"])
	// A record is no webhook: what the reader noted of the webhook's envelope (its timestamp, which
	// orders webhooks) does not apply to it.
	notes := slices.DeleteFunc(slices.Clone(ev.Notes), func(n ParseNote) bool {
		return n.Field == "type" || n.Field == "timestamp" || n.Field == "body.timestamp"
	})
	rc, err := ev.PDS.call(doc, fields, notes, opts)
	if err != nil {
		return nil, err
	}
	at = at.UTC()
	rc.Source, rc.ReceivedAt, rc.EventTime, rc.Origin = source, at, &at, OriginBackfill
	rc.RawTask = pdsRecordEnvelope
	rc.Digest = Digest(rc.RawCall, rc.RawTask)
	rc.CalleeNumberHMAC = opts.Numbers.CalleeSearch(rc.Call.CalleeNumber)
	return rc, nil
}

// CallDifferences names the typed fields in which a backfilled record says something else than the call
// as stored: what makes a record a new revision of its call (a correction Airudder made after its
// callback) rather than the same call read again. The raw JSON of a record is never byte-for-byte the
// callback's, so only what both say in typed form is compared:
//
//   - the outcome (intention and its description, status, ring and hang-up types, the result form)
//     wherever the record says something: an outcome filled in or changed since is a correction;
//   - who, when and how long (callee, case, start and end times, call times, ring time, talk rounds, the
//     agent's remarks, recording and name) only where both say something: an API may carry what a
//     callback lacks (a PDS callback has no call times), which adds to the call without correcting it.
//     A PDS call's end is not compared: its callback gives the agent's event time for it.
//
// Empty means the same call.
func CallDifferences(stored, got ReceivedCall) []string {
	s, g := stored.Call, got.Call
	var out []string
	outcome := func(name, a, b string) {
		if b != "" && strings.TrimSpace(a) != strings.TrimSpace(b) {
			out = append(out, name)
		}
	}
	text := func(name, a, b string) {
		if a != "" && b != "" && strings.TrimSpace(a) != strings.TrimSpace(b) {
			out = append(out, name)
		}
	}
	when := func(name string, a, b *time.Time) {
		if a != nil && b != nil && !a.Equal(*b) {
			out = append(out, name)
		}
	}
	number := func(name string, a, b *int64) {
		if a != nil && b != nil && *a != *b {
			out = append(out, name)
		}
	}
	outcome("intention", s.Intention, g.Intention)
	outcome("intention_description", s.IntentionDescription, g.IntentionDescription)
	outcome("status", s.Status, g.Status)
	outcome("ring_type", s.RingType, g.RingType)
	outcome("hangup_type", s.HangupType, g.HangupType)
	if len(g.Results) > 0 && !sameJSON(s.Results, g.Results) {
		out = append(out, "results")
	}
	text("callee_number", NormalizeNumber(s.CalleeNumber), NormalizeNumber(g.CalleeNumber))
	text("case_id", s.CaseID, g.CaseID)
	when("call_start_time", s.CallStartTime, g.CallStartTime)
	if got.Family() != FamilyPDS {
		when("call_end_time", s.CallEndTime, g.CallEndTime)
	}
	number("call_times", s.CallTimes, g.CallTimes)
	number("ring_time", s.RingTime, g.RingTime)
	number("talk_round", s.TalkRound, g.TalkRound)
	text("remarks", s.Remarks, g.Remarks)
	text("recording_url", s.RecordingURL, g.RecordingURL)
	text("agent", s.Agent, g.Agent)
	return out
}

// sameJSON says whether two JSON values are equal as values (key order and spacing aside).
func sameJSON(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return string(a) == string(b)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}
