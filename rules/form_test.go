package rules_test

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/rules"
)

func callKind(t *testing.T) rules.Kind {
	t.Helper()
	k, ok := rules.KindByName(rules.KindCallCompleted)
	if !ok {
		t.Fatal("no call_completed kind")
	}
	return k
}

func TestKindsDescribeEveryFieldOfCall(t *testing.T) {
	kinds := rules.Kinds()
	if len(kinds) < 2 || kinds[0].Name != "call_completed" || kinds[0].Variable != "call" {
		t.Fatalf("kinds = %+v", kinds)
	}
	var names []string
	for _, f := range kinds[0].Fields {
		names = append(names, f.Name)
		if f.Label == f.Name && strings.Contains(f.Name, "_") || f.Description == "" {
			t.Errorf("field %s has no label or description of its own: %+v", f.Name, f)
		}
		if len(rules.OpsFor(f.Type)) == 0 {
			t.Errorf("field %s: type %q has no operators", f.Name, f.Type)
		}
	}
	if !slices.Equal(names, rules.FieldNames()) {
		t.Errorf("fields %v\n differ from FieldNames %v", names, rules.FieldNames())
	}
	want := map[string]string{"intention_description": "text", "total_owing_amount": "number", "due_date": "time", "duration": "duration", "ner_slots": "map"}
	for name, typ := range want {
		if f, _ := kinds[0].Field(name); f.Type != typ {
			t.Errorf("%s is %q, want %q", name, f.Type, typ)
		}
	}
}

func TestConditionsRoundTripThroughCEL(t *testing.T) {
	kind := callKind(t)
	for _, tc := range []struct {
		cel   string
		conds []rules.Condition
	}{
		{`true`, []rules.Condition{}},
		{`call.intention_description == "Promise To Pay" && has(call.due_date)`, []rules.Condition{
			{Field: "intention_description", Op: "==", Value: "Promise To Pay"}, {Field: "due_date", Op: "has"}}},
		{`call.ring_type in ["busy", "switchoff", "null"]`, []rules.Condition{{Field: "ring_type", Op: "in", Values: []string{"busy", "switchoff", "null"}}}},
		{`!(call.ring_type in ["normal"])`, []rules.Condition{{Field: "ring_type", Op: "not_in", Values: []string{"normal"}}}},
		{`call.total_owing_amount > 1000000 && call.talk_round == 0`, []rules.Condition{
			{Field: "total_owing_amount", Op: ">", Value: "1000000"}, {Field: "talk_round", Op: "==", Value: "0"}}},
		{`call.total_owing_amount >= 1500.5`, []rules.Condition{{Field: "total_owing_amount", Op: ">=", Value: "1500.5"}}},
		{`call.duration > duration("30s")`, []rules.Condition{{Field: "duration", Op: ">", Value: "30s"}}},
		{`call.transcript.contains("besok")`, []rules.Condition{{Field: "transcript", Op: "contains", Value: "besok"}}},
		{`!has(call.due_date)`, []rules.Condition{{Field: "due_date", Op: "not_has"}}},
		{`"segment" in call.variables`, []rules.Condition{{Field: "variables", Op: "has_key", Key: "segment"}}},
		{`"PaymentMethod" in call.ner_slots && call.ner_slots["PaymentMethod"] == "Transfer"`, []rules.Condition{
			{Field: "ner_slots", Op: "key_equals", Key: "PaymentMethod", Value: "Transfer"}}},
		{`call.callee_name == "Budi \"the payer\""`, []rules.Condition{{Field: "callee_name", Op: "==", Value: `Budi "the payer"`}}},
	} {
		got, ok := rules.ParseConditions(kind, tc.cel)
		if !ok || !reflect.DeepEqual(got, tc.conds) {
			t.Errorf("ParseConditions(%s) = %+v, %v; want %+v", tc.cel, got, ok, tc.conds)
			continue
		}
		back, problems := rules.ConditionsCEL(kind, got)
		if len(problems) > 0 {
			t.Errorf("ConditionsCEL(%+v): %v", got, problems)
			continue
		}
		if again, ok := rules.ParseConditions(kind, back); !ok || !reflect.DeepEqual(again, tc.conds) {
			t.Errorf("%s → %s → %+v", tc.cel, back, again)
		}
		compile(t, "rules: [{id: r, when: '"+strings.ReplaceAll(back, "'", "''")+"', actions: [{type: notify, url: 'http://x', text: hi}]}]")
	}
	// What a list cannot say stays CEL.
	for _, cel := range []string{
		`call.ring_type == "wrongnum" || call.intention_description == "Wrong Number"`,
		`call.due_date < call.call_end_time + duration("168h")`,
		`call.talk_round > "3"`, `call.nope == "x"`, `size(call.transcript) > 10`, `call.intention == call.intention_description`, ``,
	} {
		if got, ok := rules.ParseConditions(kind, cel); ok {
			t.Errorf("ParseConditions(%s) = %+v, want CEL kept", cel, got)
		}
	}
}

func TestConditionsThatCannotBeWrittenSaySo(t *testing.T) {
	kind := callKind(t)
	_, problems := rules.ConditionsCEL(kind, []rules.Condition{
		{Field: "talk_round", Op: ">", Value: "three"},
		{Field: "ring_type", Op: "in"},
		{Field: "nope", Op: "=="},
		{Field: "due_date", Op: "=="},
		{Field: "duration", Op: ">", Value: "half a minute"},
		{Field: "intention", Op: "==", Value: "PTP"},
	})
	want := map[int]string{0: `"three" is not a number`, 1: "give at least one value", 2: `"nope" is not a field`,
		3: "choose how to compare the due date", 4: `is not a duration`}
	if len(problems) != len(want) {
		t.Errorf("problems = %v", problems)
	}
	for i, w := range want {
		if !strings.Contains(problems[i], w) {
			t.Errorf("condition %d: %q, want %q", i, problems[i], w)
		}
	}
}

func TestDraftOfTheExampleRulesWritesThemBackUnchanged(t *testing.T) {
	src, err := os.ReadFile("../deploy/rules.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := rules.ParseDraft(src)
	if d.Locked || d.TimeZone != "Asia/Jakarta" || len(d.Rules) != 8 {
		t.Fatalf("draft = %+v", d)
	}
	// Rules on calls and on the typed event kinds are all in the form.
	for _, r := range d.Rules {
		if r.Locked {
			t.Errorf("rule %s: locked: %s", r.ID, r.Reason)
		}
	}
	if pds := d.Rules[7]; pds.Kind != rules.OnPDSAgentStatus || len(pds.Conditions) == 0 {
		t.Errorf("the PDS rule in the form: %+v", pds)
	}
	if wrong := d.Rules[3]; !wrong.Custom || wrong.When == "" {
		t.Errorf("wrong-number's || condition: %+v", wrong)
	}
	out, set, problems := rules.BuildDraft(d, rules.Options{})
	if len(problems) > 0 || set == nil {
		t.Fatalf("problems: %v", problems)
	}
	// Unchanged rules keep their text, comments and all.
	if !strings.Contains(string(out), "# the Airudder template (its number) that makes reminder calls") || len(rules.Compare(src, out)) != 0 {
		t.Errorf("the rules read back differently:\n%s\n%v", out, rules.Compare(src, out))
	}

	// A change in the form is a change of that rule only.
	d.Rules[0].Actions[0].At.Time = "10:00"
	d.Rules[2].Conditions[0].Values = []string{"busy", "null"}
	out, _, problems = rules.BuildDraft(d, rules.Options{})
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	changes := rules.Compare(src, out)
	want := []rules.Change{
		{Rule: "promise-to-pay-reminder", What: "changed", Details: []string{"action reminder-call.at.time 09:00 → 10:00"}},
		{Rule: "unreachable-recall", What: "changed", Details: []string{`when call.ring_type in ["busy", "switchoff", "null"] → call.ring_type in ["busy", "null"]`}},
	}
	if !reflect.DeepEqual(changes, want) {
		t.Errorf("changes = %#v", changes)
	}
	if !strings.Contains(string(out), "workflow_template_id: 4021\n") {
		t.Errorf("a template number is written as a number:\n%s", out)
	}
}

func TestDraftKeepsWhatTheFormCannotShow(t *testing.T) {
	src := `time_zone: UTC
rules:
  - id: nested
    when: 'true'
    actions:
      - {type: webhook, url: 'http://crm.example/x', fields: {queue: {name: collections}}}
  - id: plain
    when: call.intention == "E"
    actions: [{type: notify, url: 'http://chat.example/y', text: hi}]
`
	d := rules.ParseDraft([]byte(src))
	if !d.Rules[0].Locked || !strings.Contains(d.Rules[0].Reason, "line 6") || d.Rules[1].Locked {
		t.Fatalf("draft = %+v", d)
	}
	d.Rules[1].Conditions[0].Value = "PTP"
	out, _, problems := rules.BuildDraft(d, rules.Options{})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if !strings.Contains(string(out), "fields: {queue: {name: collections}}") || !strings.Contains(string(out), `call.intention == "PTP"`) {
		t.Errorf("document:\n%s", out)
	}
	if d := rules.ParseDraft([]byte("rules: [")); !d.Locked {
		t.Errorf("broken YAML is not locked: %+v", d)
	}
	if d := rules.ParseDraft([]byte("time_zone: UTC\nsomething_new: 1\nrules: []\n")); !d.Locked || !strings.Contains(d.Reason, "something_new") {
		t.Errorf("an unknown key: %+v", d)
	}
}

func TestBuildDraftPlacesProblemsOnFields(t *testing.T) {
	src, _ := os.ReadFile("../deploy/rules.example.yaml")
	d := rules.ParseDraft(src)
	d.Rules[0].Actions[0].At.Time = "9am"
	d.Rules[0].Actions[0].Window.Start = "8"
	d.Rules[2].Actions[0].Delay = "2 hours"
	d.Rules[4].Actions[1].Target = "nowhere"
	d.Rules[4].Conditions[0].Value = ""
	d.Rules[4].Conditions = append(d.Rules[4].Conditions, rules.Condition{Field: "talk_round", Op: ">", Value: "x"})
	_, set, problems := rules.BuildDraft(d, rules.Options{Targets: map[string]bool{"crm": true, "team_channel": true}})
	if set != nil {
		t.Error("a draft with problems compiled")
	}
	got := map[string]string{}
	for _, p := range problems {
		got[p.Path] = p.Message
	}
	want := map[string]string{
		"rules[2].actions[0].delay": `"2 hours" is not a duration`,
		"rules[4].conditions[1]":    `"x" is not a number`,
	}
	for path, msg := range want {
		if !strings.Contains(got[path], msg) {
			t.Errorf("%s: %q, want %q (all: %v)", path, got[path], msg, got)
		}
	}
	// With the delay fixed the YAML decodes, and the compiler's problems are placed too.
	d.Rules[2].Actions[0].Delay = "2h"
	d.Rules[4].Conditions = d.Rules[4].Conditions[:1]
	_, _, problems = rules.BuildDraft(d, rules.Options{Targets: map[string]bool{"crm": true, "team_channel": true}})
	got = map[string]string{}
	for _, p := range problems {
		got[p.Path] = p.Message
	}
	want = map[string]string{
		"rules[0].actions[0].at.time":      `"9am" is not a time of day`,
		"rules[0].actions[0].window.start": `"8" is not a time of day`,
		"rules[4].actions[1].target":       `target "nowhere" is not configured`,
	}
	for path, msg := range want {
		if !strings.Contains(got[path], msg) {
			t.Errorf("%s: %q, want %q (all: %v)", path, got[path], msg, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("problems: %v", got)
	}
}

func TestLocateByKeyAndLine(t *testing.T) {
	src := "time_zone: Mars/Olympus\nrules:\n  - id: a\n    when: 'true'\n    actions:\n      - type: notify\n        url: http://x\n        text: hi\n        max_per_day: lots\n"
	_, err := rules.Compile([]byte(src), rules.Options{})
	var re *rules.Error
	if err == nil || !asError(err, &re) {
		t.Fatalf("err = %v", err)
	}
	located := rules.Locate([]byte(src), re.Problems)
	if len(located) != 1 || located[0].Path != "rules[0].actions[0].max_per_day" || located[0].RuleIndex != 0 {
		t.Errorf("located = %+v", located)
	}
}

func TestDescribeSaysRulesAsSentences(t *testing.T) {
	src, _ := os.ReadFile("../deploy/rules.example.yaml")
	set := compile(t, string(src))
	want := []string{
		"When the intention is Promise To Pay and the call has a due date → re-call through Airudder (template 4021) the day before the due date at 09:00, between 08:00 and 20:00",
		"When the intention is Promise To Pay → cancel the task's other calls to that number at once",
		"When the ring type is busy, switchoff or null → re-call through Airudder (into workflow wf-recall-unreachable) 2 hours after the call, between 08:00 and 20:00, at most 3 calls to the number a day (else the next day)",
		`When call.ring_type == "wrongnum" || call.intention_description == "Wrong Number" → send it to crm at once`,
		"When the intention is Needs Follow Up → send it to crm at once; message team_channel at once",
	}
	for i, r := range set.Rules[:len(want)] {
		if got := rules.Describe(set, r).String(); got != want[i] {
			t.Errorf("rule %s:\n got %s\nwant %s", r.ID, got, want[i])
		}
	}
	s := rules.Describe(set, set.Rules[0])
	if !s.When[2].Value || s.When[2].Text != "Promise To Pay" || s.When[1].Value {
		t.Errorf("values are marked: %+v", s.When)
	}
	other := compile(t, `time_zone: UTC
rules:
  - id: x
    when: call.total_owing_amount >= 1000 && !has(call.due_date) && "vip" in call.variables
    actions:
      - {type: notify, url: 'https://hooks.slack.com/services/T0/B0/SECRET', text: hi, delay: 1d12h, window: {start: "20:00", end: "06:00", days: [mon, tue], time_zone: Asia/Jakarta}, max_per_day: 2, on_cap: skip}
`)
	got := rules.Describe(other, other.Rules[0]).String()
	if got != "When the amount owed is at least 1000 and the call has no due date and the workflow variable vip is set → message hooks.slack.com 1 day 12 hours after the call, between 20:00 and 06:00 on mon, tue (Asia/Jakarta), at most 2 a day per callee (dropped beyond that)" {
		t.Errorf("got %s", got)
	}
	if strings.Contains(got, "SECRET") {
		t.Error("a URL's path reached a sentence")
	}
}

func TestCompareSaysWhatChanged(t *testing.T) {
	before := "time_zone: UTC\nrules:\n  - {id: a, when: 'true', actions: [{name: n, type: notify, url: 'http://x', text: hi}]}\n  - {id: b, when: 'true', actions: [{type: notify, url: 'http://x', text: hi}]}\n"
	after := "time_zone: Asia/Jakarta\nrules:\n  - {id: a, when: 'true', enabled: false, actions: [{name: n, type: notify, url: 'http://x', text: hello}]}\n  - {id: c, when: 'true', actions: [{type: notify, url: 'http://x', text: hi}]}\n"
	got := rules.Compare([]byte(before), []byte(after))
	want := []rules.Change{
		{Details: []string{"time zone UTC → Asia/Jakarta"}},
		{Rule: "b", What: "removed"},
		{Rule: "a", What: "changed", Details: []string{"action n.text hi → hello", "enabled added: false"}},
		{Rule: "c", What: "added"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v", got)
	}
}

func asError(err error, target **rules.Error) bool { return errors.As(err, target) }

// Every kind the page offers can be written for: each of its fields, compared as the form compares it,
// gives a rule that compiles (the form and the rules engine agree on what a kind has), and a kind's rule
// reads back into the form as the same kind and conditions.
func TestEveryKindsFieldsCompileAsConditions(t *testing.T) {
	sample := map[string]rules.Condition{
		rules.FieldText:     {Op: rules.OpEq, Value: "x"},
		rules.FieldNumber:   {Op: rules.OpGt, Value: "1"},
		rules.FieldTime:     {Op: rules.OpHas},
		rules.FieldDuration: {Op: rules.OpLt, Value: "30s"},
		rules.FieldMap:      {Op: rules.OpHasKey, Key: "k"},
	}
	for _, k := range rules.Kinds() {
		if len(k.Fields) == 0 {
			t.Errorf("kind %s has no fields", k.Name)
		}
		for _, f := range k.Fields {
			c, ok := sample[f.Type]
			if !ok || f.Label == "" || !slices.Contains(rules.OpsFor(f.Type), c.Op) {
				t.Errorf("%s.%s: type %q, label %q", k.Name, f.Name, f.Type, f.Label)
				continue
			}
			c.Field = f.Name
			when, problems := rules.ConditionsCEL(k, []rules.Condition{c})
			if len(problems) > 0 {
				t.Errorf("%s.%s: %v", k.Name, f.Name, problems)
				continue
			}
			doc := fmt.Sprintf("rules:\n  - id: r\n    on: %s\n    when: %s\n    actions: [{name: a, type: notify, target: team, text: hi}]\n", k.Name, strconv.Quote(when))
			if _, err := rules.Compile([]byte(doc), rules.Options{}); err != nil {
				t.Errorf("%s.%s: %s does not compile: %v", k.Name, f.Name, when, err)
				continue
			}
			d := rules.ParseDraft([]byte(doc))
			if len(d.Rules) != 1 || d.Rules[0].Locked || d.Rules[0].Kind != k.Name || len(d.Rules[0].Conditions) != 1 {
				t.Errorf("%s.%s: read back as %+v", k.Name, f.Name, d.Rules)
			}
		}
	}
}

// The build reads the YAML for the form before it compiles it, so reading is bounded too: a document
// longer than rules.MaxDocumentBytes or with more than rules.MaxRules rules is locked unread, and a
// condition longer than rules.MaxConditionBytes is not parsed into the form's list (it stays CEL, and
// Compile refuses it).
func TestParseDraftDoesNotReadWhatCompileRefuses(t *testing.T) {
	rule := "  - id: r\n    when: 'true'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n"
	if d := rules.ParseDraft([]byte("# " + strings.Repeat("x", rules.MaxDocumentBytes) + "\nrules:\n" + rule)); !d.Locked || !strings.Contains(d.Reason, "longer than") {
		t.Errorf("a long document: %+v", d.Reason)
	}
	if d := rules.ParseDraft([]byte("rules:\n" + strings.Repeat(rule, rules.MaxRules+1))); !d.Locked || !strings.Contains(d.Reason, "more than 500 rules") {
		t.Errorf("many rules: %+v", d.Reason)
	}
	long := `call.intention == "PTP"` + strings.Repeat(` && call.intention == "PTP"`, 200)
	d := rules.ParseDraft([]byte(strings.Replace("rules:\n"+rule, "'true'", "'"+long+"'", 1)))
	if d.Locked || len(d.Rules) != 1 || !d.Rules[0].Custom || len(d.Rules[0].Conditions) != 0 {
		t.Errorf("a long condition: %+v", d)
	}
}
