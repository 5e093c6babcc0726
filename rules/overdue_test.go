package rules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
)

// TestRulesOnRecallOverdueSeeTheReCallAndItsCall: a rule on recall_overdue is checked against its fields
// when it loads, matches an overdue re-call by them, and its templates read the re-called call.
func TestRulesOnRecallOverdueSeeTheReCallAndItsCall(t *testing.T) {
	const doc = `rules:
  - id: tell-the-team
    on: recall_overdue
    when: event.rule_id == "ptp-recall" && event.intention == "E"
    actions:
      - type: webhook
        url: https://crm.example/overdue
        body: '{"case": "{{ .event.case_id }}", "workflow": "{{ .event.airudder_workflow_id }}"}'
`
	set, err := rules.Compile([]byte(doc), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rc := airudder.ExampleCalls("airudder", time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC))[0]
	ev, err := airudder.RecallOverdueEvent("airudder", airudder.RecallOverdue{FollowUpKey: "fu_1", RuleID: "ptp-recall", Action: "again",
		Callee: rc.Call.CalleeNumber, AirudderWorkflowID: "wf-9", RequestedAt: time.Now().Add(-25 * time.Hour), Deadline: time.Now().Add(-time.Hour),
		Call: airudder.OverdueCallOf(rc)}, time.Now(), airudder.NumberKeys{})
	if err != nil {
		t.Fatal(err)
	}
	p := set.PlanEvent(ev, "event/airudder/recall-overdue/"+ev.Key, time.Now())
	if strings.Join(p.Matched, ",") != "tell-the-team" || len(p.FollowUps) != 1 {
		t.Fatalf("plan %+v", p)
	}
	if got, want := string(p.FollowUps[0].Webhook.Body), `{"case": "`+rc.Call.CaseID+`", "workflow": "wf-9"}`; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if _, err := rules.Compile([]byte(strings.Replace(doc, "event.rule_id", "event.rule", 1)), rules.Options{}); err == nil {
		t.Error("a field recall_overdue events lack was taken")
	}
	if k, ok := rules.KindByName(rules.OnRecallOverdue); !ok || k.Variable != "event" {
		t.Errorf("the rules page does not offer recall_overdue: %+v", k)
	}
}
