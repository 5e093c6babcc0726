package airudder

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Chatbot session end: Airudder's vendor page lists its body (workflow_id, workflow_name, nodetask_id,
// nodetask_name, waba_task_id, wfdetail_uuid, timestamp as an integer, channel, channel_id, callee,
// call_id, and more that the copy cuts off) and a required header, X-AIRudder-Sign, without saying how
// that is computed (seen). The header is kept with the event, stored and shown, so that its scheme can be
// worked out; it is verified once that scheme is known. Until then the kind is unsigned: taken only on a
// source with a URL token or an IP allowlist.

// ChatbotSignHeader is the header Airudder signs a chatbot session end with (scheme not documented).
const ChatbotSignHeader = "X-AIRudder-Sign"

// headersMember is the member under which the receiver hands a kind's kept headers (Kind.SignHeader)
// to its parser and the inbox, inside the body: the receiver sets it from the request's header (or
// removes it), so a sender cannot write it; the parser takes it out of the body it keeps (Event.Raw).
const headersMember = "rudderhook:headers"

// ChatbotSessionEnded is a "Chatbot session end" notification. Field names are Airudder's; every field
// the vendor page lists is typed, and the whole body is kept as sent (Event.Raw).
type ChatbotSessionEnded struct {
	WorkflowID   string `json:"workflow_id"`
	WorkflowName string `json:"workflow_name"`
	NodeTaskID   string `json:"nodetask_id"`
	NodeTaskName string `json:"nodetask_name"`
	WabaTaskID   string `json:"waba_task_id"`
	WfDetailUUID string `json:"wfdetail_uuid"`
	// Timestamp is an integer, as sent; its unit (seconds or milliseconds) is not documented.
	Timestamp *int64 `json:"timestamp,omitempty"`
	Channel   string `json:"channel"`
	ChannelID string `json:"channel_id"`
	Callee    string `json:"callee"`
	CallID    string `json:"call_id"`
	// Sign is the X-AIRudder-Sign header as it came (not verified: its scheme is not documented); empty
	// when the request had none.
	Sign string `json:"x_airudder_sign,omitempty"`
}

// WithHeaders is body as the kind's parser and the inbox take it: for a kind that keeps a header
// (SignHeader), the header's value from h under a member of the body's own, set or removed whatever the
// body said. A body of any other kind, or one that is no JSON object (which reading then refuses), is
// returned as it is.
func (k Kind) WithHeaders(body []byte, h http.Header) []byte {
	if k.SignHeader == "" {
		return body
	}
	fields, ok := splitObject(body)
	if !ok {
		return body
	}
	delete(fields, headersMember)
	if v := h.Get(k.SignHeader); v != "" {
		kept, err := json.Marshal(map[string]string{k.SignHeader: v})
		if err != nil {
			return body
		}
		fields[headersMember] = kept
	}
	out, err := marshalAsSent(fields)
	if err != nil {
		return body
	}
	return out
}

// keptHeaders reads the headers the receiver kept in the body (see WithHeaders), noting a member it
// cannot read.
func keptHeaders(d *Document, notes *[]ParseNote) map[string]string {
	raw, ok := d.fields[headersMember]
	if !ok {
		return nil
	}
	var out map[string]string
	if err := json.Unmarshal(raw, &out); err != nil {
		*notes = append(*notes, ParseNote{Field: headersMember, Why: "is not the headers the receiver keeps: ignored"})
		return nil
	}
	return out
}

// chatbotFields are the members only a chatbot session end has (of those the vendor page lists): its
// envelope needs one of them, besides workflow_id, so that another workflow notification posted here
// is refused rather than kept as a session end.
var chatbotFields = []string{"wfdetail_uuid", "waba_task_id", "call_id", "channel", "channel_id"}

// readChatbotSessionEnded reads a chatbot session end. Its envelope: a workflow_id, as every workflow
// notification, and one of chatbotFields; the vendor page does not say which fields are always sent, so
// every other is lenient.
//
// Key: wfdetail_uuid (the workflow's detail, one per list entry and session, inferred), else
// call/{call_id}; without either, the hash of the body. A redelivery has the same key.
func readChatbotSessionEnded(k Kind, d *Document, opts ParseOptions) (*Event, error) {
	ev, r, err := newEvent(k, k.On[0], d, &opts)
	if err != nil {
		return nil, err
	}
	var errs []FieldError
	notCallCompletion(d, &errs)
	required(r, "workflow_id", &errs)
	if !slices.ContainsFunc(chatbotFields, func(f string) bool { _, ok := d.fields[f]; return ok }) {
		errs = append(errs, FieldError{Field: "wfdetail_uuid", Message: "is required, or one of " + strings.Join(chatbotFields[1:], ", ") +
			": a chatbot session end names its session"})
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	c := &ChatbotSessionEnded{
		WorkflowID: r.str("workflow_id"), WorkflowName: r.str("workflow_name"), NodeTaskID: r.str("nodetask_id"),
		NodeTaskName: r.str("nodetask_name"), WabaTaskID: r.str("waba_task_id"), WfDetailUUID: r.str("wfdetail_uuid"),
		Timestamp: r.int("timestamp"), Channel: r.str("channel"), ChannelID: r.str("channel_id"), Callee: r.str("callee"),
		CallID: r.str("call_id"),
	}
	c.Sign = keptHeaders(d, &ev.Notes)[k.SignHeader]
	ev.ChatbotSessionEnded = c
	ev.CallID, ev.CalleeNumber, ev.TaskID = c.CallID, c.Callee, c.WabaTaskID
	switch {
	case c.WfDetailUUID != "":
		ev.Key = keyOf("wfdetail", c.WfDetailUUID)
	case c.CallID != "":
		ev.Key = keyOf("call", c.CallID)
	default:
		r.note("wfdetail_uuid", nil, "is missing, and so is call_id: the event's key is the hash of its body")
		ev.Key = bodyHashKey(ev.Raw)
	}
	ev.Summary = fmt.Sprintf("Chatbot session ended in workflow %s (%s): %s %s", nameOrID(c.WorkflowName, c.WorkflowID),
		nameOrID(c.NodeTaskName, c.NodeTaskID), orDash(c.Channel), maskedOrDash(c.Callee))
	return ev, nil
}
