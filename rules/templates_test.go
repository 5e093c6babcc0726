package rules_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
)

// notifyWith is a rules document of one rule, r, whose action chat sends text.
func notifyWith(text string) string {
	q, _ := json.Marshal(text)
	return "rules:\n  - id: r\n    when: 'true'\n    actions:\n      - {name: chat, type: notify, url: 'http://x', text: " + string(q) + "}\n"
}

// Templates that could run for ever, or make a lot from a little, are refused when the rules load, with
// a problem that names the rule and the action. (Where today's Go would run a refused template long, the
// case keeps it short — a {{break}} — so that the test fails rather than hangs on code without the check.)
func TestTemplatesThatCouldRunLongAreRefused(t *testing.T) {
	deep := strings.Repeat("{{if true}}", 9) + "x" + strings.Repeat("{{end}}", 9)
	cases := map[string]struct{ text, want string }{
		"range over a number":           {`{{range 100000000000}}x{{break}}{{end}}`, "range over a number is not allowed"},
		"range over a function's value": {`{{range slice .call.case_id 0}}x{{end}}`, "range goes over a field or a variable"},
		"define and template":           {`{{define "again"}}x{{end}}{{template "again"}}`, "{{define}} and {{block}} are not allowed"},
		"block":                         {`{{block "b" .}}x{{end}}`, "{{define}} and {{block}} are not allowed"},
		"ranges three deep":             {`{{range .call.event_label}}{{range $.call.event_label}}{{range $.call.event_label}}x{{break}}{{end}}{{break}}{{end}}{{break}}{{end}}`, "ranges go at most 2 deep"},
		"nine ifs deep":                 {deep, "if, with and range go at most 8 deep"},
		"a wide printf":                 {`{{printf "%999999d" 1}}`, "a width or precision is at most 100"},
		"a printf width from an arg":    {`{{printf "%*d" 999999 1}}`, "taken from an argument (*) is not allowed"},
		"call":                          {`{{call .call.case_id}}`, "call is not available"},
		"a long template":               {strings.Repeat("x", 9000), "a template is at most 8192"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			re := refused(t, notifyWith(tc.text), rules.Options{})
			if len(re.Problems) != 1 {
				t.Fatalf("problems: %v", re.Lines())
			}
			p := re.Problems[0]
			if p.Rule != "r" || p.Action != "chat" || p.Field != "actions[0]" || !strings.HasPrefix(p.Message, "text: ") || !strings.Contains(p.Message, tc.want) {
				t.Errorf("problem %+v, want rule r, action chat, a message on text with %q", p, tc.want)
			}
			if s := p.String(); !strings.Contains(s, `rule "r": action "chat": text: `) {
				t.Errorf("the problem reads %q", s)
			}
		})
	}
	// What stays allowed: ranges over the call's lists and maps, two deep, else-if chains, narrow printf.
	ok := `{{range $k, $v := .call.event_label}}{{$k}}={{range $.call.ner_slots}}{{.}}{{end}};{{end}}` +
		`{{if eq .call.intention "A"}}a{{else if eq .call.intention "B"}}b{{else if eq .call.intention "C"}}c{{else if eq .call.intention "D"}}d` +
		`{{else if eq .call.intention "E"}}e{{else if eq .call.intention "F"}}f{{else if eq .call.intention "G"}}g{{else if eq .call.intention "H"}}h` +
		`{{else if eq .call.intention "I"}}i{{end}} {{printf "%-20s|%08.2f" .call.case_id 3.5}} {{html .call.callee_name}}`
	set := compile(t, notifyWith(ok))
	text := set.Plan(seed(), "wf", received).FollowUps[0].Notify.Text
	if !strings.Contains(text, "Correct_Person=") || !strings.HasSuffix(text, ";e 7777777.0           |00003.50 WILL SMITH") {
		t.Errorf("text = %q", text)
	}
}

// The document itself is bounded: its length, its rules, their actions, a re-call's variables, a
// condition's length; YAML aliases that expand too much are refused by yaml.v3 (this case holds that
// guard: it passes on code without the other checks too).
func TestDocumentsThatTakeLongToCheckAreRefused(t *testing.T) {
	rule := func(id, when, actions string) string {
		return fmt.Sprintf("  - id: %s\n    when: '%s'\n    actions: [%s]\n", id, when, actions)
	}
	notify := "{type: notify, url: 'http://x', text: hi}"
	many := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(f(i))
		}
		return b.String()
	}
	vars := many(51, func(i int) string { return fmt.Sprintf("v%d: x, ", i) })
	bomb := "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
		"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n" +
		"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n" +
		"rules:\n" + rule("r", "true", "{type: webhook, url: 'http://x', fields: {x: *h}}")
	cases := map[string]struct{ src, want string }{
		"longer than 1 MiB":    {"# " + strings.Repeat("x", 1<<20) + "\nrules:\n" + rule("r", "true", notify), "a rules document is at most 1048576"},
		"more than 500 rules":  {"rules:\n" + many(501, func(i int) string { return rule(fmt.Sprintf("r%d", i), "true", notify) }), "501 rules; a document has at most 500"},
		"more than 20 actions": {"rules:\n" + rule("r", "true", many(21, func(i int) string { return fmt.Sprintf("{name: n%d, type: notify, url: 'http://x', text: hi},", i) })), "21 actions; a rule has at most 20"},
		"more than 50 variables": {"rules:\n" + rule("r", "true", "{type: airudder_recall, workflow_id: w, variables: {"+vars+"}}"),
			"51 variables; a re-call sets at most 50"},
		"a long condition":      {"rules:\n" + rule("r", "true"+strings.Repeat(" || true", 600), notify), "a condition is at most 4096"},
		"an alias bomb (guard)": {bomb, "excessive aliasing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if msg := refused(t, tc.src, rules.Options{}).Error(); !strings.Contains(msg, tc.want) {
				t.Errorf("error does not say %q:\n%.2000s", tc.want, msg)
			}
		})
	}
}

// manyVariables is the seed call with n variables v0000… of ten characters each.
func manyVariables(t *testing.T, n int) airudder.ReceivedCall {
	t.Helper()
	rc := seed()
	vars := map[string]string{}
	for i := range n {
		vars[fmt.Sprintf("v%04d", i)] = "0123456789"
	}
	b, err := json.Marshal(vars)
	if err != nil {
		t.Fatal(err)
	}
	rc.Call.Variables = b
	return rc
}

// A template that is sound on the example call may still meet a call that makes it run long or give a
// lot: then it stops at its bound, and its action is planned as skipped with the reason; the other
// actions are planned as usual.
func TestTemplatesStopAtTheirBoundsOnALargeCall(t *testing.T) {
	src := `rules:
  - id: r
    when: 'true'
    actions:
      - {name: wide, type: notify, url: 'http://x', text: '{{range .call.variables}}{{printf "%100s" .}}{{end}}'}
      - {name: square, type: notify, url: 'http://x', text: '{{range .call.variables}}{{range $.call.variables}}{{end}}{{end}}done'}
      - {name: counted, type: notify, url: 'http://x', text: '{{range .call.talk_round}}{{end}}done'}
      - {name: fine, type: notify, url: 'http://x', text: 'case {{ .call.case_id }}'}
`
	set := compile(t, src)
	rc := manyVariables(t, 1000) // 1,000 × 100 bytes is more than 64 KiB; 1,000 × 1,000 turns more than 10,000
	rounds := int64(20_000)      // a number from the call that a range would repeat
	rc.Call.TalkRound = &rounds
	p := set.Plan(rc, "wf", received)
	want := map[string]string{
		"wide":    "could not be planned for this call: text: gives more than 64 KiB",
		"square":  "could not be planned for this call: text: its ranges took more than 10000 turns",
		"counted": "could not be planned for this call: text: its ranges took more than 10000 turns",
		"fine":    "",
	}
	for _, fu := range p.FollowUps {
		if !strings.HasPrefix(fu.Skip, want[fu.Action]) || (want[fu.Action] == "") != (fu.Skip == "") {
			t.Errorf("%s: skip %q, want %q", fu.Action, fu.Skip, want[fu.Action])
		}
	}
	if len(p.FollowUps) != 4 || p.FollowUps[3].Notify == nil || p.FollowUps[3].Notify.Text != "case 7777777.0" {
		t.Errorf("follow-ups = %+v", p.FollowUps)
	}
}

// Functions that make values count too: json of more than a template may give is refused even when it
// is not written (an if), and a printf format from the call is checked when it runs.
func TestTemplateFunctionsKeepTheBounds(t *testing.T) {
	src := `rules:
  - id: r
    when: 'true'
    actions:
      - {name: big-json, type: notify, url: 'http://x', text: '{{if json .call.variables}}yes{{end}}'}
      - {name: format-from-call, type: notify, url: 'http://x', text: '{{printf .call.comments 1}}'}
`
	set := compile(t, src)
	rc := manyVariables(t, 5000) // about 100 KB of JSON
	rc.Call.Comments = "%999999d"
	p := set.Plan(rc, "wf", received)
	if got := p.FollowUps[0].Skip; !strings.Contains(got, "makes a value of more than 64 KiB") {
		t.Errorf("big-json: skip %q", got)
	}
	if got := p.FollowUps[1].Skip; !strings.Contains(got, "a width or precision is at most 100") {
		t.Errorf("format-from-call: skip %q", got)
	}
}
