package rules

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
)

// text/template cannot be stopped from outside: a template checks the time itself, on every write, every
// function call and every turn of a range, so one that runs out of its time stops there.
func TestTemplateStopsWhenItsTimeIsUp(t *testing.T) {
	data := map[string]any{"items": []any{1, 2, 3}}
	over := budget{until: time.Now().Add(-time.Millisecond), what: "the test's time"}
	for _, src := range []string{
		`text`,                              // a write
		`{{if upper "x"}}{{end}}`,           // a function, writing nothing
		`{{range .items}}{{end}}`,           // a range's turn, writing nothing
		`{{if json .items}}{{end}}`,         // another function
		`{{range $i, $v := .items}}{{end}}`, // a range with its index
	} {
		bt, err := parseTemplate("text", src)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := render(bt, data, over); err == nil || err.Error() != "text: ran out of time: the test's time" {
			t.Errorf("%s: %q, %v", src, out, err)
		}
		if out, err := render(bt, data, planBudget()); err != nil {
			t.Errorf("%s with time left: %q, %v", src, out, err)
		}
	}
}

// Checking a document stops when its time is up, with a problem that says where.
func TestCompileStopsWhenItsTimeIsUp(t *testing.T) {
	src := "rules:\n  - id: r\n    when: 'true'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n"
	_, err := compile([]byte(src), Options{}, budget{until: time.Now().Add(-time.Millisecond), what: "the test's time"})
	re, ok := err.(*Error)
	if !ok || len(re.Problems) != 1 || re.Problems[0].Rule != "r" || !strings.Contains(re.Problems[0].Message, "checking the rules took longer than 3s") {
		t.Fatalf("err = %v", err)
	}
	if _, err := compile([]byte(src), Options{}, budget{until: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
}

// A condition within its CEL cost may still be slow (a nested all over two long lists took 1.5 s): it
// stops when the plan's time is up, CEL checking it every 100 turns of a comprehension, and counts as not
// matched, with the reason among the plan's errors; a cheap condition is evaluated as usual.
func TestConditionStopsWhenThePlansTimeIsUp(t *testing.T) {
	var items []string
	for i := range 200 {
		items = append(items, strconv.Itoa(i))
	}
	src := "rules:\n" +
		"  - id: slow\n    when: '[" + strings.Join(items, ",") + "].all(x, x >= 0)'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n" +
		"  - id: cheap\n    when: 'true'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n"
	set, err := Compile([]byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{"call": FactsOf(airudder.ExampleCalls("airudder", time.Now())[0])}
	plan := func(r *Rule, a *Action, b budget) (FollowUp, error) { return FollowUp{RuleID: r.ID}, nil }
	p := set.planMatching(budget{until: time.Now().Add(-time.Millisecond), what: "the test's time"}, OnCallCompleted, "call", vars, plan)
	if len(p.Errors) != 1 || p.Errors[0].Rule != "slow" || p.Errors[0].Message != "ran out of time: the test's time" || strings.Join(p.Matched, ",") != "cheap" {
		t.Errorf("out of time: matched %v, errors %v", p.Matched, p.Errors)
	}
	if p := set.planMatching(planBudget(), OnCallCompleted, "call", vars, plan); len(p.Errors) != 0 || strings.Join(p.Matched, ",") != "slow,cheap" {
		t.Errorf("with time left: matched %v, errors %v", p.Matched, p.Errors)
	}
}
