package rules_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
)

func whereOf(t *testing.T, src string) *rules.Where {
	t.Helper()
	w, err := rules.NewWhere(src)
	if err != nil {
		t.Fatalf("NewWhere(%q): %v", src, err)
	}
	return w
}

func match(t *testing.T, w *rules.Where, subj airudder.Subject) bool {
	t.Helper()
	ok, err := w.Match(context.Background(), subj)
	if err != nil {
		t.Fatalf("Match(%q): %v", w, err)
	}
	return ok
}

// A bulk repair's condition is written as a rule's: over `call` for calls, over `event` for events, with
// the facts rules see; it matches only subjects of its variable.
func TestWhereReadsSubjectsAsRulesDo(t *testing.T) {
	call := airudder.CallSubject(airudder.ExampleCalls("airudder", received)[0]) // intention E, owing 20310.00
	qa := airudder.EventSubject(exampleEvent(t, airudder.KindQAResult, airudder.ExampleQAResult))
	contact := airudder.EventSubject(exampleEvent(t, airudder.KindPDS, airudder.ExamplePDSContactStatus))

	for src, want := range map[string]bool{
		`call.intention == "E" && call.total_owing_amount > 20000`:                true, // amounts compare as numbers
		`call.intention == "E" && call.total_owing_amount > 100000`:               false,
		`call.variables["var1"] == "aaa"`:                                         true,
		`has(call.due_date) && call.due_date < timestamp("2024-03-03T00:00:00Z")`: true,
	} {
		w := whereOf(t, src)
		if !w.AboutCalls() || match(t, w, call) != want {
			t.Errorf("%s on the example call: want %v", src, want)
		}
		if match(t, w, qa) {
			t.Errorf("%s matched an event", src)
		}
	}

	state := whereOf(t, `event.state == "Answered"`)
	if state.AboutCalls() || match(t, state, call) {
		t.Error("a condition over event matched a call")
	}
	if !match(t, state, contact) {
		t.Error(`event.state == "Answered" did not match the PDS contact status`)
	}
	// A QA result has no state: it does not match, and the condition fits a kind it met.
	if match(t, state, qa) || state.Refused() != nil {
		t.Errorf("on a QA result: refused %v", state.Refused())
	}
}

// A condition is refused as rules refuse a `when`, with where and why: a misspelt field (with the field
// meant), a syntax error, a value that is not true or false, a field no kind of event it met has; and
// one that fails on a subject says which.
func TestWhereRefusesWhatRulesRefuse(t *testing.T) {
	for src, want := range map[string]string{
		`call.intension == "PTP"`: "did you mean call.intention?",
		`call.intention = "PTP"`:  "column",
		`call.total_owing_amount`: "not true or false",
		`event.state == `:         "column",
		``:                        "empty",
		strings.Repeat(`call.intention == "x" || `, 200) + "true": "at most 4096",
	} {
		_, err := rules.NewWhere(src)
		var we *rules.WhereError
		if !errors.As(err, &we) || we.Subject != "" || !strings.Contains(we.Message, want) {
			t.Errorf("NewWhere(%.40q) = %v, want a refusal saying %q", src, err, want)
		}
	}

	qa := airudder.EventSubject(exampleEvent(t, airudder.KindQAResult, airudder.ExampleQAResult))
	w := whereOf(t, `event.stat == "Answered"`) // a typo, in every kind
	if match(t, w, qa) {
		t.Error("matched")
	}
	var we *rules.WhereError
	if err := w.Refused(); !errors.As(err, &we) || !strings.Contains(we.Message, "qa_result") {
		t.Errorf("Refused() = %v, want the kind met and its problem", err)
	}

	call := airudder.CallSubject(airudder.ExampleCalls("airudder", received)[0])
	_, err := whereOf(t, `call.variables["absent"] == "x"`).Match(context.Background(), call)
	if !errors.As(err, &we) || we.Subject == "" || we.TooCostly || !strings.Contains(we.Message, "absent") {
		t.Errorf("a missing key = %v, want a failure naming the call", err)
	}
}

// A condition is bounded as a rule's is: by its cost, and by the time its caller gives it.
func TestWhereIsBounded(t *testing.T) {
	nums := make([]string, 100)
	for i := range nums {
		nums[i] = strconv.Itoa(i)
	}
	list := "[" + strings.Join(nums, ",") + "]"
	costly := list + ".all(a, " + list + ".all(b, " + list + `.all(c, a + b + c >= 0))) && call.intention == "E"`
	call := airudder.CallSubject(airudder.ExampleCalls("airudder", received)[0])
	_, err := whereOf(t, costly).Match(context.Background(), call)
	var we *rules.WhereError
	if !errors.As(err, &we) || !we.TooCostly {
		t.Errorf("a million turns = %v, want too costly", err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = whereOf(t, list+`.all(a, a >= 0) && call.intention == "E"`).Match(ctx, call)
	if !errors.As(err, &we) || !we.TooCostly {
		t.Errorf("out of time = %v, want too costly", err)
	}
}
