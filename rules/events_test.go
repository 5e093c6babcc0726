package rules_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
)

// exampleEvent reads one of a kind's examples, as received by "airudder".
func exampleEvent(t *testing.T, route string, body []byte) airudder.Event {
	t.Helper()
	ev, err := airudder.ReadExampleEvent(route, body, "airudder", received)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// The example rules on events match the kinds' examples, and only rules on their kind do.
func TestExampleRulesOnEvents(t *testing.T) {
	set := exampleRules(t)
	list := exampleEvent(t, airudder.KindListCompleted, airudder.ExampleListCompleted)
	p := set.PlanEvent(list, "event/airudder/list-completed/x", received)
	if strings.Join(p.Matched, ",") != "list-entry-done" || len(p.FollowUps) != 1 || p.FollowUps[0].Notify == nil {
		t.Fatalf("list completed: %+v", p)
	}
	if want := "Case 7777777.0 finished workflow test_wf_call_webhook1: 2 nodes, 1 of them calls."; p.FollowUps[0].Notify.Text != want {
		t.Errorf("text = %q", p.FollowUps[0].Notify.Text)
	}

	qa := exampleEvent(t, airudder.KindQAResult, airudder.ExampleQAResult)
	if p := set.PlanEvent(qa, "event/airudder/qa-result/x", received); len(p.Matched) != 0 {
		t.Errorf("QA without a Negative hit matched %v", p.Matched)
	}
	hit := strings.Replace(string(airudder.ExampleQAResult), `"Name": "threatening_language",
              "Hit": false`, `"Name": "threatening_language",
              "Hit": true`, 1)
	if hit == string(airudder.ExampleQAResult) {
		t.Fatal("the QA example changed: no Negative check point to hit")
	}
	qa = exampleEvent(t, airudder.KindQAResult, []byte(hit))
	p = set.PlanEvent(qa, "event/airudder/qa-result/x", received)
	if strings.Join(p.Matched, ",") != "qa-negative-hit" || len(p.FollowUps) != 1 || p.FollowUps[0].Webhook == nil {
		t.Fatalf("QA with a Negative hit: %+v", p)
	}
	var body map[string]any
	if err := json.Unmarshal(p.FollowUps[0].Webhook.Body, &body); err != nil || body["task_id"] != "qa7f3c2d1exxxxxxxx55aa" ||
		len(body["negative"].([]any)) != 1 {
		t.Errorf("body = %s (%v)", p.FollowUps[0].Webhook.Body, err)
	}

	agent := exampleEvent(t, airudder.KindPDS, airudder.ExamplePDSAgentStatus)
	p = set.PlanEvent(agent, "event/airudder/pds/x", received)
	if strings.Join(p.Matched, ",") != "pds-promise-to-pay-reminder" || len(p.FollowUps) != 1 || p.FollowUps[0].Recall == nil {
		t.Fatalf("PDS agent PTP: %+v", p)
	}
	fu := p.FollowUps[0]
	if fu.Recall.Callee != "+6281xxxxxxx123" || fu.Recall.Variables["ptp_date"] != "2024-03-15" ||
		!fu.NotBefore.Equal(agent.Time.Add(24*time.Hour)) {
		t.Errorf("reminder = %+v, not before %s", fu.Recall, fu.NotBefore)
	}
	// Rules on events never match calls, nor rules on calls events.
	if p := set.Plan(seed(), "call/airudder/x", received); strings.Contains(strings.Join(p.Matched, ","), "pds") {
		t.Errorf("a call matched %v", p.Matched)
	}
	task := exampleEvent(t, airudder.KindPDS, airudder.ExamplePDSTaskStatus)
	if p := set.PlanEvent(task, "event/airudder/pds/y", received); len(p.Matched) != 0 {
		t.Errorf("a PDS task status matched %v", p.Matched)
	}
}

// A PDS call's states are events of their own (HANGUP, then TALKRESULT), and the example rule matches
// both: the follow-ups they plan are keyed by the call, so that the person is reminded once. Another
// call, or a task's states, plan under keys of their own.
func TestRulesOnACallsStatesPlanOnceForTheCall(t *testing.T) {
	set := exampleRules(t)
	state := func(state, callID, timestamp string) airudder.Event {
		body := strings.NewReplacer(`"State": "HANGUP"`, `"State": "`+state+`"`, `"pds0c41fxxxxxxxx77e2"`, `"`+callID+`"`,
			`"1710127230000"`, `"`+timestamp+`"`).Replace(string(airudder.ExamplePDSAgentStatus))
		return exampleEvent(t, airudder.KindPDS, []byte(body))
	}
	keyOf := func(ev airudder.Event) string {
		t.Helper()
		p := set.PlanEvent(ev, "event/airudder/pds/"+ev.Key, received)
		if len(p.FollowUps) != 1 {
			t.Fatalf("%s planned %+v", ev.Key, p)
		}
		return p.FollowUps[0].Key
	}
	hangup, talkResult := state("HANGUP", "c-1", "1710127230000"), state("TALKRESULT", "c-1", "1710127290000")
	if hangup.Key == talkResult.Key {
		t.Fatalf("two states of one call share the event key %q", hangup.Key)
	}
	if a, b := keyOf(hangup), keyOf(talkResult); a != b {
		t.Errorf("HANGUP plans %s, TALKRESULT of the same call %s: want one key", a, b)
	}
	if a, b := keyOf(hangup), keyOf(state("HANGUP", "c-2", "1710127230000")); a == b {
		t.Errorf("two calls plan the same key %s", a)
	}
	// A task's states are not one call's: each plans under its own event.
	task := func(state string) airudder.Event {
		return exampleEvent(t, airudder.KindPDS, []byte(strings.Replace(string(airudder.ExamplePDSTaskStatus), `"Finished"`, `"`+state+`"`, 1)))
	}
	running, finished := task("Running"), task("Finished")
	if running.AboutCall() || !hangup.AboutCall() {
		t.Errorf("AboutCall: task %v, agent state %v", running.AboutCall(), hangup.AboutCall())
	}
	set = compile(t, "rules:\n  - id: t\n    on: pds.task_status\n    when: 'true'\n    actions: [{type: notify, url: 'https://chat.example.com/x', text: '{{ .event.state }}'}]\n")
	if a, b := keyOf(running), keyOf(finished); a == b {
		t.Errorf("two states of a task plan the same key %s", a)
	}
}

// Rules may be written for a chatbot session end: the rules page offers its fields, and a rule on them
// plans on the kind's example.
func TestRulesOnAChatbotSessionEnd(t *testing.T) {
	k, ok := rules.KindByName(rules.OnChatbotSessionEnded)
	if !ok || k.Variable != "event" {
		t.Fatalf("the rules page does not offer chatbot_session_ended: %+v", k)
	}
	for _, name := range []string{"workflow_name", "node_task_name", "channel", "callee_number", "call_id", "wfdetail_uuid", "timestamp"} {
		if _, ok := k.Field(name); !ok {
			t.Errorf("no field %s among %+v", name, k.Fields)
		}
	}
	set := compile(t, `
rules:
  - id: bot-done
    on: chatbot_session_ended
    when: event.channel == "whatsapp" && event.node_task_name == "Chatbot_1"
    actions: [{type: notify, url: 'https://chat.example.com/x', text: 'Chat with {{ .event.callee_number }} ended ({{ .event.wfdetail_uuid }})'}]
`)
	ev := exampleEvent(t, airudder.KindChatbotSessionEnded, airudder.ExampleChatbotSessionEnded)
	p := set.PlanEvent(ev, "event/airudder/chatbot-session-ended/"+ev.Key, received)
	if len(p.FollowUps) != 1 || p.FollowUps[0].Notify == nil ||
		p.FollowUps[0].Notify.Text != "Chat with +6281xxxxxxx123 ended (3f6c2b1a-xxxx-xxxx-xxxx-8e9d0c1b2a3f)" {
		t.Errorf("plan %+v", p)
	}
	if msg := refused(t, "rules:\n  - id: r\n    on: chatbot_session_ended\n    when: event.state == 'x'\n    actions: [{type: notify, url: 'https://chat.example.com/x', text: x}]\n", rules.Options{}).Error(); !strings.Contains(msg, `no field "state"`) {
		t.Errorf("error = %s", msg)
	}
}

// Lint refuses a kind that does not exist and a field the kind does not have.
func TestEventRulesAreCheckedAgainstTheirKind(t *testing.T) {
	for name, tc := range map[string]struct{ on, when, want string }{
		"unknown kind":        {"List-Completed", "true", "is not a kind of callback"},
		"field of another":    {"list_completed", `event.status == "x"`, `no field "status"`},
		"call field on event": {"qa_result", `call.intention == "PTP"`, "undeclared reference"},
		"typo":                {"pds.agent_status", `event.stat == "HANGUP"`, "did you mean event.state"},
		"not of this type":    {"pds.task_status", `event.agent_name == "x"`, `no field "agent_name"`},
		"wrong type":          {"qa_result", `event.recordings == "2"`, "no matching overload"},
		"at on an event":      {"list_completed", `true`, "at: is for rules on calls"},
	} {
		t.Run(name, func(t *testing.T) {
			at := ""
			if name == "at on an event" {
				at = "\n        at: {date: due_date, time: \"09:00\"}"
			}
			src := `rules:
  - id: r
    on: ` + tc.on + `
    when: '` + tc.when + `'
    actions:
      - type: notify
        url: https://chat.example/hook
        text: hi` + at + "\n"
			err := refused(t, src, rules.Options{})
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// A generic kind's rule reads event.raw.
	set, err := rules.Compile([]byte(`rules:
  - id: waba-read
    on: waba_status
    when: 'event.raw.message.status == "read"'
    actions:
      - type: notify
        url: https://chat.example/hook
        text: "{{ .event.raw.message.id }} was read"
`), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := airudder.GenericKind("waba-status", []string{"message.id"})
	doc, _ := airudder.Decode([]byte(`{"message":{"id":"wamid.1","status":"read"}}`))
	ev, err := k.ReadEvent(doc, airudder.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := set.PlanEvent(ev.Received("acme", received), "event/acme/waba-status/wamid.1", received)
	if len(p.FollowUps) != 1 || p.FollowUps[0].Notify.Text != "wamid.1 was read" {
		t.Errorf("plan = %+v", p)
	}
}
