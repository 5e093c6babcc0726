package rules

import (
	"time"

	"github.com/rudderhook/rudderhook/airudder"
)

// OnRecallOverdue is the kind of rules for re-calls that Airudder took but whose call did not complete
// by their deadline (the re-call's expect_within): an event rudderhook makes itself.
const OnRecallOverdue = airudder.OnRecallOverdue

// RecallOverdueFacts is what a rule on recall_overdue sees as `event`: the re-call's follow-up, its
// callee and Airudder workflow, its deadline, and the call it followed up.
type RecallOverdueFacts struct {
	Source             string    `cel:"source"`
	RuleID             string    `cel:"rule_id"`
	Action             string    `cel:"action"`
	FollowUpKey        string    `cel:"follow_up_key"`
	CalleeNumber       string    `cel:"callee_number"`
	AirudderWorkflowID string    `cel:"airudder_workflow_id"`
	RequestedAt        time.Time `cel:"requested_at"`
	Deadline           time.Time `cel:"deadline"`
	// The call that was re-called.
	CallKey              string    `cel:"call_key"`
	CallID               string    `cel:"call_id"`
	CaseID               string    `cel:"case_id"`
	TaskID               string    `cel:"task_id"`
	WorkflowID           string    `cel:"workflow_id"`
	Intention            string    `cel:"intention"`
	IntentionDescription string    `cel:"intention_description"`
	ReceivedAt           time.Time `cel:"received_at"`
}

// recallOverdueFacts are the facts of a re-call overdue event.
func recallOverdueFacts(ev airudder.Event, o airudder.RecallOverdue) *RecallOverdueFacts {
	f := &RecallOverdueFacts{Source: ev.Source, RuleID: o.RuleID, Action: o.Action, FollowUpKey: o.FollowUpKey, CalleeNumber: o.Callee,
		AirudderWorkflowID: o.AirudderWorkflowID, RequestedAt: o.RequestedAt, Deadline: o.Deadline, ReceivedAt: ev.ReceivedAt}
	if c := o.Call; c != nil {
		f.CallKey, f.CallID, f.CaseID, f.TaskID, f.WorkflowID = c.Key, c.CallID, c.CaseID, c.TaskID, c.WorkflowID
		f.Intention, f.IntentionDescription = c.Intention, c.IntentionDescription
	}
	return f
}

// exampleRecallOverdue is a re-call overdue event of the example call, for checking templates when rules
// load.
func exampleRecallOverdue() airudder.Event {
	at := time.Date(2024, 3, 12, 3, 21, 0, 0, time.UTC)
	rc := airudder.ExampleCalls("airudder", at.Add(-24*time.Hour))[0]
	ev, _ := airudder.RecallOverdueEvent("airudder", airudder.RecallOverdue{FollowUpKey: "fu_example", RuleID: "example-rule", Action: "recall",
		Callee: rc.Call.CalleeNumber, AirudderWorkflowID: "wf-example", RequestedAt: at.Add(-24 * time.Hour), Deadline: at,
		Call: airudder.OverdueCallOf(rc)}, at, airudder.NumberKeys{})
	return ev
}
