package rules_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/egress"
	"github.com/rudderhook/rudderhook/rules"
)

var received = time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC)

func seed() airudder.ReceivedCall { return airudder.ExampleCalls("airudder", received)[0] }

func compile(t *testing.T, src string) *rules.Set {
	t.Helper()
	set, err := rules.Compile([]byte(src), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func refused(t *testing.T, src string, opts rules.Options) *rules.Error {
	t.Helper()
	_, err := rules.Compile([]byte(src), opts)
	var re *rules.Error
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a *rules.Error", err)
	}
	return re
}

func TestExampleRulesCompileAndPlanTheSeedCall(t *testing.T) {
	set := exampleRules(t)
	set.Version = 7
	p := set.Plan(seed(), "call/airudder/cad907xxxxxxxx35644a", received)
	if strings.Join(p.Matched, ",") != "needs-follow-up" || len(p.Errors) != 0 {
		t.Fatalf("matched %v, errors %v", p.Matched, p.Errors)
	}
	if len(p.FollowUps) != 2 {
		t.Fatalf("follow-ups = %+v", p.FollowUps)
	}
	task, msg := p.FollowUps[0], p.FollowUps[1]
	if task.Type != rules.TypeWebhook || task.Webhook.Target != "crm" || task.RuleVersion != 7 || task.Action != "agent-task" {
		t.Errorf("task = %+v", task)
	}
	var body map[string]any
	if err := json.Unmarshal(task.Webhook.Body, &body); err != nil {
		t.Fatalf("body %s: %v", task.Webhook.Body, err)
	}
	if body["case_id"] != "7777777.0" || body["owing"] != "20310.00" || body["call_id"] != "cad907xxxxxxxx35644a" ||
		body["labels"].(map[string]any)["Correct_Person"] != "identity_correct_person" {
		t.Errorf("body = %v", body)
	}
	if want := "Case 7777777.0 (WILL SMITH) needs a follow-up call: Needs Follow Up."; msg.Notify.Text != want {
		t.Errorf("text = %q", msg.Notify.Text)
	}
	if !task.NotBefore.Equal(time.Date(2024, 3, 11, 3, 20, 56, 0, time.UTC)) {
		t.Errorf("not before = %v, want the call's end (no delay)", task.NotBefore)
	}
	if task.Key == msg.Key || task.Key != rules.FollowUpKey("call/airudder/cad907xxxxxxxx35644a", "needs-follow-up", "agent-task") {
		t.Errorf("keys %s, %s", task.Key, msg.Key)
	}
}

func TestConditionsSeeTheCall(t *testing.T) {
	rc := seed()
	rc.Call.RingType = "null"
	for cond, want := range map[string]bool{
		`call.intention == "E"`:                                                   true,
		`call.intention_description == "Needs Follow Up"`:                         true,
		`call.ring_type in ["busy", "switchoff", "null"]`:                         true,
		`call.talk_round == 0 && call.call_times >= 2`:                            true,
		`call.total_owing_amount > 20000`:                                         true, // int literal against an amount
		`call.borrowed_amount >= 20000.5`:                                         false,
		`has(call.due_date) && call.due_date < timestamp("2024-03-03T00:00:00Z")`: true,
		`call.ner_slots.PaymentMethod == "Transfer"`:                              true,
		`"Correct_Person" in call.event_label`:                                    true,
		`call.variables["var2"] == "bbb"`:                                         true,
		`call.transcript.contains("terdengar")`:                                   true,
		`call.redial_count == 1 && call.source == "airudder"`:                     true,
		`call.duration > duration("20s")`:                                         true,
		`call.workflow_name.startsWith("test_wf")`:                                true,
		`has(call.multi_intention) || call.callee_gender == ""`:                   true,
	} {
		set := compile(t, "rules:\n  - id: r\n    when: '"+cond+"'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n")
		p := set.Plan(rc, "wf", received)
		if got := len(p.Matched) == 1; got != want || len(p.Errors) > 0 {
			t.Errorf("%s = %v (errors %v), want %v", cond, got, p.Errors, want)
		}
	}
}

// A rule can tell a call whose field was kept as text (a parse note) from one that lacks the field.
func TestConditionsSeeParseNotes(t *testing.T) {
	rc := seed()
	rc.Call.DueDate = nil
	rc.ParseNotes = []airudder.ParseNote{{Field: "DueDate", Text: "31/12/2024", Why: `"31/12/2024" is not a date`}}
	for cond, want := range map[string]bool{
		`"DueDate" in call.parse_notes`:                           true,
		`!has(call.due_date) && !("DueDate" in call.parse_notes)`: false,
		`call.parse_notes["DueDate"].contains("not a date")`:      true,
		`size(call.parse_notes) == 0`:                             false,
	} {
		set := compile(t, "rules:\n  - id: r\n    when: '"+cond+"'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n")
		if p := set.Plan(rc, "wf", received); (len(p.Matched) == 1) != want || len(p.Errors) > 0 {
			t.Errorf("%s: matched %v, errors %v; want %v", cond, p.Matched, p.Errors, want)
		}
	}
	set := compile(t, "rules:\n  - id: r\n    when: 'size(call.parse_notes) == 0'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n")
	if p := set.Plan(seed(), "wf", received); len(p.Matched) != 1 {
		t.Errorf("the seed call has parse notes: %v", p.Errors)
	}
}

func TestARuleThatFailsOnACallDoesNotMatch(t *testing.T) {
	set := compile(t, "rules:\n  - id: r\n    when: call.variables.missing == 'x'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n")
	p := set.Plan(seed(), "wf", received)
	if len(p.Matched) != 0 || len(p.Errors) != 1 || p.Errors[0].Rule != "r" {
		t.Errorf("plan = %+v", p)
	}
}

func TestBadDocumentsAreRefusedWithRuleLineAndColumn(t *testing.T) {
	cases := map[string]struct {
		src  string
		want []string
	}{
		"unknown field in a condition": {
			"rules:\n  - id: ptp\n    when: call.intenton == 'PTP'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n",
			[]string{`line 3: rule "ptp": when: column 5: undefined field 'intenton'`, "did you mean call.intention?"},
		},
		"type error": {
			"rules:\n  - id: r\n    when: call.talk_round > 'three'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n",
			[]string{"line 3", "no matching overload"},
		},
		"not a condition": {
			"rules:\n  - id: r\n    when: call.intention\n    actions: [{type: notify, url: 'http://x', text: hi}]\n",
			[]string{"gives a string, not true or false"},
		},
		"unknown action type": {
			"rules:\n  - id: r\n    when: 'true'\n    actions:\n      - type: sms\n",
			[]string{`line 5: rule "r": action "sms": type "sms" is not in the catalogue`},
		},
		"unknown key": {
			"rules:\n  - id: r\n    when: 'true'\n    action: []\n",
			[]string{"line 4", "field action not found"},
		},
		"duplicate ids": {
			"rules:\n  - id: r\n    when: 'true'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n  - id: r\n    when: 'false'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n",
			[]string{"line 5", "repeats the rule on line 2"},
		},
		"template typo": {
			"rules:\n  - id: r\n    when: 'true'\n    actions: [{type: notify, url: 'http://x', text: '{{ .call.cse_id }}'}]\n",
			[]string{"text:", "cse_id"},
		},
		"map key the example lacks": {
			"rules:\n  - id: r\n    when: 'true'\n    actions: [{type: notify, url: 'http://x', text: '{{ .call.variables.segment }}'}]\n",
			[]string{`no entry for key "segment"`, `{{ index .call.variables "name" }}`},
		},
		"body that is not JSON": {
			"rules:\n  - id: r\n    when: 'true'\n    actions: [{type: webhook, url: 'http://x', body: '{\"a\": {{ .call.callee_name }}}'}]\n",
			[]string{"does not give JSON"},
		},
		"timing": {
			"rules:\n  - id: r\n    when: 'true'\n    actions:\n      - {type: notify, url: 'http://x', text: hi, delay: soon, window: {start: '8am', end: '20:00', time_zone: Mars/Base}}\n",
			[]string{"soon"},
		},
		"window and at": {
			"rules:\n  - id: r\n    when: 'true'\n    actions:\n      - {type: notify, url: 'http://x', text: hi, at: {date: payday}, window: {start: '08:00', end: '08:00'}, on_cap: later}\n",
			[]string{"date \"payday\"", "window would be empty", "on_cap \"later\""},
		},
		"recall needs one destination": {
			"rules:\n  - id: r\n    when: 'true'\n    actions: [{type: airudder_recall}]\n",
			[]string{"give workflow_id"},
		},
		"reserved header": {
			"rules:\n  - id: r\n    when: 'true'\n    actions: [{type: webhook, url: 'http://x', headers: {Webhook-Signature: x}}]\n",
			[]string{"Webhook-Signature is set by rudderhook"},
		},
		"not YAML": {"rules: [\n", []string{"line"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			msg := refused(t, tc.src, rules.Options{}).Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestUnknownTargetIsRefusedWhenTargetsAreKnown(t *testing.T) {
	src := "rules:\n  - id: r\n    when: 'true'\n    actions: [{type: webhook, target: crn}]\n"
	msg := refused(t, src, rules.Options{Targets: map[string]bool{"crm": true}}).Error()
	if !strings.Contains(msg, `target "crn" is not configured (configured: crm)`) {
		t.Errorf("error = %s", msg)
	}
	if _, err := rules.Compile([]byte(src), rules.Options{}); err != nil {
		t.Errorf("without known targets the name is not checked: %v", err)
	}
}

// A url: that names what a rule URL may not reach (loopback, private, metadata) is refused when rules
// are saved, with the rule, the action and why; a public name passes (the worker's dialer checks what it
// resolves to). A version read back from the store is not refused for it.
func TestRuleURLsThatReachInsideAreRefused(t *testing.T) {
	for _, c := range []struct{ url, why string }{
		{"http://127.0.0.1:8080/admin", "127.0.0.1 is a loopback address"},
		{"http://[::1]/", "::1 is a loopback address"},
		{"http://localhost:9200/_cluster", "localhost names a loopback address"},
		{"http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"},
		{"http://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal names a cloud metadata address"},
		{"https://10.1.2.3/crm/secret-path", "10.1.2.3 is a private address"},
		{"http://[::ffff:192.168.0.1]/", "192.168.0.1 is a private address"},
		{"http://0.0.0.0:5432/", "0.0.0.0 is an unspecified address"},
		{"http://2130706433/", "2130706433 is not an IPv4 address in four decimal parts"},
	} {
		src := "rules:\n  - id: ok\n    when: 'true'\n    actions: [{type: notify, url: 'https://hooks.example.com/x', text: hi}]\n" +
			"  - id: inside\n    when: 'true'\n    actions:\n      - {name: tell, type: notify, url: 'https://hooks.example.com/y', text: hi}\n" +
			"      - {name: probe, type: webhook, url: '" + c.url + "'}\n"
		re := refused(t, src, rules.Options{})
		if len(re.Problems) != 1 {
			t.Fatalf("%s: problems %v", c.url, re.Lines())
		}
		p := re.Problems[0]
		if p.Rule != "inside" || p.Field != "actions[1]" || p.Line != 9 || !strings.HasPrefix(p.Message, "url: refused: "+c.why) ||
			!strings.Contains(p.Message, "rule URLs may reach only public addresses (a configured target may allow private ones: allow_private)") {
			t.Errorf("%s: problem %+v", c.url, p)
		}
		if loc := rules.Locate([]byte(src), re.Problems); loc[0].Path != "rules[1].actions[1].url" {
			t.Errorf("%s: the rules page shows the problem at %q, not beside the url", c.url, loc[0].Path)
		}
		if strings.Contains(p.Message, "secret-path") || strings.Contains(p.Message, "meta-data") {
			t.Errorf("the problem repeats the URL's path: %s", p.Message)
		}
		if _, err := rules.Compile([]byte(src), rules.Options{Stored: true}); err != nil {
			t.Errorf("%s: a stored version is refused: %v", c.url, err)
		}
	}
	loopback := "rules:\n  - id: r\n    when: 'true'\n    actions: [{type: notify, url: 'http://127.0.0.1:9000/hook', text: hi}]\n"
	if _, err := rules.Compile([]byte(loopback), rules.Options{URLs: egress.Policy{AllowLoopback: true}}); err != nil {
		t.Errorf("loopback allowed (dev, tests): %v", err)
	}
	private := strings.Replace(loopback, "127.0.0.1", "10.0.0.1", 1)
	if _, err := rules.Compile([]byte(private), rules.Options{URLs: egress.Policy{AllowLoopback: true}}); err == nil {
		t.Error("allowing loopback let a private address through")
	}
}

func TestTimingIsPlanned(t *testing.T) {
	src := `
time_zone: Asia/Jakarta
rules:
  - id: ptp
    when: 'true'
    actions:
      - name: reminder
        type: notify
        url: http://x
        text: hi
        at: {date: due_date, days_before: 1, time: "09:00"}
      - name: later
        type: notify
        url: http://x
        text: hi
        delay: 1d2h
        window: {start: "08:00", end: "20:00"}
        max_per_day: 3
`
	set := compile(t, src)
	rc := seed()
	future := airudder.Date{Year: 2024, Month: 3, Day: 20}
	rc.Call.DueDate = &future
	p := set.Plan(rc, "wf", received)
	reminder, later := p.FollowUps[0], p.FollowUps[1]
	// The day before 20 March, 09:00 in Jakarta (UTC+7) = 19 March 02:00 UTC.
	if want := time.Date(2024, 3, 19, 2, 0, 0, 0, time.UTC); !reminder.NotBefore.Equal(want) || reminder.Skip != "" {
		t.Errorf("reminder at %v (skip %q), want %v", reminder.NotBefore, reminder.Skip, want)
	}
	if want := rc.Call.CallEndTime.Add(26 * time.Hour); !later.NotBefore.Equal(want) || later.Window.TimeZone != "Asia/Jakarta" || later.MaxPerDay != 3 {
		t.Errorf("later = %+v", later)
	}
	// The seed's own due date (2 March) is before the call: the reminder is planned as skipped.
	p = set.Plan(seed(), "wf", received)
	if !strings.Contains(p.FollowUps[0].Skip, "had passed") {
		t.Errorf("skip = %q", p.FollowUps[0].Skip)
	}
	rc.Call.DueDate = nil
	if p = set.Plan(rc, "wf", received); p.FollowUps[0].Skip != "the call has no due_date" {
		t.Errorf("skip = %q", p.FollowUps[0].Skip)
	}
}

func TestIndexGivesEmptyForAbsentKeys(t *testing.T) {
	set := compile(t, "rules:\n  - id: r\n    when: 'true'\n    actions: [{type: notify, url: 'http://x', text: 'segment={{ index .call.variables \"segment\" }};var1={{ index .call.variables \"var1\" }}'}]\n")
	p := set.Plan(seed(), "wf", received)
	if got := p.FollowUps[0].Notify.Text; got != "segment=;var1=aaa" {
		t.Errorf("text = %q", got)
	}
}

func TestDisabledRulesAndDigest(t *testing.T) {
	a := compile(t, "rules:\n  - id: r\n    enabled: false\n    when: 'true'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n")
	if p := a.Plan(seed(), "wf", received); len(p.Matched) != 0 {
		t.Errorf("a disabled rule matched")
	}
	b := compile(t, "rules: []\n")
	if a.Digest == b.Digest || len(a.Digest) != 64 {
		t.Errorf("digests %s %s", a.Digest, b.Digest)
	}
}

// TestREADMEDocumentsEveryField keeps the business users' field table in step with what rules can use.
func TestREADMEDocumentsEveryField(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range rules.FieldNames() {
		if !strings.Contains(string(readme), "`call."+name+"`") {
			t.Errorf("README.md does not document call.%s", name)
		}
	}
}

func TestAnActionThatCannotBePlannedIsSkippedWithTheReason(t *testing.T) {
	set := compile(t, "rules:\n  - id: r\n    when: 'true'\n    actions: [{name: note, type: notify, url: 'http://x', text: '{{ .call.variables.var1 }}'}]\n")
	rc := seed()
	rc.Call.Variables = json.RawMessage(`{"other": "x"}`) // this call lacks var1
	p := set.Plan(rc, "wf", received)
	if len(p.FollowUps) != 1 || !strings.Contains(p.FollowUps[0].Skip, `no entry for key "var1"`) || p.FollowUps[0].Notify != nil {
		t.Errorf("plan = %+v", p.FollowUps)
	}
}

func TestRecallTemplateIDIsAnIntegerCheckedAtLoad(t *testing.T) {
	msg := refused(t, "rules:\n  - id: r\n    when: 'true'\n    actions: [{type: airudder_recall, workflow_template_id: wf-tpl-ptp-reminder}]\n", rules.Options{}).Error()
	if !strings.Contains(msg, `workflow_template_id: "wf-tpl-ptp-reminder" is not a template ID`) {
		t.Errorf("error = %s", msg)
	}
	for _, bad := range []string{"0", "-3", "12.5"} {
		refused(t, "rules:\n  - id: r\n    when: 'true'\n    actions: [{type: airudder_recall, workflow_template_id: '"+bad+"'}]\n", rules.Options{})
	}
	// Written as a YAML number, as the example does.
	set := compile(t, "rules:\n  - id: r\n    when: 'true'\n    actions: [{type: airudder_recall, workflow_template_id: 4021, end_time: '19:30'}]\n")
	fu := set.Plan(seed(), "wf", received).FollowUps[0]
	if fu.Recall.TemplateID != "4021" || fu.Recall.EndTime != "19:30" {
		t.Errorf("recall = %+v", fu.Recall)
	}
	if id, err := rules.ParseTemplateID(fu.Recall.TemplateID); id != 4021 || err != nil {
		t.Errorf("ParseTemplateID = %d, %v", id, err)
	}
}

// auto_finish goes to createinstance as a rule sets it: 1 or 2 (a YAML number or text, as the rules
// page writes it), only with workflow_template_id.
func TestRecallAutoFinish(t *testing.T) {
	for _, v := range []string{"1", "'2'"} {
		set := compile(t, "rules:\n  - id: r\n    when: 'true'\n    actions: [{type: airudder_recall, workflow_template_id: 7, auto_finish: "+v+"}]\n")
		if got := set.Plan(seed(), "wf", received).FollowUps[0].Recall.AutoFinish; got != map[string]int{"1": 1, "'2'": 2}[v] {
			t.Errorf("auto_finish %s: planned %d", v, got)
		}
	}
	if fu := compile(t, "rules:\n  - id: r\n    when: 'true'\n    actions: [{type: airudder_recall, workflow_template_id: 7}]\n").
		Plan(seed(), "wf", received).FollowUps[0]; fu.Recall.AutoFinish != 0 {
		t.Errorf("auto_finish not set: planned %d, want 0 (not sent: Airudder's default)", fu.Recall.AutoFinish)
	}
	for src, want := range map[string]string{
		"{type: airudder_recall, workflow_template_id: 7, auto_finish: 3}":   `auto_finish "3": 1 or 2`,
		"{type: airudder_recall, workflow_template_id: 7, auto_finish: yes}": `auto_finish "yes"`,
		"{type: airudder_recall, workflow_id: wf, auto_finish: 1}":           "auto_finish: only for workflow_template_id",
		"{type: webhook, url: 'https://x.example', auto_finish: 1}":          "auto_finish: only for airudder_recall",
	} {
		msg := refused(t, "rules:\n  - id: r\n    when: 'true'\n    actions: ["+src+"]\n", rules.Options{}).Error()
		if !strings.Contains(msg, want) {
			t.Errorf("%s: error = %s, want %q", src, msg, want)
		}
	}
}

// A new instance's name ends with a short suffix of its follow-up's key, so that no two follow-ups ask
// for one name; another try gives another name.
func TestInstanceNameIsTheFollowUpsOwn(t *testing.T) {
	r := rules.RecallRequest{Name: "rudderhook ptp 7777777.0"}
	a, b := rules.FollowUpKey("call/airudder/c-1", "ptp", "remind"), rules.FollowUpKey("call/airudder/c-2", "ptp", "remind")
	first := r.InstanceName(a, 0)
	if first != "rudderhook ptp 7777777.0 #"+a[3:11] || first == r.InstanceName(b, 0) || first != r.InstanceName(a, 0) {
		t.Errorf("names %q, %q", first, r.InstanceName(b, 0))
	}
	if again := r.InstanceName(a, 1); again == first || !strings.HasPrefix(again, r.Name+" #") || len(again) != len(first) {
		t.Errorf("another try: %q (first %q)", again, first)
	}
}

func TestInstanceEndIsTheEndOfTheCallingWindowByDefault(t *testing.T) {
	set := compile(t, `
time_zone: Asia/Jakarta
rules:
  - id: r
    when: 'true'
    actions:
      - {name: windowed, type: airudder_recall, workflow_template_id: 7, window: {start: "08:00", end: "20:00"}}
      - {name: night, type: airudder_recall, workflow_template_id: 7, window: {start: "20:00", end: "06:00"}}
      - {name: fixed, type: airudder_recall, workflow_template_id: 7, end_time: "18:00"}
      - {name: open, type: airudder_recall, workflow_template_id: 7}
`)
	fus := set.Plan(seed(), "wf", received).FollowUps
	jkt, _ := time.LoadLocation("Asia/Jakarta")
	at := time.Date(2024, 3, 11, 10, 0, 0, 0, jkt)
	for i, want := range []time.Time{
		time.Date(2024, 3, 11, 20, 0, 0, 0, jkt), // the window closes at 20:00 that day
		time.Date(2024, 3, 12, 6, 0, 0, 0, jkt),  // the night window that opens next ends the next morning
		time.Date(2024, 3, 11, 18, 0, 0, 0, jkt), // end_time, later the same day
		at.Add(24 * time.Hour),                   // no window: a day
	} {
		if got := fus[i].InstanceEnd(at); !got.Equal(want) {
			t.Errorf("%s: end = %v, want %v", fus[i].Action, got, want)
		}
	}
	// end_time already past that day: the next day's.
	if got, want := fus[2].InstanceEnd(time.Date(2024, 3, 11, 19, 0, 0, 0, jkt)), time.Date(2024, 3, 12, 18, 0, 0, 0, jkt); !got.Equal(want) {
		t.Errorf("end = %v, want %v", got, want)
	}
}

func TestEffectsDefaultToAtMostOnceForWhatReachesAPerson(t *testing.T) {
	set := compile(t, `
rules:
  - id: r
    when: 'true'
    actions:
      - {name: recall, type: airudder_recall, workflow_id: wf}
      - {name: recall-again, type: airudder_recall, workflow_id: wf, on_unknown: retry}
      - {name: crm, type: webhook, url: 'http://x'}
      - {name: sms, type: webhook, url: 'http://x', reaches_person: true}
      - {name: stop, type: airudder_cancel_contact}
      - {name: stop-pds, type: airudder_cancel_contact, api: pds, task_id: 'T-{{ .call.case_id }}', on_unknown: review}
`)
	fus := set.Plan(seed(), "wf", received).FollowUps
	for i, want := range []struct {
		reaches, atMostOnce bool
	}{{true, true}, {true, false}, {false, false}, {true, true}, {false, false}, {false, true}} {
		if fus[i].Reaches() != want.reaches || fus[i].AtMostOnce() != want.atMostOnce {
			t.Errorf("%s: reaches %v, at most once %v; want %+v", fus[i].Action, fus[i].Reaches(), fus[i].AtMostOnce(), want)
		}
	}
	stop, pds := fus[4], fus[5]
	if stop.Cancel == nil || *stop.Cancel != (rules.CancelRequest{API: "workflow", TaskID: seed().Task.TaskID, Callee: seed().Call.CalleeNumber}) {
		t.Errorf("cancel = %+v", stop.Cancel)
	}
	if pds.Cancel.API != "pds" || pds.Cancel.TaskID != "T-7777777.0" || !strings.Contains(stop.Summary, "Cancel the remaining calls") {
		t.Errorf("cancel = %+v, summary %q", pds.Cancel, stop.Summary)
	}
	// A plan stored before these keys existed: a re-call is at most once, a webhook is not.
	old := rules.FollowUp{Type: rules.TypeAirudderRecall}
	if !old.Reaches() || !old.AtMostOnce() {
		t.Error("an old re-call plan must stay at most once")
	}
	if old := (rules.FollowUp{Type: rules.TypeWebhook}); old.AtMostOnce() {
		t.Error("an old webhook plan keeps at least once")
	}

	for src, want := range map[string]string{
		"{type: airudder_recall, workflow_id: wf, on_unknown: maybe}":   `on_unknown "maybe"`,
		"{type: airudder_cancel_contact, api: robocall}":                `api "robocall"`,
		"{type: webhook, url: 'http://x', task_id: x}":                  "task_id: only for airudder_cancel_contact",
		"{type: airudder_recall, workflow_id: wf, end_time: '19:00'}":   "end_time: only for workflow_template_id",
		"{type: airudder_recall, workflow_template_id: 3, end_time: x}": `end_time: "x" is not a time of day`,
	} {
		msg := refused(t, "rules:\n  - id: r\n    when: 'true'\n    actions: ["+src+"]\n", rules.Options{}).Error()
		if !strings.Contains(msg, want) {
			t.Errorf("%s: error = %s, want %q", src, msg, want)
		}
	}
}

// exampleRules are deploy/rules.example.yaml compiled with the targets it names.
func exampleRules(t *testing.T) *rules.Set {
	t.Helper()
	src, err := os.ReadFile("../deploy/rules.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(src, rules.Options{Targets: map[string]bool{"crm": true, "team_channel": true}})
	if err != nil {
		t.Fatal(err)
	}
	return set
}
