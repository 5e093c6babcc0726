package airudder

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/rudderhook/rudderhook/payload"
)

// A re-call overdue is an event rudderhook makes itself, not a callback: a re-call that Airudder took
// whose call did not complete by its deadline. It takes the pipeline of every event (its subject, its
// workflow, the rules on its kind), so that rules written `on: recall_overdue` say what happens next.
// It has no route: nobody can post one.

// Its kind's names: the route-like name its subjects and workflow IDs carry, and what rules call it.
const (
	KindRecallOverdue = "recall-overdue"
	OnRecallOverdue   = "recall_overdue"
)

// RecallOverdue is what a re-call overdue event says (its Raw, in these JSON names).
type RecallOverdue struct {
	// FollowUpKey, RuleID and Action name the re-call's follow-up.
	FollowUpKey string `json:"follow_up_key"`
	RuleID      string `json:"rule_id"`
	Action      string `json:"action"`
	// Callee is the number re-called, AirudderWorkflowID the workflow it went into.
	Callee             string    `json:"callee"`
	AirudderWorkflowID string    `json:"airudder_workflow_id"`
	RequestedAt        time.Time `json:"requested_at"`
	Deadline           time.Time `json:"deadline"`
	// Call is the call the re-call followed up, where the follow-up's subject is a call: its key, ID, case,
	// task, number and outcome.
	Call *OverdueCall `json:"call,omitempty"`
}

// OverdueCall is what a re-call overdue event says of the call that was re-called.
type OverdueCall struct {
	Key                  string `json:"key"`
	CallID               string `json:"call_id,omitempty"`
	CaseID               string `json:"case_id,omitempty"`
	TaskID               string `json:"task_id,omitempty"`
	WorkflowID           string `json:"workflow_id,omitempty"`
	CalleeNumber         string `json:"callee_number,omitempty"`
	Intention            string `json:"intention,omitempty"`
	IntentionDescription string `json:"intention_description,omitempty"`
}

// OverdueCallOf is what a re-call overdue event says of rc.
func OverdueCallOf(rc ReceivedCall) *OverdueCall {
	return &OverdueCall{Key: rc.Key, CallID: rc.Call.CallID, CaseID: rc.Call.CaseID, TaskID: rc.Task.TaskID, WorkflowID: rc.Task.WorkflowID,
		CalleeNumber: rc.Call.CalleeNumber, Intention: rc.Call.Intention, IntentionDescription: rc.Call.IntentionDescription}
}

// RecallOverdueEvent is the event of o, of source, made at at. Its key is the follow-up's key and the
// deadline, so that the same overdue re-call is one event however often it is handed over, and a re-call
// retried and overdue again is another.
func RecallOverdueEvent(source string, o RecallOverdue, at time.Time, numbers NumberKeys) (Event, error) {
	o.RequestedAt, o.Deadline = o.RequestedAt.UTC(), o.Deadline.UTC()
	raw, err := marshalAsSent(o)
	if err != nil {
		return Event{}, fmt.Errorf("encode re-call overdue: %w", err)
	}
	ev := Event{
		Kind: KindRecallOverdue, On: OnRecallOverdue, Source: source, ReceivedAt: at.UTC(), Origin: OriginRudderhook,
		Key: keyOf(o.FollowUpKey, strconv.FormatInt(o.Deadline.Unix(), 10)), Digest: Digest(raw, nil), Raw: raw,
		CalleeNumber: o.Callee, Time: &o.Deadline,
		Summary: fmt.Sprintf("Re-call to %s (%s) did not complete by %s", MaskPhone(o.Callee), o.RuleID, o.Deadline.Format(time.RFC3339)),
	}
	if c := o.Call; c != nil {
		ev.CaseID, ev.CallID, ev.TaskID = c.CaseID, c.CallID, c.TaskID
	}
	ev.CalleeNumberHMAC = numbers.CalleeSearch(ev.CalleeNumber)
	ev.Summary = payload.Cut(ev.Summary, summaryLimit)
	return *ev.finish(), nil
}

// ReadRecallOverdue reads what a re-call overdue event says; ok is false for an event of another kind.
func ReadRecallOverdue(ev Event) (RecallOverdue, bool) {
	var o RecallOverdue
	if ev.On != OnRecallOverdue || json.Unmarshal(ev.Raw, &o) != nil {
		return o, false
	}
	return o, true
}
